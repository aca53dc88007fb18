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
    account::{
        self, CURRENCY_PATTERN, HolderType, IDENTIFICATION_MAX_CHARS, IDENTIFICATION_MIN_CHARS,
        IDENTIFICATION_PATTERN, Kind, NICKNAME, Scheme, Status,
    },
    category::{self, DESCRIPTION, KEY_MAX_CHARS, KEY_PATTERN, MAX_KEYS, NAME},
    credential::{self, LABEL, SECRET_MAX_CHARS, SECRET_MIN_CHARS},
    customer::{self, DISPLAY_NAME, EXTERNAL_ID},
    history::{Action, ResourceType},
    identification::{
        self as kyc, EXPIRES_IN_DEFAULT_S, EXPIRES_IN_MAX_S, EXPIRES_IN_MIN_S, PROVIDER,
        PROVIDER_REFERENCE, REASON_MAX_CHARS, REASON_PATTERN,
    },
    special_treatment::{self, MAX_VALUES, VALUE},
};

/// Request schemas that refuse unknown fields. poem-openapi cannot emit
/// `additionalProperties: false`, so `crate::spec` adds it to these by name.
pub const CLOSED_SCHEMAS: &[&str] = &[
    "NewCustomer",
    "SpecialTreatmentValues",
    "CategoryDefinition",
    "CustomerCategories",
    "NewIdentificationProcess",
    "IdentificationRejection",
    "NewExternalAccount",
    "ExternalAccountPatch",
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

/// How a customer's identity is verified.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum IdentificationMethod {
    Document,
    Video,
    Bank,
    InPerson,
    Manual,
}

impl From<kyc::Method> for IdentificationMethod {
    fn from(m: kyc::Method) -> Self {
        match m {
            kyc::Method::Document => IdentificationMethod::Document,
            kyc::Method::Video => IdentificationMethod::Video,
            kyc::Method::Bank => IdentificationMethod::Bank,
            kyc::Method::InPerson => IdentificationMethod::InPerson,
            kyc::Method::Manual => IdentificationMethod::Manual,
        }
    }
}

/// An identification process's status. `created`, `pending` and `in_review` are unfinished;
/// `approved`, `rejected`, `expired` and `cancelled` are final. A `created` or `pending`
/// process reads as `expired` from its `expires_at` on.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum IdentificationStatus {
    Created,
    Pending,
    InReview,
    Approved,
    Rejected,
    Expired,
    Cancelled,
}

impl From<kyc::Status> for IdentificationStatus {
    fn from(s: kyc::Status) -> Self {
        match s {
            kyc::Status::Created => IdentificationStatus::Created,
            kyc::Status::Pending => IdentificationStatus::Pending,
            kyc::Status::InReview => IdentificationStatus::InReview,
            kyc::Status::Approved => IdentificationStatus::Approved,
            kyc::Status::Rejected => IdentificationStatus::Rejected,
            kyc::Status::Expired => IdentificationStatus::Expired,
            kyc::Status::Cancelled => IdentificationStatus::Cancelled,
        }
    }
}

impl From<IdentificationStatus> for kyc::Status {
    fn from(s: IdentificationStatus) -> Self {
        match s {
            IdentificationStatus::Created => kyc::Status::Created,
            IdentificationStatus::Pending => kyc::Status::Pending,
            IdentificationStatus::InReview => kyc::Status::InReview,
            IdentificationStatus::Approved => kyc::Status::Approved,
            IdentificationStatus::Rejected => kyc::Status::Rejected,
            IdentificationStatus::Expired => kyc::Status::Expired,
            IdentificationStatus::Cancelled => kyc::Status::Cancelled,
        }
    }
}

/// The body of `createIdentificationProcess`.
pub struct NewIdentificationProcess;

