//! Waking long polls on commits made by any primary (or any other software) on the same Postgres:
//! one connection LISTENs on the channel the capture triggers notify, and bumps the signal of the
//! database named in each payload. Postgres delivers a NOTIFY only when its transaction commits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio_postgres::{AsyncMessage, NoTls};

use super::capture::CHANNEL;

/// Each database's signal, by database name; shared with the store, which adds to it on open.
pub type Signals = Arc<Mutex<HashMap<String, watch::Sender<i64>>>>;

/// How long to wait before reconnecting after the listening connection failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Listen until the task is aborted, reconnecting after failures. While disconnected, long polls
/// still look again on their own timer; after a reconnect every database is bumped, since a
/// notification may have been missed.
pub async fn listen_forever(url: String, signals: Signals) {
    loop {
        if let Err(err) = listen_once(&url, &signals).await {
            tracing::warn!("postgres LISTEN connection failed: {err}; reconnecting");
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

async fn listen_once(url: &str, signals: &Signals) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await?;
    let (sender, mut notifications) = mpsc::unbounded_channel();
    // The connection must be polled for the LISTEN below to complete and for messages to arrive.
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if sender.send(n.payload().to_owned()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    });
    let listening = client.batch_execute(&format!("LISTEN {CHANNEL}")).await;
    if listening.is_ok() {
        bump_all(signals);
        while let Some(database) = notifications.recv().await {
            bump(signals, &database);
        }
    }
    drop(client);
    let ended = driver.await.unwrap_or(Ok(()));
    listening.and(ended)
}

fn bump(signals: &Signals, database: &str) {
    let signals = signals.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(signal) = signals.get(database) {
        signal.send_modify(|n| *n += 1);
    }
}

fn bump_all(signals: &Signals) {
    let signals = signals.lock().unwrap_or_else(|p| p.into_inner());
    for signal in signals.values() {
        signal.send_modify(|n| *n += 1);
    }
}
