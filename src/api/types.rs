//! What travels on the wire: the OpenAPI schemas, named as the seed names them.
//!
//! Response types are plain poem-openapi `Object`s. Request bodies are read as
//! [`Unvalidated`] JSON and parsed by `crate::domain`, so that every broken rule comes back with
//! its field, and a number never passes for a string; their schemas here are written out by
//! hand so they carry the same rules as JSON Schema keywords, plus what poem-openapi's derive
//! cannot say (`allOf` composition, `nullable`).

use std::{borrow::Cow, marker::PhantomData};

use chrono::{DateTime, Utc};
use poem::{IntoResponse, Response};
use poem_openapi::{
    Enum, Object,
    payload::Payload,
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{Example, ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type},
};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::domain::{
    TextRule,
    category::{self, DESCRIPTION, KEY_MAX_CHARS, KEY_PATTERN, MAX_KEYS, NAME},
    credential::{self, LABEL, SECRET_MAX_CHARS, SECRET_MIN_CHARS},
    customer::{self, DISPLAY_NAME, EXTERNAL_ID},
    special_treatment::{self, MAX_VALUES, VALUE},
};

/// Request schemas that refuse unknown fields. poem-openapi cannot emit
/// `additionalProperties: false`, so `crate::spec` adds it to these by name.
pub const CLOSED_SCHEMAS: &[&str] = &[
    "NewCustomer",
    "SpecialTreatmentValues",
    "CategoryDefinition",
    "CustomerCategories",
    "NewCustomerCredential",
    "NewCredentialSecret",
    "CustomerCredentialPatch",
    "CredentialVerification",
];

/// `org_id`: an organization name.
pub const ORG_ID_PATTERN: &str = r"^[A-Za-z0-9][A-Za-z0-9._-]*$";
pub const ORG_ID_MAX_CHARS: usize = 64;

/// Implements `Type` for a type whose schema is registered by its `fn schema`.
macro_rules! named_schema {
    ($ty:ty, $name:literal) => {
        impl Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                $name.into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Reference($name.to_owned())
            }

            fn register(registry: &mut Registry) {
                registry.create_schema::<Self, _>($name.to_owned(), <$ty>::schema);
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(std::iter::once(self))
            }
        }
    };
}

/// A text field's schema, from its domain rule: the parser and the spec say the same.
fn text_schema(rule: TextRule) -> MetaSchema {
    MetaSchema {
        min_length: (rule.min_chars > 0).then_some(rule.min_chars),
        max_length: Some(rule.max_chars),
        pattern: rule.pattern().map(str::to_owned),
        ..MetaSchema::new("string")
    }
}

fn string_schema(max_chars: usize, pattern: &str) -> MetaSchema {
    MetaSchema {
        min_length: Some(1),
        max_length: Some(max_chars),
        pattern: Some(pattern.to_owned()),
        ..MetaSchema::new("string")
    }
}

/// A request body's `properties`: exactly the fields its domain parser accepts, in its order.
/// The parser refuses any other field; a field documented here but not parsed, or parsed but
/// not documented, is a bug caught when the document is generated (at start-up and in tests).
fn closed_properties(
    fields: crate::domain::BodyFields,
    schemas: Vec<(&'static str, MetaSchema)>,
) -> Vec<(&'static str, MetaSchemaRef)> {
    let documented: Vec<&str> = schemas.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        documented, fields,
        "a request schema documents exactly the fields its parser accepts"
    );
    schemas
        .into_iter()
        .map(|(name, schema)| (name, MetaSchemaRef::Inline(Box::new(schema))))
        .collect()
}

/// A JSON request body taken as it came, documented with `T`'s schema; the handler parses it
/// into a domain value.
pub struct Unvalidated<T>(pub Value, PhantomData<fn() -> T>);

impl<T: Type> Type for Unvalidated<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl<T: Type> ParseFromJSON for Unvalidated<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Ok(Unvalidated(value.unwrap_or(Value::Null), PhantomData))
    }
}

/// A value that is always present but may be `null` (`nullable: true`).
pub struct Nullable<T>(pub Option<T>);

