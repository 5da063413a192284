//! A primary database `app` with one synced table, and replicas of it, each on its own file:
//! what most end-to-end tests start from.

use outpost::Value;

use crate::{HttpTransport, Replica, TestPrimary};

pub struct World {
    pub primary: TestPrimary,
    pub dir: tempfile::TempDir,
    pub transport: HttpTransport,
    /// The table's CREATE statement: every replica's one migration (and the primary's schema,
    /// unless the world was made with [`World::new_split`]).
    schema: &'static str,
    /// A query listing every row in a stable order, run on the primary and on replicas alike.
    all_rows: &'static str,
}

impl World {
    /// `schema` creates the synced table `todos`.
    pub fn new(schema: &'static str, all_rows: &'static str) -> World {
        World::new_split(schema, schema, all_rows)
    }

    /// A primary whose schema differs from the replicas' (e.g. a CHECK only the primary makes).
    pub fn new_split(
        primary_schema: &'static str,
        schema: &'static str,
        all_rows: &'static str,
    ) -> World {
        let primary = TestPrimary::start(primary_schema);
        let transport = HttpTransport::new(primary.endpoint(), "app");
        World {
            primary,
            dir: crate::scratch_dir(),
            transport,
            schema,
            all_rows,
        }
    }

    pub fn replica(&self, name: &str) -> Replica {
        Replica::open(self.dir.path(), name, &[self.schema], &["todos"])
    }

    /// A replica opened as the browser opens OPFS (exclusive lock, WAL).
    pub fn wal_replica(&self, name: &str) -> Replica {
        Replica::open_wal(self.dir.path(), name, &[self.schema], &["todos"])
    }

    /// Sync and check that nothing is left to push.
    pub fn sync(&self, replica: &Replica) {
        replica.sync(&self.transport).expect("sync");
        assert_eq!(replica.pending(), 0, "everything was pushed");
    }

    /// Every replica's rows are the primary's, row for row.
    pub fn assert_converged(&self, replicas: &[&Replica], expected: &[Vec<Value>]) {
        assert_eq!(
            self.primary.rows("app", self.all_rows),
            expected,
            "the primary"
        );
        for (i, replica) in replicas.iter().enumerate() {
            assert_eq!(replica.rows(self.all_rows), expected, "replica {i}");
        }
    }
}
