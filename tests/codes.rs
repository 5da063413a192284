//! The error-code registry (`outpost::codes`) is the one list: the TypeScript types, the protocol
//! docs, the core's `Error::code()` and the package's JS all name exactly its codes, and SQLite's
//! result codes keep SQLite's own names.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;
use std::path::Path;

use outpost::codes::{self, Producer, ALL, SQLITE_NAMES};
use outpost::Error;

fn read(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn registered(filter: impl Fn(&codes::Code) -> bool) -> BTreeSet<String> {
    ALL.iter()
        .filter(|c| filter(c))
        .map(|c| c.name.to_owned())
        .collect()
}

/// Every `CODE`-shaped word between backquotes or double quotes in `text`.
fn code_words(text: &str, quote: char) -> BTreeSet<String> {
    text.split(quote)
        .skip(1)
        .step_by(2)
        .filter(|word| {
            word.len() >= 4
                && word.starts_with(|c: char| c.is_ascii_uppercase())
                && word
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

/// The text from the heading line `heading` to the next heading of the same or a higher level.
fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let level = heading.chars().take_while(|&c| c == '#').count();
    let start = doc
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no {heading:?}"))
        + 1;
    let body = &doc[start + heading.len()..];
    let end = body
        .lines()
        .scan(0, |at, line| {
            let here = *at;
            *at += line.len() + 1;
            Some((here, line))
        })
        .find(|(_, line)| {
            let hashes = line.chars().take_while(|&c| c == '#').count();
            hashes > 0 && hashes <= level && line[hashes..].starts_with(' ')
        })
        .map_or(body.len(), |(at, _)| at);
    &body[..end]
}

#[test]
fn the_registry_is_well_formed() {
    let mut seen = BTreeSet::new();
    for code in ALL {
        assert!(seen.insert(code.name), "{} is listed twice", code.name);
        assert!(
            !code.name.starts_with("SQLITE_"),
            "{}: SQLite's codes are named by sqlite_name",
            code.name
        );
        assert!(!code.producers.is_empty(), "{} has no producer", code.name);
        assert!(!code.meaning.is_empty(), "{} has no meaning", code.name);
        assert_eq!(codes::lookup(code.name), Some(code));
    }
    assert_eq!(codes::lookup("NOT_A_CODE"), None);
    // The constants are the names, not a second spelling of them.
    assert_eq!(codes::OFFLINE, "OFFLINE");
    assert_eq!(codes::UNKNOWN_TABLE, "UNKNOWN_TABLE");
}

#[test]
fn every_code_the_core_raises_is_registered_as_the_replicas() {
    let errors = [
        Error::BadOptions(String::new()),
        Error::BadParams(String::new()),
        Error::Closed,
        Error::OpfsUnavailable(String::new()),
        Error::DatabaseInUse(String::new()),
        Error::StorageFull(String::new()),
        Error::Migration {
            index: 0,
            code: codes::SQLITE_ERROR.into(),
            message: String::new(),
        },
        Error::MigrationChanged { index: 0 },
        Error::Offline(String::new()),
        Error::Protocol(String::new()),
    ];
    for err in &errors {
        let code = codes::lookup(err.code())
            .unwrap_or_else(|| panic!("{err:?}: {} is not registered", err.code()));
        assert!(
            code.produced_by(Producer::Replica),
            "{} is not marked as the replica's",
            code.name
        );
    }
}

#[test]
fn the_typescript_union_lists_exactly_the_registered_codes() {
    let types = read("pkg-template/index.d.ts");
    let start = types
        .find("export type OutpostErrorCode =")
        .expect("no OutpostErrorCode");
    let union = &types[start..start + types[start..].find(';').unwrap()];
    assert_eq!(
        code_words(union, '"'),
        registered(|_| true),
        "OutpostErrorCode in pkg-template/index.d.ts"
    );
    assert!(
        union.contains("`SQLITE_${string}`"),
        "OutpostErrorCode lacks SQLite's codes"
    );
}

#[test]
fn the_protocol_docs_tabulate_exactly_the_primarys_and_the_replicas_codes() {
    let docs = read("docs/PROTOCOL.md");
    let errors = section(&docs, "## Errors");
    let tables: String = errors
        .lines()
        .filter(|line| line.starts_with('|'))
        .collect::<Vec<_>>()
        .join("\n");
    let listed: BTreeSet<String> = code_words(&tables, '`')
        .into_iter()
        .filter(|c| !c.starts_with("SQLITE_"))
        .collect();
    let produced =
        registered(|c| c.produced_by(Producer::Primary) || c.produced_by(Producer::Replica));
    assert_eq!(
        listed, produced,
        "the tables of docs/PROTOCOL.md's Errors section"
    );

    // Anywhere on the page, a code-like name in backquotes is a registered code, SQLite's, one of
    // the protocol's constants or a setting's name (`OUTPOST_RULES`, a Worker binding): a code the
    // docs promise but nothing raises fails here.
    for word in code_words(&docs, '`')
        .into_iter()
        .filter(|w| w.contains('_'))
    {
        let known = codes::lookup(&word).is_some() || word.starts_with("SQLITE_");
        let constant = word.starts_with("MAX_")
            || word.ends_with("PROTOCOL_VERSION")
            || word.starts_with("OUTPOST_");
        assert!(
            known || constant,
            "docs/PROTOCOL.md names {word}, which is not registered"
        );
    }
}

#[test]
fn the_packages_js_throws_only_registered_codes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pkg-template");
    let mut thrown = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "js") {
            let source = std::fs::read_to_string(&path).unwrap();
            for piece in source.split("OutpostError(").skip(1) {
                if let Some(code) = code_words(piece.split(',').next().unwrap_or(""), '"')
                    .into_iter()
                    .next()
                {
                    thrown.insert((
                        code,
                        path.file_name().unwrap().to_string_lossy().into_owned(),
                    ));
                }
            }
        }
    }
    assert!(
        !thrown.is_empty(),
        "no `new OutpostError(\"CODE\", ...)` found in pkg-template/*.js"
    );
    for (code, file) in thrown {
        let entry = codes::lookup(&code).unwrap_or_else(|| {
            panic!("pkg-template/{file} throws {code}, which is not registered")
        });
        assert!(
            entry.produced_by(Producer::Package),
            "pkg-template/{file} throws {code}, not marked as the package's"
        );
    }
}

