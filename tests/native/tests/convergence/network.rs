//! The replicas' one network: the kit's faulty transport, which with `OUTPOST_SIM_TRACE` set
//! also says what each request asked and what came back, so a failure can be followed.

use std::cell::Cell;

use outpost::protocol::{PullRequest, PullResponse, PushRequest, PushResponse};
use outpost::sync::Transport;
use outpost::{Error, Result};
use outpost_tests::{FaultCounts, Faults, FaultyTransport, HttpTransport};

use crate::sim::tracing;

pub struct Network {
    faulty: FaultyTransport<HttpTransport>,
    /// Requests that failed neither by an injected fault nor because the primary was down:
    /// the run then depends on timing, not only on its seed.
    unexplained: Cell<u64>,
}

impl Network {
    pub fn new(http: HttpTransport, seed: u64, faults: Faults) -> Network {
        Network {
            faulty: FaultyTransport::new(http, seed, faults),
            unexplained: Cell::new(0),
        }
    }

    pub fn tick(&self) {
        self.faulty.tick();
    }

    pub fn set_faults(&self, faults: Faults) {
        self.faulty.set_faults(faults);
    }

    pub fn sever(&self) {
        self.faulty.sever();
    }

    pub fn deliver_all(&self) {
        self.faulty.deliver_all();
    }

    pub fn counts(&self) -> FaultCounts {
        self.faulty.counts()
    }

    pub fn unexplained_failures(&self) -> u64 {
        self.unexplained.get()
    }

    fn note<T>(&self, answer: &Result<T>) {
        if let Err(Error::Offline(why)) = answer {
            // The kit points a stopped primary's transports at port 1.
            if !why.contains("injected fault") && !why.contains("127.0.0.1:1/") {
                self.unexplained.set(self.unexplained.get() + 1);
                println!("a request failed by itself: {why}");
            }
        }
    }
}

impl Transport for Network {
    async fn push(&self, request: &PushRequest) -> Result<PushResponse> {
        let answer = self.faulty.push(request).await;
        self.note(&answer);
        if tracing() {
            let seqs: Vec<String> = request
                .mutations
                .iter()
                .map(|m| {
                    let tok = m
                        .columns
                        .get("tok")
                        .map(|t| format!(" {t:?}"))
                        .unwrap_or_default();
                    format!("{} {:?} {} {:?}{tok}", m.seq, m.op, m.table, m.key)
                })
                .collect();
            let said = match &answer {
                Ok(a) => format!(
                    "acked {} version {} rejected {:?}{}{}",
                    a.acked_through,
                    a.version,
                    a.rejected
                        .iter()
                        .map(|r| (r.seq, &r.code))
                        .collect::<Vec<_>>(),
                    if a.diverged { " DIVERGED" } else { "" },
                    if a.reset { " RESET" } else { "" },
                ),
                Err(e) => format!("{e}"),
            };
            println!(
                "    push {} seqs {seqs:?} last {:?} seen {:?}: {said}",
                request.client_id, request.last_seq, request.acked_seen
            );
        }
        answer
    }

    async fn pull(&self, request: &PullRequest) -> Result<PullResponse> {
        let answer = self.faulty.pull(request).await;
        self.note(&answer);
        if tracing() {
            let said = match &answer {
                Ok(a) => format!(
                    "{} changes, cursor {} more {} acked {:?} rejected {:?}{}",
                    a.changes.len(),
                    a.cursor,
                    a.more,
                    a.acked_through,
                    a.rejected
                        .iter()
                        .map(|r| (r.seq, &r.code))
                        .collect::<Vec<_>>(),
                    if a.reset { " RESET" } else { "" },
                ),
                Err(e) => format!("{e}"),
            };
            println!(
                "    pull {:?} cursor {} limit {:?} pending from {:?}: {said}",
                request.client_id, request.cursor, request.limit, request.pending_from
            );
        }
        answer
    }
}
