//! v1.1 "Customer credentials": each customer's password and PIN, as Argon2id hashes.
//!
//! Which index serves which query:
//! - primary key `id`: get, patch, new secret, delete and verify of one credential (each also
//!   checks the row's `org_id` and `customer_id`, which the path names);
//! - `ux_customer_credentials_customer_type` `(customer_id, type)`, unique: the rule "one
//!   credential per type per customer" (a second `POST` of a type is `409`), a customer's list
//!   (a prefix walk on `customer_id`: at most one row per type, sorted by id after), and the
//!   cascade when the customer is deleted (the foreign key's lookup).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CustomerCredentials::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(CustomerCredentials::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(CustomerCredentials::CustomerId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CustomerCredentials::OrgId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CustomerCredentials::Type)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(CustomerCredentials::Label).string().null())
                    .col(
                        ColumnDef::new(CustomerCredentials::SecretHash)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CustomerCredentials::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CustomerCredentials::MustChange)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CustomerCredentials::FailedAttempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(CustomerCredentials::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CustomerCredentials::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CustomerCredentials::LastChangedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_customer_credentials_customer")
                            .from(CustomerCredentials::Table, CustomerCredentials::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_customer_credentials_customer_type")
                    .table(CustomerCredentials::Table)
                    .col(CustomerCredentials::CustomerId)
                    .col(CustomerCredentials::Type)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CustomerCredentials::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CustomerCredentials {
    Table,
    Id,
    CustomerId,
    OrgId,
    Type,
    Label,
    SecretHash,
    Status,
    MustChange,
    FailedAttempts,
    CreatedAt,
    UpdatedAt,
    LastChangedAt,
}
