//! v1.2 "Change history": one row per successful write to a customer, appended in the write's
//! own transaction, never updated or deleted by the API.
//!
//! No foreign key to `customers`: the history outlives the customer (the last event of a
//! deleted customer is `customer.deleted`).
//!
//! Which index serves which query:
//! - primary key `seq` (the database's sequence: insertion order): the history's order, newest
//!   first, and its cursor;
//! - `ix_history_events_customer` `(org_id, customer_id, seq)`: a customer's history page is a
//!   backward walk of this index from the cursor, `since` a filter on the rows it walks;
//! - `ux_history_events_id` `(id)`, unique: the event's public id.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HistoryEvents::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(HistoryEvents::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(HistoryEvents::Id).uuid().not_null())
                    .col(ColumnDef::new(HistoryEvents::OrgId).string().not_null())
                    .col(ColumnDef::new(HistoryEvents::CustomerId).uuid().not_null())
                    .col(
                        ColumnDef::new(HistoryEvents::OccurredAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(HistoryEvents::Actor).string().not_null())
                    .col(ColumnDef::new(HistoryEvents::RequestId).string().not_null())
                    .col(
                        ColumnDef::new(HistoryEvents::Action)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(HistoryEvents::ResourceType)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(HistoryEvents::ResourceId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(HistoryEvents::Changes).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_history_events_customer")
                    .table(HistoryEvents::Table)
                    .col(HistoryEvents::OrgId)
                    .col(HistoryEvents::CustomerId)
                    .col(HistoryEvents::Seq)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_history_events_id")
                    .table(HistoryEvents::Table)
                    .col(HistoryEvents::Id)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HistoryEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum HistoryEvents {
    Table,
    Seq,
    Id,
    OrgId,
    CustomerId,
    OccurredAt,
    Actor,
    RequestId,
    Action,
    ResourceType,
    ResourceId,
    Changes,
}
