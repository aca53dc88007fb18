//! Categories: the organization's own catalogue (`retail`, `sme`, `staff`, ...) and each
//! customer's membership, by the rules of the contract's "Categories" section.

use std::collections::{HashMap, hash_map::Entry};

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{BodyFields, TextRule, Violations, object_body};
use crate::error::Error;

/// A category key: 1-64 characters, lower-case ASCII letters and digits, then also `_` and
/// `-`. ASCII only, so byte order (the lists' order) is also character order.
pub const KEY_PATTERN: &str = "^[a-z0-9][a-z0-9_-]*$";
pub const KEY_MAX_CHARS: usize = 64;
/// A category's name: 1-100 characters, no control characters, no white space at either end.
pub const NAME: TextRule = TextRule::trimmed(100);
/// A description: 1-500 characters when present, inner line breaks (LF, CRLF) allowed.
pub const DESCRIPTION: TextRule = TextRule::multi_line(500);
/// A customer belongs to at most this many categories.
pub const MAX_KEYS: usize = 16;

/// Whether `key` is a well-formed category key (see [`KEY_PATTERN`]).
pub fn is_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    first_ok
        && key.len() <= KEY_MAX_CHARS
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The message for a key that breaks [`KEY_PATTERN`] (it names no value: keys are the
/// organization's, and the field already says which one).
pub fn key_format_message() -> String {
    format!("must be 1-{KEY_MAX_CHARS} characters matching {KEY_PATTERN}")
}

/// A category as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A valid `PUT /categories/{key}` body: what the category becomes (the key is the path's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryDefinition {
    pub name: String,
    pub description: Option<String>,
}

impl CategoryDefinition {
    pub const FIELDS: BodyFields = &["name", "description"];

    /// Parses a `CategoryDefinition` body: `name` required; `description` absent, `null` or
    /// 1-500 characters.
    pub fn parse(body: Value) -> Result<Self, Error> {
        let mut violations = Violations::default();
        let mut fields = object_body(body, Self::FIELDS, &mut violations)?;
        let name = match fields.remove("name") {
            Some(Value::String(text)) => {
                NAME.check("name", &text, &mut violations);
                text
            }
            None | Some(Value::Null) => {
                violations.add("name", "is required");
                String::new()
            }
            Some(_) => {
                violations.add("name", "must be a string");
                String::new()
            }
        };
        let description = match fields.remove("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                DESCRIPTION.check("description", &text, &mut violations);
                Some(text)
            }
            Some(_) => {
                violations.add("description", "must be a string or null");
                None
            }
        };
        violations.finish(CategoryDefinition { name, description })
    }
}

/// Whether a `PUT /categories/{key}` created the category or replaced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    Created(Category),
    Replaced(Category),
}

/// A customer's categories: a set of distinct, well-formed keys, in the caller's order
/// (stored as a set; read back in key order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CategoryKeys(Vec<String>);

impl CategoryKeys {
    pub const FIELDS: BodyFields = &["keys"];

    /// Parses a `CustomerCategories` body; `keys` absent or `null` is the empty set.
    pub fn parse(body: Value) -> Result<Self, Error> {
        let mut violations = Violations::default();
        let mut fields = object_body(body, Self::FIELDS, &mut violations)?;
        let keys = match fields.remove("keys") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(items)) => parse_keys(items, &mut violations),
            Some(_) => {
                violations.add("keys", "must be an array of category keys or null");
                vec![]
            }
        };
        violations.finish(CategoryKeys(keys))
    }

    pub fn keys(&self) -> &[String] {
        &self.0
    }

    /// A 400 naming `keys[i]` for each position whose key is not in the catalogue.
    pub fn unknown(positions: &[usize]) -> Error {
        let mut violations = Violations::default();
        for index in positions {
            violations.add(
                format!("keys[{index}]"),
                "is not a category of this organization",
            );
        }
        violations
            .finish(())
            .err()
            .unwrap_or_else(|| Error::invalid_field("keys", "holds a key that is not a category"))
    }
}

fn parse_keys(items: Vec<Value>, violations: &mut Violations) -> Vec<String> {
    if items.len() > MAX_KEYS {
        violations.add(
            "keys",
            format!("must hold at most {MAX_KEYS} keys, got {}", items.len()),
        );
    }
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        let field = format!("keys[{index}]");
        let Value::String(key) = item else {
            violations.add(field, "must be a string");
            continue;
        };
        if !is_key(key) {
            violations.add(field.clone(), key_format_message());
        }
        match first_seen.entry(key) {
            Entry::Occupied(first) => {
                violations.add(field, format!("repeats keys[{}]", first.get()));
            }
            Entry::Vacant(slot) => {
                slot.insert(index);
            }
        }
    }
    items
        .into_iter()
        .filter_map(|item| match item {
            Value::String(key) => Some(key),
            _ => None,
        })
        .collect()
}

/// The position of one page of a list in key order.
#[derive(Debug, Clone, Default)]
pub struct KeyPageQuery {
    pub limit: u64,
    /// Return categories after this key (exclusive), in byte order.
    pub after: Option<String>,
}

/// One page of categories; `next` is the last key when more may follow.
#[derive(Debug, Clone)]
pub struct CategoryPage {
    pub items: Vec<Category>,
    pub next: Option<String>,
}

/// The position of one page of a category's members, in customer id order.
#[derive(Debug, Clone, Default)]
pub struct MemberPageQuery {
    pub limit: u64,
    pub after: Option<Uuid>,
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

    #[test]
    fn keys_follow_the_pattern() {
        let pattern = regex::Regex::new(KEY_PATTERN).unwrap();
        for key in [
            "retail", "sme", "a", "0-tier_2", "-x", "_x", "Retail", "ré", "a b", "",
        ] {
            assert_eq!(is_key(key), pattern.is_match(key), "{key:?}");
        }
        assert!(is_key(&"k".repeat(64)));
        assert!(!is_key(&"k".repeat(65)));
    }

    #[test]
    fn a_definition_names_each_broken_field() {
        let ok = CategoryDefinition::parse(json!({"name": "Retail", "description": "a\r\nb"}));
        assert_eq!(ok.unwrap().description.as_deref(), Some("a\r\nb"));
        assert_eq!(
            fields_of(CategoryDefinition::parse(
                json!({"key": "x", "name": " Retail", "description": ""})
            )),
            ["key", "name", "description"]
        );
        assert_eq!(
            fields_of(CategoryDefinition::parse(json!({"description": "x\ry"}))),
            ["name", "description"]
        );
    }

    #[test]
    fn keys_are_a_set_of_well_formed_keys() {
        assert!(CategoryKeys::parse(json!({})).unwrap().keys().is_empty());
        assert!(
            CategoryKeys::parse(json!({"keys": null}))
                .unwrap()
                .keys()
                .is_empty()
        );
        assert_eq!(
            fields_of(CategoryKeys::parse(
                json!({"keys": ["retail", "Retail", 3, "retail"]})
            )),
            ["keys[1]", "keys[2]", "keys[3]"]
        );
        let many: Vec<String> = (0..17).map(|i| format!("k{i}")).collect();
        assert_eq!(
            fields_of(CategoryKeys::parse(json!({"keys": many}))),
            ["keys"]
        );
    }
}