impl<T: Type> Type for Nullable<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        format!("nullable_{}", T::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        match T::schema_ref() {
            MetaSchemaRef::Inline(schema) => MetaSchemaRef::Inline(Box::new(MetaSchema {
                nullable: true,
                ..*schema
            })),
            reference => MetaSchemaRef::Inline(Box::new(MetaSchema {
                all_of: vec![reference],
                nullable: true,
                ..MetaSchema::ANY
            })),
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().and_then(Type::as_raw_value)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.0.iter().flat_map(Type::raw_element_iter))
    }
}

impl<T: ToJSON> ToJSON for Nullable<T> {
    fn to_json(&self) -> Option<Value> {
        Some(
            self.0
                .as_ref()
                .and_then(ToJSON::to_json)
                .unwrap_or(Value::Null),
        )
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Nullable<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None | Some(Value::Null) => Ok(Nullable(None)),
            value => T::parse_from_json(value)
                .map(|v| Nullable(Some(v)))
                .map_err(ParseError::propagate),
        }
    }
}

/// `org_id` path parameter: an organization name, checked before the handler runs. A named
/// schema, so that generated clients have one `OrgId` type for every operation.
pub struct OrgId(pub String);

impl OrgId {
    fn schema(_: &mut Registry) -> MetaSchema {
        MetaSchema {
            title: Some("OrgId".to_owned()),
            description: Some(
                "Organization name: 1-64 characters, letters and digits, then also `.`, `_`, `-`.",
            ),
            example: Some(json!("acme")),
            ..string_schema(ORG_ID_MAX_CHARS, ORG_ID_PATTERN)
        }
    }
}

named_schema!(OrgId, "OrgId");

impl ParseFromParameter for OrgId {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        let mut chars = value.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !first_ok || !rest_ok || value.len() > ORG_ID_MAX_CHARS {
            return Err(ParseError::custom(format!(
                "must be 1-{ORG_ID_MAX_CHARS} characters matching {ORG_ID_PATTERN}"
            )));
        }
        Ok(OrgId(value.to_owned()))
    }
}

/// The seed's `SpecialTreatmentValues`: the list of special treatment values.
pub struct SpecialTreatmentValues;

impl SpecialTreatmentValues {
    fn schema(_: &mut Registry) -> MetaSchema {
        let values = MetaSchema {
            description: Some(
                "The customer's special treatment values, in the order given. At most 32 \
                 distinct values (exact comparison), each 1-64 characters (Unicode scalar \
                 values) with no control characters and no white space at either end. In a \
                 request, absent or null means the empty list.",
            ),
            items: Some(Box::new(MetaSchemaRef::Inline(Box::new(text_schema(
                VALUE,
            ))))),
            max_items: Some(MAX_VALUES),
            unique_items: Some(true),
            nullable: true,
            ..MetaSchema::new("array")
        };
        MetaSchema {
            title: Some("SpecialTreatmentValues".to_owned()),
            description: Some("A list of special treatment values."),
            properties: closed_properties(
                special_treatment::SpecialTreatment::FIELDS,
                vec![("values", values)],
            ),
            example: Some(json!({"values": ["vulnerable", "no-marketing"]})),
            ..MetaSchema::new("object")
        }
    }
}

named_schema!(SpecialTreatmentValues, "SpecialTreatmentValues");

/// The seed's `CustomerSpecialTreatment`: the special treatment assigned to a customer,
/// composed of `SpecialTreatmentValues` (`allOf`, as the seed documents it).
#[derive(Serialize)]
pub struct CustomerSpecialTreatment {
    pub values: Vec<String>,
}

impl CustomerSpecialTreatment {
    fn schema(registry: &mut Registry) -> MetaSchema {
        SpecialTreatmentValues::register(registry);
        MetaSchema {
            title: Some("CustomerSpecialTreatment".to_owned()),
            description: Some(
                "The special treatment assigned to a customer. A customer whose treatment was \
                 never set has `{\"values\": []}`.",
            ),
            all_of: vec![SpecialTreatmentValues::schema_ref()],
            example: Some(json!({"values": ["vulnerable", "no-marketing"]})),
            ..MetaSchema::ANY
        }
    }
}

named_schema!(CustomerSpecialTreatment, "CustomerSpecialTreatment");

/// A JSON answer written by serde straight from `T`, documented with `T`'s schema.
/// poem-openapi's `Json` first builds a `serde_json::Value` of `T`, then writes that: for the
/// special-treatment GET, the hottest answer, that was 4k of its 105k instructions
/// (BENCHMARKS.md).
pub struct SerdeJson<T>(pub T);

