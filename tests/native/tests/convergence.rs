//! The convergence simulation: many replicas on their own files write, sync through a network
//! that loses, duplicates and reorders requests, die and come back, while the primary restarts
//! and a backend job writes to its store directly. After quiescence, invariants 2, 4 and 5 must
//! hold: every replica equals the primary row for row, no acknowledged write is missing, and no
//! mutation was applied twice. The same seeds run on both of the primary's stores: SQLite files,
//! and PostgreSQL (where a restart is a new stateless instance on the same Postgres database).
//! Seeds are fixed; `OUTPOST_SIM_SCALE=n` multiplies the steps.
//!
//! Double application is made visible by the primary's own triggers: every insert or update of
//! `items` appends the written row to `audit`, and every write carries a unique token in `a`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use outpost::protocol::Op;
use outpost::{Error, Params, Value};
use outpost_primary::Auth;
use outpost_tests::faults::ReceivedPush;
use outpost_tests::replica::text;
use outpost_tests::{Backend, Faults, FaultyTransport, HttpTransport, Replica, Rng, TestPrimary};

const ITEMS: &str = "CREATE TABLE items(id TEXT PRIMARY KEY, a TEXT, b INTEGER, c TEXT)";
/// On the primary only: `audit` records every application of a write to `items`.
const AUDIT: &str = "
CREATE TABLE audit(n INTEGER PRIMARY KEY, item TEXT NOT NULL, kind TEXT NOT NULL, a TEXT, b INTEGER, c TEXT);
CREATE TRIGGER audit_insert AFTER INSERT ON items BEGIN
  INSERT INTO audit(item, kind, a, b, c) VALUES (NEW.id, 'insert', NEW.a, NEW.b, NEW.c);
END;
CREATE TRIGGER audit_update AFTER UPDATE ON items BEGIN
  INSERT INTO audit(item, kind, a, b, c) VALUES (NEW.id, 'update', NEW.a, NEW.b, NEW.c);
END;
CREATE TRIGGER audit_delete AFTER DELETE ON items BEGIN
  INSERT INTO audit(item, kind) VALUES (OLD.id, 'delete');
END;
";
/// The primary's schema on Postgres: the same tables and audit, in its dialect. The trigger
/// function keeps the search path it was created with (the database's schema, docs/POSTGRES.md),
/// since the primary's connections write with no particular search path.
const PG_SCHEMA: &str = "
CREATE TABLE items(id text PRIMARY KEY, a text, b bigint, c text);
CREATE TABLE audit(n bigserial PRIMARY KEY, item text NOT NULL, kind text NOT NULL, a text, b bigint, c text);
CREATE FUNCTION audit_items() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO audit(item, kind) VALUES (OLD.id, 'delete');
  ELSE
    INSERT INTO audit(item, kind, a, b, c) VALUES (NEW.id, lower(TG_OP), NEW.a, NEW.b, NEW.c);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER audit_items AFTER INSERT OR UPDATE OR DELETE ON items
  FOR EACH ROW EXECUTE FUNCTION audit_items();
";
const ALL_ITEMS: &str = "SELECT id, a, b, c FROM items ORDER BY id";
const REPLICAS: usize = 8;
const SMALL_RUN_STEPS: u64 = 5000;
const FAULTS: Faults = Faults {
    lose_request: 0.05,
    lose_response: 0.05,
    duplicate: 0.05,
    delay: 0.05,
};

#[derive(Debug, Default)]
struct Counts {
    writes: u64,
    /// Local writes SQLite refused (inserting a key this replica already has).
    local_refusals: u64,
    /// Updates or deletes that matched no local row, so nothing was recorded.
    no_op_writes: u64,
    backend_writes: u64,
    syncs: u64,
    failed_syncs: u64,
    pulls: u64,
    replica_restarts: u64,
    primary_restarts: u64,
    /// Inserts refused because another replica made the key first, each reported to its writer.
    key_exists: u64,
}

