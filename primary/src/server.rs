//! The HTTP server: its configuration, the state its handlers share, and `run` / `serve`.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::rules::Rules;
use crate::store::{self, SqliteStore, Store};
use crate::{http, Auth};

/// How `serve` is configured.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the SQLite files live, one `{name}.sqlite3` per database (unused by other stores).
    pub data_dir: PathBuf,
    /// Applied to a database when it is created; its tables are the synced tables.
    pub schema_sql: String,
    /// Served at `/` when set (the demo page).
    pub static_dir: Option<PathBuf>,
    pub auth: Auth,
    /// When set, only these databases exist; others answer `UNKNOWN_DATABASE`.
    pub databases: Option<Vec<String>>,
    /// Sync rules for the embedded store [`run`] opens (`--rules`, docs/RULES.md); another
    /// store given to [`serve`] is given its rules itself.
    pub rules: Option<Rules>,
}

/// What the HTTP handlers share.
pub struct App<S> {
    pub store: S,
    pub auth: Auth,
    pub databases: Option<Vec<String>>,
    pub static_dir: Option<PathBuf>,
    /// Replicas below this schema version are refused with `UPGRADE_REQUIRED` (the schema's
    /// `-- outpost:min-replica-schema` lines).
    pub min_replica_schema: u32,
    /// Becomes true when the server is shutting down, so waiting pulls answer at once.
    pub shutdown: watch::Receiver<bool>,
}

/// Why the server could not start or stopped.
#[derive(Debug)]
pub enum ServeError {
    /// The schema cannot be served (e.g. a table without a primary key), or the data
    /// directory cannot be created.
    Setup(String),
    Io(std::io::Error),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Setup(m) => write!(f, "{m}"),
            ServeError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// Serve `config` with the embedded SQLite store on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let mut store = SqliteStore::new(&config.data_dir, config.schema_sql.clone())
        .map_err(|e| ServeError::Setup(e.to_string()))?;
    if let Some(rules) = config.rules.clone() {
        store = store
            .with_rules(rules)
            .map_err(|e| ServeError::Setup(e.to_string()))?;
    }
    serve(listener, store, config, shutdown).await
}

/// Serve with any store; `config.data_dir` and `config.schema_sql` are the store's business.
pub async fn serve<S: Store>(
    listener: TcpListener,
    store: S,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let min_replica_schema = store::min_replica_schema(&config.schema_sql)
        .map_err(|e| ServeError::Setup(e.to_string()))?;
    let (stop, stopping) = watch::channel(false);
    let app = Arc::new(App {
        store,
        min_replica_schema,
        auth: config.auth,
        databases: config.databases,
        static_dir: config.static_dir,
        shutdown: stopping,
    });
    let stop_on_signal = async move {
        shutdown.await;
        stop.send_replace(true);
    };
    axum::serve(listener, http::router(app))
        .with_graceful_shutdown(stop_on_signal)
        .await
        .map_err(ServeError::Io)
}