impl<T: Type + Send> Payload for SerdeJson<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type + Serialize + Send> IntoResponse for SerdeJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder()
                .content_type(Self::CONTENT_TYPE)
                .body(body),
            Err(err) => crate::error::Error::Internal(err.into()).into_response(),
        }
    }
}

/// The body of `createCustomer`.
pub struct NewCustomer;

impl NewCustomer {
    fn schema(_: &mut Registry) -> MetaSchema {
        let external_id = MetaSchema {
            description: Some(
                "The organization's own identifier for the customer: 1-128 characters, no \
                 control characters, unique within the organization.",
            ),
            ..text_schema(EXTERNAL_ID)
        };
        let display_name = MetaSchema {
            description: Some("Name to show for the customer, at most 200 characters."),
            nullable: true,
            ..text_schema(DISPLAY_NAME)
        };
        MetaSchema {
            title: Some("NewCustomer".to_owned()),
            description: Some("A customer to register."),
            required: vec!["external_id"],
            properties: closed_properties(
                customer::NewCustomer::FIELDS,
                vec![("external_id", external_id), ("display_name", display_name)],
            ),
            example: Some(json!({"external_id": "crm-000123", "display_name": "Ada Lovelace"})),
            ..MetaSchema::new("object")
        }
    }
}

named_schema!(NewCustomer, "NewCustomer");

