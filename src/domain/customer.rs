//! Customers: the registry special treatment hangs on.

use serde_json::Value;
use uuid::Uuid;

use super::{BodyFields, TextRule, Violations, object_body};
use crate::error::Error;

/// The organization's own identifier: 1-128 characters, no control characters (white space
/// at the ends is allowed: v1 said nothing against it, and v1 answers do not change).
pub const EXTERNAL_ID: TextRule = TextRule {
    trimmed: false,
    ..TextRule::trimmed(128)
};
/// A name to show: at most 200 characters.
pub const DISPLAY_NAME: TextRule = TextRule {
    min_chars: 0,
    max_chars: 200,
    no_controls: false,
    trimmed: false,
    line_breaks: false,
};

/// A registered customer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: Uuid,
    pub external_id: String,
    pub display_name: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A valid registration request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomer {
    pub external_id: String,
    pub display_name: Option<String>,
}

impl NewCustomer {
    pub const FIELDS: BodyFields = &["external_id", "display_name"];

    /// Parses a `NewCustomer` body: `external_id` 1–128 characters without control
    /// characters; `display_name` absent, `null` or at most 200 characters.
    pub fn parse(body: Value) -> Result<Self, Error> {
        let mut violations = Violations::default();
        let mut fields = object_body(body, Self::FIELDS, &mut violations)?;
        let external_id = match fields.remove("external_id") {
            Some(Value::String(text)) => {
                EXTERNAL_ID.check("external_id", &text, &mut violations);
                text
            }
            None | Some(Value::Null) => {
                violations.add("external_id", "is required");
                String::new()
            }
            Some(_) => {
                violations.add("external_id", "must be a string");
                String::new()
            }
        };
        let display_name = match fields.remove("display_name") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                DISPLAY_NAME.check("display_name", &text, &mut violations);
                Some(text)
            }
            Some(_) => {
                violations.add("display_name", "must be a string or null");
                None
            }
        };
        violations.finish(NewCustomer {
            external_id,
            display_name,
        })
    }
}

/// The filters and position of one page of a customer list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub limit: u64,
    /// Return customers after this one (exclusive), in id order.
    pub after: Option<Uuid>,
    pub external_id: Option<String>,
}

/// One page of customers; `next` is the last id when more may follow.
#[derive(Debug, Clone)]
pub struct CustomerPage {
    pub items: Vec<Customer>,
    pub next: Option<Uuid>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_and_names_each_broken_field() {
        let ok = NewCustomer::parse(json!({"external_id": "crm-1", "display_name": null})).unwrap();
        assert_eq!(ok.external_id, "crm-1");
        assert_eq!(ok.display_name, None);
        match NewCustomer::parse(
            json!({"external_id": 42, "display_name": "x".repeat(201), "z": 1}),
        ) {
            Err(Error::InvalidBody { details, .. }) => {
                let fields: Vec<_> = details.iter().map(|d| d.field.as_str()).collect();
                assert_eq!(fields, ["z", "external_id", "display_name"]);
            }
            other => panic!("expected a body error, got {other:?}"),
        }
    }
}
