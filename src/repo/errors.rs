//! What a failed database call means, decided once for every driver and every path.
//!
//! A call can fail through SeaORM/sqlx (the pools), rusqlite (SQLite's special-treatment paths)
//! or tokio-postgres (PostgreSQL's). Each driver's error becomes a [`DbFailure`] here, by the
//! same rules: SQLite's result codes and PostgreSQL's SQLSTATEs are classified by one function
//! each, whoever reported them. [`crate::repo::Repository`]'s bounded call then turns a
//! `DbFailure` into the service's [`Error`]:
//!
//! - `Unreachable` (503, and the breaker opens): no connection could be had, or the one in use
//!   broke; SQLite's file could not be read, written or opened, or its disk is full;
//! - `Timeout` (504): the database's own limit cancelled the statement (PostgreSQL's
//!   `statement_timeout`, SQLite's busy timeout on the write lock), so it was not applied;
//! - `Stalled` (504, and the breaker checks the database): no answer at all within the guard;
//! - `Constraint` (409 through a [`ConflictRule`], else 500): a unique or foreign-key rule;
//! - `Other` (500): anything else, logged, never shown.

use sea_orm::{DbErr, RuntimeErr, SqlErr, sqlx};

use crate::error::Error;

/// See the module documentation.
#[derive(Debug)]
pub(crate) enum DbFailure {
    Unreachable(String),
    Timeout,
    Stalled,
    Constraint(anyhow::Error),
    Other(anyhow::Error),
}

/// The rule a write's unique or foreign-key constraint stands for: a violation is answered
/// `409 conflict` naming `field`. A constraint violation of a write without one is a bug (500).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConflictRule {
    /// The request field (or `status`) the rule is about, for `details[0].field`.
    pub field: &'static str,
    /// What the rule says, without any value from the request (values may be personal data).
    pub message: &'static str,
}

impl ConflictRule {
    pub(crate) fn error(self) -> Error {
        Error::Conflict {
            field: self.field.to_owned(),
            message: self.message.to_owned(),
        }
    }
}

impl DbFailure {
    /// The service's error for this failure; `conflict` says what a constraint stands for.
    pub(crate) fn into_error(self, conflict: Option<ConflictRule>) -> Error {
        match self {
            DbFailure::Unreachable(cause) => Error::Unavailable(cause),
            DbFailure::Timeout | DbFailure::Stalled => Error::Timeout,
            DbFailure::Constraint(cause) => match conflict {
                Some(rule) => rule.error(),
                None => Error::Internal(cause.context("unexpected constraint violation")),
            },
            DbFailure::Other(cause) => Error::Internal(cause.context("repository call failed")),
        }
    }
}

/// What a SQLite result code (primary or extended) says about the database.
enum Class {
    Unreachable,
    Timeout,
    Constraint,
    Other,
}

/// SQLite: busy or locked past the busy timeout is a timeout; an I/O error, a file that cannot
/// be opened or a full disk means the database cannot be used just now; a constraint is a rule.
fn sqlite_class(code: i32) -> Class {
    // Extended result codes carry the primary code in their low byte.
    match code & 0xff {
        5 | 6 => Class::Timeout,            // SQLITE_BUSY, SQLITE_LOCKED
        10 | 13 | 14 => Class::Unreachable, // SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN
        19 => Class::Constraint,            // SQLITE_CONSTRAINT
        _ => Class::Other,
    }
}

/// PostgreSQL's SQLSTATE for a statement its `statement_timeout` cancelled.
pub(crate) const POSTGRES_QUERY_CANCELED: &str = "57014";

/// PostgreSQL: a connection exception (class 08), the server shutting down or starting
/// (57P01-57P03) or no connection slot left (53300) is the database, not the statement; 57014
/// is `statement_timeout`; class 23 is an integrity constraint.
fn postgres_class(sqlstate: &str) -> Class {
    if sqlstate.starts_with("08") || matches!(sqlstate, "57P01" | "57P02" | "57P03" | "53300") {
        Class::Unreachable
    } else if sqlstate == POSTGRES_QUERY_CANCELED {
        Class::Timeout
    } else if sqlstate.starts_with("23") {
        Class::Constraint
    } else {
        Class::Other
    }
}

/// Whether a PostgreSQL SQLSTATE says the database, not the statement, failed.
pub(crate) fn is_postgres_unreachable(sqlstate: &str) -> bool {
    matches!(postgres_class(sqlstate), Class::Unreachable)
}

fn failure(class: Class, err: impl Into<anyhow::Error>) -> DbFailure {
    let err = err.into();
    match class {
        Class::Unreachable => DbFailure::Unreachable(err.to_string()),
        Class::Timeout => DbFailure::Timeout,
        Class::Constraint => DbFailure::Constraint(err),
        Class::Other => DbFailure::Other(err),
    }
}

/// The sqlx error under a statement's failure, if any.
fn sqlx_error(err: &DbErr) -> Option<&sqlx::Error> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => Some(e.as_ref()),
        _ => None,
    }
}

