//! Customer identification processes (KYC runs): their rules, and the state machine as a pure
//! table ([`apply`]), with expiry computed from the clock's `now` ([`effective_status`]).
//! Nothing here knows about HTTP, the database or the system clock.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{BodyFields, TextRule, Violations, object_body};
use crate::error::Error;

/// `provider`: 1-64 characters when present, no control characters, no white space at either
/// end.
pub const PROVIDER: TextRule = TextRule::trimmed(64);
/// `provider_reference`: 1-128 characters when present, same character rules.
pub const PROVIDER_REFERENCE: TextRule = TextRule::trimmed(128);
/// `expires_in_s`: 1 second to 30 days; 1 day when absent.
pub const EXPIRES_IN_MIN_S: u64 = 1;
pub const EXPIRES_IN_MAX_S: u64 = 2_592_000;
pub const EXPIRES_IN_DEFAULT_S: u64 = 86_400;
/// A reason (`status_reason`): a machine code such as `document_expired`, never free text.
pub const REASON_PATTERN: &str = "^[a-z0-9_]{1,64}$";
pub const REASON_MAX_CHARS: usize = 64;

/// How the identity is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Document,
    Video,
    Bank,
    InPerson,
    Manual,
}

impl Method {
    pub const ALL: [Method; 5] = [
        Method::Document,
        Method::Video,
        Method::Bank,
        Method::InPerson,
        Method::Manual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Document => "document",
            Method::Video => "video",
            Method::Bank => "bank",
            Method::InPerson => "in_person",
            Method::Manual => "manual",
        }
    }

    pub fn parse(text: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

/// A process's status. `approved`, `rejected`, `expired` and `cancelled` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Pending,
    InReview,
    Approved,
    Rejected,
    Expired,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Created,
        Status::Pending,
        Status::InReview,
        Status::Approved,
        Status::Rejected,
        Status::Expired,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Pending => "pending",
            Status::InReview => "in_review",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether nothing can happen to the process any more.
    pub fn is_final(self) -> bool {
        !matches!(self, Status::Created | Status::Pending | Status::InReview)
    }

    /// Whether `expires_at` applies: `in_review` never expires, final states stay as they are.
    pub fn can_expire(self) -> bool {
        matches!(self, Status::Created | Status::Pending)
    }
}

/// The status a process has at `now`: its stored status, except that a `created` or
/// `pending` process whose `expires_at` has come is `expired`.
pub fn effective_status(stored: Status, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Status {
    if stored.can_expire() && now >= expires_at {
        Status::Expired
    } else {
        stored
    }
}

/// A transition a client asks for (expiry is the server's, not one of these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Submit,
    Cancel,
    StartReview,
    Approve,
    Reject,
}

impl Transition {
    pub const ALL: [Transition; 5] = [
        Transition::Submit,
        Transition::Cancel,
        Transition::StartReview,
        Transition::Approve,
        Transition::Reject,
    ];

    /// The states it leaves from, and the state it reaches: the contract's table, once.
    pub const fn rule(self) -> (&'static [Status], Status) {
        match self {
            Transition::Submit => (&[Status::Created], Status::Pending),
            Transition::Cancel => (&[Status::Created, Status::Pending], Status::Cancelled),
            Transition::StartReview => (&[Status::Pending], Status::InReview),
            Transition::Approve => (&[Status::Pending, Status::InReview], Status::Approved),
            Transition::Reject => (&[Status::Pending, Status::InReview], Status::Rejected),
        }
    }

    pub fn from_states(self) -> &'static [Status] {
        self.rule().0
    }

    /// Approve and reject decide: they set `decided_at`/`decided_by`, need the review scope,
    /// and may not be made by the process's creator (four eyes).
    pub fn is_decision(self) -> bool {
        matches!(self, Transition::Approve | Transition::Reject)
    }

    /// The operation's verb, for messages and logs.
    pub fn verb(self) -> &'static str {
        match self {
            Transition::Submit => "submit",
            Transition::Cancel => "cancel",
            Transition::StartReview => "start-review",
            Transition::Approve => "approve",
            Transition::Reject => "reject",
        }
    }
}

/// A transition not allowed from the current (effective) status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub current: Status,
    pub transition: Transition,
}

impl Refused {
    /// `409 conflict` naming `status` (and the status, which is no personal data).
    pub fn error(self) -> Error {
        Error::Conflict {
            field: "status".to_owned(),
            message: format!(
                "is {}: cannot {} from it",
                self.current.as_str(),
                self.transition.verb()
            ),
        }
    }
}

/// The state machine: the status `transition` leads to from `from` (an effective status), or
/// why not.
pub fn apply(from: Status, transition: Transition) -> Result<Status, Refused> {
    let (froms, to) = transition.rule();
    if froms.contains(&from) {
        Ok(to)
    } else {
        Err(Refused {
            current: from,
            transition,
        })
    }
}

