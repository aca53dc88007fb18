//! The special-treatment fast paths: read on every interaction with a customer, so they have
//! ways through of their own (see each module). No other resource uses them.

pub(super) mod postgres_connection;
pub(super) mod postgres_reads;
pub(super) mod postgres_writes;
pub(super) mod sqlite_reads;
pub(super) mod sqlite_writes;