impl NewIdentificationProcess {
    fn schema(registry: &mut Registry) -> MetaSchema {
        IdentificationMethod::register(registry);
        let method = MetaSchema {
            description: Some("How the identity is verified."),
            all_of: vec![IdentificationMethod::schema_ref()],
            ..MetaSchema::ANY
        };
        let provider = MetaSchema {
            description: Some(
                "The verification provider, 1-64 characters, no control characters, no white \
                 space at either end. Absent or null: none.",
            ),
            nullable: true,
            ..text_schema(PROVIDER)
        };
        let provider_reference = MetaSchema {
            description: Some(
                "The provider's reference for this run (never a document number), 1-128 \
                 characters, no control characters, no white space at either end. Absent or \
                 null: none.",
            ),
            nullable: true,
            ..text_schema(PROVIDER_REFERENCE)
        };
        let expires_in_s = MetaSchema {
            description: Some(
                "Seconds until an unfinished (`created` or `pending`) process expires: 1 to \
                 2,592,000 (30 days); 86,400 (a day) when absent or null.",
            ),
            format: Some("int32"),
            minimum: Some(EXPIRES_IN_MIN_S as f64),
            maximum: Some(EXPIRES_IN_MAX_S as f64),
            default: Some(json!(EXPIRES_IN_DEFAULT_S)),
            nullable: true,
            ..MetaSchema::new("integer")
        };
        MetaSchema {
            title: Some("NewIdentificationProcess".to_owned()),
            description: Some("An identification process to start for the customer."),
            required: vec!["method"],
            properties: closed_properties(
                kyc::NewProcess::FIELDS,
                vec![
                    ("method", method),
                    ("provider", provider),
                    ("provider_reference", provider_reference),
                    ("expires_in_s", expires_in_s),
                ],
            ),
            example: Some(json!({
                "method": "video",
                "provider": "veriff",
                "provider_reference": "sess-7f3a9c",
                "expires_in_s": 86400
            })),
            ..MetaSchema::new("object")
        }
    }
}

named_schema!(NewIdentificationProcess, "NewIdentificationProcess");

/// The body of `rejectIdentificationProcess`.
pub struct IdentificationRejection;

impl IdentificationRejection {
    fn schema(_: &mut Registry) -> MetaSchema {
        let reason = MetaSchema {
            description: Some(
                "Why: a machine code such as `document_expired` (lower-case ASCII letters, \
                 digits and `_`, 1-64 characters), never free text.",
            ),
            ..string_schema(REASON_MAX_CHARS, REASON_PATTERN)
        };
        MetaSchema {
            title: Some("IdentificationRejection".to_owned()),
            description: Some("The reason of a rejection."),
            required: vec!["reason"],
            properties: closed_properties(kyc::Rejection::FIELDS, vec![("reason", reason)]),
            example: Some(json!({"reason": "document_expired"})),
            ..MetaSchema::new("object")
        }
    }
}

named_schema!(IdentificationRejection, "IdentificationRejection");

/// One identity-verification run of a customer. No documents, images or ID numbers: only
/// references.
#[derive(Object)]
#[oai(example)]
pub struct IdentificationProcess {
    /// Server-assigned identifier (time-ordered: newer processes have greater ids).
    pub id: Uuid,
    /// The customer verified.
    pub customer_id: Uuid,
    /// How the identity is verified.
    pub method: IdentificationMethod,
    /// The verification provider, or null.
    pub provider: Nullable<String>,
    /// The provider's reference for this run, or null.
    pub provider_reference: Nullable<String>,
    /// The status now (a `created` or `pending` process past `expires_at` is `expired`).
    pub status: IdentificationStatus,
    /// The rejection's reason (a machine code), or null.
    pub status_reason: Nullable<String>,
    /// When a `created` or `pending` process expires (`in_review` never does).
    pub expires_at: DateTime<Utc>,
    /// When the process was created.
    pub created_at: DateTime<Utc>,
    /// The `sub` of the token that created it.
    pub created_by: String,
    /// When it last changed by an operation (expiry does not change it).
    pub updated_at: DateTime<Utc>,
    /// When it was approved or rejected, or null.
    pub decided_at: Nullable<DateTime<Utc>>,
    /// The `sub` of the token that approved or rejected it, or null.
    pub decided_by: Nullable<String>,
}

