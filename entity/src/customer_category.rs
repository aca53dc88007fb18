//! `customer_categories`: which customers belong to which categories (the join table).
//!
//! Foreign keys keep it consistent: `customer_id` references `customers` and goes with the
//! customer (`ON DELETE CASCADE`); `(org_id, category_key)` references `categories` and keeps
//! a category with members from being deleted (`ON DELETE RESTRICT`, answered 409).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_categories")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub customer_id: Uuid,
    /// Collates as "C" on PostgreSQL, as `categories.key` does.
    #[sea_orm(primary_key, auto_increment = false)]
    pub category_key: String,
    /// The customer's (and so the category's) organization.
    pub org_id: String,
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
