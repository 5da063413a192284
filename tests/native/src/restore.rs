//! Backups of a primary's database and restores from them, as an operator makes them on each
//! store: a consistent copy of the SQLite file (`VACUUM INTO`, safe while the server writes),
//! `pg_dump` of the database's Postgres schema, or a copy of the Durable Objects' storage taken
//! while their runtime is stopped (every object's: the tests that restore have one database). A
//! restore stops the primary, puts the copy back and starts it again: a restarted primary starts
//! a new epoch, which is how replicas tell.

use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

use crate::postgres::schema_name;
use crate::primary::{Backend, TestPrimary};

/// One copy of database `name`, taken at some point of the primary's history.
pub struct PrimaryBackup {
    name: String,
    /// The SQLite file, the `pg_dump` archive, or the folder of the objects' storage.
    file: PathBuf,
    _dir: TempDir,
}

impl TestPrimary {
    /// A consistent copy of database `name` as it is now, whether or not the server runs. The
    /// Durable Object primary is stopped for it, and started again if it ran.
    pub fn backup(&mut self, name: &str) -> PrimaryBackup {
        let dir = crate::scratch_dir();
        let file = dir.path().join(format!("{name}.backup"));
        match self.backend() {
            Backend::Sqlite => {
                self.open_file(name)
                    .execute("VACUUM INTO ?1", [file.to_str().expect("a UTF-8 path")])
                    .expect("VACUUM INTO a backup of the primary's file");
            }
            Backend::Postgres => {
                let out = file.to_str().expect("a UTF-8 path");
                run(Command::new("pg_dump")
                    .args(["--format=custom", "--no-owner", "--file", out])
                    .args(["--schema", &schema_name(name)])
                    .args(["--dbname", self.postgres().url()]));
            }
            Backend::Durable => {
                let was_running = self.is_running();
                self.stop();
                self.durable_objects().copy_storage(&file);
                if was_running {
                    self.start_again();
                }
            }
        }
        PrimaryBackup {
            name: name.to_owned(),
            file,
            _dir: dir,
        }
    }

    /// Stop the primary, replace its database by `backup`, and start it again.
    pub fn restore(&mut self, backup: &PrimaryBackup) {
        self.stop();
        let name = backup.name.as_str();
        match self.backend() {
            Backend::Sqlite => {
                let data = self.database_path(name);
                std::fs::copy(&backup.file, &data)
                    .expect("copy the backup over the primary's file");
                // The log of the newer file would be replayed over the older one.
                for stale in ["sqlite3-wal", "sqlite3-shm"] {
                    let _ = std::fs::remove_file(data.with_extension(stale));
                }
            }
            Backend::Postgres => {
                let schema = schema_name(name);
                self.postgres()
                    .batch(name, &format!("DROP SCHEMA \"{schema}\" CASCADE"))
                    .unwrap_or_else(|e| panic!("drop the schema of {name}: {e}"));
                run(Command::new("pg_restore")
                    .args(["--no-owner", "--exit-on-error"])
                    .args(["--dbname", self.postgres().url()])
                    .arg(&backup.file));
            }
            Backend::Durable => self.durable_objects().restore_storage(&backup.file),
        }
        self.start_again();
    }
}

fn run(command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
