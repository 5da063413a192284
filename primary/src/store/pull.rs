//! Reading changes for a pull, written once for every dialect: the latest state of each row
//! changed after the cursor, in version order, inside one read snapshot (opened by the store) so
//! rows, versions and the new cursor agree.

use outpost::protocol::{Change, PullRequest, PullResponse, MAX_PULL_CHANGES};

use super::dialect::ReadTx;
use super::table::{Table, Tables};
use super::StoreError;

pub async fn read_changes<T: ReadTx>(
    tx: &mut T,
    tables: &Tables<T::Kind>,
    request: &PullRequest,
) -> Result<PullResponse, StoreError> {
    let wanted = wanted_tables(tables, request)?;
    let limit = request
        .limit
        .unwrap_or(MAX_PULL_CHANGES)
        .clamp(1, MAX_PULL_CHANGES) as usize;
    let names: Vec<&str> = wanted.iter().map(|t| t.name.as_str()).collect();
    let mut entries = match names.is_empty() {
        true => Vec::new(),
        false => tx.changes_after(request.cursor, &names, limit + 1).await?,
    };
    let more = entries.len() > limit;
    entries.truncate(limit);

    let mut rows = vec![None; entries.len()];
    if let Some(upto) = entries.last().map(|e| e.version) {
        for table in &wanted {
            let (positions, mine): (Vec<usize>, Vec<_>) = entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.table == table.name)
                .unzip();
            if mine.is_empty() {
                continue;
            }
            let found = tx.changed_rows(table, &mine, request.cursor, upto).await?;
            for (position, row) in positions.into_iter().zip(found) {
                rows[position] = row;
            }
        }
    }
    let changes: Vec<Change> = entries
        .into_iter()
        .zip(rows)
        .map(|(entry, row)| Change {
            version: entry.version,
            table: entry.table,
            key: entry.key,
            row,
        })
        .collect();
    // Without more to send, the cursor jumps to the newest version overall, so a replica that
    // syncs only some tables still moves past changes to the others.
    let cursor = match (more, changes.last()) {
        (true, Some(last)) => last.version,
        _ => tx.current_version().await?,
    };
    Ok(PullResponse {
        changes,
        cursor,
        more,
    })
}

/// The tables the pull names, each synced by this database.
fn wanted_tables<'t, K>(
    tables: &'t Tables<K>,
    request: &PullRequest,
) -> Result<Vec<&'t Table<K>>, StoreError> {
    request
        .tables
        .iter()
        .map(|name| {
            tables
                .get(name)
                .ok_or_else(|| StoreError::UnknownTable(name.clone()))
        })
        .collect()
}
