//! External accounts: a customer's accounts as the organization knows them.
//!
//! The account number (`identification`) is personal data with fraud value. It is checked
//! here on the way in, per scheme, and then travels as [`Identification`], whose `Debug` shows
//! only the masked form: a rule that is broken names the field, never the value, and no log
//! line, error or answer but the reveal can carry the number.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{BodyFields, TextRule, Violations, object_body};
use crate::error::Error;

/// The organization's own reference for the account: the shared rule (1-128 characters, no
/// control characters, no white space at either end).
pub const EXTERNAL_ID: TextRule = TextRule::trimmed(128);
/// A name the customer or the organization gives the account.
pub const NICKNAME: TextRule = TextRule::trimmed(64);
/// ISO 4217 style: three upper-case letters.
pub const CURRENCY_PATTERN: &str = "^[A-Z]{3}$";
/// An IBAN once spaces are removed and letters upper-cased (ISO 13616: country, check digits,
/// 11-30 characters of BBAN; country lengths are not checked).
pub const IBAN_PATTERN: &str = "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$";
/// A UK sort code and account number once spaces are removed: 6 + 8 digits.
pub const SORT_CODE_ACCOUNT_PATTERN: &str = "^[0-9]{14}$";
/// Any other scheme, stored as sent.
pub const OTHER_PATTERN: &str = "^[A-Za-z0-9-]{4,34}$";
/// What the request schema admits for any scheme: the union of the three, before spaces are
/// removed (no white space at either end, as for every string). The per-scheme rules above
/// are checked by the parser.
pub const IDENTIFICATION_PATTERN: &str = "^[A-Za-z0-9-](?:[A-Za-z0-9 -]*[A-Za-z0-9-])?$";
/// The longest identification accepted as sent: a 34-character IBAN in groups of four with
/// a space between groups is 42; leave room for looser spacing.
pub const IDENTIFICATION_MAX_CHARS: usize = 64;
pub const IDENTIFICATION_MIN_CHARS: usize = 4;

/// Declares a closed set of words: its variants, their spelling on the wire and in the
/// database, and `ALL` (the spec's `enum`).
macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($variant,)+
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }

            pub fn parse(word: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|value| value.as_str() == word)
            }

            /// "`a`, `b` or `c`", for messages.
            pub fn one_of() -> String {
                let words: Vec<String> =
                    Self::ALL.iter().map(|v| format!("`{}`", v.as_str())).collect();
                match words.split_last() {
                    Some((last, [])) => last.clone(),
                    Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                    None => String::new(),
                }
            }
        }
    };
}

word_enum!(
    /// How `identification` is written.
    Scheme {
        Iban => "iban",
        SortCodeAccount => "sort_code_account",
        Other => "other",
    }
);

word_enum!(
    /// What the account is.
    Kind {
        Current => "current",
        Savings => "savings",
        Card => "card",
        Loan => "loan",
        Other => "other",
    }
);

word_enum!(
    /// Who holds the account.
    HolderType {
        Individual => "individual",
        Business => "business",
    }
);

word_enum!(
    /// Where the account stands; `closed` is final.
    Status {
        Active => "active",
        Disabled => "disabled",
        Closed => "closed",
    }
);

/// An account number, normalized for its scheme. Its `Debug` is the masked form, so it can
/// sit in a struct that is logged without leaking.
#[derive(Clone, PartialEq, Eq)]
pub struct Identification(String);

impl Identification {
    /// A number read back from the database (already normalized when it was stored).
    pub fn stored(number: String) -> Self {
        Identification(number)
    }