impl From<kyc::Process> for IdentificationProcess {
    fn from(p: kyc::Process) -> Self {
        IdentificationProcess {
            id: p.id,
            customer_id: p.customer_id,
            method: p.method.into(),
            provider: Nullable(p.provider),
            provider_reference: Nullable(p.provider_reference),
            status: p.status.into(),
            status_reason: Nullable(p.status_reason),
            expires_at: p.expires_at,
            created_at: p.created_at,
            created_by: p.created_by,
            updated_at: p.updated_at,
            decided_at: Nullable(p.decided_at),
            decided_by: Nullable(p.decided_by),
        }
    }
}

impl Example for IdentificationProcess {
    fn example() -> Self {
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default()
        };
        IdentificationProcess {
            id: Uuid::from_u128(0x019ad5a1_2c3e_7d10_8b2a_6f4e3d2c1b0a),
            customer_id: Uuid::from_u128(0x019ac2f0_7b1e_7c3a_9f00_5e1d2c3b4a59),
            method: IdentificationMethod::Video,
            provider: Nullable(Some("veriff".to_owned())),
            provider_reference: Nullable(Some("sess-7f3a9c".to_owned())),
            status: IdentificationStatus::Approved,
            status_reason: Nullable(None),
            expires_at: at("2026-12-03T10:00:00Z"),
            created_at: at("2026-12-02T10:00:00Z"),
            created_by: "onboarding-service".to_owned(),
            updated_at: at("2026-12-02T11:30:00Z"),
            decided_at: Nullable(Some(at("2026-12-02T11:30:00Z"))),
            decided_by: Nullable(Some("reviewer-42".to_owned())),
        }
    }
}

/// One page of a customer's identification processes, newest first.
#[derive(Object)]
#[oai(example)]
pub struct IdentificationProcessPage {
    /// The processes of this page.
    pub items: Vec<IdentificationProcess>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Nullable<String>,
}

impl Example for IdentificationProcessPage {
    fn example() -> Self {
        IdentificationProcessPage {
            items: vec![IdentificationProcess::example()],
            next_cursor: Nullable(None),
        }
    }
}

/// Liveness or readiness.
#[derive(Object)]
pub struct HealthStatus {
    /// `ok` (live) or `ready` (the database answers).
    pub status: String,
}

// --- External accounts ------------------------------------------------------------------------

/// Makes a domain word set (`crate::domain::account`) a named string `enum` schema, read and
/// written as its word: the values are listed once, in the domain.
macro_rules! word_schema {
    ($ty:ty, $name:literal, $description:literal) => {
        impl $ty {
            fn schema(_: &mut Registry) -> MetaSchema {
                MetaSchema {
                    title: Some($name.to_owned()),
                    description: Some($description),
                    enum_items: <$ty>::ALL.iter().map(|v| json!(v.as_str())).collect(),
                    ..MetaSchema::new("string")
                }
            }
        }

        named_schema!($ty, $name);

        impl ToJSON for $ty {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(self.as_str().to_owned()))
            }
        }

        impl ParseFromJSON for $ty {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                match value {
                    Some(Value::String(word)) => <$ty>::parse(&word).ok_or_else(|| {
                        ParseError::custom(format!("not one of {}", <$ty>::one_of()))
                    }),
                    _ => Err(ParseError::expected_type(Value::Null)),
                }
            }
        }
    };
}

word_schema!(
    Scheme,
    "AccountScheme",
    "How `identification` is written: `iban` (ISO 13616), `sort_code_account` (UK sort code and \
     account number, 6 + 8 digits) or `other` (4-34 letters, digits or `-`)."
);
word_schema!(
    Kind,
    "AccountKind",
    "What the account is. For `card`, `identification` must be a masked reference, never the \
     full card number."
);
word_schema!(HolderType, "AccountHolderType", "Who holds the account.");
word_schema!(
    Status,
    "AccountStatus",
    "Where the account stands. New accounts are `active`; `closed` is final."
);

