//! The connections' gauges, for `/metrics`: every connection the process has open to the
//! database, pools and special-treatment paths together (what `DB_MAX_CONNECTIONS` bounds).

use sea_orm::DbBackend;

use super::Repository;

/// The connections' state at one instant.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolStats {
    /// Open connections, all paths together.
    pub size: u32,
    /// Open connections not in use. The special-treatment paths' own connections count as
    /// idle: no call holds one (lookups share them, writers serve whoever waits).
    pub idle: usize,
    /// Repository calls in progress beyond the connections in use: waiting for one (a
    /// special-treatment PUT queued for its group counts; a fast-path lookup, which never
    /// waits, does not).
    pub waiting: usize,
}

impl Repository {
    pub fn pool_stats(&self) -> PoolStats {
        let pools = &self.pools;
        let (mut size, mut idle) = match pools.backend() {
            DbBackend::Postgres => {
                let pool = pools.read.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            DbBackend::Sqlite => [&pools.read, &pools.write]
                .into_iter()
                .map(|db| db.get_sqlite_connection_pool())
                .fold((0, 0), |(size, idle), pool| {
                    (size + pool.size(), idle + pool.num_idle())
                }),
            _ => (0, 0),
        };
        let own = self.special_treatment.open_connections();
        size += own as u32;
        idle += own;
        let in_use = (size as usize).saturating_sub(idle);
        PoolStats {
            size,
            idle,
            waiting: self
                .calls_in_progress()
                .saturating_sub(in_use + self.special_treatment.lookups_in_progress()),
        }
    }
}
