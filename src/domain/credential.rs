//! Customer credentials: a customer's password or PIN for the organization's channels, by the
//! rules of the contract's "Customer credentials" section.
//!
//! A secret travels as [`Secret`], whose `Debug` prints nothing of it and which has no
//! `Display`: it cannot reach a log line, an error message or a panic message by formatting.
//! A broken rule on it names the field (`secret`) and the rule, never the value. The stored
//! form is [`SecretHash`] (an Argon2id PHC string), just as opaque to `Debug`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{BodyFields, TextRule, Violations, object_body};
use crate::error::Error;

/// A label: 1-64 characters when present, no control characters, no white space at the ends.
pub const LABEL: TextRule = TextRule::trimmed(64);
/// A password: 12-128 characters (Unicode scalar values), any characters.
pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 128;
/// A PIN: 4-8 ASCII digits.
pub const PIN_PATTERN: &str = "^[0-9]{4,8}$";
/// The shortest and longest secret of any type (a PIN's 4, a password's 128), for the spec.
pub const SECRET_MIN_CHARS: usize = 4;
pub const SECRET_MAX_CHARS: usize = PASSWORD_MAX_CHARS;
/// The consecutive failed verifications that lock a credential: the fifth locks it.
pub const MAX_FAILED_ATTEMPTS: i32 = 5;

/// What a credential is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialType {
    Password,
    Pin,
}

impl CredentialType {
    pub const ALL: [CredentialType; 2] = [CredentialType::Password, CredentialType::Pin];

    pub fn as_str(self) -> &'static str {
        match self {
            CredentialType::Password => "password",
            CredentialType::Pin => "pin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Checks `secret` against this type's rule, naming `secret` (never its value).
    pub(crate) fn check(self, secret: &Secret, violations: &mut Violations) {
        let text = secret.expose();
        match self {
            CredentialType::Password => {
                let chars = text.chars().count();
                if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars) {
                    violations.add(
                        "secret",
                        format!(
                            "a password must be {PASSWORD_MIN_CHARS}-{PASSWORD_MAX_CHARS} characters"
                        ),
                    );
                }
            }
            CredentialType::Pin => {
                let digits = text.len();
                if !(4..=8).contains(&digits) || !text.bytes().all(|b| b.is_ascii_digit()) {
                    violations.add("secret", format!("a PIN must match {PIN_PATTERN}"));
                }
            }
        }
    }
}

/// A credential's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialStatus {
    /// Verifies with the right secret.
    Active,
    /// Switched off by staff (`PATCH`); never verifies; a new secret does not re-enable it.
    Disabled,
    /// Locked by the fifth consecutive failed verification; never verifies; a new secret
    /// unlocks it.
    Locked,
}

impl CredentialStatus {
    pub const ALL: [CredentialStatus; 3] = [
        CredentialStatus::Active,
        CredentialStatus::Disabled,
        CredentialStatus::Locked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CredentialStatus::Active => "active",
            CredentialStatus::Disabled => "disabled",
            CredentialStatus::Locked => "locked",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A secret as a client sent it. No `Display`, and a `Debug` that prints nothing of it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for hashing and verifying only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A stored secret: its Argon2id PHC string. `Debug` prints nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash(pub String);

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHash(<redacted>)")
    }
}

/// A credential as answers show it: never its secret nor its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub id: Uuid,
    pub kind: CredentialType,
    pub label: Option<String>,
    pub status: CredentialStatus,
    pub must_change: bool,
    pub failed_attempts: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_changed_at: DateTime<Utc>,
}

/// A credential with its stored hash, for verification.
#[derive(Debug, Clone)]
pub struct StoredCredential {
    pub credential: Credential,
    pub hash: SecretHash,
}

/// What a verification answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub valid: bool,
    pub status: CredentialStatus,
    pub must_change: bool,
}

/// A valid `POST /credentials` body.
#[derive(Debug)]
pub struct NewCredential {
    pub kind: CredentialType,
    pub secret: Secret,
    pub label: Option<String>,
    pub must_change: bool,
}

/// A valid `PUT /credentials/{id}/secret` body. The secret's rule depends on the credential's
/// type: [`NewSecret::check_for`] applies it once the credential is found.
#[derive(Debug)]
pub struct NewSecret {
    pub secret: Secret,
    pub must_change: bool,
}