fn enum_ref<T: Type>(description: &'static str) -> MetaSchema {
    MetaSchema {
        description: Some(description),
        all_of: vec![T::schema_ref()],
        ..MetaSchema::ANY
    }
}

/// The example account number of every example: the IBAN standard's own example (ISO 13616 /
/// the UK's "WEST" test bank), valid but belonging to nobody.
pub const EXAMPLE_IBAN: &str = "GB82 WEST 1234 5698 7654 32";
pub const EXAMPLE_IBAN_NORMALIZED: &str = "GB82WEST12345698765432";

/// The body of `createExternalAccount`.
pub struct NewExternalAccount;

impl NewExternalAccount {
    fn schema(registry: &mut Registry) -> MetaSchema {
        for register in [Scheme::register, Kind::register] {
            register(registry);
        }
        let external_id = MetaSchema {
            description: Some(
                "The organization's own reference for the account: 1-128 characters, no control \
                 characters, no white space at either end, unique within the organization.",
            ),
            ..text_schema(account::EXTERNAL_ID)
        };
        let identification = MetaSchema {
            description: Some(
                "The account number. Write-only: no answer contains it but the reveal \
                 (`revealExternalAccountIdentification`, scope `accounts:reveal`); answers carry \
                 `identification_masked`. For `iban` and `sort_code_account` spaces are removed \
                 and letters upper-cased first; then `iban` must match \
                 `^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$` and pass the ISO 13616 mod-97 check \
                 (country lengths are not checked), and `sort_code_account` must be 14 digits \
                 (6 sort code + 8 account). `other` is 4-34 characters of `[A-Za-z0-9-]`, stored \
                 as sent. For `kind: card`, a full card number (13-19 digits passing the Luhn \
                 check, spaces and hyphens ignored) is refused: send a masked reference instead. \
                 A broken rule names this field and never echoes its value.",
            ),
            min_length: Some(IDENTIFICATION_MIN_CHARS),
            max_length: Some(IDENTIFICATION_MAX_CHARS),
            pattern: Some(IDENTIFICATION_PATTERN.to_owned()),
            write_only: true,
            ..MetaSchema::new("string")
        };
        let currency = MetaSchema {
            description: Some(
                "The account's currency, ISO 4217 (e.g. `EUR`, `GBP`). Never changes.",
            ),
            pattern: Some(CURRENCY_PATTERN.to_owned()),
            min_length: Some(3),
            max_length: Some(3),
            ..MetaSchema::new("string")
        };
        // Inline rather than a `$ref` to `AccountHolderType`: OpenAPI 3.0 has no `nullable`
        // beside `allOf`, and a nullable `enum` must list `null` to accept it.
        let holder_type = MetaSchema {
            description: Some("Who holds the account; absent or null: `individual`."),
            nullable: true,
            enum_items: HolderType::ALL
                .iter()
                .map(|v| json!(v.as_str()))
                .chain([Value::Null])
                .collect(),
            ..MetaSchema::new("string")
        };
        let nickname = MetaSchema {
            description: Some(
                "A name for the account: 1-64 characters, no control characters, no white space \
                 at either end; absent or null: none.",
            ),
            nullable: true,
            ..text_schema(NICKNAME)
        };
        MetaSchema {
            title: Some("NewExternalAccount".to_owned()),
            description: Some("An account of the customer to register."),
            required: vec![
                "external_id",
                "scheme",
                "identification",
                "currency",
                "kind",
            ],
            properties: closed_properties(
                account::NewAccount::FIELDS,
                vec![
                    ("external_id", external_id),
                    (
                        "scheme",
                        enum_ref::<Scheme>("How `identification` is written. Never changes."),
                    ),
                    ("identification", identification),
                    ("currency", currency),
                    ("kind", enum_ref::<Kind>("What the account is.")),
                    ("holder_type", holder_type),
                    ("nickname", nickname),
                ],
            ),
            example: Some(json!({
                "external_id": "acct-000042",
                "scheme": "iban",
                "identification": EXAMPLE_IBAN,
                "currency": "GBP",
                "kind": "current",
                "holder_type": "individual",
                "nickname": "Salary account"
            })),
            ..MetaSchema::new("object")
        }
    }
}

