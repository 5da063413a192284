//! The one error type of the core. Every failure a user can meet has a stable `code()` string;
//! the wasm layer turns an `Error` into a JS `OutpostError` carrying that code, in one place.

use std::fmt;

use crate::codes;

/// Everything that can go wrong in Outpost, with a stable machine-readable code.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// SQLite refused a statement. `code` is its extended result-code name, e.g. `SQLITE_CONSTRAINT_UNIQUE`.
    Sqlite { code: String, message: String },
    /// The options passed to `open` (or a sync configuration) are invalid.
    BadOptions(String),
    /// Parameters do not match the statement (missing name, wrong count, unsupported type).
    BadParams(String),
    /// The database was closed; no further calls are possible.
    Closed,
    /// OPFS is not available here (not a dedicated worker, or no secure context).
    OpfsUnavailable(String),
    /// Another tab or worker holds this OPFS database.
    DatabaseInUse(String),
    /// The device has no room left for the database.
    StorageFull(String),
    /// A migration failed; the database is as it was before `open`.
    Migration {
        index: usize,
        code: String,
        message: String,
    },
    /// A migration that was applied before has different SQL now.
    MigrationChanged { index: usize },
    /// The primary could not be reached.
    Offline(String),
    /// The primary answered with an error (HTTP status, its stable code, its message).
    Primary {
        status: u16,
        code: String,
        message: String,
    },
    /// The primary's answer could not be understood.
    Protocol(String),
    /// Sync waits: the app's own transaction is open on this connection, and sync reads only
    /// committed writes. Retry once it has ended.
    TransactionOpen,
    /// A transaction statement (BEGIN, COMMIT, …) was sent through `execute`; use the
    /// transaction API, which keeps other callers out and sync away from uncommitted writes.
    TransactionStatement(String),
    /// One write is larger than a push may carry, so it could never reach the primary; it was
    /// refused when made and changed nothing.
    MutationTooLarge(String),
}

/// What a capture trigger's SQL function says when a row is too large to push; the statement
/// fails with it, and [`Error::from`] turns it into [`Error::MutationTooLarge`].
pub(crate) const TOO_LARGE_MARKER: &str = "outpost: mutation too large: ";

impl Error {
    /// The stable code for this error, as seen by JS in `OutpostError.code`.
    pub fn code(&self) -> &str {
        match self {
            Error::Sqlite { code, .. } => code,
            Error::BadOptions(_) => codes::BAD_OPTIONS,
            Error::BadParams(_) => codes::BAD_PARAMS,
            Error::Closed => codes::DATABASE_CLOSED,
            Error::OpfsUnavailable(_) => codes::OPFS_UNAVAILABLE,
            Error::DatabaseInUse(_) => codes::DATABASE_IN_USE,
            Error::StorageFull(_) => codes::STORAGE_FULL,
            Error::Migration { .. } => codes::MIGRATION_FAILED,
            Error::MigrationChanged { .. } => codes::MIGRATION_CHANGED,
            Error::Offline(_) => codes::OFFLINE,
            Error::Primary { code, .. } => code,
            Error::Protocol(_) => codes::PROTOCOL_ERROR,
            Error::TransactionOpen => codes::TRANSACTION_OPEN,
            Error::TransactionStatement(_) => codes::TRANSACTION_STATEMENT,
            Error::MutationTooLarge(_) => codes::MUTATION_TOO_LARGE,
        }
    }

    /// The SQLite extended result-code name behind this error, if SQLite raised it.
    pub fn sqlite_error_code(&self) -> Option<&str> {
        match self {
            Error::Sqlite { code, .. } => Some(code),
            Error::Migration { code, .. } => Some(code),
            _ => None,
        }
    }

    pub(crate) fn bad_options(message: impl Into<String>) -> Self {
        Error::BadOptions(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sqlite { message, .. } => write!(f, "{message}"),
            Error::BadOptions(m) => write!(f, "invalid options: {m}"),
            Error::BadParams(m) => write!(f, "invalid parameters: {m}"),
            Error::Closed => write!(f, "the database is closed"),
            Error::OpfsUnavailable(m) => write!(f, "OPFS is not available: {m}"),
            Error::DatabaseInUse(m) => write!(f, "{m}"),
            Error::StorageFull(m) => write!(f, "storage is full: {m}"),
            Error::Migration { index, code, message } => {
                write!(f, "migration {index} failed ({code}): {message}; nothing was applied")
            }
            Error::MigrationChanged { index } => write!(
                f,
                "migration {index} was already applied with different SQL; add a new migration instead of editing an old one"
            ),
            Error::Offline(m) => write!(f, "the primary could not be reached: {m}"),
            Error::Primary { status, code, message } => {
                write!(f, "the primary refused the request ({status} {code}): {message}")
            }
            Error::Protocol(m) => write!(f, "unexpected answer from the primary: {m}"),
            Error::TransactionOpen => write!(
                f,
                "sync waits for the open transaction to end: it reads only committed writes"
            ),
            Error::TransactionStatement(m) => write!(f, "{m}"),
            Error::MutationTooLarge(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::Error as E;
        match &err {
            E::SqliteFailure(ffi_err, message) => {
                let code = codes::sqlite_name(ffi_err.extended_code).to_string();
                let message = message.clone().unwrap_or_else(|| ffi_err.to_string());
                if ffi_err.code == rusqlite::ErrorCode::DiskFull {
                    return Error::StorageFull(message);
                }
                if let Some(at) = message.find(TOO_LARGE_MARKER) {
                    return Error::MutationTooLarge(message[at + TOO_LARGE_MARKER.len()..].into());
                }
                Error::Sqlite { code, message }
            }
            E::InvalidParameterCount(given, expected) => Error::BadParams(format!(
                "the statement has {expected} parameter(s) but {given} were given"
            )),
            E::InvalidParameterName(name) => {
                Error::BadParams(format!("no value was given for parameter {name}"))
            }
            E::MultipleStatement => Error::Sqlite {
                code: codes::SQLITE_ERROR.into(),
                message: "only one statement is allowed per call; use batch() for several".into(),
            },
            E::InvalidQuery => Error::Sqlite {
                code: codes::SQLITE_ERROR.into(),
                message: "the query is empty".into(),
            },
            _ => Error::Sqlite {
                code: codes::SQLITE_ERROR.into(),
                message: err.to_string(),
            },
        }
    }
}
