//! Push and pull throughput of the PostgreSQL store with one and with two `outpost-primary`
//! instances on one Postgres. A benchmark, not a test: it measures and prints, never fails on
//! slowness.
//!
//! ```text
//! cargo run --release -p outpost-primary --example pg_throughput
//! OUTPOST_PG_URL=postgres://postgres@127.0.0.1:5432/postgres cargo run --release ...
//! ```
//! Without `OUTPOST_PG_URL` it starts a throwaway server with scripts/postgres.sh.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use outpost_primary::{serve, Auth, Config, PostgresStore};
use serde_json::{json, Value as Json};

const SCHEMA: &str =
    "CREATE TABLE todos(id text PRIMARY KEY, title text NOT NULL, done integer NOT NULL DEFAULT 0);";
const WRITERS: usize = 4;
const PUSHES_PER_WRITER: usize = 250;
const MUTATIONS_PER_PUSH: usize = 10;
const PULLERS: usize = 4;
const PULLS_PER_PULLER: usize = 100;

fn main() {
    // Held open for the whole run: the throwaway server stops when this process exits.
    let mut _server = None;
    let base = match std::env::var("OUTPOST_PG_URL") {
        Ok(url) => url,
        Err(_) => {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/postgres.sh");
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port()
                .to_string();
            let mut child = Command::new("bash")
                .args([script, "serve", &port])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("scripts/postgres.sh");
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let url = line
                .trim()
                .strip_prefix("ready ")
                .expect("PostgreSQL started")
                .to_owned();
            _server = Some(child);
            url
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "instances | pushes/s | mutations/s | pulls/s (50 changes each) | full catch-up changes/s"
    );
    for instances in [1, 2] {
        let store = fresh_database(&runtime, &base, instances);
        let urls: Vec<String> = (0..instances)
            .map(|_| start_instance(&runtime, &store))
            .collect();
        let (pushes, mutations) = push_throughput(&urls);
        let (pulls, catch_up) = pull_throughput(&urls);
        println!("{instances} | {pushes:.0} | {mutations:.0} | {pulls:.0} | {catch_up:.0}");
    }
}

fn fresh_database(runtime: &tokio::runtime::Runtime, base: &str, n: usize) -> String {
    let name = format!("bench_{}_{n}", std::process::id());
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
    });
    format!("{}/{name}", base.rsplit_once('/').unwrap().0)
}

/// An instance inside this process, on its own port; it runs until the process exits.
fn start_instance(runtime: &tokio::runtime::Runtime, store: &str) -> String {
    let store = runtime
        .block_on(PostgresStore::connect(store, SCHEMA))
        .expect("the Postgres store");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let config = Config {
        data_dir: "unused".into(),
        schema_sql: SCHEMA.into(),
        static_dir: None,
        auth: Auth::None,
        databases: None,
        rules: None,
    };
    runtime.spawn(serve(listener, store, config, std::future::pending()));
    url
}

fn post(agent: &ureq::Agent, url: &str, body: &Json) -> Json {
    agent
        .post(url)
        .send_json(body)
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap()
}

/// Each writer pushes batches of new rows, spreading its pushes over the instances.
fn push_throughput(urls: &[String]) -> (f64, f64) {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            scope.spawn(move || {
                let agent = ureq::Agent::new_with_defaults();
                for p in 0..PUSHES_PER_WRITER {
                    let mutations: Vec<Json> = (0..MUTATIONS_PER_PUSH)
                        .map(|m| {
                            let seq = p * MUTATIONS_PER_PUSH + m + 1;
                            json!({"seq": seq, "table": "todos", "op": "insert",
                                   "key": [format!("w{w}-{seq}")], "columns": {"title": "bench"}})
                        })
                        .collect();
                    let url = format!("{}/v1/db/app/push", urls[(w + p) % urls.len()]);
                    post(
                        &agent,
                        &url,
                        &json!({"v": 1, "clientId": format!("w{w}"), "mutations": mutations}),
                    );
                }
            });
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    let pushes = (WRITERS * PUSHES_PER_WRITER) as f64;
    (
        pushes / seconds,
        pushes * MUTATIONS_PER_PUSH as f64 / seconds,
    )
}

/// Small pulls (a replica catching up on the last 50 changes) from several pullers, then one
/// replica catching up on everything from 0.
fn pull_throughput(urls: &[String]) -> (f64, f64) {
    let total = (WRITERS * PUSHES_PER_WRITER * MUTATIONS_PER_PUSH) as i64;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for p in 0..PULLERS {
            scope.spawn(move || {
                let agent = ureq::Agent::new_with_defaults();
                for i in 0..PULLS_PER_PULLER {
                    let cursor = (p * 997 + i * 131) as i64 % (total - 50);
                    let url = format!("{}/v1/db/app/pull", urls[(p + i) % urls.len()]);
                    let answer = post(
                        &agent,
                        &url,
                        &json!({"v": 1, "cursor": cursor, "tables": ["todos"], "limit": 50}),
                    );
                    assert_eq!(answer["changes"].as_array().unwrap().len(), 50);
                }
            });
        }
    });
    let pulls = (PULLERS * PULLS_PER_PULLER) as f64 / started.elapsed().as_secs_f64();

    let agent = ureq::Agent::new_with_defaults();
    let (mut cursor, mut changes) = (0, 0);
    let started = Instant::now();
    loop {
        let url = format!("{}/v1/db/app/pull", urls[0]);
        let answer = post(
            &agent,
            &url,
            &json!({"v": 1, "cursor": cursor, "tables": ["todos"]}),
        );
        changes += answer["changes"].as_array().unwrap().len();
        cursor = answer["cursor"].as_i64().unwrap();
        if !answer["more"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(changes as i64, total);
    let catch_up = changes as f64
        / started
            .elapsed()
            .max(Duration::from_micros(1))
            .as_secs_f64();
    (pulls, catch_up)
}