/// A valid `POST /credentials/{id}/verify` body: any string (a secret of the wrong format is
/// a wrong secret, counted as such).
#[derive(Debug)]
pub struct VerifyAttempt {
    pub secret: Secret,
}

/// A status staff may set: `active` or `disabled` (only a new secret unlocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettableStatus {
    Active,
    Disabled,
}

impl SettableStatus {
    pub fn status(self) -> CredentialStatus {
        match self {
            SettableStatus::Active => CredentialStatus::Active,
            SettableStatus::Disabled => CredentialStatus::Disabled,
        }
    }
}

/// A valid merge patch (RFC 7396): each field absent (unchanged) or its new value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialPatch {
    /// `Some(None)`: clear it (`"label": null`).
    pub label: Option<Option<String>>,
    pub status: Option<SettableStatus>,
}

fn secret_field(fields: &mut Map<String, Value>, violations: &mut Violations) -> Secret {
    match fields.remove("secret") {
        Some(Value::String(text)) => Secret(text),
        None | Some(Value::Null) => {
            violations.add("secret", "is required");
            Secret(String::new())
        }
        Some(_) => {
            violations.add("secret", "must be a string");
            Secret(String::new())
        }
    }
}

fn must_change_field(fields: &mut Map<String, Value>, violations: &mut Violations) -> bool {
    match fields.remove("must_change") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => flag,
        Some(_) => {
            violations.add("must_change", "must be true or false");
            false
        }
    }
}

fn label_field(value: Option<Value>, violations: &mut Violations) -> Option<Option<String>> {
    match value {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(text)) => {
            LABEL.check("label", &text, violations);
            Some(Some(text))
        }
        Some(_) => {
            violations.add("label", "must be a string or null");
            None
        }
    }
}

impl NewCredential {
    pub const FIELDS: BodyFields = &["type", "secret", "label", "must_change"];

    /// Parses a `NewCustomerCredential` body: `type` and `secret` required, the secret by its
    /// type's rule; `label` absent, `null` or 1-64 characters; `must_change` a boolean.
    pub fn parse(body: Value) -> Result<Self, Error> {
        let mut violations = Violations::default();
        let mut fields = object_body(body, Self::FIELDS, &mut violations)?;
        let kind = match fields.remove("type") {
            Some(Value::String(text)) => {
                let kind = CredentialType::parse(&text);
                if kind.is_none() {
                    violations.add("type", "must be password or pin");
                }
                kind
            }
            None | Some(Value::Null) => {
                violations.add("type", "is required");
                None
            }
            Some(_) => {
                violations.add("type", "must be password or pin");
                None
            }
        };
        let secret = secret_field(&mut fields, &mut violations);
        if let Some(kind) = kind
            && fields_ok_for_secret(&violations)
        {
            kind.check(&secret, &mut violations);
        }
        let label = label_field(fields.remove("label"), &mut violations).flatten();
        let must_change = must_change_field(&mut fields, &mut violations);
        violations.finish(NewCredential {
            kind: kind.unwrap_or(CredentialType::Password),
            secret,
            label,
            must_change,
        })
    }
}

/// The secret's format is checked only when it was a string at all.
fn fields_ok_for_secret(violations: &Violations) -> bool {
    !violations.names("secret")
}

impl NewSecret {
    pub const FIELDS: BodyFields = &["secret", "must_change"];

    /// Parses a `NewCredentialSecret` body (the secret's format is checked by
    /// [`NewSecret::check_for`], once the credential's type is known).
    pub fn parse(body: Value) -> Result<Self, Error> {
        let mut violations = Violations::default();
        let mut fields = object_body(body, Self::FIELDS, &mut violations)?;
        let secret = secret_field(&mut fields, &mut violations);
        let must_change = must_change_field(&mut fields, &mut violations);
        violations.finish(NewSecret {
            secret,
            must_change,
        })
    }

    /// A 400 naming `secret` when it breaks the rule of a credential of type `kind`.
    pub fn check_for(&self, kind: CredentialType) -> Result<(), Error> {
        let mut violations = Violations::default();
        kind.check(&self.secret, &mut violations);
        violations.finish(())
    }
}

impl VerifyAttempt {
    pub const FIELDS: BodyFields = &["secret"];

