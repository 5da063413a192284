//! `outpost-bench`: sync throughput of the native core (bundled SQLite, a file on disk) against a
//! running `outpost-primary`. Prints one JSON object on stdout. Subcommands:
//!
//! - `push URL DB ROWS`: fill the outbox with ROWS inserts, then time pushing all of it.
//! - `pull URL DB EXPECTED`: time an empty replica pulling and applying everything.
//! - `visible URL DB SAMPLES`: write on replica A, time until the row is queryable on B (live pull).
//! - `concurrent URL DB CLIENTS SECONDS ROWS_PER_PUSH`: clients pushing and pulling at once.
//! - `pull-floor` and `concurrent-floor` (same arguments): the same requests without a replica
//!   (`floors.rs`), the floor each figure is compared with.
//! - `ruled-fill URL DB SCHEMA MINE OTHERS` and `ruled-pull URL DB SCHEMA EXPECTED`: the same pull
//!   with and without sync rules (`ruled.rs`); the token comes from `$OUTPOST_TOKEN`.
//!
//! Every phase of a round trip is timed apart (build request / HTTP incl. JSON / apply), so a
//! slow figure points at its cause.

mod floors;
mod ruled;
mod transport;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use outpost::db::OpenOptions;
use outpost::protocol::MAX_PUSH_MUTATIONS;
use outpost::sync::Transport;
use outpost::{Database, Params, Storage, Value};
use serde_json::json;
use transport::{block_on, HttpTransport};

const SCHEMA: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, a INTEGER, b REAL, t TEXT)";
const INSERT: &str = "INSERT INTO items (id, a, b, t) VALUES (?, ?, ?, ?)";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> &str { args.get(i).map(String::as_str).unwrap_or_else(|| usage()) };
    let num = |i: usize| -> u64 { arg(i).parse().unwrap_or_else(|_| usage()) };
    let out = match arg(0) {
        "push" => push(arg(1), arg(2), num(3)),
        "pull" => pull(arg(1), arg(2), num(3)),
        "visible" => visible(arg(1), arg(2), num(3) as usize),
        "concurrent" => concurrent(arg(1), arg(2), num(3) as usize, num(4), num(5)),
        "pull-floor" => floors::pull_floor(arg(1), arg(2), num(3)),
        "concurrent-floor" => floors::concurrent_floor(arg(1), arg(2), num(3) as usize, num(4), num(5)),
        "ruled-fill" => ruled::fill(arg(1), arg(2), arg(3), num(4), num(5)),
        "ruled-pull" => ruled::pull(arg(1), arg(2), arg(3), num(4)),
        _ => usage(),
    };
    println!("{out}");
}

fn usage() -> ! {
    eprintln!("usage: outpost-bench push|pull|visible|concurrent URL DB ...  (see src/main.rs)");
    std::process::exit(2);
}