#[test]
fn sqlite_codes_have_sqlites_names() {
    assert!(
        SQLITE_NAMES.windows(2).all(|w| w[0].0 < w[1].0),
        "SQLITE_NAMES must be sorted by number"
    );
    for primary in 1..=28 {
        let name = codes::sqlite_name(primary);
        assert!(
            SQLITE_NAMES.contains(&(primary, name)),
            "{primary} has no name of its own: {name}"
        );
    }
    assert_eq!(codes::sqlite_name(5), "SQLITE_BUSY");
    assert_eq!(codes::sqlite_name(12), "SQLITE_NOTFOUND");
    assert_eq!(codes::sqlite_name(28), "SQLITE_WARNING");
    assert_eq!(codes::sqlite_name(2067), codes::SQLITE_CONSTRAINT_UNIQUE);
    assert_eq!(codes::sqlite_name(1811), codes::SQLITE_CONSTRAINT_TRIGGER);
    assert_eq!(codes::sqlite_name(517), "SQLITE_BUSY_SNAPSHOT");
    assert_eq!(codes::sqlite_name(10 | (22 << 8)), "SQLITE_IOERR_SEEK");
    // An extended code this table does not know reads as its primary code.
    assert_eq!(codes::sqlite_name(19 | (99 << 8)), codes::SQLITE_CONSTRAINT);
    assert_eq!(codes::sqlite_name(13 | (7 << 8)), "SQLITE_FULL");
}

#[test]
fn sqlites_errors_reach_the_app_with_sqlites_names() {
    let db = outpost::Database::open(&outpost::Storage::Memory, &Default::default()).unwrap();
    db.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)",
        &outpost::Params::None,
    )
    .unwrap();
    db.execute("INSERT INTO t (v) VALUES ('a')", &outpost::Params::None)
        .unwrap();
    let err = db
        .execute("INSERT INTO t (v) VALUES ('a')", &outpost::Params::None)
        .unwrap_err();
    assert_eq!(err.code(), codes::SQLITE_CONSTRAINT_UNIQUE);
    let err = db
        .execute("INSERT INTO t (v) VALUES (NULL)", &outpost::Params::None)
        .unwrap_err();
    assert_eq!(err.code(), codes::SQLITE_CONSTRAINT_NOTNULL);
}