named_schema!(NewExternalAccount, "NewExternalAccount");

/// The body of `updateExternalAccount`: a JSON merge patch.
pub struct ExternalAccountPatch;

impl ExternalAccountPatch {
    fn schema(registry: &mut Registry) -> MetaSchema {
        Status::register(registry);
        let nickname = MetaSchema {
            description: Some(
                "The new name (1-64 characters, no control characters, no white space at either \
                 end); null clears it; absent leaves it.",
            ),
            nullable: true,
            ..text_schema(NICKNAME)
        };
        MetaSchema {
            title: Some("ExternalAccountPatch".to_owned()),
            description: Some(
                "A JSON merge patch (RFC 7396) of an account: each field absent is left as it is. \
                 `scheme`, `identification` and `currency` never change (each is `400` naming \
                 the field: delete the account and register it again); any other field is \
                 refused.",
            ),
            properties: closed_properties(
                account::AccountPatch::FIELDS,
                vec![
                    ("nickname", nickname),
                    (
                        "status",
                        enum_ref::<Status>(
                            "The new status. From `closed` only `closed` is accepted (`409`).",
                        ),
                    ),
                ],
            ),
            example: Some(json!({"nickname": null, "status": "disabled"})),
            ..MetaSchema::new("object")
        }
    }
}

named_schema!(ExternalAccountPatch, "ExternalAccountPatch");

fn example_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// A customer's account as the organization knows it. The number itself is never here:
/// `identification_masked` shows its last 4 characters.
#[derive(Object)]
#[oai(example)]
pub struct ExternalAccount {
    /// Server-assigned identifier.
    pub id: Uuid,
    /// The customer the account belongs to.
    pub customer_id: Uuid,
    /// The organization's own reference for the account, unique within the organization.
    pub external_id: String,
    pub scheme: Scheme,
    /// `****` followed by the last 4 characters of the number (as normalized).
    #[oai(validator(pattern = r"^\*\*\*\*.{0,4}$"))]
    pub identification_masked: String,
    /// ISO 4217 currency code.
    pub currency: String,
    pub kind: Kind,
    pub holder_type: HolderType,
    /// The account's name, or null.
    pub nickname: Nullable<String>,
    pub status: Status,
    /// When the account was registered.
    pub created_at: DateTime<Utc>,
    /// When the account last changed (a patch that changes nothing leaves it).
    pub updated_at: DateTime<Utc>,
}