fn scratch() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::var_os("BENCH_TMP").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("outpost-bench-{}-{n}.sqlite3", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

fn replica(path: &PathBuf) -> Database {
    replica_of(path, SCHEMA, &["items"])
}

fn replica_of(path: &PathBuf, schema: &str, tables: &[&str]) -> Database {
    let options = OpenOptions {
        migrations: vec![schema.into()],
        synced_tables: tables.iter().map(|t| t.to_string()).collect(),
        exclusive: true,
    };
    Database::open(&Storage::File(path.clone()), &options).expect("open replica")
}

fn row(id: i64) -> Params {
    Params::Positional(vec![
        Value::Integer(id),
        Value::Integer(id * 31),
        Value::Real(id as f64 * 0.25),
        Value::Text(format!("synced row {id} payload")),
    ])
}

fn insert_rows(db: &Database, first: i64, n: u64) {
    db.begin().unwrap();
    for id in first..first + n as i64 {
        db.execute(INSERT, &row(id)).unwrap();
    }
    db.commit().unwrap();
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn push(url: &str, name: &str, rows: u64) -> serde_json::Value {
    let path = scratch();
    let db = replica(&path);
    let transport = HttpTransport::new(url, name);
    let started = Instant::now();
    insert_rows(&db, 1, rows);
    let fill = started.elapsed();
    let started = Instant::now();
    let (pushed, requests, split) = push_all(&db, &transport);
    let total = started.elapsed();
    assert_eq!(pushed as u64, rows, "every row pushed");
    let _ = std::fs::remove_file(&path);
    json!({
        "rows": rows, "batch": MAX_PUSH_MUTATIONS, "requests": requests,
        "seconds": secs(total), "rowsPerSec": rows as f64 / secs(total),
        "fillOutboxSeconds": secs(fill),
        "split": split,
    })
}

/// Pushes the whole outbox; returns the mutations pushed, the requests and the phase split.
fn push_all(db: &Database, transport: &HttpTransport) -> (usize, usize, serde_json::Value) {
    let (mut build, mut http, mut apply) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut pushed, mut requests) = (0, 0);
    loop {
        let t = Instant::now();
        let Some(request) = db.push_request(MAX_PUSH_MUTATIONS).unwrap() else { break };
        build += t.elapsed();
        let t = Instant::now();
        let response = block_on(transport.push(&request)).unwrap();
        http += t.elapsed();
        let t = Instant::now();
        let outcome = db.apply_push_response(&request, &response).unwrap();
        assert!(outcome.rejected.is_empty(), "the primary refused a write: {:?}", outcome.rejected.first());
        pushed += outcome.pushed;
        apply += t.elapsed();
        requests += 1;
    }
    let split = json!({ "buildRequest": secs(build), "httpAndPrimary": secs(http), "applyResponse": secs(apply) });
    (pushed, requests, split)
}

fn pull(url: &str, name: &str, expected: u64) -> serde_json::Value {
    let path = scratch();
    let db = replica(&path);
    let transport = HttpTransport::new(url, name);
    let report = pull_all(&db, &transport, expected);
    let _ = std::fs::remove_file(&path);
    report
}

/// Times `db`, an empty replica, pulling everything; checks it then holds `expected` items.
fn pull_all(db: &Database, transport: &HttpTransport, expected: u64) -> serde_json::Value {
    let (mut build, mut http, mut apply) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut pulled, mut requests) = (0, 0);
    let started = Instant::now();
    loop {
        let t = Instant::now();
        let request = db.pull_request(0).unwrap();
        build += t.elapsed();
        let t = Instant::now();
        let response = block_on(transport.pull(&request)).unwrap();
        http += t.elapsed();
        let t = Instant::now();
        let outcome = db.apply_pull_response(&request, &response).unwrap();
        apply += t.elapsed();
        pulled += outcome.pulled;
        requests += 1;
        if !outcome.more && !outcome.stale {
            break;
        }
    }
    let total = started.elapsed();
    let count = db.query("SELECT count(*) AS n FROM items", &Params::None).unwrap().rows[0][0].clone();
    assert_eq!(count, Value::Integer(expected as i64), "the replica has every row");
    json!({
        "rows": pulled, "requests": requests, "seconds": secs(total), "rowsPerSec": pulled as f64 / secs(total),
        "split": { "buildRequest": secs(build), "httpPrimaryAndJson": secs(http), "apply": secs(apply) },
    })
}

fn percentiles(mut samples: Vec<f64>) -> serde_json::Value {
    samples.sort_by(f64::total_cmp);
    let at = |p: f64| {
        if samples.is_empty() {
            return f64::NAN;
        }
        let i = ((p / 100.0) * samples.len() as f64).ceil() as usize;
        samples[i.clamp(1, samples.len()) - 1]
    };
    json!({ "p50": at(50.0), "p99": at(99.0), "max": at(100.0), "n": samples.len() })
}

/// A writes and pushes; B holds a live pull (long poll) open and reports when the row is queryable.
fn visible(url: &str, name: &str, samples: usize) -> serde_json::Value {
    let (path_a, path_b) = (scratch(), scratch());
    let a = replica(&path_a);
    let ta = HttpTransport::new(url, name);
    block_on(outpost::sync::sync(&a, &ta)).unwrap();
    let written: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::default();
    let seen: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicBool::new(false));
    let reader = {
        let (url, name, seen, stop, ready, path_b) =
            (url.to_owned(), name.to_owned(), seen.clone(), stop.clone(), ready.clone(), path_b.clone());
        std::thread::spawn(move || {
            let b = replica(&path_b);
            let tb = HttpTransport::new(&url, &name);
            block_on(outpost::sync::sync(&b, &tb)).unwrap();
            ready.store(true, Ordering::SeqCst);
            let mut last = 0i64;
            while !stop.load(Ordering::SeqCst) {
                let request = b.pull_request(2_000).unwrap();
                let response = block_on(tb.pull(&request)).unwrap();
                b.apply_pull_response(&request, &response).unwrap();
                let max = b.query("SELECT coalesce(max(id), 0) FROM items", &Params::None).unwrap().rows[0][0].clone();
                let now = Instant::now();
                if let Value::Integer(max) = max {
                    let mut seen = seen.lock().unwrap();
                    for id in last + 1..=max {
                        seen.push((id, now));
                    }
                    last = last.max(max);
                }
            }
        })
    };
    while !ready.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    for i in 0..samples {
        let id = i as i64 + 1;
        let t = Instant::now();
        a.execute(INSERT, &row(id)).unwrap();
        written.lock().unwrap().push((id, t));
        let request = a.push_request(MAX_PUSH_MUTATIONS).unwrap().unwrap();
        let response = block_on(ta.push(&request)).unwrap();
        a.apply_push_response(&request, &response).unwrap();
        // Wait until B saw it (bounded), then pause a little so B's next long poll is open.
        let deadline = Instant::now() + Duration::from_secs(5);
        while seen.lock().unwrap().last().map(|s| s.0) != Some(id) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_millis(5 + (i % 7) as u64));
    }
    stop.store(true, Ordering::SeqCst);
    // One more write wakes B's long poll so the thread can end.
    a.execute(INSERT, &row(samples as i64 + 1)).unwrap();
    block_on(outpost::sync::sync(&a, &ta)).unwrap();
    reader.join().unwrap();
    let seen = seen.lock().unwrap();
    let latencies: Vec<f64> = written
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(id, t)| seen.iter().find(|s| s.0 == *id).map(|s| s.1.duration_since(*t).as_secs_f64() * 1000.0))
        .collect();
    let _ = std::fs::remove_file(&path_a);
    let _ = std::fs::remove_file(&path_b);
    json!({ "samples": samples, "seen": latencies.len(), "ms": percentiles(latencies) })
}

