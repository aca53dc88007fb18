//! A customer's special treatment: the rules of the contract's "Special treatment" section.

use std::collections::{HashMap, hash_map::Entry};

use serde_json::Value;

use super::{BodyFields, TextRule, Violations, object_body};
use crate::error::Error;

/// At most this many values, each distinct.
pub const MAX_VALUES: usize = 32;
/// Each value: 1-64 characters, no control characters, no white space at either end.
pub const VALUE: TextRule = TextRule::trimmed(64);

/// A valid special treatment: at most 32 distinct, trimmed, printable values of 1–64
/// characters, in the caller's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpecialTreatment(Vec<String>);

impl SpecialTreatment {
    pub const FIELDS: BodyFields = &["values"];

    /// Parses a `CustomerSpecialTreatment` body; `values` absent or `null` is the empty list.
    pub fn parse(body: Value) -> Result<Self, Error> {
        let mut violations = Violations::default();
        let mut fields = object_body(body, Self::FIELDS, &mut violations)?;
        let values = match fields.remove("values") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(items)) => parse_values(items, &mut violations),
            Some(_) => {
                violations.add("values", "must be an array of strings or null");
                vec![]
            }
        };
        violations.finish(SpecialTreatment(values))
    }

    /// A list read back from storage, which only ever holds parsed lists.
    pub fn from_stored(values: Vec<String>) -> Self {
        SpecialTreatment(values)
    }

    pub fn values(&self) -> &[String] {
        &self.0
    }

    pub fn into_values(self) -> Vec<String> {
        self.0
    }
}

fn parse_values(items: Vec<Value>, violations: &mut Violations) -> Vec<String> {
    if items.len() > MAX_VALUES {
        violations.add(
            "values",
            format!("must hold at most {MAX_VALUES} values, got {}", items.len()),
        );
    }
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        let field = format!("values[{index}]");
        let Value::String(text) = item else {
            violations.add(field, "must be a string");
            continue;
        };
        VALUE.check(&field, text, violations);
        match first_seen.entry(text) {
            Entry::Occupied(first) => {
                violations.add(field, format!("repeats values[{}]", first.get()));
            }
            Entry::Vacant(slot) => {
                slot.insert(index);
            }
        }
    }
    items
        .into_iter()
        .filter_map(|item| match item {
            Value::String(text) => Some(text),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields_of(body: Value) -> Vec<String> {
        match SpecialTreatment::parse(body) {
            Err(Error::InvalidBody { details, .. }) => {
                details.into_iter().map(|d| d.field).collect()
            }
            other => panic!("expected a body error, got {other:?}"),
        }
    }

    #[test]
    fn keeps_order_and_accepts_absent_or_null() {
        let parsed = SpecialTreatment::parse(json!({"values": ["vip", "vulnerable"]})).unwrap();
        assert_eq!(parsed.values(), ["vip", "vulnerable"]);
        assert!(
            SpecialTreatment::parse(json!({}))
                .unwrap()
                .values()
                .is_empty()
        );
        assert!(
            SpecialTreatment::parse(json!({"values": null}))
                .unwrap()
                .values()
                .is_empty()
        );
    }

    #[test]
    fn names_every_offending_value() {
        let body =
            json!({"values": ["ok", 3, " lead", "ok", "a\u{7}b", "", "x".repeat(65)], "extra": 1});
        assert_eq!(
            fields_of(body),
            [
                "extra",
                "values[1]",
                "values[2]",
                "values[3]",
                "values[4]",
                "values[5]",
                "values[6]"
            ]
        );
    }

    #[test]
    fn counts_characters_not_bytes() {
        let sixty_four = "é".repeat(64);
        assert!(SpecialTreatment::parse(json!({"values": [sixty_four]})).is_ok());
        assert_eq!(
            fields_of(json!({"values": ["é".repeat(65)]})),
            ["values[0]"]
        );
    }

    #[test]
    fn refuses_non_objects_and_long_lists() {
        assert_eq!(fields_of(json!(["vip"])), ["body"]);
        let many: Vec<String> = (0..33).map(|i| format!("v{i}")).collect();
        assert_eq!(fields_of(json!({"values": many})), ["values"]);
        assert_eq!(fields_of(json!({"values": "vip"})), ["values"]);
    }

    #[test]
    fn unicode_space_at_the_edges_is_refused() {
        assert_eq!(fields_of(json!({"values": ["vip\u{3000}"]})), ["values[0]"]);
        assert_eq!(fields_of(json!({"values": ["\u{FEFF}vip"]})), ["values[0]"]);
        assert!(SpecialTreatment::parse(json!({"values": ["very important"]})).is_ok());
    }
}