/// A process as stored, with its stored status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub method: Method,
    pub provider: Option<String>,
    pub provider_reference: Option<String>,
    pub status: Status,
    pub status_reason: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
}

impl Process {
    /// The process as it reads at `now` (expiry applied).
    pub fn at(mut self, now: DateTime<Utc>) -> Process {
        self.status = effective_status(self.status, self.expires_at, now);
        self
    }
}

/// A valid `POST .../identification-processes` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProcess {
    pub method: Method,
    pub provider: Option<String>,
    pub provider_reference: Option<String>,
    pub expires_in: Duration,
}

impl NewProcess {
    pub const FIELDS: BodyFields = &["method", "provider", "provider_reference", "expires_in_s"];

    pub fn parse(body: Value) -> Result<Self, Error> {
        let mut violations = Violations::default();
        let mut fields = object_body(body, Self::FIELDS, &mut violations)?;
        let method = match fields.remove("method") {
            Some(Value::String(text)) => Method::parse(&text).unwrap_or_else(|| {
                violations.add("method", method_message());
                Method::Manual
            }),
            None | Some(Value::Null) => {
                violations.add("method", "is required");
                Method::Manual
            }
            Some(_) => {
                violations.add("method", method_message());
                Method::Manual
            }
        };
        let mut text = |name: &str, rule: TextRule| match fields.remove(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                rule.check(name, &text, &mut violations);
                Some(text)
            }
            Some(_) => {
                violations.add(name, "must be a string or null");
                None
            }
        };
        let provider = text("provider", PROVIDER);
        let provider_reference = text("provider_reference", PROVIDER_REFERENCE);
        let seconds = match fields.remove("expires_in_s") {
            None | Some(Value::Null) => EXPIRES_IN_DEFAULT_S,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(s) if (EXPIRES_IN_MIN_S..=EXPIRES_IN_MAX_S).contains(&s) => s,
                _ => {
                    violations.add("expires_in_s", expires_message());
                    EXPIRES_IN_DEFAULT_S
                }
            },
            Some(_) => {
                violations.add("expires_in_s", expires_message());
                EXPIRES_IN_DEFAULT_S
            }
        };
        violations.finish(NewProcess {
            method,
            provider,
            provider_reference,
            expires_in: Duration::seconds(seconds as i64),
        })
    }
}

fn method_message() -> String {
    let names: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
    format!("must be one of {}", names.join(", "))
}

fn expires_message() -> String {
    format!("must be an integer from {EXPIRES_IN_MIN_S} to {EXPIRES_IN_MAX_S}")
}

/// Whether `reason` is a machine code (see [`REASON_PATTERN`]).
pub fn is_reason(reason: &str) -> bool {
    (1..=REASON_MAX_CHARS).contains(&reason.len())
        && reason
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A valid `reject` body: the reason, a machine code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: String,
}

impl Rejection {
    pub const FIELDS: BodyFields = &["reason"];

    pub fn parse(body: Value) -> Result<Self, Error> {
        let mut violations = Violations::default();
        let mut fields = object_body(body, Self::FIELDS, &mut violations)?;
        let reason = match fields.remove("reason") {
            Some(Value::String(text)) => {
                if !is_reason(&text) {
                    violations.add("reason", format!("must match {REASON_PATTERN}"));
                }
                text
            }
            None | Some(Value::Null) => {
                violations.add("reason", "is required");
                String::new()
            }
            Some(_) => {
                violations.add("reason", "must be a string");
                String::new()
            }
        };
        violations.finish(Rejection { reason })
    }
}

/// What a transition writes besides the status, decided by the caller and the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub transition: Transition,
    pub to: Status,
    /// The caller's `sub`: `decided_by` of a decision, and who the four-eyes rule refuses.
    pub actor: String,
    pub now: DateTime<Utc>,
    /// `status_reason` of a rejection.
    pub reason: Option<String>,
}

/// The position of one page of a customer's processes, newest first.
#[derive(Debug, Clone)]
pub struct ProcessQuery {
    pub limit: u64,
    /// Return processes older than this one (exclusive).
    pub before: Option<Uuid>,
    /// Only processes with this effective status at `now`.
    pub status: Option<Status>,
    pub now: DateTime<Utc>,
}

/// One page of processes (stored statuses); `next` is the last id when more may follow.
#[derive(Debug, Clone)]
pub struct ProcessPage {
    pub items: Vec<Process>,
    pub next: Option<Uuid>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields_of(result: Result<impl std::fmt::Debug, Error>) -> Vec<String> {
        match result {
            Err(Error::InvalidBody { details, .. }) => {
                details.into_iter().map(|d| d.field).collect()
            }
            other => panic!("expected a body error, got {other:?}"),
        }
    }

