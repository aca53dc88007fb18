//! `history_events`: the change history (audit trail), one row per successful write to a
//! customer, appended in the write's transaction. No foreign key: it outlives the customer.
//!
//! `changes` is the JSON object of the new non-secret values the write set; it never holds a
//! secret, a hash or an account number (the repository builds it, `src/repo/history.rs`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "history_events")]
pub struct Model {
    /// Insertion order: the history's order and cursor.
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// The event's public id (UUIDv7).
    pub id: Uuid,
    pub org_id: String,
    pub customer_id: Uuid,
    pub occurred_at: DateTimeUtc,
    /// The token's `sub`.
    pub actor: String,
    pub request_id: String,
    /// `customer.created`, `special_treatment.set`, ... (`domain::history::Action`).
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    /// A JSON object.
    #[sea_orm(column_type = "Text")]
    pub changes: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
