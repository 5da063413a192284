//! The read-only connections of one database: pulls and queries take whichever is free, so
//! several run side by side (in WAL mode each reads its own snapshot while the writer commits).
//! One connection made every pull of every client wait in line behind the one before it.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{guard, lock};

pub(super) struct Readers {
    connections: Vec<Mutex<Connection>>,
    /// Where a caller that finds every connection busy waits: turn by turn, so no one of them
    /// gathers every waiter.
    next: AtomicUsize,
}

impl Readers {
    /// One reader per core the machine has, at least two and at most four: a pull is mostly CPU
    /// (reading rows and writing JSON), and every reader keeps its own page cache.
    pub(super) fn open(path: &Path) -> rusqlite::Result<Readers> {
        let count = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
        let connections = (0..count)
            .map(|_| {
                let mut reader = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                guard::reader(&mut reader)?;
                reader.busy_timeout(Duration::from_secs(5))?;
                Ok(Mutex::new(reader))
            })
            .collect::<rusqlite::Result<_>>()?;
        Ok(Readers {
            connections,
            next: AtomicUsize::new(0),
        })
    }

    /// A free reader, or the next one in turn once it is free.
    pub(super) fn take(&self) -> MutexGuard<'_, Connection> {
        for connection in &self.connections {
            match connection.try_lock() {
                Ok(reader) => return reader,
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        lock(&self.connections[turn])
    }
}
