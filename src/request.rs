//! What the code serving a request may want to know about it, wherever it runs: its id and
//! its caller. Set by the request middleware (`crate::http`) for the request's task; read by
//! the error mapping (`crate::error`) and the logs. A module of its own so that neither of
//! those depends on the other.

use std::sync::{Arc, OnceLock};

/// See the module documentation.
pub struct RequestScope {
    id: String,
    /// The authenticated caller's `sub`, once known.
    actor: OnceLock<String>,
}

impl RequestScope {
    pub fn new(id: String) -> Self {
        RequestScope {
            id,
            actor: OnceLock::new(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The caller's `sub`, or `-` before (or without) authentication.
    pub fn actor(&self) -> &str {
        self.actor.get().map_or("-", String::as_str)
    }
}

tokio::task_local! {
    pub static SCOPE: Arc<RequestScope>;
}

/// The id of the request being served, for error bodies and logs.
pub fn current_request_id() -> String {
    SCOPE
        .try_with(|scope| scope.id.clone())
        .unwrap_or_else(|_| "none".to_owned())
}

/// The caller's `sub` for the request being served (`-` outside one or before
/// authentication), as the change history records it.
pub fn current_actor() -> String {
    SCOPE
        .try_with(|scope| scope.actor().to_owned())
        .unwrap_or_else(|_| "-".to_owned())
}

/// Names the caller in the request's log line (only its `sub`, nothing else of the token).
pub fn record_actor(subject: &str) {
    let _ = SCOPE.try_with(|scope| scope.actor.set(subject.to_owned()));
}
