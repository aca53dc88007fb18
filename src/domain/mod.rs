//! Request data turned into validated domain values ("parse, don't validate").
//!
//! Request bodies arrive as raw JSON ([`crate::api::types::Unvalidated`]) and are parsed here,
//! so that every broken rule is reported with the field it concerns, all at once, and so that a
//! number or boolean never passes for a string. Nothing here knows about HTTP or the database.
//!
//! Each rule is stated once, here: a body's field names ([`BodyFields`]) and each text field's
//! [`TextRule`]. The parser checks them, and the OpenAPI document's JSON Schema keywords
//! (`minLength`, `maxLength`, `pattern`, `properties`) are generated from the same values
//! (`crate::api::types`), so the two cannot drift apart.

pub mod account;
pub mod category;
pub mod credential;
pub mod customer;
pub mod history;
pub mod identification;
pub mod special_treatment;

use serde_json::{Map, Value};

use crate::error::{Error, FieldError};

/// "`a`, `b` or `c`", for messages naming a closed set of words.
pub(crate) fn one_of_words<'a>(words: impl Iterator<Item = &'a str>) -> String {
    let words: Vec<String> = words.map(|w| format!("`{w}`")).collect();
    match words.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

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

    /// Whether a rule on `field` is already broken.
    pub fn names(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
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

/// The fields a request body may have; any other is refused. The spec's `properties` (with
/// `additionalProperties: false`) are these, in this order.
pub type BodyFields = &'static [&'static str];

/// No control characters (Unicode category Cc), as a JSON Schema `pattern`.
const NO_CONTROLS: &str = r"^[^\x00-\x1F\x7F-\x9F]*$";
/// No control characters and no white space (Unicode White_Space or U+FEFF) at either end.
/// Spelled out rather than `\s`, whose meaning differs between regex dialects.
const TRIMMED_NO_CONTROLS: &str = r"^[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF](?:[^\x00-\x1F\x7F-\x9F]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF])?$";

/// As [`TRIMMED_NO_CONTROLS`], with inner line breaks (LF or CRLF, never a lone CR).
const TRIMMED_NO_CONTROLS_LINES: &str = r"^[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF](?:(?:[^\x00-\x1F\x7F-\x9F]|\r?\n)*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF])?$";

/// One text field's rules: its length in Unicode scalar values, and which characters it
/// refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    pub min_chars: usize,
    pub max_chars: usize,
    /// Refuses control characters (Unicode Cc).
    pub no_controls: bool,
    /// Refuses white space at either end (implies `no_controls` in the pattern).
    pub trimmed: bool,
    /// Allows line breaks (LF, CRLF) inside a trimmed text: the one exception to
    /// `no_controls`, for multi-line fields such as a description.
    pub line_breaks: bool,
}

impl TextRule {
    /// The contract's default for a new string field: 1 to `max_chars` characters, no control
    /// characters, no white space at either end.
    pub const fn trimmed(max_chars: usize) -> Self {
        TextRule {
            min_chars: 1,
            max_chars,
            no_controls: true,
            trimmed: true,
            line_breaks: false,
        }
    }

    /// [`TextRule::trimmed`] that also allows inner line breaks (LF, CRLF).
    pub const fn multi_line(max_chars: usize) -> Self {
        TextRule {
            line_breaks: true,
            ..TextRule::trimmed(max_chars)
        }
    }

    /// The JSON Schema `pattern` stating the character rules, if any.
    pub fn pattern(self) -> Option<&'static str> {
        match (self.no_controls, self.trimmed, self.line_breaks) {
            (_, true, true) => Some(TRIMMED_NO_CONTROLS_LINES),
            (_, true, false) => Some(TRIMMED_NO_CONTROLS),
            (true, false, _) => Some(NO_CONTROLS),
            (false, false, _) => None,
        }
    }

    /// Checks `text`, adding each broken rule to `violations` under `field`.
    pub(crate) fn check(self, field: &str, text: &str, violations: &mut Violations) {
        let chars = text.chars().count();
        if chars < self.min_chars {
            violations.add(field, "must not be empty");
        } else if chars > self.max_chars {
            let max = self.max_chars;
            violations.add(field, format!("must be at most {max} characters"));
        }
        if self.no_controls && has_control(text, self.line_breaks && self.trimmed) {
            violations.add(field, "must not contain control characters");
        }
        if self.trimmed && (text.starts_with(is_space) || text.ends_with(is_space)) {
            violations.add(field, "must not start or end with white space");
        }
    }
}

/// Whether `text` holds a control character; with `line_breaks`, LF and CRLF do not count.
fn has_control(text: &str, line_breaks: bool) -> bool {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let line_break =
            line_breaks && (c == '\n' || (c == '\r' && chars.next_if_eq(&'\n').is_some()));
        if is_control(c) && !line_break {
            return true;
        }
    }
    false
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The patterns the spec states accept exactly what the parser accepts (the `regex`
    /// crate's dialect reads these classes as ECMAScript does).
    #[test]
    fn the_patterns_say_what_the_checks_do() {
        let samples = [
            "vip",
            " vip",
            "vip ",
            "a\u{7}b",
            "\u{3000}x",
            "x\u{FEFF}",
            "very important",
            "é",
            "a\u{85}b",
            "a\u{A0}",
            "tab\tinside",
            "two\nlines",
            "two\r\nlines",
            "lone\rreturn",
            "ends\n",
            "\r\nstarts",
            "a\n\nb",
            "a\n\r\nb",
            "a\r\r\nb",
        ];
        for rule in [
            TextRule::trimmed(64),
            TextRule {
                trimmed: false,
                ..TextRule::trimmed(64)
            },
            TextRule::multi_line(64),
        ] {
            let pattern = regex::Regex::new(rule.pattern().unwrap()).unwrap();
            for sample in samples {
                let mut violations = Violations::default();
                rule.check("f", sample, &mut violations);
                assert_eq!(
                    pattern.is_match(sample),
                    violations.0.is_empty(),
                    "{rule:?} on {sample:?}"
                );
            }
        }
    }
}