/// CLIENTS replicas of one database, each in its own thread: insert ROWS_PER_PUSH rows, push them
/// (one request), pull once (one request, at most 5,000 changes), repeat for SECONDS.
fn concurrent(url: &str, name: &str, clients: usize, seconds: u64, rows_per_push: u64) -> serde_json::Value {
    run_clients(url, name, clients, seconds, rows_per_push, replica_client)
}

/// One client of [`concurrent`]: a replica that inserts, pushes and pulls until `deadline`.
fn replica_client(c: usize, url: &str, name: &str, deadline: Instant, rows_per_push: u64) -> ClientTally {
    let path = scratch();
    let db = replica(&path);
    let transport = HttpTransport::new(url, name);
    let (mut push_ms, mut pull_ms) = (Vec::new(), Vec::new());
    let (mut pushed, mut pulled) = (0u64, 0u64);
    let mut next = c as i64 * 1_000_000_000 + 1;
    while Instant::now() < deadline {
        insert_rows(&db, next, rows_per_push);
        next += rows_per_push as i64;
        let t = Instant::now();
        let request = db.push_request(MAX_PUSH_MUTATIONS).unwrap().unwrap();
        let response = block_on(transport.push(&request)).unwrap();
        pushed += db.apply_push_response(&request, &response).unwrap().pushed as u64;
        push_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let request = db.pull_request(0).unwrap();
        let response = block_on(transport.pull(&request)).unwrap();
        pulled += db.apply_pull_response(&request, &response).unwrap().pulled as u64;
        pull_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = std::fs::remove_file(&path);
    (pushed, pulled, push_ms, pull_ms)
}

/// What each client thread of a concurrent run returns: mutations pushed, rows pulled, and the
/// duration of each push and of each pull in ms.
pub type ClientTally = (u64, u64, Vec<f64>, Vec<f64>);

/// CLIENTS threads running `client` for SECONDS against database `name`, then their figures.
pub fn run_clients(
    url: &str,
    name: &str,
    clients: usize,
    seconds: u64,
    rows_per_push: u64,
    client: fn(usize, &str, &str, Instant, u64) -> ClientTally,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (url, name) = (url.to_owned(), name.to_owned());
            std::thread::spawn(move || client(c, &url, &name, deadline, rows_per_push))
        })
        .collect();
    clients_report(handles, started, rows_per_push)
}

/// The figures of a concurrent run, from its client threads.
fn clients_report(
    handles: Vec<std::thread::JoinHandle<ClientTally>>,
    started: Instant,
    rows_per_push: u64,
) -> serde_json::Value {
    let clients = handles.len();
    let (mut pushed, mut pulled, mut push_ms, mut pull_ms) = (0, 0, Vec::new(), Vec::new());
    for h in handles {
        let (a, b, c, d) = h.join().unwrap();
        pushed += a;
        pulled += b;
        push_ms.extend(c);
        pull_ms.extend(d);
    }
    let elapsed = secs(started.elapsed());
    let mut all = push_ms.clone();
    all.extend(pull_ms.iter());
    json!({
        "clients": clients, "seconds": elapsed, "rowsPerPush": rows_per_push,
        "mutationsPerSec": pushed as f64 / elapsed, "pulledRowsPerSec": pulled as f64 / elapsed,
        "requestsPerSec": all.len() as f64 / elapsed,
        "pushMs": percentiles(push_ms), "pullMs": percentiles(pull_ms), "requestMs": percentiles(all),
    })
}
