//! Applying the schema migrations at start-up.
//!
//! Several replicas may start at once on one PostgreSQL database. sea-orm-migration takes no
//! lock of its own, so two of them could both find a migration pending and both apply it. On
//! PostgreSQL the migrations therefore run in one transaction that first takes an advisory lock:
//! the first replica migrates, the others wait for its commit and then find nothing pending.
//! PostgreSQL's DDL is transactional, so a failed migration leaves nothing half-applied.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, TransactionTrait};

/// Any fixed number, the same in every replica: the advisory lock serializing migrations.
const MIGRATION_LOCK_KEY: i64 = 0x0C05_7043_5A11;

pub(super) async fn apply(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        // SQLite is one process's embedded database; its write lock serializes the rest.
        return Migrator::up(db, None).await;
    }
    let txn = db.begin().await?;
    txn.execute_unprepared(&format!(
        "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
    ))
    .await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await
}
