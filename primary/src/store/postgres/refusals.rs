//! Which Postgres errors refuse one mutation (the statement's own fault) and which fail the
//! whole push (the store's), and the SQLite codes a refusal carries so apps handle both stores alike.

use outpost::codes;
use tokio_postgres::error::SqlState;

use crate::store::dialect::Refusal;

/// The statement's own fault (a constraint, a value out of range, a trigger's RAISE): refuse the
/// mutation, with the SQLite code a replica would have got, so apps handle both stores alike.
/// Anything else (connection, deadlock, privileges) is the store failing.
pub fn refusal(err: &tokio_postgres::Error, table: &str) -> Option<Refusal> {
    let db = err.as_db_error()?;
    let state = db.code();
    let column = db.column().unwrap_or("?");
    let code = match state.code() {
        _ if *state == SqlState::NOT_NULL_VIOLATION => {
            let reason = format!(
                "NOT NULL constraint failed: {table}.{column} ({})",
                db.message()
            );
            return Some(Refusal::new(codes::SQLITE_CONSTRAINT_NOTNULL, reason));
        }
        _ if *state == SqlState::UNIQUE_VIOLATION => match db.constraint() {
            Some(name) if name.ends_with("_pkey") => codes::SQLITE_CONSTRAINT_PRIMARYKEY,
            _ => codes::SQLITE_CONSTRAINT_UNIQUE,
        },
        _ if *state == SqlState::FOREIGN_KEY_VIOLATION => codes::SQLITE_CONSTRAINT_FOREIGNKEY,
        _ if *state == SqlState::CHECK_VIOLATION => codes::SQLITE_CONSTRAINT_CHECK,
        _ if *state == SqlState::RAISE_EXCEPTION => codes::SQLITE_CONSTRAINT_TRIGGER,
        code if code.starts_with("23") => codes::SQLITE_CONSTRAINT,
        code if code.starts_with("22") => codes::SQLITE_MISMATCH,
        _ => return None,
    };
    let reason = format!("{} (SQLSTATE {})", db.message(), state.code());
    Some(Refusal::new(code, reason))
}