struct Sim {
    rng: Rng,
    step: u64,
    primary: TestPrimary,
    /// The step at which a stopped primary comes back.
    primary_back_at: Option<u64>,
    replicas: Vec<Replica>,
    _dir: tempfile::TempDir,
    network: FaultyTransport<HttpTransport>,
    /// Every key anyone has written, so writes also hit other replicas' rows.
    ids: Vec<String>,
    counts: Counts,
    /// Tokens of inserts and updates the primary acknowledged to a replica, with their row.
    acked: BTreeMap<String, (Op, String)>,
    /// Tokens of inserts the primary refused (`KEY_EXISTS`), as reported to their writer.
    refused: BTreeSet<String>,
}

impl Sim {
    fn new(backend: Backend, seed: u64) -> Sim {
        let schema = match backend {
            Backend::Sqlite => format!("{ITEMS};{AUDIT}"),
            Backend::Postgres => PG_SCHEMA.to_owned(),
        };
        let primary = TestPrimary::start_on(backend, &schema, Auth::None);
        let dir = outpost_tests::scratch_dir();
        let replicas = (0..REPLICAS)
            .map(|i| Replica::open(dir.path(), &format!("r{i}"), &[ITEMS], &["items"]))
            .collect();
        let http = HttpTransport::new(primary.endpoint(), "sim");
        Sim {
            rng: Rng::new(seed),
            step: 0,
            primary,
            primary_back_at: None,
            replicas,
            _dir: dir,
            network: FaultyTransport::new(http, seed ^ 0x5EED, FAULTS),
            ids: Vec::new(),
            counts: Counts::default(),
            acked: BTreeMap::new(),
            refused: BTreeSet::new(),
        }
    }

    fn step(&mut self) {
        self.step += 1;
        self.network.tick();
        if self.primary_back_at.is_some_and(|at| at <= self.step) {
            self.primary.start_again();
            self.primary_back_at = None;
        }
        let r = self.rng.below(REPLICAS);
        match self.rng.below(100) {
            0..=29 => self.insert(r),
            30..=51 => self.update(r),
            52..=59 => self.delete(r),
            60..=84 => self.sync(r),
            85..=89 => self.pull_once(r),
            90..=95 => {
                self.replicas[r].reopen();
                self.counts.replica_restarts += 1;
            }
            96..=97 => self.backend_write(),
            _ => self.restart_primary(),
        }
    }

    fn token(&self, writer: &str) -> String {
        format!("{writer}-op{}", self.step)
    }

    fn some_ids(&mut self, most: usize) -> Vec<Value> {
        let count = 1 + self.rng.below(most);
        (0..count)
            .filter_map(|_| self.rng.pick(&self.ids).map(|id| text(id)))
            .collect()
    }

    fn write(&mut self, r: usize, sql: &str, params: Vec<Value>) {
        match self.replicas[r].execute(sql, Params::Positional(params)) {
            Ok(0) => self.counts.no_op_writes += 1,
            Ok(_) => self.counts.writes += 1,
            Err(e) if e.code() == "SQLITE_CONSTRAINT_PRIMARYKEY" => self.counts.local_refusals += 1,
            Err(e) => panic!("step {}: replica {r}: {sql}: {e}", self.step),
        }
    }

    fn insert(&mut self, r: usize) {
        // Mostly new keys; sometimes a key another replica may have created or deleted.
        let id = match self.rng.chance(0.15) {
            true => self.rng.pick(&self.ids).cloned(),
            false => None,
        }
        .unwrap_or_else(|| format!("k{}", self.step));
        self.ids.push(id.clone());
        let token = self.token(&format!("r{r}"));
        let c = if self.rng.chance(0.5) {
            text(&token)
        } else {
            Value::Null
        };
        self.write(
            r,
            "INSERT INTO items(id, a, b, c) VALUES (?1, ?2 || ':' || ?1, ?3, ?4)",
            vec![text(&id), text(&token), Value::Integer(self.step as i64), c],
        );
    }

