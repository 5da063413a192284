//! The sync calls apps make, interleaved as a real app's background loop and its explicit calls
//! interleave them. Besides whole syncs, pushes and pulls are split into their three parts
//! (request, transport, apply), and answers wait in a per-replica list to be applied later, in
//! any order, after other answers and whole syncs: a late push answer overlapped by a pull that
//! already holds its result, a pull read before a push landed and applied after its answer, a
//! page of a pull staged while the app writes and pushes. Every rejection any of them reports
//! goes to the ledger.

use outpost::protocol::{PullRequest, MAX_PUSH_MUTATIONS};
use outpost::sync::{PullOutcome, RejectedMutation, Transport};
use outpost_tests::{block_on, Faults};

use crate::ledger::token_of;
use crate::sim::{tracing, transient, Answer, InFlight, Sim, DATABASE};

impl Sim {
    /// The most mutations the next push may carry: mostly a few, as an app that pushes in
    /// small batches (`push_request(max)`); `sync` pushes as many as it can.
    fn push_max(&mut self, choices: [usize; 4]) -> usize {
        choices[self.rng.below(choices.len())]
    }

    /// Replica `r` was told these writes were rejected.
    pub fn took_rejections(&mut self, r: usize, rejected: &[RejectedMutation]) {
        for mutation in rejected {
            let code = self.ledger.reported(r, mutation);
            self.counts.bump(&format!("rejected {code}"));
        }
    }

    /// A whole sync, as `db.sync()` runs it. A sync that fails midway returns no report: the
    /// rejections it had settled come with the next sync's.
    pub fn sync(&mut self, r: usize) {
        self.counts.bump("syncs");
        let listed_before = self.db(r).rejected_writes(0).unwrap().count;
        match self.replicas[r].sync(&self.network) {
            Ok(report) => self.took_rejections(r, &report.rejected),
            Err(e) if transient(&e) => {
                self.counts.bump("syncs failed (offline)");
                if self.db(r).rejected_writes(0).unwrap().count > listed_before {
                    self.counts
                        .bump("syncs failed after setting refusals aside (reported next time)");
                }
            }
            Err(e) => {
                if tracing() {
                    self.diagnose_sync(r);
                }
                panic!("step {}: replica {r}: sync: {e}", self.step)
            }
        }
        self.settled[r] += 1;
    }

    /// The calls of a sync one by one, each request and answer shown, to see which one fails.
    fn diagnose_sync(&self, r: usize) {
        let db = self.db(r);
        println!("outbox of replica {r}:");
        for row in self.replicas[r]
            .rows("SELECT seq, tbl, op, key, columns, acked_version FROM _outpost_outbox")
        {
            println!("  {row:?}");
        }
        println!(
            "items of replica {r}: {:?}",
            self.replicas[r]
                .rows("SELECT id, list, position, tok FROM items ORDER BY list, position")
        );
        println!(
            "items of the primary: {:?}",
            self.primary.rows(
                DATABASE,
                "SELECT id, list, position, tok FROM items ORDER BY list, position"
            )
        );
        self.network.set_faults(Faults::NONE);
        while let Some(request) = db.push_request(1000).unwrap() {
            println!("push {request:?}");
            let response = block_on(self.network.push(&request));
            println!("  answer {response:?}");
            let applied = db.apply_push_response(&request, &response.unwrap());
            println!("  applied {applied:?}");
            if applied.is_err() {
                return;
            }
        }
        loop {
            let request = db.pull_request(0).unwrap();
            println!("pull {request:?}");
            let response = block_on(self.network.pull(&request)).unwrap();
            println!("  answer {response:?}");
            let applied = db.apply_pull_response(&request, &response);
            println!("  applied {applied:?}");
            match applied {
                Ok(outcome) if outcome.more || outcome.stale => {}
                _ => return,
            }
        }
    }

    /// Rejections listed by `rejected_writes()` that no report carried: a failed sync's, when
    /// the replica dies before the next one.
    pub fn take_listed_only(&mut self, r: usize) {
        let listed = self.db(r).rejected_writes(usize::MAX).unwrap().writes;
        let unreported: Vec<RejectedMutation> = listed
            .into_iter()
            .map(|w| w.mutation)
            .filter(|m| token_of(m).is_some_and(|t| !self.ledger.was_reported(r, t)))
            .collect();
        for mutation in &unreported {
            self.counts
                .bump("rejections only listed (their sync failed, then the replica died)");
            self.ledger.reported(r, mutation);
        }
    }

