//! Schema migrations, applied at start-up (`Migrator::up`) and by `customers-api migrate`.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_customers;
mod m20261202_000001_create_categories;
mod m20261202_000002_create_identification_processes;
mod m20261202_000003_create_external_accounts;
mod m20261202_000004_create_customer_credentials;
mod m20261202_000005_create_history_events;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_customers::Migration),
            Box::new(m20261202_000001_create_categories::Migration),
            Box::new(m20261202_000002_create_identification_processes::Migration),
            Box::new(m20261202_000003_create_external_accounts::Migration),
            Box::new(m20261202_000004_create_customer_credentials::Migration),
            Box::new(m20261202_000005_create_history_events::Migration),
        ]
    }
}
