//! The `outpost-primary` command: `serve` runs the primary, `token` mints a bearer token.
//! `serve` prints `listening on http://ADDR` once bound; tests and the demo parse that line.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use outpost_primary::store::StoreError;
use outpost_primary::{
    mint_token_with, run, serve as serve_with, Auth, Config, PostgresStore, Rules, ServeError,
    SqliteStore,
};

#[derive(Parser)]
#[command(version, about = "The reference primary server of Outpost")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the sync API (and optionally a static folder).
    Serve(ServeArgs),
    /// Print an HS256 bearer token for one database.
    Token(TokenArgs),
}

#[derive(Args)]
struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Folder of the SQLite files, one per database.
    #[arg(long, default_value = "./data")]
    data: PathBuf,
    /// Keep everything in PostgreSQL instead (postgres://user@host:port/dbname): any number of
    /// primaries may share it. See docs/POSTGRES.md.
    #[arg(long, value_name = "URL", conflicts_with = "data")]
    store: Option<String>,
    /// The schema as migrations, applied in order to every database, existing ones included: a
    /// folder of `.sql` files (one migration each, in name order), or one file whose lines
    /// `-- outpost:migration NAME` start each migration (a file without them is migration 1).
    /// Its tables are the synced tables.
    #[arg(long)]
    schema: PathBuf,
    /// Folder served at `/`.
    #[arg(long = "static")]
    static_dir: Option<PathBuf>,
    /// Name of the environment variable holding the token secret.
    #[arg(long, conflicts_with = "no_auth")]
    secret_env: Option<String>,
    /// Accept requests without tokens (development only).
    #[arg(long)]
    no_auth: bool,
    /// Serve only these databases (comma-separated); otherwise any valid name is created on use.
    #[arg(long, value_delimiter = ',')]
    databases: Option<Vec<String>>,
    /// Sync rules: which rows each token reads and which writes it may make, as SQL predicates
    /// over the row and the token's claims (docs/RULES.md). Needs --secret-env.
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
}

#[derive(Args)]
struct TokenArgs {
    /// Name of the environment variable holding the token secret.
    #[arg(long)]
    secret_env: String,
    /// Who the token is for.
    #[arg(long)]
    sub: String,
    /// The database the token opens.
    #[arg(long)]
    db: String,
    #[arg(long, default_value_t = 86_400)]
    ttl_secs: u64,
    /// An extra claim for sync rules, NAME=VALUE (repeatable): VALUE is read as JSON when it is
    /// a number, true, false, null, an array or an object, and as text otherwise.
    #[arg(long = "claim", value_name = "NAME=VALUE", value_parser = parse_claim)]
    claims: Vec<(String, serde_json::Value)>,
}

fn parse_claim(text: &str) -> Result<(String, serde_json::Value), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected NAME=VALUE"))?;
    if name.is_empty() || ["sub", "db", "exp"].contains(&name) {
        return Err(format!(
            "{name:?}: give a claim name other than sub, db and exp (those have their own options)"
        ));
    }
    let value = match serde_json::from_str::<serde_json::Value>(value) {
        Ok(json) if !json.is_string() => json,
        _ => serde_json::Value::String(value.to_owned()),
    };
    Ok((name.to_owned(), value))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let outcome = match Cli::parse().command {
        Command::Serve(args) => serve(args),
        Command::Token(args) => secret(&args.secret_env).map(|secret| {
            let ttl = Duration::from_secs(args.ttl_secs);
            let extra = args.claims.into_iter().collect();
            println!(
                "{}",
                mint_token_with(&secret, &args.sub, &args.db, ttl, extra)
            );
        }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("outpost-primary: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Why a command could not start or stopped; printed as one line before exiting with failure.
#[derive(Debug)]
enum CliError {
    /// The environment variable meant to hold the token secret is not set.
    SecretUnset { variable: String },
    /// The secret is too short to sign tokens safely.
    SecretTooShort { variable: String },
    /// Neither or both of `--secret-env` and `--no-auth`: the choice must be explicit.
    AuthChoice,
    /// `--rules` with `--no-auth`: rules read the verified token's claims.
    RulesWithoutAuth,
    /// The rules file cannot be used; the message names the line and why.
    Rules(String),
    /// A name given to `--databases` could never be served.
    BadDatabaseName(String),
    /// `--store` is not a Postgres URL.
    NotPostgres(String),
    /// A file or socket the command needs; `what` says which.
    Io {
        what: String,
        source: std::io::Error,
    },
    /// The store cannot serve the schema, or its database cannot be reached.
    Store(StoreError),
    /// The server stopped with an error.
    Serve(ServeError),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::SecretUnset { variable } => write!(f, "${variable} is not set"),
            CliError::SecretTooShort { variable } => {
                write!(
                    f,
                    "the secret in ${variable} must be at least {MIN_SECRET_BYTES} bytes"
                )
            }
            CliError::AuthChoice => write!(
                f,
                "give exactly one of --secret-env VAR (tokens required) or --no-auth \
                 (anyone may read and write every database)"
            ),
            CliError::RulesWithoutAuth => write!(
                f,
                "--rules needs --secret-env: the rules read the claims of each request's verified \
                 token, and --no-auth has none"
            ),
            CliError::Rules(message) => write!(f, "--rules {message}"),
            CliError::BadDatabaseName(name) => {
                write!(f, "--databases: {name:?} is not a valid database name")
            }
            CliError::NotPostgres(url) => write!(f, "--store {url}: expected a postgres:// URL"),
            CliError::Io { what, source } => write!(f, "{what}: {source}"),
            CliError::Store(err) => write!(f, "{err}"),
            CliError::Serve(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Io { source, .. } => Some(source),
            CliError::Store(err) => Some(err),
            CliError::Serve(err) => Some(err),
            _ => None,
        }
    }
}

impl CliError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let what = what.into();
        move |source| CliError::Io { what, source }
    }
}