    /// A push sent now, its answer applied later (or never, if the replica dies first).
    pub fn start_push(&mut self, r: usize) {
        let max = self.push_max([1, 2, 3, MAX_PUSH_MUTATIONS]);
        let Some(request) = self.db(r).push_request(max).unwrap() else {
            return;
        };
        match block_on(self.network.push(&request)) {
            Ok(response) => self.in_flight[r].push(InFlight {
                answer: Answer::Push(request, response),
                arrived_at: self.settled[r],
            }),
            Err(e) if transient(&e) => self.counts.bump("pushes lost"),
            Err(e) => panic!("step {}: replica {r}: push: {e}", self.step),
        }
    }

    /// A pull sent now, maybe of a small page, its answer applied later.
    pub fn start_pull(&mut self, r: usize) {
        let request = self.pull_request(r);
        match block_on(self.network.pull(&request)) {
            Ok(response) => self.in_flight[r].push(InFlight {
                answer: Answer::Pull(request, response),
                arrived_at: self.settled[r],
            }),
            Err(e) if transient(&e) => self.counts.bump("pulls lost"),
            Err(e) => panic!("step {}: replica {r}: pull: {e}", self.step),
        }
    }

    /// Half the pulls ask for a few changes only, so pulls span pages and get staged.
    fn pull_request(&mut self, r: usize) -> PullRequest {
        let request = self.db(r).pull_request(0).unwrap();
        match self.rng.chance(0.5) {
            true => PullRequest {
                limit: Some(1 + self.rng.below(4) as u32),
                ..request
            },
            false => request,
        }
    }

    /// One answer waiting for this replica, picked at random, applied now.
    pub fn apply_in_flight(&mut self, r: usize) {
        if self.in_flight[r].is_empty() {
            return;
        }
        let at = self.rng.below(self.in_flight[r].len());
        let InFlight { answer, arrived_at } = self.in_flight[r].swap_remove(at);
        let late = arrived_at < self.settled[r];
        match answer {
            Answer::Push(request, response) => {
                let outcome = self
                    .db(r)
                    .apply_push_response(&request, &response)
                    .unwrap_or_else(|e| {
                        panic!("step {}: replica {r}: a push answer: {e}", self.step)
                    });
                self.counts.bump("push answers applied");
                if late {
                    self.counts.bump("push answers applied late");
                }
                if outcome.superseded {
                    self.counts.bump("push answers superseded (discarded)");
                }
                self.took_rejections(r, &outcome.rejected);
            }
            Answer::Pull(request, response) => {
                let outcome = self
                    .db(r)
                    .apply_pull_response(&request, &response)
                    .unwrap_or_else(|e| {
                        panic!("step {}: replica {r}: a pull answer: {e}", self.step)
                    });
                self.counted_pull(late, &outcome);
                self.took_rejections(r, &outcome.rejected);
            }
        }
        self.settled[r] += 1;
    }

    fn counted_pull(&mut self, late: bool, outcome: &PullOutcome) {
        self.counts.bump("pull answers applied");
        if late {
            self.counts.bump("pull answers applied late");
        }
        if outcome.stale {
            self.counts.bump("pull answers stale (discarded)");
        } else if outcome.reset {
            self.counts.bump("pulls that found histories parted");
        } else if outcome.more {
            self.counts.bump("pull pages staged");
        }
    }

    /// One page pulled and applied at once: a pull that continues between local writes.
    pub fn pull_page_now(&mut self, r: usize) {
        let request = PullRequest {
            limit: Some(1 + self.rng.below(3) as u32),
            ..self.db(r).pull_request(0).unwrap()
        };
        match block_on(self.network.pull(&request)) {
            Ok(response) => {
                let outcome = self
                    .db(r)
                    .apply_pull_response(&request, &response)
                    .unwrap_or_else(|e| panic!("step {}: replica {r}: a page: {e}", self.step));
                self.counted_pull(false, &outcome);
                self.took_rejections(r, &outcome.rejected);
                self.settled[r] += 1;
            }
            Err(e) if transient(&e) => self.counts.bump("pulls lost"),
            Err(e) => panic!("step {}: replica {r}: pull: {e}", self.step),
        }
    }

    /// The outbox pushed in batches of a few mutations, each answer applied at once.
    pub fn push_in_batches(&mut self, r: usize) {
        let max = self.push_max([1, 2, 3, 3]);
        for _ in 0..20 {
            let Some(request) = self.db(r).push_request(max).unwrap() else {
                return;
            };
            let response = match block_on(self.network.push(&request)) {
                Ok(response) => response,
                Err(e) if transient(&e) => return self.counts.bump("pushes lost"),
                Err(e) => panic!("step {}: replica {r}: push: {e}", self.step),
            };
            let outcome = self
                .db(r)
                .apply_push_response(&request, &response)
                .unwrap_or_else(|e| panic!("step {}: replica {r}: a push answer: {e}", self.step));
            self.counts.bump("push batches");
            self.took_rejections(r, &outcome.rejected);
            self.settled[r] += 1;
            if response.diverged || response.reset {
                return;
            }
        }
    }
}
