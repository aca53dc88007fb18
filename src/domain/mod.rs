//! Request data turned into validated domain values ("parse, don't validate").
//!
//! Request bodies arrive as raw JSON ([`crate::api::types::Unvalidated`]) and are parsed here,
//! so that every broken rule is reported with the field it concerns, all at once, and so that a
//! number or boolean never passes for a string. Nothing here knows about HTTP or the database.

pub mod customer;
pub mod special_treatment;

use serde_json::{Map, Value};

use crate::error::{Error, FieldError};

/// Collects the rule violations of one request body.
#[derive(Default)]
pub(crate) struct Violations(Vec<FieldError>);

impl Violations {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// `Ok(value)` when no rule was broken, else a 400 naming every offending field.
    pub fn finish<T>(self, value: T) -> Result<T, Error> {
        if self.0.is_empty() {
            return Ok(value);
        }
        let summary = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        Err(Error::InvalidBody {
            message: summary,
            details: self.0,
        })
    }
}

/// The body as a JSON object whose keys are all among `allowed`.
pub(crate) fn object_body(
    body: Value,
    allowed: &[&str],
    violations: &mut Violations,
) -> Result<Map<String, Value>, Error> {
    let Value::Object(fields) = body else {
        return Err(Error::invalid_field("body", "must be a JSON object"));
    };
    for key in fields.keys().filter(|k| !allowed.contains(&k.as_str())) {
        violations.add(key.clone(), "unknown field");
    }
    Ok(fields)
}

/// Unicode category Cc: C0 controls, DEL and C1 controls.
pub(crate) fn is_control(c: char) -> bool {
    c.is_control()
}

/// White space as the spec's `pattern` spells it: Unicode `White_Space` plus U+FEFF (what
/// ECMAScript's `\s` matches). Control characters among them are refused as controls anyway.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{FEFF}'
}

/// Checks a text field's length in Unicode scalar values and its characters.
pub(crate) fn check_text(
    field: &str,
    text: &str,
    max_chars: usize,
    trimmed: bool,
    violations: &mut Violations,
) {
    let chars = text.chars().count();
    if chars == 0 {
        violations.add(field, "must not be empty");
    } else if chars > max_chars {
        violations.add(field, format!("must be at most {max_chars} characters"));
    }
    if text.chars().any(is_control) {
        violations.add(field, "must not contain control characters");
    }
    if trimmed && (text.starts_with(is_space) || text.ends_with(is_space)) {
        violations.add(field, "must not start or end with white space");
    }
}