    /// Sets `a` to a fresh token on every row it touches (so each mutation is identifiable),
    /// and `b` and `c` at random, so concurrent updates touch different column sets.
    fn update(&mut self, r: usize) {
        let ids = self.some_ids(3);
        if ids.is_empty() {
            return;
        }
        let mut sets = vec!["a = ?1 || ':' || id".to_owned()];
        if self.rng.chance(0.5) {
            sets.push("b = ?2".into());
        }
        if self.rng.chance(0.5) {
            sets.push("c = ?3".into());
        }
        let slots: Vec<String> = (0..ids.len()).map(|i| format!("?{}", i + 4)).collect();
        let sql = format!(
            "UPDATE items SET {} WHERE id IN ({})",
            sets.join(", "),
            slots.join(", ")
        );
        let token = self.token(&format!("r{r}"));
        let mut params = vec![text(&token), Value::Integer(self.step as i64), text(&token)];
        params.extend(ids);
        self.write(r, &sql, params);
    }

    fn delete(&mut self, r: usize) {
        let ids = self.some_ids(2);
        if ids.is_empty() {
            return;
        }
        let slots: Vec<String> = (1..=ids.len()).map(|i| format!("?{i}")).collect();
        let sql = format!("DELETE FROM items WHERE id IN ({})", slots.join(", "));
        self.write(r, &sql, ids);
    }

    fn sync(&mut self, r: usize) {
        self.counts.syncs += 1;
        match self.replicas[r].sync(&self.network) {
            Ok(report) => self.note_refused(&report.rejected),
            Err(Error::Offline(_)) => self.counts.failed_syncs += 1,
            Err(e) => panic!("step {}: replica {r}: sync: {e}", self.step),
        }
        self.settle_received();
    }

    /// One pull round alone, so pulls also land while this replica has unpushed writes.
    fn pull_once(&mut self, r: usize) {
        self.counts.pulls += 1;
        let db = self.replicas[r].db();
        let request = db.pull_request(0).unwrap();
        match outpost_tests::block_on(outpost::sync::Transport::pull(&self.network, &request)) {
            Ok(response) => {
                db.apply_pull_response(&request, &response).unwrap();
            }
            Err(Error::Offline(_)) => {}
            Err(e) => panic!("step {}: replica {r}: pull: {e}", self.step),
        }
    }

    /// Record the tokens of every mutation a received push answer acknowledged.
    /// The only refusal this schema allows: an insert of a key another replica made first.
    /// It is reported to its writer (here) and kept readable; its token never reaches the primary.
    fn note_refused(&mut self, rejected: &[outpost::sync::RejectedMutation]) {
        for refusal in rejected {
            assert_eq!(refusal.code, "KEY_EXISTS", "{refusal:?}");
            assert_eq!(refusal.op, Op::Insert, "{refusal:?}");
            let Some(Value::Text(token)) = refusal.columns.get("a") else {
                panic!("every write sets a token in `a`: {refusal:?}");
            };
            self.refused.insert(token.clone());
            self.counts.key_exists += 1;
        }
    }

    fn settle_received(&mut self) {
        for ReceivedPush { request, response } in self.network.take_received() {
            let refused: Vec<i64> = response.rejected.iter().map(|r| r.seq).collect();
            for mutation in request
                .mutations
                .iter()
                .filter(|m| m.seq <= response.acked_through && m.op != Op::Delete)
                .filter(|m| !refused.contains(&m.seq))
            {
                let Some(Value::Text(token)) = mutation.columns.get("a") else {
                    panic!("every write sets a token in `a`: {mutation:?}");
                };
                let Some(Value::Text(id)) = mutation.key.first() else {
                    panic!("text keys: {mutation:?}");
                };
                self.acked.insert(token.clone(), (mutation.op, id.clone()));
            }
        }
    }

