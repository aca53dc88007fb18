//! Connection pool statistics, for `/metrics`.

use sea_orm::DbBackend;

use super::Repository;

/// The pool's state at one instant.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolStats {
    /// Open connections.
    pub size: u32,
    /// Open connections not in use.
    pub idle: usize,
    /// Repository calls in progress beyond the connections in use: waiting for one.
    pub waiting: usize,
}

impl Repository {
    pub fn pool_stats(&self) -> PoolStats {
        let (size, idle) = match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                // The special-treatment paths' own connections are never held by one call (the
                // lookups' are shared, the writers' serve whoever waits): open, not in use.
                let own = self.postgres_reads.as_ref().map_or(0, |r| r.connected())
                    + self.postgres_writes.as_ref().map_or(0, |w| w.connected());
                (pool.size() + own as u32, pool.num_idle() + own)
            }
            DbBackend::Sqlite => {
                // The readers' pool and the writers'.
                [
                    Some(&self.db),
                    self.sqlite_writer.as_ref().map(|(writer, _)| writer),
                ]
                .into_iter()
                .flatten()
                .map(|db| db.get_sqlite_connection_pool())
                .fold((0, 0), |(size, idle), pool| {
                    (size + pool.size(), idle + pool.num_idle())
                })
            }
            _ => (0, 0),
        };
        let in_use = (size as usize).saturating_sub(idle);
        PoolStats {
            size,
            idle,
            waiting: self.calls_in_progress().saturating_sub(in_use),
        }
    }
}
