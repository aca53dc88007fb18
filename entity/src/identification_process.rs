//! `identification_processes`: one identity-verification (KYC) run of a customer. No foreign
//! key to `customers`: finished processes outlive the customer (anti-money-laundering
//! retention), unreachable through the API once it is gone.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "identification_processes")]
pub struct Model {
    /// Server-assigned UUIDv7: id order is creation order ("newest first" is id descending).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Organization the process belongs to; every query is scoped by it.
    pub org_id: String,
    pub customer_id: Uuid,
    /// `document`, `video`, `bank`, `in_person` or `manual`.
    pub method: String,
    pub provider: Option<String>,
    pub provider_reference: Option<String>,
    /// The stored status. A `created` or `pending` process past `expires_at` reads as
    /// `expired` without being rewritten (no background job).
    pub status: String,
    pub status_reason: Option<String>,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    /// The creating token's `sub`.
    pub created_by: String,
    pub updated_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
    pub decided_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
