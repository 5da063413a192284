//! A network that misbehaves on purpose, driven by a seeded RNG so a failing run can be replayed:
//! requests lost before the primary sees them, answers lost after it acted, requests delivered
//! twice, and requests held back and delivered later, after newer ones (their answers go nowhere).
//! Every replica's transport is a clone sharing one network, so held requests of one client can
//! land between another's.

use std::cell::RefCell;
use std::rc::Rc;

use outpost::protocol::{PullRequest, PullResponse, PushRequest, PushResponse};
use outpost::sync::Transport;
use outpost::{Error, Result};

use crate::block_on;

/// A small, fast, seedable generator (splitmix64): reproducible without any dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

/// Probabilities, per request, of each fault. They are exclusive: at most one strikes a request.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    pub lose_request: f64,
    pub lose_response: f64,
    pub duplicate: f64,
    pub delay: f64,
}

impl Faults {
    pub const NONE: Faults = Faults {
        lose_request: 0.0,
        lose_response: 0.0,
        duplicate: 0.0,
        delay: 0.0,
    };
}

/// How many of each fault struck.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub lost_requests: u64,
    pub lost_responses: u64,
    pub duplicated: u64,
    pub delayed: u64,
    /// Delayed requests that died with the primary's connections before they were delivered.
    pub severed: u64,
    /// Held requests that reached a running primary later.
    pub delivered_late: u64,
}

/// A push whose answer reached the replica: what it asked and what the primary said.
#[derive(Clone, Debug)]
pub struct ReceivedPush {
    pub request: PushRequest,
    pub response: PushResponse,
}

enum Held {
    Push(PushRequest),
    Pull(PullRequest),
}

enum Fate {
    Deliver,
    LoseRequest,
    LoseResponse,
    Duplicate,
    Delay,
}

struct Network<T> {
    inner: T,
    rng: Rng,
    faults: Faults,
    step: u64,
    /// Requests held back, with the step at which they are delivered.
    held: Vec<(u64, Held)>,
    counts: FaultCounts,
    received: Vec<ReceivedPush>,
}

impl<T> Network<T> {
    fn fate(&mut self) -> Fate {
        let f = self.faults;
        let roll = self.rng.unit();
        let counts = &mut self.counts;
        let mut bound = 0.0;
        for (p, fate, count) in [
            (f.lose_request, Fate::LoseRequest, &mut counts.lost_requests),
            (
                f.lose_response,
                Fate::LoseResponse,
                &mut counts.lost_responses,
            ),
            (f.duplicate, Fate::Duplicate, &mut counts.duplicated),
            (f.delay, Fate::Delay, &mut counts.delayed),
        ] {
            bound += p;
            if roll < bound {
                *count += 1;
                return fate;
            }
        }
        Fate::Deliver
    }

    fn hold(&mut self, message: Held) {
        let at = self.step + 1 + self.rng.below(40) as u64;
        self.held.push((at, message));
    }
}

/// A [`Transport`] that injects [`Faults`] in front of `T`. Clones share one network.
pub struct FaultyTransport<T> {
    network: Rc<RefCell<Network<T>>>,
}

impl<T> Clone for FaultyTransport<T> {
    fn clone(&self) -> Self {
        FaultyTransport {
            network: self.network.clone(),
        }
    }
}

fn lost(what: &str) -> Error {
    Error::Offline(format!("injected fault: {what}"))
}

impl<T: Transport + Clone> FaultyTransport<T> {
    pub fn new(inner: T, seed: u64, faults: Faults) -> Self {
        FaultyTransport {
            network: Rc::new(RefCell::new(Network {
                inner,
                rng: Rng::new(seed),
                faults,
                step: 0,
                held: Vec::new(),
                counts: FaultCounts::default(),
                received: Vec::new(),
            })),
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        self.network.borrow_mut().faults = faults;
    }

    pub fn counts(&self) -> FaultCounts {
        self.network.borrow().counts
    }

    /// The pushes whose answers reached a replica since the last call.
    pub fn take_received(&self) -> Vec<ReceivedPush> {
        std::mem::take(&mut self.network.borrow_mut().received)
    }

    /// Advance time by one step and deliver the held requests that are due.
    pub fn tick(&self) {
        let due = {
            let mut network = self.network.borrow_mut();
            network.step += 1;
            let step = network.step;
            let (due, later) = std::mem::take(&mut network.held)
                .into_iter()
                .partition(|(at, _)| *at <= step);
            network.held = later;
            due
        };
        self.deliver(due);
    }

    /// The primary's process is replaced (a restore from a backup): the connections requests
    /// were held on die with it, and so do those requests. Only a restore needs this: a request
    /// from before it would act on a history the restore took back, where one delivered across
    /// a mere restart finds the history it was sent to.
    pub fn sever(&self) {
        let held = std::mem::take(&mut self.network.borrow_mut().held);
        self.network.borrow_mut().counts.severed += held.len() as u64;
    }

    /// Deliver every held request now (before quiescence checks).
    pub fn deliver_all(&self) {
        let held = std::mem::take(&mut self.network.borrow_mut().held);
        self.deliver(held);
    }

    fn deliver(&self, messages: Vec<(u64, Held)>) {
        let inner = self.network.borrow().inner.clone();
        for (_, message) in messages {
            // The answer goes nowhere: the client gave up on this request long ago.
            let reached = match message {
                Held::Push(request) => block_on(inner.push(&request)).map(drop),
                Held::Pull(request) => block_on(inner.pull(&request)).map(drop),
            };
            match reached {
                Ok(()) => self.network.borrow_mut().counts.delivered_late += 1,
                Err(Error::Offline(_)) => {} // the primary was down: lost after all
                Err(other) => panic!("a late request was refused: {other}"),
            }
        }
    }

    fn begin(&self) -> (Fate, T) {
        let mut network = self.network.borrow_mut();
        (network.fate(), network.inner.clone())
    }
}

impl<T: Transport + Clone> Transport for FaultyTransport<T> {
    async fn push(&self, request: &PushRequest) -> Result<PushResponse> {
        let (fate, inner) = self.begin();
        let answer = match fate {
            Fate::Deliver => inner.push(request).await,
            Fate::LoseRequest => Err(lost("push request lost")),
            Fate::LoseResponse => inner
                .push(request)
                .await
                .and_then(|_| Err(lost("push answer lost"))),
            Fate::Duplicate => match inner.push(request).await {
                Ok(_) => inner.push(request).await,
                Err(e) => Err(e),
            },
            Fate::Delay => {
                self.network.borrow_mut().hold(Held::Push(request.clone()));
                Err(lost("push request delayed"))
            }
        };
        if let Ok(response) = &answer {
            self.network.borrow_mut().received.push(ReceivedPush {
                request: request.clone(),
                response: response.clone(),
            });
        }
        answer
    }

    async fn pull(&self, request: &PullRequest) -> Result<PullResponse> {
        let (fate, inner) = self.begin();
        match fate {
            Fate::Deliver => inner.pull(request).await,
            Fate::LoseRequest => Err(lost("pull request lost")),
            Fate::LoseResponse => inner
                .pull(request)
                .await
                .and_then(|_| Err(lost("pull answer lost"))),
            Fate::Duplicate => match inner.pull(request).await {
                Ok(_) => inner.pull(request).await,
                Err(e) => Err(e),
            },
            Fate::Delay => {
                self.network.borrow_mut().hold(Held::Pull(request.clone()));
                Err(lost("pull request delayed"))
            }
        }
    }
}
