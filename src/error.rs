//! The one error type of the core. Every failure a user can meet has a stable `code()` string;
//! the wasm layer turns an `Error` into a JS `OutpostError` carrying that code, in one place.

use std::fmt;

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
}

impl Error {
    /// The stable code for this error, as seen by JS in `OutpostError.code`.
    pub fn code(&self) -> &str {
        match self {
            Error::Sqlite { code, .. } => code,
            Error::BadOptions(_) => "BAD_OPTIONS",
            Error::BadParams(_) => "BAD_PARAMS",
            Error::Closed => "DATABASE_CLOSED",
            Error::OpfsUnavailable(_) => "OPFS_UNAVAILABLE",
            Error::DatabaseInUse(_) => "DATABASE_IN_USE",
            Error::StorageFull(_) => "STORAGE_FULL",
            Error::Migration { .. } => "MIGRATION_FAILED",
            Error::MigrationChanged { .. } => "MIGRATION_CHANGED",
            Error::Offline(_) => "OFFLINE",
            Error::Primary { code, .. } => code,
            Error::Protocol(_) => "PROTOCOL_ERROR",
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
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::Error as E;
        match &err {
            E::SqliteFailure(ffi_err, message) => {
                let code = extended_code_name(ffi_err.extended_code);
                let message = message.clone().unwrap_or_else(|| ffi_err.to_string());
                if ffi_err.code == rusqlite::ErrorCode::DiskFull {
                    return Error::StorageFull(message);
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
                code: "SQLITE_ERROR".into(),
                message: "only one statement is allowed per call; use batch() for several".into(),
            },
            E::InvalidQuery => Error::Sqlite {
                code: "SQLITE_ERROR".into(),
                message: "the query is empty".into(),
            },
            _ => Error::Sqlite {
                code: "SQLITE_ERROR".into(),
                message: err.to_string(),
            },
        }
    }
}

/// SQLite's name for an extended result code, e.g. 2067 -> `SQLITE_CONSTRAINT_UNIQUE`.
fn extended_code_name(code: std::os::raw::c_int) -> String {
    let name = match code {
        1 => "SQLITE_ERROR",
        2 => "SQLITE_INTERNAL",
        3 => "SQLITE_PERM",
        4 => "SQLITE_ABORT",
        5 => "SQLITE_BUSY",
        6 => "SQLITE_LOCKED",
        7 => "SQLITE_NOMEM",
        8 => "SQLITE_READONLY",
        9 => "SQLITE_INTERRUPT",
        10 => "SQLITE_IOERR",
        11 => "SQLITE_CORRUPT",
        13 => "SQLITE_FULL",
        14 => "SQLITE_CANTOPEN",
        18 => "SQLITE_TOOBIG",
        19 => "SQLITE_CONSTRAINT",
        20 => "SQLITE_MISMATCH",
        21 => "SQLITE_MISUSE",
        23 => "SQLITE_AUTH",
        25 => "SQLITE_RANGE",
        26 => "SQLITE_NOTADB",
        262 => "SQLITE_LOCKED_SHAREDCACHE",
        261 => "SQLITE_BUSY_RECOVERY",
        264 => "SQLITE_READONLY_RECOVERY",
        266 => "SQLITE_IOERR_READ",
        275 => "SQLITE_CONSTRAINT_CHECK",
        531 => "SQLITE_CONSTRAINT_COMMITHOOK",
        787 => "SQLITE_CONSTRAINT_FOREIGNKEY",
        1043 => "SQLITE_CONSTRAINT_FUNCTION",
        1299 => "SQLITE_CONSTRAINT_NOTNULL",
        1555 => "SQLITE_CONSTRAINT_PRIMARYKEY",
        1811 => "SQLITE_CONSTRAINT_TRIGGER",
        2067 => "SQLITE_CONSTRAINT_UNIQUE",
        2323 => "SQLITE_CONSTRAINT_VTAB",
        2579 => "SQLITE_CONSTRAINT_ROWID",
        3091 => "SQLITE_CONSTRAINT_DATATYPE",
        _ => return primary_code_name(code),
    };
    name.to_string()
}

fn primary_code_name(code: std::os::raw::c_int) -> String {
    match code & 0xff {
        10 => "SQLITE_IOERR".into(),
        19 => "SQLITE_CONSTRAINT".into(),
        1 => "SQLITE_ERROR".into(),
        other => format!("SQLITE_ERROR_{other}"),
    }
}