    /// A backend job writing straight to the primary's store, whether or not the server runs.
    /// The SQL reads the same in both dialects.
    fn backend_write(&mut self) {
        if !self.primary.has_database("sim") {
            return;
        }
        self.counts.backend_writes += 1;
        let token = text(&self.token("p"));
        let id = self.rng.pick(&self.ids).cloned();
        let (sql, params) = match (self.rng.below(4), id) {
            (0, Some(id)) => ("DELETE FROM items WHERE id = $1", vec![text(&id)]),
            (1, _) | (_, None) => {
                let id = format!("p{}", self.step);
                self.ids.push(id.clone());
                (
                    "INSERT INTO items(id, a, b) VALUES ($1, CAST($2 AS TEXT) || ':' || $1, $3)",
                    vec![text(&id), token, Value::Integer(self.step as i64)],
                )
            }
            (_, Some(id)) => (
                "UPDATE items SET a = CAST($1 AS TEXT) || ':' || id, c = $1 WHERE id = $2",
                vec![token, text(&id)],
            ),
        };
        self.primary
            .execute("sim", sql, &params)
            .unwrap_or_else(|e| panic!("step {}: backend job: {sql}: {e}", self.step));
    }

    fn restart_primary(&mut self) {
        if !self.primary.is_running() {
            return;
        }
        self.counts.primary_restarts += 1;
        self.primary.stop();
        // Down for a few steps: replicas meanwhile sync into the void.
        self.primary_back_at = Some(self.step + self.rng.below(6) as u64);
    }

    /// Faults off, primary up, every held request delivered, every replica synced until nothing
    /// is pending, then every replica pulls once more.
    fn quiesce(&mut self) {
        self.network.set_faults(Faults::NONE);
        if !self.primary.is_running() {
            self.primary.start_again();
        }
        self.network.deliver_all();
        for r in 0..REPLICAS {
            self.replicas[r]
                .sync(&self.network)
                .expect("sync without faults");
            assert_eq!(self.replicas[r].pending(), 0, "replica {r}");
        }
        for r in 0..REPLICAS {
            self.replicas[r].sync(&self.network).expect("final pull");
        }
        self.settle_received();
    }

    fn check(&self) {
        let mut primary_items = self.primary.rows("sim", ALL_ITEMS);
        // Postgres orders text by the server's collation; replicas (SQLite) compare bytes.
        primary_items.sort_by(|x, y| key_text(x).cmp(key_text(y)));
        for (r, replica) in self.replicas.iter().enumerate() {
            let local = replica.rows(ALL_ITEMS);
            assert!(
                local == primary_items,
                "replica {r} diverged: {:#?}",
                differences(&local, &primary_items)
            );
            assert_eq!(
                replica.rows("SELECT count(*) FROM _outpost_outbox"),
                vec![vec![Value::Integer(0)]],
                "replica {r}: the outbox drained"
            );
            let kept = replica.db().rejected_writes(10_000).unwrap();
            assert!(
                kept.writes.iter().all(|w| w.mutation.code == "KEY_EXISTS"),
                "replica {r}: {kept:?}"
            );
        }

        let audit = |sql: &str| self.primary.rows("sim", sql);
        let twice = audit(
            "SELECT a, count(*) FROM audit WHERE kind != 'delete' GROUP BY a HAVING count(*) > 1",
        );
        assert!(twice.is_empty(), "mutations applied twice: {twice:?}");
        let applied: BTreeSet<String> = audit("SELECT a FROM audit WHERE a IS NOT NULL")
            .iter()
            .map(|row| key_text(row).to_owned())
            .collect();
        let deleted: BTreeSet<String> =
            audit("SELECT DISTINCT item FROM audit WHERE kind = 'delete'")
                .iter()
                .map(|row| key_text(row).to_owned())
                .collect();
        let mut dropped_updates = 0;
        for token in &self.refused {
            assert!(
                !applied.contains(token),
                "refused {token} reached the primary"
            );
        }
        for (token, (op, id)) in &self.acked {
            if applied.contains(token) || self.refused.contains(token) {
                continue;
            }
            // An update is dropped only when the primary no longer had the row.
            assert!(
                *op == Op::Update && deleted.contains(id),
                "acknowledged {op:?} {token} of {id} is missing from the primary"
            );
            dropped_updates += 1;
        }
        println!(
            "convergence ({:?}): {} steps, {} replicas, {} rows at the end; {:?}; faults {:?}; \
             {} acknowledged writes ({} updates dropped for a deleted row), {} tokens in audit",
            self.primary.backend(),
            self.step,
            REPLICAS,
            primary_items.len(),
            self.counts,
            self.network.counts(),
            self.acked.len(),
            dropped_updates,
            applied.len(),
        );
    }