    pub fn parse(body: Value) -> Result<Self, Error> {
        let mut violations = Violations::default();
        let mut fields = object_body(body, Self::FIELDS, &mut violations)?;
        let secret = secret_field(&mut fields, &mut violations);
        violations.finish(VerifyAttempt { secret })
    }
}

impl CredentialPatch {
    pub const FIELDS: BodyFields = &["label", "status"];

    /// Parses a JSON merge patch (RFC 7396) of a credential: `label` a string or `null`
    /// (clears it), `status` `active` or `disabled`.
    pub fn parse(body: Value) -> Result<Self, Error> {
        let mut violations = Violations::default();
        let mut fields = object_body(body, Self::FIELDS, &mut violations)?;
        let label = label_field(fields.remove("label"), &mut violations);
        let status = match fields.remove("status") {
            None => None,
            Some(Value::String(text)) if text == "active" => Some(SettableStatus::Active),
            Some(Value::String(text)) if text == "disabled" => Some(SettableStatus::Disabled),
            Some(_) => {
                violations.add(
                    "status",
                    "must be active or disabled (a locked credential is unlocked by a new secret)",
                );
                None
            }
        };
        violations.finish(CredentialPatch { label, status })
    }
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

    /// The error of a broken secret rule, in every form it takes, holds nothing of the secret.
    #[test]
    fn a_broken_secret_rule_names_the_field_never_the_value() {
        for (kind, secret) in [
            ("password", "short-pw-x"),
            ("pin", "12a4"),
            ("pin", "123456789"),
        ] {
            let err = NewCredential::parse(json!({"type": kind, "secret": secret})).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(secret), "{shown}");
            assert_eq!(fields_of(Err::<(), _>(err)), ["secret"]);
        }
        let parsed = NewSecret::parse(json!({"secret": "98x7"})).unwrap();
        assert!(!format!("{parsed:?}").contains("98x7"));
        let err = parsed.check_for(CredentialType::Pin).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("98x7"));
    }

    #[test]
    fn new_credentials_follow_their_type_rule() {
        let pw = NewCredential::parse(json!({"type": "password", "secret": "  twelve chars  "}))
            .unwrap();
        assert_eq!(pw.kind, CredentialType::Password);
        assert!(!pw.must_change);
        assert!(NewCredential::parse(json!({"type": "pin", "secret": "0000"})).is_ok());
        assert!(NewCredential::parse(json!({"type": "pin", "secret": "12345678"})).is_ok());
        assert_eq!(
            fields_of(NewCredential::parse(
                json!({"type": "pin", "secret": "١٢٣٤"})
            )),
            ["secret"]
        );
        assert_eq!(
            fields_of(NewCredential::parse(
                json!({"type": "otp", "secret": 1234, "label": " x", "must_change": "yes", "x": 1})
            )),
            ["x", "type", "secret", "label", "must_change"]
        );
        let long = "é".repeat(128);
        assert!(NewCredential::parse(json!({"type": "password", "secret": long})).is_ok());
        let longer = "é".repeat(129);
        assert_eq!(
            fields_of(NewCredential::parse(
                json!({"type": "password", "secret": longer})
            )),
            ["secret"]
        );
    }

    #[test]
    fn patches_are_merge_patches_with_two_settable_statuses() {
        let p = CredentialPatch::parse(json!({"label": null, "status": "disabled"})).unwrap();
        assert_eq!(p.label, Some(None));
        assert_eq!(p.status, Some(SettableStatus::Disabled));
        assert_eq!(
            CredentialPatch::parse(json!({})).unwrap(),
            CredentialPatch::default()
        );
        assert_eq!(
            fields_of(CredentialPatch::parse(json!({"status": "locked"}))),
            ["status"]
        );
        assert_eq!(
            fields_of(CredentialPatch::parse(
                json!({"status": null, "secret": "x"})
            )),
            ["secret", "status"]
        );
    }

    #[test]
    fn secrets_and_hashes_do_not_debug_print() {
        let secret = Secret("hunter2hunter2".to_owned());
        let hash = SecretHash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned());
        assert!(!format!("{secret:?} {hash:?}").contains("hunter2"));
        assert!(!format!("{hash:?}").contains("argon2"));
    }
}
