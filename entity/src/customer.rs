//! `customers`: one row per registered customer of one organization.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    /// Server-assigned UUIDv7: time-ordered, so it doubles as the stable list order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Organization the customer belongs to; every query is scoped by it.
    pub org_id: String,
    /// The organization's own identifier for the customer, unique within the organization.
    pub external_id: String,
    pub display_name: Option<String>,
    /// The customer's special treatment values, in the order of the last PUT.
    #[sea_orm(column_type = "JsonBinary")]
    pub special_treatment: SpecialTreatmentValues,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// The stored list of special treatment values (a JSON array of strings).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct SpecialTreatmentValues(pub Vec<String>);

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