    /// `****` followed by its last 4 characters.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        let last4: String = chars[chars.len().saturating_sub(4)..].iter().collect();
        format!("****{last4}")
    }

    /// The number itself: for storing it and for the reveal's answer only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_exposed(self) -> String {
        self.0
    }

    /// Checks `sent` against `scheme`'s rules (and, for a card, refuses a full card number),
    /// adding each broken rule to `violations` under `identification`, never with the value.
    fn parse(scheme: Scheme, kind: Option<Kind>, sent: &str, violations: &mut Violations) -> Self {
        const FIELD: &str = "identification";
        let chars = sent.chars().count();
        if !(IDENTIFICATION_MIN_CHARS..=IDENTIFICATION_MAX_CHARS).contains(&chars) {
            violations.add(
                FIELD,
                format!("must be {IDENTIFICATION_MIN_CHARS}-{IDENTIFICATION_MAX_CHARS} characters"),
            );
            return Identification(String::new());
        }
        if sent.starts_with(super::is_space) || sent.ends_with(super::is_space) {
            violations.add(FIELD, "must not start or end with white space");
        }
        if kind == Some(Kind::Card) && is_full_card_number(sent) {
            violations.add(
                FIELD,
                "looks like a full card number (PAN): never send one; send a masked reference \
                 instead (e.g. the last 4 digits with a prefix of your own), scheme `other`",
            );
            return Identification(String::new());
        }
        let normalized = match scheme {
            Scheme::Iban | Scheme::SortCodeAccount => sent
                .chars()
                .filter(|c| *c != ' ')
                .collect::<String>()
                .to_ascii_uppercase(),
            Scheme::Other => sent.to_owned(),
        };
        let ok = match scheme {
            Scheme::Iban => {
                if !matches_iban_shape(&normalized) {
                    violations.add(
                        FIELD,
                        "is not an IBAN: once spaces are removed, 2 letters, 2 check digits, \
                         then 11-30 letters or digits",
                    );
                    false
                } else if normalized.parse::<iban::BaseIban>().is_err() {
                    violations.add(
                        FIELD,
                        "is not an IBAN: its check digits do not match (ISO 13616 mod 97)",
                    );
                    false
                } else {
                    true
                }
            }
            Scheme::SortCodeAccount => {
                let ok = normalized.len() == 14 && normalized.bytes().all(|b| b.is_ascii_digit());
                if !ok {
                    violations.add(
                        FIELD,
                        "must be a sort code and account number: 14 digits (6 + 8), spaces \
                         allowed",
                    );
                }
                ok
            }
            Scheme::Other => {
                let ok = (4..=34).contains(&normalized.len())
                    && normalized
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-');
                if !ok {
                    violations.add(
                        FIELD,
                        "must be 4-34 letters, digits or `-` for scheme `other`",
                    );
                }
                ok
            }
        };
        Identification(if ok { normalized } else { String::new() })
    }
}

impl std::fmt::Debug for Identification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identification({})", self.masked())
    }
}

