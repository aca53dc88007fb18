//! `categories`: an organization's catalogue of customer categories, keyed by
//! `(org_id, key)`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "categories")]
pub struct Model {
    /// Organization the category belongs to; every query is scoped by it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: String,
    /// The organization's key for the category (`retail`, `sme`, ...). On PostgreSQL the
    /// column collates as "C", so that its order (the list's) is byte order, as on SQLite.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
