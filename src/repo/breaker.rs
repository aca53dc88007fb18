//! Failing fast while the database is unreachable.
//!
//! Without this, every request during an outage waits the whole acquire timeout for a
//! connection that never comes, and requests arriving meanwhile pile up behind it. Instead, the
//! first failure that says "no connection" (an acquire timeout, a refused or broken connection,
//! a database that stopped answering altogether) *opens* the breaker:
//!
//! - while it is open, every repository call answers `Unavailable` (503) at once, without
//!   touching the pool, so nothing waits and nothing accumulates;
//! - one background probe at a time runs `SELECT 1` through the pool, right away and then with
//!   a growing pause (50 ms doubling to 1 s) between failed attempts;
//! - the first probe that succeeds closes the breaker, so the service recovers by itself.
//!
//! A probe that got a pooled connection which had died during the outage learns nothing about
//! the database (the pool discards that connection), so it tries again at once, at most
//! `max_connections` times in a row: the dead connections are gone before traffic resumes.
//! A breaker opened by a mere saturation of the pool closes as soon as a connection frees up,
//! since the probe then gets it.

use std::{
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use sea_orm::{ConnAcquireErr, ConnectionTrait, DatabaseConnection, DbErr};

/// The first pause after a failed probe; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// See the module documentation.
pub(crate) struct Breaker {
    state: Mutex<State>,
    /// Bounds one probe: the same budget as a repository call.
    probe_timeout: Duration,
    /// How many dead pooled connections a probe may run into before pausing.
    max_dead: u32,
}

#[derive(Default)]
struct State {
    /// When the breaker opened; `None` while closed.
    open_since: Option<Instant>,
    /// Whether a probe task runs (at most one does).
    probing: bool,
    /// The repository was closed: no more probes.
    shut: bool,
}

impl Breaker {
    pub(crate) fn new(probe_timeout: Duration, max_connections: u32) -> Self {
        Breaker {
            state: Mutex::default(),
            probe_timeout,
            max_dead: max_connections,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever panicked while holding the lock.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn is_open(&self) -> bool {
        self.state().open_since.is_some()
    }

    /// Opens the breaker (if closed) and makes sure one probe runs.
    pub(crate) fn trip(self: &Arc<Self>, db: &DatabaseConnection, cause: &str) {
        let mut state = self.state();
        if state.shut {
            return;
        }
        if state.open_since.is_none() {
            state.open_since = Some(Instant::now());
            tracing::warn!(
                %cause,
                "database unreachable: answering 503 at once until a probe reaches it"
            );
        }
        if !state.probing {
            state.probing = true;
            tokio::spawn(self.clone().probe(db.clone()));
        }
    }

    /// Stops probing for good (the pool is being closed).
    pub(crate) fn shut_down(&self) {
        self.state().shut = true;
    }

    async fn probe(self: Arc<Self>, db: DatabaseConnection) {
        let mut pause = FIRST_PAUSE;
        let mut dead_in_a_row = 0;
        loop {
            if self.state().shut {
                break;
            }
            let outcome =
                tokio::time::timeout(self.probe_timeout, db.execute_unprepared("SELECT 1")).await;
            match outcome {
                Ok(Ok(_)) => {
                    let mut state = self.state();
                    state.probing = false;
                    if let Some(since) = state.open_since.take() {
                        tracing::info!(
                            outage_ms = since.elapsed().as_millis() as u64,
                            "database reachable again"
                        );
                    }
                    return;
                }
                Ok(Err(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))) => break,
                // It had a connection, and that connection was dead: try the next one at once.
                Ok(Err(DbErr::Exec(_) | DbErr::Query(_))) if dead_in_a_row < self.max_dead => {
                    dead_in_a_row += 1;
                    continue;
                }
                Ok(Err(err)) => tracing::debug!(error = %err, "database probe failed"),
                Err(_) => tracing::debug!("database probe timed out"),
            }
            dead_in_a_row = 0;
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
        self.state().probing = false;
    }
}