impl From<account::Account> for ExternalAccount {
    fn from(a: account::Account) -> Self {
        ExternalAccount {
            id: a.id,
            customer_id: a.customer_id,
            external_id: a.external_id,
            scheme: a.scheme,
            identification_masked: a.identification_masked,
            currency: a.currency,
            kind: a.kind,
            holder_type: a.holder_type,
            nickname: Nullable(a.nickname),
            status: a.status,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

impl Example for ExternalAccount {
    fn example() -> Self {
        ExternalAccount {
            id: Uuid::from_u128(0x019ad1a0_3c2b_7d4e_8f10_2a3b4c5d6e7f),
            customer_id: Uuid::from_u128(0x019ac2f0_7b1e_7c3a_9f00_5e1d2c3b4a59),
            external_id: "acct-000042".to_owned(),
            scheme: Scheme::Iban,
            identification_masked: "****5432".to_owned(),
            currency: "GBP".to_owned(),
            kind: Kind::Current,
            holder_type: HolderType::Individual,
            nickname: Nullable(Some("Salary account".to_owned())),
            status: Status::Active,
            created_at: example_time(),
            updated_at: example_time(),
        }
    }
}

/// One page of accounts, in registration order.
#[derive(Object)]
#[oai(example)]
pub struct ExternalAccountPage {
    /// The accounts of this page.
    pub items: Vec<ExternalAccount>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Nullable<String>,
}

impl Example for ExternalAccountPage {
    fn example() -> Self {
        ExternalAccountPage {
            items: vec![ExternalAccount::example()],
            next_cursor: Nullable(None),
        }
    }
}

/// An account's full number: the answer of the privileged reveal only.
#[derive(Object)]
#[oai(example)]
pub struct ExternalAccountIdentification {
    pub scheme: Scheme,
    /// The account number as stored (for `iban` and `sort_code_account`: without spaces,
    /// upper-cased).
    pub identification: String,
}

impl Example for ExternalAccountIdentification {
    fn example() -> Self {
        ExternalAccountIdentification {
            scheme: Scheme::Iban,
            identification: EXAMPLE_IBAN_NORMALIZED.to_owned(),
        }
    }
}

// --- Change history ---------------------------------------------------------------------------

word_schema!(
    Action,
    "HistoryAction",
    "What the change was. `identification.<transition>` is one per transition \
     (`submitted`, `cancelled`, `review_started`, `approved`, `rejected`)."
);
word_schema!(
    ResourceType,
    "HistoryResourceType",
    "The kind of thing that changed: the customer itself or one of its parts."
);

/// What an event is about.
#[derive(Object)]
pub struct HistoryResource {
    #[oai(rename = "type")]
    pub kind: ResourceType,
    /// Its id: the customer's for `customer`, `special_treatment` and `categories`; the
    /// account's, credential's or identification process's otherwise.
    pub id: String,
}

/// One change to a customer: who made it, when, in which request, and the new values.
#[derive(Object)]
#[oai(example)]
pub struct HistoryEvent {
    /// The event's id (UUIDv7).
    pub id: Uuid,
    /// When the change was committed (the server's clock, microseconds).
    pub occurred_at: DateTime<Utc>,
    /// The `sub` of the token that made the change.
    pub actor: String,
    /// The `X-Request-Id` of the request that made the change.
    pub request_id: String,
    pub action: Action,
    pub resource: HistoryResource,
    /// The new non-secret values the change set: `values` for `special_treatment.set`, `keys`
    /// for `categories.set`, the changed fields for an update, the new resource's fields for a
    /// create (`{}` for a delete, a reveal). Never a secret, a hash or an account number.
    pub changes: std::collections::BTreeMap<String, Value>,
}

impl Example for HistoryEvent {
    fn example() -> Self {
        HistoryEvent {
            id: Uuid::from_u128(0x019ad6b2_41c0_7e21_9a3b_1c2d3e4f5a6b),
            occurred_at: DateTime::parse_from_rfc3339("2026-12-02T12:00:00.123456Z")
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default(),
            actor: "backoffice-user-7".to_owned(),
            request_id: "3f2b8c1e-6a4d-4f0e-9b7a-2c5d8e1f0a3b".to_owned(),
            action: Action::CategoriesSet,
            resource: HistoryResource {
                kind: ResourceType::Categories,
                id: "019ac2f0-7b1e-7c3a-9f00-5e1d2c3b4a59".to_owned(),
            },
            changes: [("keys".to_owned(), json!(["retail", "sme"]))].into(),
        }
    }
}

/// One page of a customer's history, newest first.
#[derive(Object)]
#[oai(example)]
pub struct HistoryPage {
    /// The events of this page.
    pub items: Vec<HistoryEvent>,
    /// Pass as `cursor` to get the next (older) page; null on the last page.
    pub next_cursor: Nullable<String>,
}

impl Example for HistoryPage {
    fn example() -> Self {
        HistoryPage {
            items: vec![HistoryEvent::example()],
            next_cursor: Nullable(None),
        }
    }
}

impl From<crate::domain::history::Event> for HistoryEvent {
    fn from(event: crate::domain::history::Event) -> Self {
        HistoryEvent {
            id: event.id,
            occurred_at: event.occurred_at,
            actor: event.actor,
            request_id: event.request_id,
            action: event.action,
            resource: HistoryResource {
                kind: event.resource_type,
                id: event.resource_id,
            },
            changes: event.changes.into_iter().collect(),
        }
    }
}
