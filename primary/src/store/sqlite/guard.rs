//! What SQL that reaches the store may not do. Every connection the store opens can attach no
//! other file (`SQLITE_LIMIT_ATTACHED` 0): SQLite counts ATTACH as read-only, so without this a
//! `/query` could open another tenant's database file through the shared reader connection. The
//! reader connection, which runs `/query`, also refuses every PRAGMA (some name files or change the
//! connection for every later request) and the functions that reach outside the database.

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::Connection;

/// Functions no query may call, whatever SQLite build or extension provides them.
const OUTSIDE_FUNCTIONS: &[&str] = &[
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
    "sqlite_dbpage",
];

/// No ATTACH, on any connection of the store.
pub fn no_attach(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0)?;
    Ok(())
}

/// The reader's rules for `/query`, on top of [`no_attach`] and its read-only open.
pub fn reader(conn: &mut Connection) -> rusqlite::Result<()> {
    no_attach(conn)?;
    conn.authorizer(Some(judge))
}

fn judge(context: AuthContext<'_>) -> Authorization {
    match context.action {
        AuthAction::Attach { .. } | AuthAction::Detach { .. } | AuthAction::Pragma { .. } => {
            Authorization::Deny
        }
        AuthAction::Function { function_name }
            if OUTSIDE_FUNCTIONS
                .iter()
                .any(|f| f.eq_ignore_ascii_case(function_name)) =>
        {
            Authorization::Deny
        }
        _ => Authorization::Allow,
    }
}
