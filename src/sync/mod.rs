//! Sync: the outbox on the replica, and a sans-IO engine around it. The engine builds requests
//! from the database and applies answers to it; it never owns a socket. Whoever holds a
//! [`Transport`] (fetch in the browser, an HTTP client in native tests) moves the bytes.

pub(crate) mod capture;
pub mod http;
mod local_writes;
mod outbox;
mod pull;
mod rows;

pub use capture::SyncedTable;
pub use local_writes::{RejectedWrite, WriteList};
pub use outbox::{PushOutcome, RejectedMutation};
pub use pull::PullOutcome;
pub use rows::upsert_sql;

use crate::protocol::{PullRequest, PullResponse, PushRequest, PushResponse, MAX_PUSH_MUTATIONS};
use crate::{Database, Result};

/// Moves protocol messages to the primary and back. Errors are `Error::Offline` when the primary
/// could not be reached, `Error::Primary` when it answered with an error.
#[allow(async_fn_in_trait)] // used on one thread (wasm, tests); no Send bound wanted
pub trait Transport {
    async fn push(&self, request: &PushRequest) -> Result<PushResponse>;
    async fn pull(&self, request: &PullRequest) -> Result<PullResponse>;
}

/// The outcome of [`sync`]: everything pushed, then everything pulled.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SyncReport {
    pub pushed: usize,
    pub pulled: usize,
    pub rejected: Vec<RejectedMutation>,
    pub tables: std::collections::BTreeSet<String>,
}

/// Push the whole outbox, then pull until the primary has nothing more.
pub async fn sync<T: Transport>(db: &Database, transport: &T) -> Result<SyncReport> {
    let mut report = SyncReport::default();
    while let Some(request) = db.push_request(MAX_PUSH_MUTATIONS)? {
        let response = transport.push(&request).await?;
        let outcome = db.apply_push_response(&request, &response)?;
        report.pushed += outcome.pushed;
        report.rejected.extend(outcome.rejected);
    }
    loop {
        let request = db.pull_request(0)?;
        let response = transport.pull(&request).await?;
        let outcome = db.apply_pull_response(&request, &response)?;
        report.pulled += outcome.pulled;
        report.tables.extend(outcome.tables);
        if !outcome.more && !outcome.stale {
            return Ok(report);
        }
    }
}
