//! A replica on its own file. It can die at any point between two calls and come back from the
//! file alone, as a browser tab that is closed and opened again.

use std::path::{Path, PathBuf};

use outpost::db::OpenOptions;
use outpost::sync::{sync, SyncReport, Transport};
use outpost::{Database, Params, Result, Storage, Value};

use crate::block_on;

pub struct Replica {
    path: PathBuf,
    options: OpenOptions,
    db: Option<Database>,
}

impl Replica {
    /// Open (creating) `{dir}/{name}.sqlite3` with these migrations, syncing `synced_tables`.
    pub fn open(dir: &Path, name: &str, migrations: &[&str], synced_tables: &[&str]) -> Replica {
        Replica::open_with(dir, name, migrations, synced_tables, false)
    }

    /// As [`Replica::open`], opened as the browser opens OPFS: an exclusive lock and a WAL.
    pub fn open_wal(
        dir: &Path,
        name: &str,
        migrations: &[&str],
        synced_tables: &[&str],
    ) -> Replica {
        Replica::open_with(dir, name, migrations, synced_tables, true)
    }

    fn open_with(
        dir: &Path,
        name: &str,
        migrations: &[&str],
        synced_tables: &[&str],
        exclusive: bool,
    ) -> Replica {
        let options = OpenOptions {
            migrations: migrations.iter().map(|m| m.to_string()).collect(),
            synced_tables: synced_tables.iter().map(|t| t.to_string()).collect(),
            exclusive,
        };
        let mut replica = Replica {
            path: dir.join(format!("{name}.sqlite3")),
            options,
            db: None,
        };
        replica.reopen();
        replica
    }

    pub fn db(&self) -> &Database {
        self.db.as_ref().expect("the replica is open")
    }

    /// Drop the connection without any goodbye and open the file again: a client that died.
    pub fn reopen(&mut self) {
        self.db = None;
        let db = Database::open(&Storage::File(self.path.clone()), &self.options)
            .expect("reopen the replica from its file");
        self.db = Some(db);
    }

    pub fn execute(&self, sql: &str, params: Params) -> Result<u64> {
        self.db().execute(sql, &params).map(|r| r.rows_affected)
    }

    /// Run a statement that must succeed.
    pub fn run(&self, sql: &str) {
        self.db()
            .execute(sql, &Params::None)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn rows(&self, sql: &str) -> Vec<Vec<Value>> {
        self.db()
            .query(sql, &Params::None)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .rows
    }

    pub fn pending(&self) -> u64 {
        self.db().pending_count().expect("pending_count")
    }

    pub fn sync<T: Transport>(&self, transport: &T) -> Result<SyncReport> {
        block_on(sync(self.db(), transport))
    }
}

/// A text value.
pub fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}
