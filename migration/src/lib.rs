//! Schema migrations, applied at start-up (`Migrator::up`) and by `customers-api migrate`.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_customers;
mod m20261202_000001_create_categories;
mod m20261202_000004_create_customer_credentials;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_customers::Migration),
            Box::new(m20261202_000001_create_categories::Migration),
            Box::new(m20261202_000004_create_customer_credentials::Migration),
        ]
    }
}
