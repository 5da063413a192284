//! The simulated world: a primary, replicas on their own files, one faulty network between them,
//! and what happens at each step, drawn from the seed: the app's writes (`app.rs`,
//! `transactions.rs`), sync calls (`syncing.rs`), restarts, a backend job (`backend.rs`) and
//! restores (`restores.rs`). `check.rs` says what must hold once everything has settled.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use outpost::protocol::{PullRequest, PullResponse, PushRequest, PushResponse};
use outpost::{Database, Error, Params, Value};
use outpost_primary::Auth;
use outpost_tests::{Backend, Faults, HttpTransport, PrimaryBackup, Replica, Rng, TestPrimary};

use crate::counts::Counts;
use crate::ledger::Ledger;
use crate::network::Network;
use crate::restores::ReplicaCopy;
use crate::schema;

pub const REPLICAS: usize = 8;
pub const DATABASE: &str = "sim";
const FAULTS: Faults = Faults {
    lose_request: 0.05,
    lose_response: 0.05,
    duplicate: 0.05,
    delay: 0.05,
};

/// An answer that reached its replica and waits to be applied.
pub enum Answer {
    Push(PushRequest, PushResponse),
    Pull(PullRequest, PullResponse),
}

pub struct InFlight {
    pub answer: Answer,
    /// The replica's `settled` count when the answer arrived: applied after it moved, it is late.
    pub arrived_at: u64,
}

pub struct Sim {
    pub rng: Rng,
    pub step: u64,
    pub primary: TestPrimary,
    /// The step at which a stopped primary comes back.
    pub primary_back_at: Option<u64>,
    pub replicas: Vec<Replica>,
    pub dir: tempfile::TempDir,
    pub network: Network,
    pub in_flight: Vec<Vec<InFlight>>,
    /// Per replica, how many answers it applied and syncs it ran.
    pub settled: Vec<u64>,
    pub ledger: Ledger,
    pub counts: Counts,
    /// Per replica, an older copy of its file to restore it from.
    pub copies: Vec<Option<ReplicaCopy>>,
    /// A backup of the primary, and the tokens it holds (what `audit` had applied then).
    pub backup: Option<(PrimaryBackup, BTreeSet<String>)>,
    /// Keys anyone created, so inserts sometimes reuse one another replica made.
    pub known_lists: Vec<String>,
    pub known_items: Vec<String>,
}

pub fn open_replica(dir: &std::path::Path, r: usize) -> Replica {
    Replica::open(dir, &replica_name(r), &[schema::REPLICA], &schema::SYNCED)
}

pub fn replica_name(r: usize) -> String {
    format!("r{r}")
}

/// With `OUTPOST_SIM_TRACE` set, the run says what happens at every step, to find the step a
/// failure starts at.
pub fn tracing() -> bool {
    static TRACING: OnceLock<bool> = OnceLock::new();
    *TRACING.get_or_init(|| std::env::var_os("OUTPOST_SIM_TRACE").is_some())
}

/// Errors a sync call may meet in this world: the primary down, or the network's faults.
pub fn transient(error: &Error) -> bool {
    matches!(error, Error::Offline(_))
}

impl Sim {
    pub fn new(backend: Backend, seed: u64) -> Sim {
        let primary = TestPrimary::start_on(backend, &schema::primary(backend), Auth::None);
        let dir = outpost_tests::scratch_dir();
        let replicas = (0..REPLICAS).map(|r| open_replica(dir.path(), r)).collect();
        let http = HttpTransport::new(primary.endpoint(), DATABASE);
        Sim {
            rng: Rng::new(seed),
            step: 0,
            primary,
            primary_back_at: None,
            replicas,
            dir,
            network: Network::new(http, seed ^ 0x5EED, FAULTS),
            in_flight: (0..REPLICAS).map(|_| Vec::new()).collect(),
            settled: vec![0; REPLICAS],
            ledger: Ledger::new(REPLICAS),
            counts: Counts::default(),
            copies: (0..REPLICAS).map(|_| None).collect(),
            backup: None,
            known_lists: Vec::new(),
            known_items: Vec::new(),
        }
    }

    pub fn step(&mut self) {
        self.step += 1;
        self.network.tick();
        if self.primary_back_at.is_some_and(|at| at <= self.step) {
            self.primary.start_again();
            self.primary_back_at = None;
        }
        let r = self.rng.below(REPLICAS);
        let roll = self.rng.below(10_000);
        self.trace(|| format!("replica {r}, roll {roll}"));
        match roll {
            0..=4499 => self.app_write(r),
            4500..=5099 => self.transaction(r),
            5100..=6599 => self.sync(r),
            6600..=7099 => self.start_push(r),
            7100..=7699 => self.start_pull(r),
            7700..=8599 => self.apply_in_flight(r),
            8600..=8799 => self.pull_page_now(r),
            8800..=8999 => self.push_in_batches(r),
            9000..=9299 => self.restart_replica(r),
            9300..=9549 => self.backend_write(),
            9550..=9699 => self.restart_primary(),
            // Restores lose what was written since the copy: rare, and from recent copies, or
            // little would be left to check.
            9700..=9729 => self.copy_replica(r),
            9730..=9749 => self.restore_replica(r),
            9750..=9789 => self.backup_primary(),
            9790..=9797 => self.restore_primary(),
            // Rare: each moves megabytes, which debug builds serialize slowly.
            9798..=9805 => self.oversize_write(r),
            9806..=9813 => self.large_write(r),
            9814..=9853 => self.choose_subset(r),
            _ => self.apply_in_flight(r),
        }
    }

    pub fn trace(&self, what: impl FnOnce() -> String) {
        if tracing() {
            println!("step {}: {}", self.step, what());
        }
    }

    pub fn db(&self, r: usize) -> &Database {
        self.replicas[r].db()
    }

    /// Rows of a local query with parameters.
    pub fn local(&self, r: usize, sql: &str, params: Vec<Value>) -> Vec<Vec<Value>> {
        self.db(r)
            .query(sql, &Params::Positional(params))
            .unwrap_or_else(|e| panic!("step {}: replica {r}: {sql}: {e}", self.step))
            .rows
    }

    /// The replica dies between two calls and comes back from its file; what it held in memory
    /// (answers not yet applied) dies with it.
    pub fn restart_replica(&mut self, r: usize) {
        self.take_listed_only(r);
        self.replicas[r].reopen();
        self.in_flight[r].clear();
        self.counts.bump("replica restarts");
    }

    /// Whether the primary's store can be read and written behind the server's back now: always,
    /// but on the Durable Object primary, whose storage only the running object reaches.
    pub fn primary_reachable(&self) -> bool {
        self.primary.backend() != Backend::Durable || self.primary.is_running()
    }

    pub fn restart_primary(&mut self) {
        if !self.primary.is_running() {
            return;
        }
        self.counts.bump("primary restarts");
        self.primary.stop();
        // Down for a few steps: replicas meanwhile sync into the void.
        self.primary_back_at = Some(self.step + self.rng.below(6) as u64);
    }
}
