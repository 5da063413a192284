//! The app's own transactions: a few writes that commit together, roll back together, or die
//! with the process before either. Only committed writes are made; the others must reach
//! nobody. While one is open, sync refuses (`TRANSACTION_OPEN`) without touching anything, and
//! a transaction statement sent as a statement is refused (`TRANSACTION_STATEMENT`).

use outpost::protocol::{PullRequest, PullResponse, PushRequest, PushResponse};
use outpost::sync::{sync, Transport};
use outpost::{Error, Params, Result};
use outpost_tests::block_on;

use crate::app::{refused_locally, run, Stmt, Written};
use crate::sim::{Answer, Sim};

/// A transport no call may reach: sync must refuse before it sends anything.
struct Unreachable;

impl Transport for Unreachable {
    async fn push(&self, _: &PushRequest) -> Result<PushResponse> {
        panic!("sync pushed while the app's transaction was open")
    }

    async fn pull(&self, _: &PullRequest) -> Result<PullResponse> {
        panic!("sync pulled while the app's transaction was open")
    }
}

/// How a transaction ends.
enum End {
    Commit,
    Rollback,
    /// The process dies with the transaction open.
    Crash,
}

impl Sim {
    pub fn transaction(&mut self, r: usize) {
        match self.rng.chance(0.5) {
            true => self.open_transaction(r),
            false => self.closure_transaction(r),
        }
    }

    /// `begin`, writes that read what the transaction wrote so far, sync attempts, an end.
    fn open_transaction(&mut self, r: usize) {
        self.db(r).begin().unwrap();
        let mut written: Vec<Written> = Vec::new();
        let mut failed = false;
        let mut n = 0;
        for _ in 0..2 + self.rng.below(3) {
            let stmts = self.some_write(r, n);
            n += stmts.len().max(1);
            for stmt in &stmts {
                match run(self.db(r), stmt, r, self.step) {
                    Ok(rows) => written.extend(rows),
                    Err(e) if refused_locally(&e) => {
                        self.counts.bump(&format!("refused locally: {}", e.code()));
                        failed = true;
                        break;
                    }
                    Err(e) => panic!("step {}: replica {r}: {}: {e}", self.step, stmt.sql),
                }
            }
            if failed {
                break;
            }
            if self.rng.chance(0.3) {
                self.sync_while_open(r);
            }
        }
        let end = match (failed, self.rng.below(10)) {
            (true, _) | (false, 0..=1) => End::Rollback,
            (false, 2) => End::Crash,
            _ => End::Commit,
        };
        let end = match end {
            End::Commit => match self.db(r).commit() {
                Ok(()) => End::Commit,
                Err(e) => panic!("step {}: replica {r}: commit: {e}", self.step),
            },
            End::Rollback => {
                self.db(r).rollback().unwrap();
                End::Rollback
            }
            End::Crash => {
                self.restart_replica(r);
                End::Crash
            }
        };
        self.ended(end, written);
    }

    /// `Database::transaction` with a closure, which commits on `Ok` and rolls back on `Err`;
    /// the app sometimes gives up on purpose. The statements are chosen before it opens.
    fn closure_transaction(&mut self, r: usize) {
        let mut stmts: Vec<Stmt> = Vec::new();
        for _ in 0..2 + self.rng.below(3) {
            let n = stmts.len();
            stmts.extend(self.some_write(r, n));
        }
        let give_up = self.rng.chance(0.25);
        let mut written = Vec::new();
        let step = self.step;
        let done = self.db(r).transaction(|db| {
            for stmt in &stmts {
                written.extend(run(db, stmt, r, step)?);
            }
            match give_up {
                true => Err(Error::BadParams("the app changed its mind".into())),
                false => Ok(()),
            }
        });
        match done {
            Ok(()) => self.ended(End::Commit, written),
            Err(e) if refused_locally(&e) => {
                self.counts.bump(&format!("refused locally: {}", e.code()));
                self.ended(End::Rollback, written);
            }
            Err(Error::BadParams(_)) if give_up => self.ended(End::Rollback, written),
            Err(e) => panic!("step {}: replica {r}: a transaction: {e}", self.step),
        }
    }

    fn ended(&mut self, end: End, written: Vec<Written>) {
        let name = match end {
            End::Commit => "transactions committed",
            End::Rollback => "transactions rolled back",
            End::Crash => "transactions lost in a crash",
        };
        self.counts.bump(name);
        match end {
            End::Commit => self.made(written),
            End::Rollback | End::Crash => {
                for (token, _) in written {
                    self.ledger.rolled_back(token);
                    self.counts.bump("writes rolled back");
                }
            }
        }
    }

    /// Every sync entry point refuses with `TRANSACTION_OPEN` and leaves everything as it was.
    fn sync_while_open(&mut self, r: usize) {
        let db = self.db(r);
        let before = (db.pending_count().unwrap(), db.cursor().unwrap());
        let refused = |what: &str, result: std::result::Result<(), Error>| match result {
            Err(Error::TransactionOpen) => {}
            other => panic!("replica {r}: {what} in a transaction answered {other:?}"),
        };
        refused("sync", block_on(sync(db, &Unreachable)).map(drop));
        refused("push_request", db.push_request(10).map(drop));
        if let Some(waiting) = self.in_flight[r].first() {
            let applied = match &waiting.answer {
                Answer::Push(request, response) => {
                    db.apply_push_response(request, response).map(drop)
                }
                Answer::Pull(request, response) => {
                    db.apply_pull_response(request, response).map(drop)
                }
            };
            refused("applying an answer", applied);
        }
        let statement = db.execute("COMMIT", &Params::None);
        assert!(
            matches!(statement, Err(Error::TransactionStatement(_))),
            "COMMIT as a statement: {statement:?}"
        );
        assert!(db.in_transaction(), "the transaction is still open");
        let after = (db.pending_count().unwrap(), db.cursor().unwrap());
        assert_eq!(before, after, "a refused sync changed nothing");
        self.counts.bump("syncs refused in a transaction");
    }
}
