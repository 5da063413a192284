//! Starting the server: the command line (auth mode, schema checks, its own tokens), static
//! files and CORS. What each store refuses at start is in tests/native's store conformance suite.

use std::process::Command;

use outpost_primary::Auth;
use outpost_tests::todos::SCHEMA;
use outpost_tests::{Backend, ServingCommand, TestPrimary};

const BINARY: &str = env!("CARGO_BIN_EXE_outpost-primary");

#[test]
fn the_command_needs_exactly_one_auth_mode() {
    let dir = outpost_tests::scratch_dir();
    let schema = dir.path().join("schema.sql");
    std::fs::write(&schema, SCHEMA).unwrap();
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
    let dir = outpost_tests::scratch_dir();
    let schema = dir.path().join("schema.sql");
    std::fs::write(&schema, SCHEMA).unwrap();
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

    let mut serve = Command::new(BINARY);
    serve
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
        .env("TEST_SECRET", "0123456789abcdef0123");
    let server = ServingCommand::spawn(serve);
    let body = r#"{"v":1,"cursor":0,"tables":["todos"]}"#;
    let app = server.api("app");
    let pull = |token: &str| app.with_token(token).post_raw("pull", body).0;
    assert_eq!((pull(&token), pull("nonsense")), (200, 401));
}

#[test]
fn static_files_and_cors() {
    let site = outpost_tests::scratch_dir();
    std::fs::write(
        site.path().join("index.html"),
        "<!doctype html><title>demo</title>",
    )
    .unwrap();
    std::fs::write(site.path().join("app.js"), "export {};").unwrap();
    std::fs::write(site.path().join("outpost_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let primary = TestPrimary::new(Backend::Sqlite, SCHEMA, Auth::None)
        .with_static_dir(site.path())
        .started();

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
    let preflight = primary.request(
        "OPTIONS",
        "/v1/db/app/push",
        &[
            ("origin", "http://elsewhere.test"),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization, content-type",
            ),
        ],
    );
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
