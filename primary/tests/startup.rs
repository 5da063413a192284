//! Starting the server: schema checks, the command line, static files and CORS.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::Primary;
use outpost_primary::{run, Auth, Config, ServeError};

const BINARY: &str = env!("CARGO_BIN_EXE_outpost-primary");

fn config(schema: &str, data: &std::path::Path) -> Config {
    Config {
        data_dir: data.to_owned(),
        schema_sql: schema.to_owned(),
        static_dir: None,
        auth: Auth::None,
        databases: None,
    }
}

#[tokio::test]
async fn a_table_without_a_primary_key_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for (schema, named) in [
        (
            "CREATE TABLE ok(id INTEGER PRIMARY KEY); CREATE TABLE events(at TEXT, what TEXT);",
            "events",
        ),
        ("CREATE TABLE prices(amount REAL PRIMARY KEY);", "prices"),
        ("CREATE TABLE broken(", "schema failed"),
    ] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let outcome = run(listener, config(schema, dir.path()), std::future::pending()).await;
        match outcome {
            Err(ServeError::Setup(message)) => assert!(message.contains(named), "{message}"),
            other => panic!("{schema} was accepted: {other:?}"),
        }
    }
}

#[test]
fn the_command_needs_exactly_one_auth_mode() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.sql");
    std::fs::write(&schema, common::SCHEMA).unwrap();
    let serve = |extra: &[&str]| {
        Command::new(BINARY)
            .args(["serve", "--listen", "127.0.0.1:0", "--schema"])
            .arg(&schema)
            .arg("--data")
            .arg(dir.path().join("data"))
            .args(extra)
            .env("TEST_SECRET", "0123456789abcdef0123")
            .output()
            .unwrap()
    };
    let neither = serve(&[]);
    assert!(!neither.status.success());
    assert!(String::from_utf8_lossy(&neither.stderr).contains("exactly one of --secret-env"));
    let both = serve(&["--no-auth", "--secret-env", "TEST_SECRET"]);
    assert!(!both.status.success());

    std::fs::write(&schema, "CREATE TABLE log(line TEXT);").unwrap();
    let bad_schema = serve(&["--no-auth"]);
    assert!(!bad_schema.status.success());
    assert!(String::from_utf8_lossy(&bad_schema.stderr)
        .contains("table log has no declared PRIMARY KEY"));
}

#[test]
fn the_command_prints_its_address_and_accepts_its_own_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.sql");
    std::fs::write(&schema, common::SCHEMA).unwrap();
    let token = Command::new(BINARY)
        .args([
            "token",
            "--secret-env",
            "TEST_SECRET",
            "--sub",
            "alice",
            "--db",
            "app",
        ])
        .env("TEST_SECRET", "0123456789abcdef0123")
        .output()
        .unwrap();
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();

    let mut server = Command::new(BINARY)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--secret-env",
            "TEST_SECRET",
            "--schema",
        ])
        .arg(&schema)
        .arg("--data")
        .arg(dir.path().join("data"))
        .env("TEST_SECRET", "0123456789abcdef0123")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect(&line)
        .to_owned();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let body = r#"{"v":1,"cursor":0,"tables":["todos"]}"#;
    let pull = |token: &str| {
        agent
            .post(format!("{url}/v1/db/app/pull"))
            .header("authorization", format!("Bearer {token}"))
            .send(body)
            .map(|r| r.status().as_u16())
    };
    let (good, bad) = (pull(&token), pull("nonsense"));
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!((good.unwrap(), bad.unwrap()), (200, 401));
}

#[test]
fn static_files_and_cors() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(
        site.path().join("index.html"),
        "<!doctype html><title>demo</title>",
    )
    .unwrap();
    std::fs::write(site.path().join("app.js"), "export {};").unwrap();
    std::fs::write(site.path().join("outpost_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let primary = Primary::start_with(Auth::None, None, Some(site.path().to_owned()));

    for (path, content_type) in [
        ("/", "text/html"),
        ("/app.js", "text/javascript"),
        ("/outpost_bg.wasm", "application/wasm"),
    ] {
        let response = primary.get(path);
        assert_eq!(response.status(), 200, "{path}");
        let got = response.headers()["content-type"].to_str().unwrap();
        assert!(got.starts_with(content_type), "{path}: {got}");
    }
    assert_eq!(primary.get("/missing.js").status(), 404);

    let health = primary.get("/v1/health");
    assert_eq!(health.headers()["access-control-allow-origin"], "*");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .build()
        .into();
    let preflight = agent
        .options(format!("{}/v1/db/app/push", primary.url))
        .header("origin", "http://elsewhere.test")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .call()
        .unwrap();
    assert!(preflight.status().is_success());
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
}
