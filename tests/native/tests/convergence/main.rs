//! The convergence simulation: replicas on their own files run an app's writes on a schema with
//! the constraints real apps have (UNIQUE, CHECK, foreign keys, integer and composite keys), in
//! transactions that commit or roll back, and sync through a network that loses, duplicates and
//! reorders requests, with pushes and pulls overlapping and answers applied late; replicas die,
//! come back, and have their files restored from older copies, while the primary restarts, is
//! restored from backups, and a backend job writes to its store directly. After quiescence:
//!
//! - every replica equals the primary, row for row (of the lists it syncs the items of, when it
//!   syncs a subset), and nothing is left to push (invariant 4);
//! - no write was applied twice (invariant 2), seen through the primary's own `audit` triggers;
//! - every write the app made is on the primary or was reported rejected to its writer with
//!   the code `rejected_writes()` still lists, never both, save what the protocol allows a
//!   restore to lose (invariants 5 and 7, `ledger.rs`); a rolled-back write reached nobody.
//!
//! The same seeds run on the primary's SQLite and Postgres stores and on the Durable Object
//! primary, and every choice comes from the seed, so a failure replays. On the Durable Object, a
//! primary restart restarts its runtime (`serve.mjs`) on the persisted storage, a backup copies
//! that storage while the runtime is stopped (so it restarts too), and the backend job writes
//! through the object, as the app's Worker code does. The object is the only way into its
//! storage: while the runtime is down the backend job and backups skip their turn, and a restore
//! starts it first. A run on the Durable Object takes about six times the SQLite store's, nearly
//! all of it the runtime's restarts (about a second each).
//!
//! `OUTPOST_SIM_SCALE=n` multiplies the steps; `OUTPOST_SIM_SEEDS=n` runs n seeds from 1 (or from
//! `OUTPOST_SIM_FIRST_SEED`), each at the small run's size, and sums up their counts and failures
//! by kind; `OUTPOST_SIM_SEED=s` runs seed `s` alone, and with `OUTPOST_SIM_TRACE` set says what
//! each step did and what each request got.

mod app;
mod backend;
mod check;
mod counts;
mod ledger;
mod network;
mod restores;
mod schema;
mod sim;
mod subsets;
mod syncing;
mod transactions;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use outpost_tests::Backend;

use counts::Counts;
use sim::Sim;

const SMALL_RUN_STEPS: u64 = 2500;
const SMALL_RUN_SEEDS: [u64; 3] = [1, 2, 0xC0FFEE];

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name} is a whole number, not {value:?}")),
    )
}

fn seeds() -> Vec<u64> {
    if let Some(seed) = env_number("OUTPOST_SIM_SEED") {
        return vec![seed];
    }
    let first = env_number("OUTPOST_SIM_FIRST_SEED").unwrap_or(1);
    match env_number("OUTPOST_SIM_SEEDS") {
        Some(n) => (first..first + n).collect(),
        None => SMALL_RUN_SEEDS.to_vec(),
    }
}

/// Run one seed to the end, quiescence and checks included. A failure panics; `sim` keeps what
/// it counted until then.
fn simulate(sim: &mut Sim, steps: u64) {
    for _ in 0..steps {
        sim.step();
    }
    sim.quiesce();
    sim.check();
}

fn counted(sim: &Sim) -> Counts {
    let mut counts = sim.counts.clone();
    counts.add("steps", sim.step);
    let faults = sim.network.counts();
    for (what, n) in [
        ("faults: requests lost", faults.lost_requests),
        ("faults: answers lost", faults.lost_responses),
        ("faults: requests duplicated", faults.duplicated),
        ("faults: requests delayed", faults.delayed),
        (
            "faults: delayed requests severed by a restore",
            faults.severed,
        ),
        (
            "faults: delayed requests delivered late",
            faults.delivered_late,
        ),
        (
            "requests that failed by themselves",
            sim.network.unexplained_failures(),
        ),
    ] {
        counts.add(what, n);
    }
    counts
}

/// A failure's message without its numbers and details, to group failures of one kind.
fn kind_of(why: &str) -> String {
    let head = why.split(['{', '[', '(', '\n']).next().unwrap_or(why);
    let mut kind = String::new();
    for c in head.chars() {
        match c.is_ascii_digit() {
            true if kind.ends_with('#') => {}
            true => kind.push('#'),
            false => kind.push(c),
        }
    }
    kind.trim().chars().take(100).collect()
}

fn run(backend: Backend) {
    let steps = SMALL_RUN_STEPS * env_number("OUTPOST_SIM_SCALE").unwrap_or(1);
    let started = Instant::now();
    let mut total = Counts::default();
    let mut failures = Vec::new();
    let mut kinds: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let seeds = seeds();
    for &seed in &seeds {
        let began = Instant::now();
        let mut sim = Sim::new(backend, seed);
        let result = catch_unwind(AssertUnwindSafe(|| simulate(&mut sim, steps)));
        total.merge(&counted(&sim));
        match result {
            Ok(()) => println!(
                "convergence ({backend:?}) seed {seed}: {steps} steps in {:.1?}",
                began.elapsed()
            ),
            Err(panic) => {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let step = sim.step;
                println!("convergence ({backend:?}) seed {seed} FAILED at step {step}: {why}");
                kinds.entry(kind_of(&why)).or_default().push(seed);
                failures.push((seed, step, why));
            }
        }
    }
    println!(
        "convergence ({backend:?}): {} seeds of {steps} steps in {:.1?}, {} failed; in all:\n{total}",
        seeds.len(),
        started.elapsed(),
        failures.len()
    );
    for (kind, seeds) in &kinds {
        println!("  {} failed with: {kind} (seeds {seeds:?})", seeds.len());
    }
    assert!(failures.is_empty(), "failed seeds: {failures:#?}");
    assert_eventful(&total);
}

/// Guard against runs too tame to prove anything: every kind of event happened somewhere.
fn assert_eventful(total: &Counts) {
    let every_kind = [
        "faults: requests lost",
        "faults: answers lost",
        "faults: requests duplicated",
        "faults: delayed requests delivered late",
        "replica restarts",
        "primary restarts",
        "backend writes",
        "replica files restored",
        "primary restores",
        "push answers applied late",
        "pull answers applied late",
        "pull answers stale (discarded)",
        "pull pages staged",
        "transactions committed",
        "transactions rolled back",
        "transactions lost in a crash",
        "syncs refused in a transaction",
        "oversize writes refused",
        "large writes",
        "rejected KEY_EXISTS",
        "rejected SQLITE_CONSTRAINT_UNIQUE",
        "rejected SQLITE_CONSTRAINT_CHECK",
        "rejected SQLITE_CONSTRAINT_FOREIGNKEY",
        "outcome: update dropped (row deleted on the primary)",
    ];
    let missing: Vec<&str> = every_kind
        .into_iter()
        .filter(|what| total.get(what) == 0)
        .collect();
    assert!(missing.is_empty(), "never happened: {missing:?}");
    assert!(
        total.get("outcome: on the primary") > total.total("writes made") / 2,
        "most writes reach the primary"
    );
}

#[test]
fn convergence_sqlite() {
    run(Backend::Sqlite);
}

#[test]
fn convergence_postgres() {
    run(Backend::Postgres);
}

#[test]
fn convergence_durable() {
    run(Backend::Durable);
}