/// `^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$`, without a regex engine on the request path.
fn matches_iban_shape(text: &str) -> bool {
    let bytes = text.as_bytes();
    (15..=34).contains(&bytes.len())
        && bytes[..2].iter().all(u8::is_ascii_uppercase)
        && bytes[2..4].iter().all(u8::is_ascii_digit)
        && bytes[4..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A full card number (PAN): without spaces and hyphens, 13-19 digits passing the Luhn check.
fn is_full_card_number(sent: &str) -> bool {
    let digits: Vec<u8> = sent.bytes().filter(|b| *b != b' ' && *b != b'-').collect();
    (13..=19).contains(&digits.len())
        && digits.iter().all(u8::is_ascii_digit)
        && luhn_valid(&digits)
}

/// The Luhn (mod 10) check of ASCII digits. Written here rather than taken from a crate: it is
/// ten lines with no edge case beyond "all digits" (checked by the caller), the crates that do
/// it (`luhn`, `luhn3`) are small and little maintained, and a unit test pins it to known
/// numbers.
fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            match i % 2 {
                0 => d,
                _ if d * 2 > 9 => d * 2 - 9,
                _ => d * 2,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A registered account, as every answer but the reveal shows it (no number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub external_id: String,
    pub scheme: Scheme,
    pub identification_masked: String,
    pub currency: String,
    pub kind: Kind,
    pub holder_type: HolderType,
    pub nickname: Option<String>,
    pub status: Status,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A valid registration request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub external_id: String,
    pub scheme: Scheme,
    pub identification: Identification,
    pub currency: String,
    pub kind: Kind,
    pub holder_type: HolderType,
    pub nickname: Option<String>,
}

/// A required string field, or a violation.
fn required_text(
    fields: &mut Map<String, Value>,
    name: &str,
    v: &mut Violations,
) -> Option<String> {
    match fields.remove(name) {
        Some(Value::String(text)) => Some(text),
        None | Some(Value::Null) => {
            v.add(name, "is required");
            None
        }
        Some(_) => {
            v.add(name, "must be a string");
            None
        }
    }
}

/// One of a closed set of words, or a violation.
fn word<T>(
    value: Option<Value>,
    name: &str,
    parse: fn(&str) -> Option<T>,
    one_of: fn() -> String,
    v: &mut Violations,
) -> Option<T> {
    match value {
        Some(Value::String(text)) => {
            let parsed = parse(&text);
            if parsed.is_none() {
                v.add(name, format!("must be {}", one_of()));
            }
            parsed
        }
        None => None,
        Some(_) => {
            v.add(name, format!("must be {}", one_of()));
            None
        }
    }
}

fn nickname(value: Option<Value>, v: &mut Violations) -> Option<Option<String>> {
    match value {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(text)) => {
            NICKNAME.check("nickname", &text, v);
            Some(Some(text))
        }
        Some(_) => {
            v.add("nickname", "must be a string or null");
            None
        }
    }
}

impl NewAccount {
    pub const FIELDS: BodyFields = &[
        "external_id",
        "scheme",
        "identification",
        "currency",
        "kind",
        "holder_type",
        "nickname",
    ];

    /// Parses a registration body, naming every broken rule's field (never its value).
    pub fn parse(body: Value) -> Result<Self, Error> {
        let mut v = Violations::default();
        let mut fields = object_body(body, Self::FIELDS, &mut v)?;
        let external_id = required_text(&mut fields, "external_id", &mut v);
        if let Some(text) = &external_id {
            EXTERNAL_ID.check("external_id", text, &mut v);
        }
        let scheme = match fields.remove("scheme") {
            None | Some(Value::Null) => {
                v.add("scheme", "is required");
                None
            }
            value => word(value, "scheme", Scheme::parse, Scheme::one_of, &mut v),
        };
        let kind = match fields.remove("kind") {
            None | Some(Value::Null) => {
                v.add("kind", "is required");
                None
            }
            value => word(value, "kind", Kind::parse, Kind::one_of, &mut v),
        };
        let identification = required_text(&mut fields, "identification", &mut v);
        let identification = match (scheme, identification) {
            (Some(scheme), Some(sent)) => Some(Identification::parse(scheme, kind, &sent, &mut v)),
            _ => None,
        };
        let currency = required_text(&mut fields, "currency", &mut v);
        if let Some(code) = &currency
            && !(code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()))
        {
            v.add(
                "currency",
                "must be 3 upper-case letters (ISO 4217), e.g. `EUR`",
            );
        }
        let holder_type = match fields.remove("holder_type") {
            None | Some(Value::Null) => Some(HolderType::Individual),
            value => word(
                value,
                "holder_type",
                HolderType::parse,
                HolderType::one_of,
                &mut v,
            ),
        };
        let nickname = nickname(fields.remove("nickname"), &mut v).flatten();
        match (
            external_id,
            scheme,
            identification,
            currency,
            kind,
            holder_type,
        ) {
            (
                Some(external_id),
                Some(scheme),
                Some(identification),
                Some(currency),
                Some(kind),
                Some(holder_type),
            ) => v.finish(NewAccount {
                external_id,
                scheme,
                identification,
                currency,
                kind,
                holder_type,
                nickname,
            }),
            // Something is missing, so `v` has its violation.
            _ => Err(v.finish(()).expect_err("a missing field is a violation")),
        }
    }
}

/// A valid merge patch: each field absent (unchanged) or its new value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountPatch {
    /// `Some(None)`: clear it (`"nickname": null`).
    pub nickname: Option<Option<String>>,
    pub status: Option<Status>,
}

impl AccountPatch {
    pub const FIELDS: BodyFields = &["nickname", "status"];
    /// Fields of the account that never change: named in the 400 rather than "unknown".
    const FIXED: &[&str] = &["scheme", "identification", "currency"];

    /// Parses a JSON merge patch (RFC 7396) of an account.
    pub fn parse(body: Value) -> Result<Self, Error> {
        let mut v = Violations::default();
        let allowed: Vec<&str> = Self::FIELDS.iter().chain(Self::FIXED).copied().collect();
        let mut fields = object_body(body, &allowed, &mut v)?;
        for fixed in Self::FIXED {
            if fields.remove(*fixed).is_some() {
                v.add(
                    *fixed,
                    "cannot change: delete the account and register it again",
                );
            }
        }
        let nickname = nickname(fields.remove("nickname"), &mut v);
        let status = match fields.remove("status") {
            Some(Value::Null) => {
                v.add("status", format!("must be {}", Status::one_of()));
                None
            }
            value => word(value, "status", Status::parse, Status::one_of, &mut v),
        };
        v.finish(AccountPatch { nickname, status })
    }
}

