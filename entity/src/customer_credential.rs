//! `customer_credentials`: a customer's password or PIN for the organization's channels, at
//! most one of each type per customer.
//!
//! The secret itself is never stored: `secret_hash` is its Argon2id PHC string (algorithm,
//! parameters, salt and hash), written and checked only by `src/service/credentials.rs`.
//! `customer_id` references `customers` and goes with the customer (`ON DELETE CASCADE`).

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_credentials")]
pub struct Model {
    /// Server-assigned UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub customer_id: Uuid,
    /// The customer's (and so the credential's) organization; every query is scoped by it.
    pub org_id: String,
    /// `password` or `pin`; unique per customer.
    #[sea_orm(column_name = "type")]
    pub kind: String,
    pub label: Option<String>,
    /// Argon2id PHC string: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
    pub secret_hash: String,
    /// `active`, `disabled` or `locked`.
    pub status: String,
    pub must_change: bool,
    /// Consecutive failed verifications since the last success or new secret.
    pub failed_attempts: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_changed_at: DateTimeUtc,
}

/// Written by hand so that the hash never reaches a log line through `{:?}`.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("customer_credential::Model")
            .field("id", &self.id)
            .field("customer_id", &self.customer_id)
            .field("kind", &self.kind)
            .field("status", &self.status)
            .field("secret_hash", &"<redacted>")
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::customer::Entity",
        from = "Column::CustomerId",
        to = "super::customer::Column::Id",
        on_delete = "Cascade"
    )]
    Customer,
}

impl ActiveModelBehavior for ActiveModel {}
