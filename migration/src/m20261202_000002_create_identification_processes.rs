//! v1.1 "Customer identification processes": one table, no foreign key to `customers` (finished
//! processes are kept after the customer is deleted: anti-money-laundering retention).
//!
//! Which index serves which query:
//! - primary key `id`: the compare-and-set `UPDATE` of a transition (by id, then checked
//!   against org, customer and status), and get by id;
//! - `ix_identification_processes_customer` `(org_id, customer_id, id)`: a customer's
//!   processes newest first (a backward range walk from the cursor's id), and the check for an
//!   unfinished process behind create's and the customer DELETE's `409`;
//! - `ix_identification_processes_customer_status` `(org_id, customer_id, status, id)`: the
//!   list filtered by `?status=` (a walk per stored status the filter stands for: `expired`
//!   also reads `created` and `pending` rows past `expires_at`).
//!
//! The purge of finished processes (`customers-api purge-identification-processes`) is an
//! operator's occasional scan; it has no index of its own.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let timestamp = |column: IdentificationProcesses| {
            let mut def = ColumnDef::new(column);
            def.timestamp_with_time_zone().not_null();
            def
        };
        manager
            .create_table(
                Table::create()
                    .table(IdentificationProcesses::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(IdentificationProcesses::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(IdentificationProcesses::OrgId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentificationProcesses::CustomerId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentificationProcesses::Method)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentificationProcesses::Provider)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(IdentificationProcesses::ProviderReference)
                            .string_len(128)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(IdentificationProcesses::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentificationProcesses::StatusReason)
                            .string_len(64)
                            .null(),
                    )
                    .col(timestamp(IdentificationProcesses::ExpiresAt))
                    .col(timestamp(IdentificationProcesses::CreatedAt))
                    .col(
                        ColumnDef::new(IdentificationProcesses::CreatedBy)
                            .string()
                            .not_null(),
                    )
                    .col(timestamp(IdentificationProcesses::UpdatedAt))
                    .col(
                        ColumnDef::new(IdentificationProcesses::DecidedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(IdentificationProcesses::DecidedBy)
                            .string()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        // A customer's processes newest first; the unfinished-process check.
        manager
            .create_index(
                Index::create()
                    .name("ix_identification_processes_customer")
                    .table(IdentificationProcesses::Table)
                    .col(IdentificationProcesses::OrgId)
                    .col(IdentificationProcesses::CustomerId)
                    .col(IdentificationProcesses::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // The list filtered by status, newest first.
        manager
            .create_index(
                Index::create()
                    .name("ix_identification_processes_customer_status")
                    .table(IdentificationProcesses::Table)
                    .col(IdentificationProcesses::OrgId)
                    .col(IdentificationProcesses::CustomerId)
                    .col(IdentificationProcesses::Status)
                    .col(IdentificationProcesses::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(IdentificationProcesses::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum IdentificationProcesses {
    Table,
    Id,
    OrgId,
    CustomerId,
    Method,
    Provider,
    ProviderReference,
    Status,
    StatusReason,
    ExpiresAt,
    CreatedAt,
    CreatedBy,
    UpdatedAt,
    DecidedAt,
    DecidedBy,
}
