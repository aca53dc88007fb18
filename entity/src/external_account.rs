//! `external_accounts`: a customer's accounts as the organization knows them, registered by
//! the organization's own `external_id`.

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "external_accounts")]
pub struct Model {
    /// Server-assigned UUIDv7: time-ordered, so it doubles as the stable list order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Organization of the customer; every query is scoped by it.
    pub org_id: String,
    /// The customer the account belongs to (deleted with it: `ON DELETE CASCADE`).
    pub customer_id: Uuid,
    /// The organization's own reference for the account, unique within the organization.
    pub external_id: String,
    /// `iban`, `sort_code_account` or `other`.
    pub scheme: String,
    /// The account number, normalized. Personal data: read only by the reveal; never
    /// printed (this model's `Debug` leaves it out).
    pub identification: String,
    /// `****` and the number's last 4 characters: what every other answer shows.
    pub identification_masked: String,
    pub currency: String,
    pub kind: String,
    pub holder_type: String,
    pub nickname: Option<String>,
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
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

impl Related<super::customer::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Customer.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// Every field but the number, which is personal data.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("external_account::Model")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("customer_id", &self.customer_id)
            .field("external_id", &self.external_id)
            .field("scheme", &self.scheme)
            .field("identification_masked", &self.identification_masked)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}
