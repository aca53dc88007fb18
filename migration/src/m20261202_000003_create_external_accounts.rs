//! Issue 15: a customer's external accounts. Additive: an existing database gains the table at
//! its next start (or `customers-api migrate`); nothing else changes.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ExternalAccounts::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ExternalAccounts::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ExternalAccounts::OrgId).string().not_null())
                    .col(
                        ColumnDef::new(ExternalAccounts::CustomerId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExternalAccounts::ExternalId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ExternalAccounts::Scheme).string().not_null())
                    .col(
                        ColumnDef::new(ExternalAccounts::Identification)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExternalAccounts::IdentificationMasked)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExternalAccounts::Currency)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ExternalAccounts::Kind).string().not_null())
                    .col(
                        ColumnDef::new(ExternalAccounts::HolderType)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ExternalAccounts::Nickname).string().null())
                    .col(ColumnDef::new(ExternalAccounts::Status).string().not_null())
                    .col(
                        ColumnDef::new(ExternalAccounts::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExternalAccounts::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // DELETE customer takes its accounts in the same statement. SQLite enforces
                    // it too: both of its connection paths open with `foreign_keys = ON`.
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_external_accounts_customer_id")
                            .from(ExternalAccounts::Table, ExternalAccounts::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The organization-wide lookup `GET /accounts?external_id=` is one probe of this index
        // (org_id, external_id), which is also the uniqueness rule behind `409` on register.
        manager
            .create_index(
                Index::create()
                    .name("ux_external_accounts_org_id_external_id")
                    .table(ExternalAccounts::Table)
                    .col(ExternalAccounts::OrgId)
                    .col(ExternalAccounts::ExternalId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // A customer's list walks (customer_id, id) from the cursor in id order: filter,
        // order and position in one range scan. The cascade of DELETE customer finds the
        // customer's accounts through it too. Get, patch, delete and reveal of one account
        // are primary-key lookups.
        manager
            .create_index(
                Index::create()
                    .name("ix_external_accounts_customer_id_id")
                    .table(ExternalAccounts::Table)
                    .col(ExternalAccounts::CustomerId)
                    .col(ExternalAccounts::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ExternalAccounts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ExternalAccounts {
    Table,
    Id,
    OrgId,
    CustomerId,
    ExternalId,
    Scheme,
    Identification,
    IdentificationMasked,
    Currency,
    Kind,
    HolderType,
    Nickname,
    Status,
    CreatedAt,
    UpdatedAt,
}