    /// Every state × every transition, against the contract's table written out by hand.
    #[test]
    fn the_transition_table_is_the_contracts() {
        use Status::*;
        use Transition::*;
        let allowed = [
            (Created, Submit, Pending),
            (Created, Cancel, Cancelled),
            (Pending, Cancel, Cancelled),
            (Pending, StartReview, InReview),
            (Pending, Approve, Approved),
            (InReview, Approve, Approved),
            (Pending, Reject, Rejected),
            (InReview, Reject, Rejected),
        ];
        let mut checked = 0;
        for from in Status::ALL {
            for transition in Transition::ALL {
                let expected = allowed
                    .iter()
                    .find(|(f, t, _)| *f == from && *t == transition)
                    .map(|(_, _, to)| *to);
                match (apply(from, transition), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{from:?} {transition:?}"),
                    (Err(refused), None) => {
                        assert_eq!(refused.current, from);
                        let Error::Conflict { field, .. } = refused.error() else {
                            panic!("a refusal is a conflict");
                        };
                        assert_eq!(field, "status");
                    }
                    (got, want) => panic!("{from:?} {transition:?}: {got:?}, want {want:?}"),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 7 * 5);
        for status in [Approved, Rejected, Expired, Cancelled] {
            assert!(status.is_final());
            assert!(Transition::ALL.iter().all(|t| apply(status, *t).is_err()));
        }
    }

    #[test]
    fn created_and_pending_expire_at_expires_at_in_review_never() {
        let t0 = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let expires_at = t0 + Duration::seconds(60);
        let before = expires_at - Duration::microseconds(1);
        for status in Status::ALL {
            assert_eq!(effective_status(status, expires_at, before), status);
            let at = effective_status(status, expires_at, expires_at);
            let later = effective_status(status, expires_at, expires_at + Duration::days(400));
            let want = match status {
                Status::Created | Status::Pending => Status::Expired,
                other => other,
            };
            assert_eq!((at, later), (want, want), "{status:?}");
        }
        // An expired process refuses every transition.
        let expired = effective_status(Status::Pending, expires_at, expires_at);
        assert!(Transition::ALL.iter().all(|t| apply(expired, *t).is_err()));
    }

    #[test]
    fn names_round_trip() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        for method in Method::ALL {
            assert_eq!(Method::parse(method.as_str()), Some(method));
        }
        assert_eq!(Status::parse("Expired"), None);
    }

    #[test]
    fn a_new_process_names_each_broken_field() {
        let ok = NewProcess::parse(json!({"method": "in_person"})).unwrap();
        assert_eq!(ok.method, Method::InPerson);
        assert_eq!(ok.expires_in, Duration::seconds(86_400));
        let full = NewProcess::parse(json!({
            "method": "video", "provider": "veriff", "provider_reference": "sess-1",
            "expires_in_s": 2_592_000
        }))
        .unwrap();
        assert_eq!(full.provider.as_deref(), Some("veriff"));
        assert_eq!(
            fields_of(NewProcess::parse(json!({
                "method": "selfie", "provider": " x", "provider_reference": "", "expires_in_s": 0,
                "status": "approved"
            }))),
            [
                "status",
                "method",
                "provider",
                "provider_reference",
                "expires_in_s"
            ]
        );
        assert_eq!(
            fields_of(NewProcess::parse(
                json!({"provider": 3, "expires_in_s": 1.5})
            )),
            ["method", "provider", "expires_in_s"]
        );
        assert_eq!(
            fields_of(NewProcess::parse(
                json!({"method": "bank", "expires_in_s": 2_592_001})
            )),
            ["expires_in_s"]
        );
        assert_eq!(
            fields_of(NewProcess::parse(
                json!({"method": "bank", "expires_in_s": "60"})
            )),
            ["expires_in_s"]
        );
    }

    #[test]
    fn a_reason_is_a_machine_code() {
        let pattern = regex::Regex::new(REASON_PATTERN).unwrap();
        let long = "a".repeat(65);
        for reason in [
            "document_expired",
            "x",
            "a1_",
            "",
            "Document",
            "two words",
            "é",
            "a-b",
            long.as_str(),
        ] {
            assert_eq!(is_reason(reason), pattern.is_match(reason), "{reason:?}");
        }
        assert_eq!(
            Rejection::parse(json!({"reason": "document_expired"}))
                .unwrap()
                .reason,
            "document_expired"
        );
        assert_eq!(
            fields_of(Rejection::parse(
                json!({"reason": "Free text", "note": "x"})
            )),
            ["note", "reason"]
        );
        assert_eq!(fields_of(Rejection::parse(json!({}))), ["reason"]);
    }
}