impl From<DbErr> for DbFailure {
    fn from(err: DbErr) -> Self {
        if matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) {
            return DbFailure::Unreachable(err.to_string());
        }
        // SeaORM recognises both backends' constraint codes; the class below would too.
        if matches!(
            err.sql_err(),
            Some(SqlErr::UniqueConstraintViolation(_) | SqlErr::ForeignKeyConstraintViolation(_))
        ) {
            return DbFailure::Constraint(err.into());
        }
        let class = match sqlx_error(&err) {
            // A connection lost mid-statement surfaces as an I/O error on the statement.
            Some(
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed,
            ) => Class::Unreachable,
            Some(sqlx::Error::Database(db_err)) => match db_err.code() {
                Some(code) => match code.parse::<i32>() {
                    // SQLite reports its result code as a number, PostgreSQL a SQLSTATE.
                    Ok(sqlite_code)
                        if db_err
                            .try_downcast_ref::<sqlx::sqlite::SqliteError>()
                            .is_some() =>
                    {
                        sqlite_class(sqlite_code)
                    }
                    _ => postgres_class(&code),
                },
                None => Class::Other,
            },
            _ => Class::Other,
        };
        failure(class, err)
    }
}

impl From<rusqlite::Error> for DbFailure {
    fn from(err: rusqlite::Error) -> Self {
        let class = match &err {
            rusqlite::Error::SqliteFailure(code, _) => sqlite_class(code.extended_code),
            _ => Class::Other,
        };
        failure(class, err)
    }
}

impl From<tokio_postgres::Error> for DbFailure {
    fn from(err: tokio_postgres::Error) -> Self {
        let class = match err.code() {
            Some(state) => postgres_class(state.code()),
            // No SQLSTATE: the connection closed or its socket failed.
            None => Class::Unreachable,
        };
        failure(class, err)
    }
}

#[cfg(test)]
mod tests {
    use std::{io, sync::Arc};

    use sea_orm::ConnAcquireErr;

    use super::*;

    fn on_statement(err: sqlx::Error) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
    }

    fn error_of(failure: DbFailure) -> Error {
        failure.into_error(None)
    }

    #[test]
    fn connection_failures_are_unavailable_and_the_rest_internal() {
        let unavailable = [
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
            DbErr::Conn(RuntimeErr::Internal("refused".to_owned())),
            on_statement(sqlx::Error::Io(io::ErrorKind::BrokenPipe.into())),
            on_statement(sqlx::Error::Io(io::ErrorKind::UnexpectedEof.into())),
            on_statement(sqlx::Error::PoolTimedOut),
            on_statement(sqlx::Error::WorkerCrashed),
        ];
        for err in unavailable {
            let shown = err.to_string();
            let error = error_of(err.into());
            assert!(matches!(error, Error::Unavailable(_)), "{shown}: {error:?}");
        }
        let internal = [
            on_statement(sqlx::Error::Protocol("garbled".to_owned())),
            on_statement(sqlx::Error::ColumnNotFound("x".to_owned())),
            DbErr::Json("invalid type: map, expected a sequence".to_owned()),
            DbErr::Type("bad".to_owned()),
        ];
        for err in internal {
            let shown = err.to_string();
            assert!(
                matches!(error_of(err.into()), Error::Internal(_)),
                "{shown}"
            );
        }
    }

    /// SQLite's codes mean the same whether rusqlite or sqlx reported them.
    #[test]
    fn sqlite_codes_are_classified_alike_on_every_path() {
        use rusqlite::ffi;
        let cases = [
            (ffi::SQLITE_BUSY, "timeout"),
            (ffi::SQLITE_LOCKED, "timeout"),
            (ffi::SQLITE_IOERR_FSYNC, "unavailable"),
            (ffi::SQLITE_IOERR, "unavailable"),
            (ffi::SQLITE_CANTOPEN, "unavailable"),
            (ffi::SQLITE_FULL, "unavailable"),
            (ffi::SQLITE_CONSTRAINT_UNIQUE, "constraint"),
            (ffi::SQLITE_CORRUPT, "internal"),
        ];
        for (code, expected) in cases {
            let rusqlite_failure = DbFailure::from(rusqlite::Error::SqliteFailure(
                ffi::Error::new(code),
                Some("x".to_owned()),
            ));
            let by_code = match sqlite_class(code) {
                Class::Unreachable => "unavailable",
                Class::Timeout => "timeout",
                Class::Constraint => "constraint",
                Class::Other => "internal",
            };
            let by_rusqlite = match rusqlite_failure {
                DbFailure::Unreachable(_) => "unavailable",
                DbFailure::Timeout => "timeout",
                DbFailure::Constraint(_) => "constraint",
                DbFailure::Other(_) | DbFailure::Stalled => "internal",
            };
            assert_eq!((by_code, by_rusqlite), (expected, expected), "code {code}");
        }
    }

    #[test]
    fn postgres_sqlstates_are_classified() {
        assert!(matches!(postgres_class("08006"), Class::Unreachable));
        assert!(matches!(postgres_class("57P01"), Class::Unreachable));
        assert!(matches!(postgres_class("53300"), Class::Unreachable));
        assert!(matches!(postgres_class("57014"), Class::Timeout));
        assert!(matches!(postgres_class("23505"), Class::Constraint));
        assert!(matches!(postgres_class("23503"), Class::Constraint));
        assert!(matches!(postgres_class("42601"), Class::Other));
    }

    #[test]
    fn a_constraint_is_a_conflict_only_where_a_rule_names_it() {
        let rule = ConflictRule {
            field: "external_id",
            message: "is already registered in this organization",
        };
        let constraint = || DbFailure::Constraint(anyhow::anyhow!("UNIQUE constraint failed"));
        assert!(matches!(
            constraint().into_error(Some(rule)),
            Error::Conflict { ref field, .. } if field == "external_id"
        ));
        assert!(matches!(constraint().into_error(None), Error::Internal(_)));
    }
}