/// A registered customer.
#[derive(Object)]
#[oai(example)]
pub struct Customer {
    /// Server-assigned identifier.
    pub id: Uuid,
    /// The organization's own identifier for the customer, unique within the organization.
    pub external_id: String,
    /// Name to show for the customer, or null.
    pub display_name: Nullable<String>,
    /// When the customer was registered.
    pub created_at: DateTime<Utc>,
    /// When the customer's registration last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<customer::Customer> for Customer {
    fn from(c: customer::Customer) -> Self {
        Customer {
            id: c.id,
            external_id: c.external_id,
            display_name: Nullable(c.display_name),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl Example for Customer {
    fn example() -> Self {
        let at = DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        Customer {
            id: Uuid::from_u128(0x019ac2f0_7b1e_7c3a_9f00_5e1d2c3b4a59),
            external_id: "crm-000123".to_owned(),
            display_name: Nullable(Some("Ada Lovelace".to_owned())),
            created_at: at,
            updated_at: at,
        }
    }
}

/// One page of an organization's customers, in registration order.
#[derive(Object)]
#[oai(example)]
pub struct CustomerPage {
    /// The customers of this page.
    pub items: Vec<Customer>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Nullable<String>,
}

impl Example for CustomerPage {
    fn example() -> Self {
        CustomerPage {
            items: vec![Customer::example()],
            next_cursor: Nullable(None),
        }
    }
}

/// `key` path parameter: a category key, checked before the handler runs.
pub struct CategoryKey(pub String);

impl CategoryKey {
    fn schema(_: &mut Registry) -> MetaSchema {
        MetaSchema {
            title: Some("CategoryKey".to_owned()),
            description: Some(
                "A category key: 1-64 characters, lower-case ASCII letters and digits, then \
                 also `_` and `-`.",
            ),
            example: Some(json!("retail")),
            ..string_schema(KEY_MAX_CHARS, KEY_PATTERN)
        }
    }
}

named_schema!(CategoryKey, "CategoryKey");

impl ParseFromParameter for CategoryKey {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        if !category::is_key(value) {
            return Err(ParseError::custom(category::key_format_message()));
        }
        Ok(CategoryKey(value.to_owned()))
    }
}

/// The body of `putCategory`: what the category becomes.
pub struct CategoryDefinition;

impl CategoryDefinition {
    fn schema(_: &mut Registry) -> MetaSchema {
        let name = MetaSchema {
            description: Some(
                "Name to show: 1-100 characters, no control characters, no white space at \
                 either end.",
            ),
            ..text_schema(NAME)
        };
        let description = MetaSchema {
            description: Some(
                "What the category means: 1-500 characters, no control characters but inner \
                 line breaks (LF, CRLF), no white space at either end. Absent or null: none.",
            ),
            nullable: true,
            ..text_schema(DESCRIPTION)
        };
        MetaSchema {
            title: Some("CategoryDefinition".to_owned()),
            description: Some(
                "A category's name and description. The key is the path's: a `key` field here \
                 is an unknown field.",
            ),
            required: vec!["name"],
            properties: closed_properties(
                category::CategoryDefinition::FIELDS,
                vec![("name", name), ("description", description)],
            ),
            example: Some(json!({
                "name": "Retail",
                "description": "Personal customers of the retail network."
            })),
            ..MetaSchema::new("object")
        }
    }
}

named_schema!(CategoryDefinition, "CategoryDefinition");

/// One of the organization's categories.
#[derive(Object)]
#[oai(example)]
pub struct Category {
    /// The category's key, unique within the organization.
    pub key: String,
    /// Name to show.
    pub name: String,
    /// What the category means, or null.
    pub description: Nullable<String>,
    /// When the category was created.
    pub created_at: DateTime<Utc>,
    /// When the category was last replaced (its creation time if never).
    pub updated_at: DateTime<Utc>,
}

impl From<category::Category> for Category {
    fn from(c: category::Category) -> Self {
        Category {
            key: c.key,
            name: c.name,
            description: Nullable(c.description),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl Example for Category {
    fn example() -> Self {
        let at = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        Category {
            key: "retail".to_owned(),
            name: "Retail".to_owned(),
            description: Nullable(Some("Personal customers of the retail network.".to_owned())),
            created_at: at,
            updated_at: at,
        }
    }
}

/// One page of an organization's categories, in key order (byte order).
#[derive(Object)]
#[oai(example)]
pub struct CategoryPage {
    /// The categories of this page.
    pub items: Vec<Category>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Nullable<String>,
}

impl Example for CategoryPage {
    fn example() -> Self {
        CategoryPage {
            items: vec![Category::example()],
            next_cursor: Nullable(None),
        }
    }
}

/// A customer's categories: the keys of the categories it belongs to.
#[derive(Serialize)]
pub struct CustomerCategories {
    pub keys: Vec<String>,
}

impl CustomerCategories {
    fn schema(_: &mut Registry) -> MetaSchema {
        let key = MetaSchema {
            example: None,
            ..string_schema(KEY_MAX_CHARS, KEY_PATTERN)
        };
        let keys = MetaSchema {
            description: Some(
                "Keys of the organization's categories: at most 16, distinct, each an existing \
                 category's. A set: answers list it in key order (`[]` when none). In a request, \
                 absent or null means none.",
            ),
            items: Some(Box::new(MetaSchemaRef::Inline(Box::new(key)))),
            max_items: Some(MAX_KEYS),
            unique_items: Some(true),
            nullable: true,
            ..MetaSchema::new("array")
        };
        MetaSchema {
            title: Some("CustomerCategories".to_owned()),
            description: Some("The categories a customer belongs to."),
            properties: closed_properties(category::CategoryKeys::FIELDS, vec![("keys", keys)]),
            example: Some(json!({"keys": ["retail", "staff"]})),
            ..MetaSchema::new("object")
        }
    }
}

named_schema!(CustomerCategories, "CustomerCategories");

/// What a credential is for: a `password` (online channels) or a `pin` (phone line, cards).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum CredentialType {
    Password,
    Pin,
}

impl From<credential::CredentialType> for CredentialType {
    fn from(kind: credential::CredentialType) -> Self {
        match kind {
            credential::CredentialType::Password => CredentialType::Password,
            credential::CredentialType::Pin => CredentialType::Pin,
        }
    }
}

/// A credential's state: `active` verifies with the right secret; `disabled` (set by staff)
/// and `locked` (after five consecutive failed verifications) never verify.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum CredentialStatus {
    Active,
    Disabled,
    Locked,
}

impl From<credential::CredentialStatus> for CredentialStatus {
    fn from(status: credential::CredentialStatus) -> Self {
        match status {
            credential::CredentialStatus::Active => CredentialStatus::Active,
            credential::CredentialStatus::Disabled => CredentialStatus::Disabled,
            credential::CredentialStatus::Locked => CredentialStatus::Locked,
        }
    }
}

/// The `secret` property: write-only, never in an answer.
fn secret_schema(description: &'static str) -> MetaSchema {
    MetaSchema {
        description: Some(description),
        format: Some("password"),
        write_only: true,
        min_length: Some(SECRET_MIN_CHARS),
        max_length: Some(SECRET_MAX_CHARS),
        ..MetaSchema::new("string")
    }
}

const SECRET_RULE: &str = "The secret: a password is 12-128 characters (Unicode scalar values; any \
     characters, white space included); a PIN is 4-8 digits (`^[0-9]{4,8}$`). Stored only as an \
     Argon2id hash; never returned, logged or echoed in an error.";

fn must_change_schema() -> MetaSchema {
    MetaSchema {
        description: Some(
            "Whether the customer must choose a new secret at next use (channels read it from \
             the verification's answer). Absent or null: false.",
        ),
        nullable: true,
        ..MetaSchema::new("boolean")
    }
}

fn label_schema(description: &'static str) -> MetaSchema {
    MetaSchema {
        description: Some(description),
        nullable: true,
        ..text_schema(LABEL)
    }
}

/// The body of `createCustomerCredential`.
pub struct NewCustomerCredential;

impl NewCustomerCredential {
    fn schema(_: &mut Registry) -> MetaSchema {
        let kind = MetaSchema {
            description: Some(
                "`password` or `pin`. A customer has at most one credential of each type.",
            ),
            enum_items: vec![json!("password"), json!("pin")],
            ..MetaSchema::new("string")
        };
        MetaSchema {
            title: Some("NewCustomerCredential".to_owned()),
            description: Some("A credential to set for a customer."),
            required: vec!["type", "secret"],
            properties: closed_properties(
                credential::NewCredential::FIELDS,
                vec![
                    ("type", kind),
                    ("secret", secret_schema(SECRET_RULE)),
                    (
                        "label",
                        label_schema(
                            "What the credential is for, to show to staff: 1-64 characters, no \
                             control characters, no white space at either end. Absent or null: \
                             none.",
                        ),
                    ),
                    ("must_change", must_change_schema()),
                ],
            ),
            // A placeholder, never a real secret (it fits the password rule, so tools that
            // send the example get a 201).
            example: Some(json!({
                "type": "password",
                "secret": "<the customer's password>",
                "label": "Online banking",
                "must_change": true
            })),
            ..MetaSchema::new("object")
        }
    }
}

named_schema!(NewCustomerCredential, "NewCustomerCredential");

/// The body of `setCustomerCredentialSecret`.
pub struct NewCredentialSecret;

impl NewCredentialSecret {
    fn schema(_: &mut Registry) -> MetaSchema {
        MetaSchema {
            title: Some("NewCredentialSecret".to_owned()),
            description: Some(
                "A new secret for a credential, by the rule of the credential's type.",
            ),
            required: vec!["secret"],
            properties: closed_properties(
                credential::NewSecret::FIELDS,
                vec![
                    ("secret", secret_schema(SECRET_RULE)),
                    ("must_change", must_change_schema()),
                ],
            ),
            example: Some(json!({"secret": "<the new password>", "must_change": true})),
            ..MetaSchema::new("object")
        }
    }
}

named_schema!(NewCredentialSecret, "NewCredentialSecret");

/// The body of `updateCustomerCredential`: a JSON merge patch.
pub struct CustomerCredentialPatch;

impl CustomerCredentialPatch {
    fn schema(_: &mut Registry) -> MetaSchema {
        let status = MetaSchema {
            description: Some(
                "`active` or `disabled`. A locked credential is unlocked only by a new secret: \
                 a status on it is `409`.",
            ),
            enum_items: vec![json!("active"), json!("disabled")],
            ..MetaSchema::new("string")
        };
        MetaSchema {
            title: Some("CustomerCredentialPatch".to_owned()),
            description: Some(
                "A JSON merge patch (RFC 7396) of a credential: an absent field is unchanged.",
            ),
            properties: closed_properties(
                credential::CredentialPatch::FIELDS,
                vec![
                    (
                        "label",
                        label_schema(
                            "The new label (1-64 characters, no control characters, no white \
                             space at either end), or null to clear it.",
                        ),
                    ),
                    ("status", status),
                ],
            ),
            example: Some(json!({"status": "disabled"})),
            ..MetaSchema::new("object")
        }
    }
}

named_schema!(CustomerCredentialPatch, "CustomerCredentialPatch");

/// The body of `verifyCustomerCredential`.
pub struct CredentialVerification;

impl CredentialVerification {
    fn schema(_: &mut Registry) -> MetaSchema {
        MetaSchema {
            title: Some("CredentialVerification".to_owned()),
            description: Some("A secret a customer typed, to check."),
            required: vec!["secret"],
            properties: closed_properties(
                credential::VerifyAttempt::FIELDS,
                vec![(
                    "secret",
                    MetaSchema {
                        description: Some(
                            "What the customer typed. Any string: one that does not fit the \
                             credential's type is a wrong secret, and counts as one.",
                        ),
                        format: Some("password"),
                        write_only: true,
                        ..MetaSchema::new("string")
                    },
                )],
            ),
            example: Some(json!({"secret": "<what the customer typed>"})),
            ..MetaSchema::new("object")
        }
    }
}

named_schema!(CredentialVerification, "CredentialVerification");

/// A customer's credential: never its secret, its hash or the hash's parameters.
#[derive(Object)]
#[oai(example)]
pub struct CustomerCredential {
    /// Server-assigned identifier.
    pub id: Uuid,
    // No doc comment on an enum field: poem-openapi would wrap the `$ref` in an `allOf` with
    // the description, which openapi-python-client refuses for a non-object. The enum's own
    // schema describes it.
    #[oai(rename = "type")]
    pub kind: CredentialType,
    /// What the credential is for, or null.
    pub label: Nullable<String>,
    pub status: CredentialStatus,
    /// Whether the customer must choose a new secret at next use.
    pub must_change: bool,
    /// Consecutive failed verifications since the last right one or the last new secret; the
    /// fifth locks the credential.
    pub failed_attempts: i32,
    /// When the credential was created.
    pub created_at: DateTime<Utc>,
    /// When the credential last changed (a new secret, label or status, a verification that
    /// changed the count).
    pub updated_at: DateTime<Utc>,
    /// When its secret was last set.
    pub last_changed_at: DateTime<Utc>,
}

impl From<credential::Credential> for CustomerCredential {
    fn from(c: credential::Credential) -> Self {
        CustomerCredential {
            id: c.id,
            kind: c.kind.into(),
            label: Nullable(c.label),
            status: c.status.into(),
            must_change: c.must_change,
            failed_attempts: c.failed_attempts,
            created_at: c.created_at,
            updated_at: c.updated_at,
            last_changed_at: c.last_changed_at,
        }
    }
}

impl Example for CustomerCredential {
    fn example() -> Self {
        let at = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        CustomerCredential {
            id: Uuid::from_u128(0x019ade40_2c1a_7f3b_8e21_6a4c9d0b1e27),
            kind: CredentialType::Pin,
            label: Nullable(Some("Phone banking".to_owned())),
            status: CredentialStatus::Active,
            must_change: true,
            failed_attempts: 0,
            created_at: at,
            updated_at: at,
            last_changed_at: at,
        }
    }
}

/// A customer's credentials (at most one per type), in id order: one page, always the last.
#[derive(Object)]
#[oai(example)]
pub struct CustomerCredentialPage {
    /// The customer's credentials.
    pub items: Vec<CustomerCredential>,
    /// Always null: a customer's credentials fit in one page.
    pub next_cursor: Nullable<String>,
}

impl Example for CustomerCredentialPage {
    fn example() -> Self {
        CustomerCredentialPage {
            items: vec![CustomerCredential::example()],
            next_cursor: Nullable(None),
        }
    }
}

/// What a verification found: `valid`, and the credential's `status` after this verification
/// (`locked` already on the fifth consecutive failure) and `must_change`.
#[derive(Object)]
#[oai(example)]
pub struct CredentialVerificationResult {
    /// True only for an `active` credential and the right secret.
    pub valid: bool,
    // Its status after this verification (`locked` already on the fifth consecutive
    // failure): said in the struct's description (see `CustomerCredential::kind`).
    pub status: CredentialStatus,
    /// Whether the customer must choose a new secret.
    pub must_change: bool,
}

impl Example for CredentialVerificationResult {
    fn example() -> Self {
        CredentialVerificationResult {
            valid: true,
            status: CredentialStatus::Active,
            must_change: false,
        }
    }
}

/// Liveness or readiness.
#[derive(Object)]
pub struct HealthStatus {
    /// `ok` (live) or `ready` (the database answers).
    pub status: String,
}
