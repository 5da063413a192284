//! The JS-facing side: the `Database` class, value conversion, `fetch`, OPFS set-up.
//! Only this module uses wasm-bindgen; the core knows nothing of JS.

mod convert;
mod database;
mod error;
mod local_writes;
#[cfg(target_feature = "bulk-memory")]
mod memory;
mod opfs;
mod subset;
mod transaction;
mod transport;

pub use database::JsDatabase;
