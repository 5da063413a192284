//! OPFS storage through the sync-access-handle pool VFS. Each database name gets its own pool
//! (own directory, own VFS name), so two databases never contend for each other's handles, and a
//! second tab opening the same name fails to take the handles instead of corrupting the file.

use std::cell::RefCell;
use std::collections::HashSet;

use sqlite_wasm_vfs::sahpool::{self, OpfsSAHError, OpfsSAHPoolCfgBuilder, OpfsSAHPoolUtil};

use crate::{Error, Result, Storage};

thread_local! {
    /// Names open in this worker. The browser keeps other tabs out (their access handles are
    /// refused); this keeps a second `open` in the same worker out, for the same clear error.
    static HELD: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

/// An OPFS pool holding one database; paused on close so the handles go back to the browser.
pub(crate) struct OpfsPool {
    name: String,
    util: OpfsSAHPoolUtil,
}

impl OpfsPool {
    pub(crate) async fn take(name: &str) -> Result<(OpfsPool, Storage)> {
        if !HELD.with(|held| held.borrow_mut().insert(name.to_string())) {
            return Err(in_use(name));
        }
        let taken = Self::install(name).await;
        if taken.is_err() {
            HELD.with(|held| held.borrow_mut().remove(name));
        }
        taken
    }

    async fn install(name: &str) -> Result<(OpfsPool, Storage)> {
        let vfs = format!("outpost-{name}");
        let cfg = OpfsSAHPoolCfgBuilder::new()
            .vfs_name(&vfs)
            .directory(&format!(".outpost/{name}"))
            .build();
        let util = sahpool::install::<sqlite_wasm_rs::WasmOsCallback>(&cfg, false)
            .await
            .map_err(|e| opfs_error(name, e))?;
        if util.is_paused() {
            util.resume().await.map_err(|e| opfs_error(name, e))?;
        }
        let storage = Storage::VfsFile {
            vfs,
            path: format!("/{name}.sqlite3"),
        };
        Ok((
            OpfsPool {
                name: name.to_string(),
                util,
            },
            storage,
        ))
    }

    pub(crate) fn release(&self) {
        // Pausing only fails if a file is still open; the connection was closed first.
        let _ = self.util.pause();
        HELD.with(|held| held.borrow_mut().remove(&self.name));
    }
}

fn in_use(name: &str) -> Error {
    Error::DatabaseInUse(format!(
        "database \"{name}\" is open in another tab or worker; close it there first"
    ))
}

fn opfs_error(name: &str, err: OpfsSAHError) -> Error {
    match &err {
        OpfsSAHError::NotSupported => Error::OpfsUnavailable(format!(
            "{err}; open the database in a dedicated worker (the package does this for pages)"
        )),
        OpfsSAHError::Opfs { message, .. }
            if message.contains("NoModificationAllowed") || message.contains("InvalidState") =>
        {
            in_use(name)
        }
        OpfsSAHError::Opfs { message, .. } if message.contains("QuotaExceeded") => {
            Error::StorageFull(message.clone())
        }
        _ => Error::OpfsUnavailable(err.to_string()),
    }
}
