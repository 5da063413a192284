//! Sync: the outbox on the replica, and a sans-IO engine around it. The engine builds requests
//! from the database and applies answers to it; it never owns a socket. Whoever holds a
//! [`Transport`] (fetch in the browser, an HTTP client in native tests) moves the bytes.

mod app_triggers;
mod apply_mode;
mod behind;
pub(crate) mod capture;
pub mod http;
mod local_writes;
mod older_schema;
mod outbox;
mod pull;
mod pulled;
mod rows;
mod settle;
mod skim;
mod stage;
mod subset;

pub(crate) use behind::note_shape;
pub use capture::SyncedTable;
pub use local_writes::{RejectedWrite, WriteList};
pub(crate) use older_schema::set_aside_unfit;
pub use outbox::{PushOutcome, RejectedMutation};
pub use pull::PullOutcome;
pub use rows::upsert_sql;
pub(crate) use settle::last_seq as last_assigned_seq;
pub use subset::{SubsetChoice, TableSubset};

use crate::protocol::{PullRequest, PullResponse, PushRequest, PushResponse, MAX_PUSH_MUTATIONS};
use crate::{Database, Result};

/// Moves protocol messages to the primary and back. Errors are `Error::Offline` when the primary
/// could not be reached, `Error::Primary` when it answered with an error.
#[allow(async_fn_in_trait)] // used on one thread (wasm, tests); no Send bound wanted
pub trait Transport {
    async fn push(&self, request: &PushRequest) -> Result<PushResponse>;
    async fn pull(&self, request: &PullRequest) -> Result<PullResponse>;

    /// The answer to `request` and, where the transport has them, its bytes: a page that is not
    /// the last is then staged as they are, and its changes need not be decoded on arrival
    /// ([`http::decode_pull`]).
    async fn pull_page(&self, request: &PullRequest) -> Result<(PullResponse, Option<Vec<u8>>)> {
        Ok((self.pull(request).await?, None))
    }
}

/// The outcome of [`sync`]: everything pushed, then everything pulled.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SyncReport {
    pub pushed: usize,
    pub pulled: usize,
    pub rejected: Vec<RejectedMutation>,
    pub tables: std::collections::BTreeSet<String>,
    /// The push stopped at a write the primary cannot take yet (see [`PushOutcome::waiting`]).
    pub waiting: Option<crate::protocol::Waiting>,
}

/// Push the whole outbox, then pull until the primary has nothing more. A pull that finds the
/// replica's history and the primary's parted may put writes back in the outbox (`settle.rs`):
/// they are pushed at once, and the pull goes on.
///
/// A sync that fails after it set refused writes aside returns the error, and the next sync of
/// this open reports them (every open lists them in `rejected_writes()`).
pub async fn sync<T: Transport>(db: &Database, transport: &T) -> Result<SyncReport> {
    let mut report = SyncReport {
        rejected: db.take_unreported(),
        ..SyncReport::default()
    };
    match sync_into(db, transport, &mut report).await {
        Ok(()) => Ok(report),
        Err(error) => {
            let mut unreported = db.unreported.lock().unwrap_or_else(|e| e.into_inner());
            unreported.extend(report.rejected);
            Err(error)
        }
    }
}

async fn sync_into<T: Transport>(
    db: &Database,
    transport: &T,
    report: &mut SyncReport,
) -> Result<()> {
    loop {
        while let Some(request) = db.push_request(MAX_PUSH_MUTATIONS)? {
            let response = transport.push(&request).await?;
            let outcome = db.apply_push_response(&request, &response)?;
            report.pushed += outcome.pushed;
            report.rejected.extend(outcome.rejected);
            if outcome.waiting.is_some() {
                report.waiting = outcome.waiting;
                break;
            }
        }
        let mut reset = false;
        loop {
            let request = db.pull_request(0)?;
            let (response, body) = transport.pull_page(&request).await?;
            let outcome = db.apply_pull_page(&request, &response, body.as_deref())?;
            report.pulled += outcome.pulled;
            report.tables.extend(outcome.tables);
            report.rejected.extend(outcome.rejected);
            reset |= outcome.reset;
            if !outcome.more && !outcome.stale {
                break;
            }
        }
        if !reset || report.waiting.is_some() || db.pending_count()? == 0 {
            return Ok(());
        }
    }
}
