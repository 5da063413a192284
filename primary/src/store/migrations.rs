//! The primary's schema as numbered migrations, applied in order to every database it serves,
//! new and existing: the same model as a replica's `migrations`. They come as one SQL text in
//! which a line `-- outpost:migration NAME` starts each step (a folder of `.sql` files is read
//! into that form by `outpost-primary serve --schema DIR`, one step a file, in name order); a
//! text without such a line is one step, so a plain schema file is migration 1.
//!
//! Each database records the steps it has (`_outpost_migrations`: number, name, digest of the
//! SQL). At open, the steps it lacks run in one transaction with the bookkeeping and the capture
//! triggers, so a failing step leaves the database exactly as it was; a recorded step whose SQL
//! has changed since stops the open with `MIGRATION_CHANGED` (add a new step instead).

use outpost::codes;

use super::StoreError;

/// The line that starts a step.
pub const MARKER: &str = "-- outpost:migration";

/// A line in a step, `-- outpost:min-replica-schema N`: from this step on, the primary refuses
/// replicas whose schema version (the number of migrations their app applies) is below `N` with
/// `UPGRADE_REQUIRED`. It marks a breaking change (a dropped or renamed column, a changed key),
/// which older app versions would write in a shape the database no longer has.
pub const MIN_REPLICA_MARKER: &str = "-- outpost:min-replica-schema";

#[derive(Clone, Debug, PartialEq)]
pub struct Migration {
    /// 1-based.
    pub step: i64,
    pub name: String,
    pub sql: String,
    /// FNV-1a 64 of the SQL, as 16 hex digits: the same on every machine and Rust version.
    pub digest: String,
}

/// Why step `step` failed, the same from every dialect.
pub fn failed(step: &Migration, why: impl std::fmt::Display) -> StoreError {
    StoreError::Migration {
        code: codes::MIGRATION_FAILED,
        message: format!(
            "migration {} ({}) failed: {why}; the database is as it was before it",
            step.step, step.name
        ),
    }
}

/// A step recorded in a database.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub step: i64,
    pub name: String,
    pub digest: String,
}

/// Split `text` into its steps.
pub fn parse(text: &str) -> Vec<Migration> {
    let mut steps: Vec<(String, String)> = Vec::new();
    let mut current: Option<(String, String)> = None;
    let mut preamble = String::new();
    for line in text.lines() {
        if let Some(name) = line.trim_start().strip_prefix(MARKER) {
            steps.extend(current.take());
            current = Some((name.trim().to_owned(), String::new()));
        } else {
            let sql = match &mut current {
                Some((_, sql)) => sql,
                None => &mut preamble,
            };
            sql.push_str(line);
            sql.push('\n');
        }
    }
    steps.extend(current);
    // SQL before the first marker (or a text without markers) is a first, unnamed step.
    if !preamble.trim().is_empty() || steps.is_empty() {
        steps.insert(0, ("schema".to_owned(), preamble));
    }
    steps
        .into_iter()
        .enumerate()
        .map(|(i, (name, sql))| Migration {
            step: i as i64 + 1,
            digest: digest(&sql),
            name,
            sql,
        })
        .collect()
}

/// The oldest replica schema version the steps accept: the highest `MIN_REPLICA_MARKER` among
/// them, 0 (any) without one. A marker without a number is a set-up error naming its step.
pub fn min_replica_schema(migrations: &[Migration]) -> Result<u32, StoreError> {
    let mut min = 0;
    for step in migrations {
        for line in step.sql.lines() {
            let Some(number) = line.trim_start().strip_prefix(MIN_REPLICA_MARKER) else {
                continue;
            };
            let number = number.trim().parse::<u32>().map_err(|_| {
                StoreError::Setup(format!(
                    "migration {} ({}): {MIN_REPLICA_MARKER} takes a schema version, a whole \
                     number: {line:?}",
                    step.step, step.name
                ))
            })?;
            min = min.max(number);
        }
    }
    Ok(min)
}

/// Of the SQL as written, but for white space around it and a final semicolon, which change
/// nothing it does.
fn digest(sql: &str) -> String {
    let sql = sql.trim().trim_end_matches(';').trim_end();
    format!("{:016x}", outpost::protocol::fnv1a(sql.as_bytes()))
}

