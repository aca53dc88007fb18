//! v1.1 "Categories": the catalogue and the membership join table.
//!
//! Which index serves which query:
//! - `categories` primary key `(org_id, key)`: get, replace and delete by key, and the list in
//!   key order (a range walk from the cursor's key);
//! - `customer_categories` primary key `(customer_id, category_key)`: a customer's keys in key
//!   order, the membership replace's delete, and the cascade when the customer is deleted;
//! - `ix_customer_categories_members` `(org_id, category_key, customer_id)`: a category's
//!   members in customer id order (a range walk from the cursor's id, each joined to its
//!   customer by primary key), and the check behind "409 while it has members".
//!
//! On PostgreSQL the key columns collate as "C": byte order, as the contract says and as
//! SQLite's default collation orders, whatever the database's own collation is.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A category key column, in byte order on both backends.
fn key_column(backend: DbBackend, column: impl IntoIden) -> ColumnDef {
    let mut def = ColumnDef::new(column);
    def.string_len(64).not_null();
    if backend == DbBackend::Postgres {
        def.extra("COLLATE \"C\"");
    }
    def
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(Categories::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Categories::OrgId).string().not_null())
                    .col(key_column(backend, Categories::Key))
                    .col(ColumnDef::new(Categories::Name).string().not_null())
                    .col(ColumnDef::new(Categories::Description).text().null())
                    .col(
                        ColumnDef::new(Categories::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Categories::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("pk_categories")
                            .col(Categories::OrgId)
                            .col(Categories::Key),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CustomerCategories::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(CustomerCategories::CustomerId)
                            .uuid()
                            .not_null(),
                    )
                    .col(key_column(backend, CustomerCategories::CategoryKey))
                    .col(
                        ColumnDef::new(CustomerCategories::OrgId)
                            .string()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("pk_customer_categories")
                            .col(CustomerCategories::CustomerId)
                            .col(CustomerCategories::CategoryKey),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_customer_categories_customer")
                            .from(CustomerCategories::Table, CustomerCategories::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_customer_categories_category")
                            .from(
                                CustomerCategories::Table,
                                (CustomerCategories::OrgId, CustomerCategories::CategoryKey),
                            )
                            .to(Categories::Table, (Categories::OrgId, Categories::Key))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_customer_categories_members")
                    .table(CustomerCategories::Table)
                    .col(CustomerCategories::OrgId)
                    .col(CustomerCategories::CategoryKey)
                    .col(CustomerCategories::CustomerId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CustomerCategories::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Categories::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Categories {
    Table,
    OrgId,
    Key,
    Name,
    Description,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CustomerCategories {
    Table,
    CustomerId,
    CategoryKey,
    OrgId,
}