/// The position of one page of a customer's accounts.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub limit: u64,
    /// Return accounts after this one (exclusive), in id order.
    pub after: Option<Uuid>,
}

/// One page of accounts; `next` is the last id when more may follow.
#[derive(Debug, Clone)]
pub struct AccountPage {
    pub items: Vec<Account>,
    pub next: Option<Uuid>,
}

/// What the reveal answers.
#[derive(Debug, Clone)]
pub struct Revealed {
    pub scheme: Scheme,
    pub identification: Identification,
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

    fn body(scheme: &str, identification: &str, kind: &str) -> Value {
        json!({"external_id": "acc-1", "scheme": scheme, "identification": identification,
               "currency": "EUR", "kind": kind})
    }

    #[test]
    fn ibans_are_normalized_and_checked_by_mod_97() {
        let ok = NewAccount::parse(body("iban", "gb82 west 1234 5698 7654 32", "current")).unwrap();
        assert_eq!(ok.identification.expose(), "GB82WEST12345698765432");
        assert_eq!(ok.identification.masked(), "****5432");
        assert_eq!(ok.holder_type, HolderType::Individual);
        for bad in [
            "GB83WEST12345698765432",
            "GB82WEST1234",
            "1282WEST12345698765432",
        ] {
            assert_eq!(
                fields_of(NewAccount::parse(body("iban", bad, "current"))),
                ["identification"]
            );
        }
    }

    #[test]
    fn sort_codes_and_other_schemes() {
        let ok =
            NewAccount::parse(body("sort_code_account", "40 47 84 70872490", "savings")).unwrap();
        assert_eq!(ok.identification.expose(), "40478470872490");
        assert!(
            NewAccount::parse(body("sort_code_account", "404784-70872490", "savings")).is_err()
        );
        let ok = NewAccount::parse(body("other", "loan-ref-77", "loan")).unwrap();
        assert_eq!(ok.identification.expose(), "loan-ref-77");
        assert!(NewAccount::parse(body("other", "a b c d", "loan")).is_err());
    }

    #[test]
    fn a_full_card_number_is_refused_without_echoing_it() {
        for pan in [
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "5555555555554444",
            "378282246310005",
        ] {
            let err = NewAccount::parse(body("other", pan, "card")).unwrap_err();
            let text = format!("{err:?} {err}");
            assert!(text.contains("masked reference"), "{text}");
            assert!(
                !text.contains("1111") && !text.contains("4444") && !text.contains("0005"),
                "{text}"
            );
        }
        // Not passing Luhn, or not a card: not a PAN.
        assert!(NewAccount::parse(body("other", "4111111111111112", "card")).is_ok());
        assert!(NewAccount::parse(body("other", "card-1111", "card")).is_ok());
    }

    #[test]
    fn luhn_matches_known_numbers() {
        assert!(luhn_valid(b"79927398713"));
        assert!(!luhn_valid(b"79927398710"));
        assert!(luhn_valid(b"4012888888881881"));
    }

    #[test]
    fn every_broken_field_is_named_and_the_debug_form_is_masked() {
        let fields = fields_of(NewAccount::parse(json!({
            "external_id": " x", "scheme": "swift", "identification": 5, "currency": "eur",
            "kind": "cash", "holder_type": "robot", "nickname": "", "extra": 1
        })));
        assert_eq!(
            fields,
            [
                "extra",
                "external_id",
                "scheme",
                "kind",
                "identification",
                "currency",
                "holder_type",
                "nickname"
            ]
        );
        let ok = NewAccount::parse(body("iban", "GB82WEST12345698765432", "current")).unwrap();
        assert!(!format!("{ok:?}").contains("GB82WEST"));
    }

    #[test]
    fn patches_refuse_fixed_fields_and_clear_with_null() {
        let p = AccountPatch::parse(json!({"nickname": null, "status": "closed"})).unwrap();
        assert_eq!(p.nickname, Some(None));
        assert_eq!(p.status, Some(Status::Closed));
        assert_eq!(
            AccountPatch::parse(json!({})).unwrap(),
            AccountPatch::default()
        );
        let fields = fields_of(AccountPatch::parse(
            json!({"currency": "USD", "status": "gone", "x": 1}),
        ));
        assert_eq!(fields, ["x", "currency", "status"]);
    }
}
