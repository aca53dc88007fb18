use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Customers::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Customers::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Customers::OrgId).string().not_null())
                    .col(ColumnDef::new(Customers::ExternalId).string().not_null())
                    .col(ColumnDef::new(Customers::DisplayName).string().null())
                    .col(
                        ColumnDef::new(Customers::SpecialTreatment)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Customers::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Customers::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Lookup by (org, external_id) and the uniqueness rule behind 409 in one index.
        manager
            .create_index(
                Index::create()
                    .name("ux_customers_org_id_external_id")
                    .table(Customers::Table)
                    .col(Customers::OrgId)
                    .col(Customers::ExternalId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // Lists walk one organization in id order: (org_id, id) serves both filter and order.
        manager
            .create_index(
                Index::create()
                    .name("ix_customers_org_id_id")
                    .table(Customers::Table)
                    .col(Customers::OrgId)
                    .col(Customers::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Customers::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
    OrgId,
    ExternalId,
    DisplayName,
    SpecialTreatment,
    CreatedAt,
    UpdatedAt,
}