/// HS256 with a shorter key is guessable offline from any token it signed.
const MIN_SECRET_BYTES: usize = 16;

fn secret(variable: &str) -> Result<Vec<u8>, CliError> {
    match std::env::var(variable) {
        Ok(value) if value.len() >= MIN_SECRET_BYTES => Ok(value.into_bytes()),
        Ok(_) => Err(CliError::SecretTooShort {
            variable: variable.to_owned(),
        }),
        Err(_) => Err(CliError::SecretUnset {
            variable: variable.to_owned(),
        }),
    }
}

fn serve(args: ServeArgs) -> Result<(), CliError> {
    let auth = match (&args.secret_env, args.no_auth) {
        (Some(variable), false) => Auth::Secret(secret(variable)?),
        (None, true) => Auth::None,
        _ => return Err(CliError::AuthChoice),
    };
    if let Some(bad) = args
        .databases
        .iter()
        .flatten()
        .find(|d| !outpost::protocol::is_valid_database_name(d))
    {
        return Err(CliError::BadDatabaseName(bad.clone()));
    }
    let schema_sql = outpost_primary::store::read_schema(&args.schema).map_err(CliError::io(
        format!("cannot read schema {}", args.schema.display()),
    ))?;
    let rules = match &args.rules {
        None => None,
        Some(_) if args.no_auth => return Err(CliError::RulesWithoutAuth),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(CliError::io(format!(
                "cannot read rules {}",
                path.display()
            )))?;
            Some(Rules::parse(&text, &path.display().to_string()).map_err(CliError::Rules)?)
        }
    };
    if let Some(url) = &args.store {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(CliError::NotPostgres(url.clone()));
        }
    } else {
        // Refuse a bad schema or rules before listening, so nothing half-starts.
        let store = SqliteStore::new(&args.data, schema_sql.clone()).map_err(CliError::Store)?;
        if let Some(rules) = &rules {
            store.with_rules(rules.clone()).map_err(CliError::Store)?;
        }
    }
    // `/query` could read other databases' schemas in Postgres: only where no token guards them.
    let allow_queries = args.no_auth;
    let config = Config {
        data_dir: args.data,
        schema_sql,
        static_dir: args.static_dir,
        auth,
        databases: args.databases,
        rules,
    };
    let runtime =
        tokio::runtime::Runtime::new().map_err(CliError::io("cannot start the runtime"))?;
    runtime.block_on(async move {
        // Connecting checks the schema against Postgres before we listen.
        let postgres = match &args.store {
            Some(url) => {
                let store = PostgresStore::connect(url, config.schema_sql.clone())
                    .await
                    .map_err(CliError::Store)?
                    .allow_queries(allow_queries);
                Some(match config.rules.clone() {
                    Some(rules) => store.with_rules(rules).await.map_err(CliError::Store)?,
                    None => store,
                })
            }
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(CliError::io(format!("cannot listen on {}", args.listen)))?;
        let address = listener
            .local_addr()
            .map_err(CliError::io("cannot read the bound address"))?;
        println!("listening on http://{address}");
        tracing::info!(%address, "serving");
        let served = match postgres {
            Some(store) => serve_with(listener, store, config, stop_signal()).await,
            None => run(listener, config, stop_signal()).await,
        };
        served.map_err(CliError::Serve)
    })
}

/// Ctrl-C, or SIGTERM from a service manager: both shut down gracefully.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