/// The steps of `migrations` a database with `applied` still needs, after checking that what it
/// has is what the primary has.
pub fn pending<'m>(
    migrations: &'m [Migration],
    applied: &[Applied],
) -> Result<&'m [Migration], StoreError> {
    for done in applied {
        match migrations.iter().find(|m| m.step == done.step) {
            Some(m) if m.digest == done.digest => {}
            Some(m) => {
                return Err(StoreError::Migration {
                    code: codes::MIGRATION_CHANGED,
                    message: format!(
                        "migration {} ({}) was applied with different SQL; add a new migration \
                         instead of editing one that databases already have",
                        m.step, m.name
                    ),
                })
            }
            None => {
                return Err(StoreError::Migration {
                    code: codes::MIGRATION_CHANGED,
                    message: format!(
                        "the database has migration {} ({}), which this primary does not: it \
                         was made by a newer primary, or a migration was removed",
                        done.step, done.name
                    ),
                })
            }
        }
    }
    Ok(&migrations[applied.len().min(migrations.len())..])
}

/// Read `--schema`: a file as it is, or a folder's `.sql` files in name order, one step each.
pub fn read_schema(path: &std::path::Path) -> std::io::Result<String> {
    if !path.is_dir() {
        return std::fs::read_to_string(path);
    }
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(path)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    files.retain(|f| f.extension().is_some_and(|e| e == "sql"));
    files.sort();
    let mut text = String::new();
    for file in files {
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        text.push_str(&format!("{MARKER} {name}\n"));
        text.push_str(&std::fs::read_to_string(&file)?);
        text.push('\n');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_schema_is_one_step_and_markers_split_steps() {
        let plain = parse("CREATE TABLE t(id TEXT PRIMARY KEY);");
        assert_eq!(plain.len(), 1);
        assert_eq!((plain[0].step, plain[0].name.as_str()), (1, "schema"));
        let steps = parse(
            "CREATE TABLE t(id TEXT PRIMARY KEY);\n\
             -- outpost:migration add notes\n\
             ALTER TABLE t ADD COLUMN note TEXT;\n\
             -- outpost:migration lists\n\
             CREATE TABLE lists(id TEXT PRIMARY KEY);\n",
        );
        let names: Vec<&str> = steps.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["schema", "add notes", "lists"]);
        assert_eq!(steps[1].sql.trim(), "ALTER TABLE t ADD COLUMN note TEXT;");
        // A step's digest does not depend on where it sits in the text.
        assert_eq!(
            parse("CREATE TABLE t(id TEXT PRIMARY KEY);")[0].digest,
            steps[0].digest
        );
    }

    #[test]
    fn the_minimum_replica_schema_is_the_highest_marker() {
        assert_eq!(min_replica_schema(&parse("SELECT 1;")).unwrap(), 0);
        let steps = parse(
            "SELECT 1;\n-- outpost:migration drop\n-- outpost:min-replica-schema 3\nSELECT 2;\n\
             -- outpost:migration later\n  -- outpost:min-replica-schema 2\nSELECT 3;",
        );
        assert_eq!(min_replica_schema(&steps).unwrap(), 3);
        let bad = parse("-- outpost:migration x\n-- outpost:min-replica-schema three\nSELECT 1;");
        assert!(matches!(min_replica_schema(&bad), Err(StoreError::Setup(m)) if m.contains("(x)")));
    }

    #[test]
    fn an_edited_or_unknown_step_is_refused() {
        let steps =
            parse("-- outpost:migration one\nSELECT 1;\n-- outpost:migration two\nSELECT 2;");
        let applied = |digest: &str| Applied {
            step: 1,
            name: "one".into(),
            digest: digest.into(),
        };
        assert_eq!(
            pending(&steps, &[applied(&steps[0].digest)]).unwrap().len(),
            1
        );
        assert!(pending(&steps, &[applied("0000000000000000")]).is_err());
        let newer = Applied {
            step: 3,
            name: "three".into(),
            digest: "x".into(),
        };
        assert!(pending(&steps, &[applied(&steps[0].digest), newer]).is_err());
    }
}
