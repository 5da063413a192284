//! Floors: the same requests as the benchmarks beside them, without the replica's own work, so a
//! figure can be read as a ratio to what the primary and loopback HTTP allow in the same run.
//!
//! - `pull-floor URL DB EXPECTED`: every page of a first pull, decoded but not applied.
//! - `concurrent-floor URL DB CLIENTS SECONDS ROWS_PER_PUSH`: the concurrent benchmark's push and
//!   pull requests, built in memory (no local SQLite), so only the primary and HTTP are measured.

use std::time::Instant;

use outpost::protocol::{Mutation, Op, PullRequest, PushRequest, PROTOCOL_VERSION};
use outpost::sync::Transport;
use outpost::{Row, Value};
use serde_json::json;

use crate::transport::{block_on, HttpTransport};
use crate::{run_clients, secs, ClientTally};

fn first_pull(cursor: i64) -> PullRequest {
    PullRequest {
        v: PROTOCOL_VERSION,
        cursor,
        tables: vec!["items".into()],
        ..PullRequest::default()
    }
}

pub fn pull_floor(url: &str, name: &str, expected: u64) -> serde_json::Value {
    let transport = HttpTransport::new(url, name);
    let (mut rows, mut requests, mut cursor) = (0u64, 0, 0);
    let started = Instant::now();
    loop {
        let response = block_on(transport.pull(&first_pull(cursor))).unwrap();
        rows += response.changes.len() as u64;
        requests += 1;
        cursor = response.cursor;
        if !response.more {
            break;
        }
    }
    let total = started.elapsed();
    assert_eq!(rows, expected, "every row pulled");
    json!({ "rows": rows, "requests": requests, "seconds": secs(total), "rowsPerSec": rows as f64 / secs(total) })
}

fn mutation(seq: i64, id: i64) -> Mutation {
    let mut columns = Row::new();
    columns.insert("id".into(), Value::Integer(id));
    columns.insert("a".into(), Value::Integer(id * 31));
    columns.insert("b".into(), Value::Real(id as f64 * 0.25));
    columns.insert("t".into(), Value::Text(format!("synced row {id} payload")));
    Mutation { seq, table: "items".into(), op: Op::Insert, key: vec![Value::Integer(id)], columns }
}

pub fn concurrent_floor(url: &str, name: &str, clients: usize, seconds: u64, rows_per_push: u64) -> serde_json::Value {
    run_clients(url, name, clients, seconds, rows_per_push, memory_client)
}

/// One client of [`concurrent_floor`]: requests built in memory, answers read but not applied.
fn memory_client(c: usize, url: &str, name: &str, deadline: Instant, rows_per_push: u64) -> ClientTally {
    let transport = HttpTransport::new(url, name);
    let client_id = format!("floor-{}-{c}", std::process::id());
    let (mut push_ms, mut pull_ms) = (Vec::new(), Vec::new());
    let (mut pushed, mut pulled, mut seq, mut cursor) = (0u64, 0u64, 0i64, 0i64);
    let mut next = (c as i64 + 100) * 1_000_000_000 + 1;
    while Instant::now() < deadline {
        let mutations: Vec<Mutation> = (0..rows_per_push as i64).map(|i| mutation(seq + 1 + i, next + i)).collect();
        seq += rows_per_push as i64;
        next += rows_per_push as i64;
        let request = PushRequest {
            v: PROTOCOL_VERSION,
            client_id: client_id.clone(),
            mutations,
            last_seq: Some(seq),
            ..PushRequest::default()
        };
        let t = Instant::now();
        let response = block_on(transport.push(&request)).unwrap();
        assert_eq!(response.acked_through, seq);
        pushed += rows_per_push;
        push_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let response = block_on(transport.pull(&first_pull(cursor))).unwrap();
        pulled += response.changes.len() as u64;
        cursor = response.cursor;
        pull_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    (pushed, pulled, push_ms, pull_ms)
}