    /// Guard against a run too tame to prove anything.
    fn assert_eventful(&self) {
        let faults = self.network.counts();
        let c = &self.counts;
        let every_kind = [
            faults.lost_requests,
            faults.lost_responses,
            faults.duplicated,
            faults.delayed,
            faults.delivered_late,
            c.replica_restarts,
            c.primary_restarts,
            c.backend_writes,
        ];
        assert!(every_kind.iter().all(|&n| n > 0), "{c:?} {faults:?}");
        assert!(
            self.acked.len() as u64 > c.writes / 2,
            "{} acked",
            self.acked.len()
        );
    }
}

type Row = Vec<Value>;

/// The text in a row's first column: an item's key, or a token.
fn key_text(row: &Row) -> &str {
    match &row[0] {
        Value::Text(text) => text,
        other => panic!("expected text, found {other:?}"),
    }
}

/// The rows that differ, by key: (replica's row, primary's row).
fn differences(replica: &[Row], primary: &[Row]) -> Vec<(Option<Row>, Option<Row>)> {
    let by_key = |rows: &[Row]| -> BTreeMap<String, Row> {
        rows.iter()
            .map(|row| (format!("{:?}", row[0]), row.clone()))
            .collect()
    };
    let (mine, theirs) = (by_key(replica), by_key(primary));
    let keys: BTreeSet<&String> = mine.keys().chain(theirs.keys()).collect();
    keys.into_iter()
        .filter(|k| mine.get(*k) != theirs.get(*k))
        .map(|k| (mine.get(k).cloned(), theirs.get(k).cloned()))
        .collect()
}

fn scale() -> u64 {
    std::env::var("OUTPOST_SIM_SCALE")
        .ok()
        .map(|s| s.parse().expect("OUTPOST_SIM_SCALE is a whole number"))
        .unwrap_or(1)
}

fn simulate(backend: Backend, seed: u64, steps: u64) {
    let started = Instant::now();
    let mut sim = Sim::new(backend, seed);
    for _ in 0..steps {
        sim.step();
    }
    sim.quiesce();
    sim.check();
    sim.assert_eventful();
    println!(
        "convergence ({backend:?}): seed {seed} took {:?}",
        started.elapsed()
    );
}

const SEED_1: u64 = 1;
const SEED_2: u64 = 0xC0FFEE;

#[test]
fn convergence_sqlite_seed_1() {
    simulate(Backend::Sqlite, SEED_1, SMALL_RUN_STEPS * scale());
}

#[test]
fn convergence_sqlite_seed_2() {
    simulate(Backend::Sqlite, SEED_2, SMALL_RUN_STEPS * scale());
}

#[test]
fn convergence_postgres_seed_1() {
    simulate(Backend::Postgres, SEED_1, SMALL_RUN_STEPS * scale());
}

#[test]
fn convergence_postgres_seed_2() {
    simulate(Backend::Postgres, SEED_2, SMALL_RUN_STEPS * scale());
}
