//! Reading changes for a pull, written once for every dialect: the latest state of each row
//! changed after the cursor, in version order, inside one read snapshot (opened by the store) so
//! rows, versions and the new cursor agree.

use outpost::protocol::{
    Change, PullRequest, PullResponse, Rejection, MAX_PULL_BYTES, MAX_PULL_CHANGES,
};
use outpost::Value;

use super::dialect::ReadTx;
use super::table::{Table, Tables};
use super::StoreError;

pub async fn read_changes<T: ReadTx>(
    tx: &mut T,
    tables: &Tables<T::Kind>,
    request: &PullRequest,
) -> Result<PullResponse, StoreError> {
    let (wanted, unknown_tables) = wanted_tables(tables, request)?;
    if !in_history(tx, request).await? {
        return Ok(PullResponse {
            cursor: request.cursor,
            reset: true,
            ..PullResponse::default()
        });
    }
    let limit = request
        .limit
        .unwrap_or(MAX_PULL_CHANGES)
        .clamp(1, MAX_PULL_CHANGES) as usize;
    let after = |table: &str| request.behind.get(table).copied().unwrap_or(request.cursor);
    let mut groups: Vec<(i64, Vec<&str>)> = Vec::new();
    for table in &wanted {
        let from = after(&table.name);
        match groups.iter_mut().find(|(cursor, _)| *cursor == from) {
            Some((_, names)) => names.push(&table.name),
            None => groups.push((from, vec![&table.name])),
        }
    }
    let mut entries = match groups.is_empty() {
        true => Vec::new(),
        false => tx.changes_after(&groups, limit + 1).await?,
    };
    let mut more = entries.len() > limit;
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
            let found = tx
                .changed_rows(table, &mine, after(&table.name), upto)
                .await?;
            for (position, row) in positions.into_iter().zip(found) {
                rows[position] = row;
            }
        }
    }
    let mut changes: Vec<Change> = entries
        .into_iter()
        .zip(rows)
        .map(|(entry, row)| Change {
            version: entry.version,
            table: entry.table,
            key: entry.key,
            row,
        })
        .collect();
    if let Some(fits) = changes_within(&changes, MAX_PULL_BYTES) {
        changes.truncate(fits);
        more = true;
    }
    // Without more to send, the cursor jumps to the newest version overall, so a replica that
    // syncs only some tables still moves past changes to the others.
    let cursor = match (more, changes.last()) {
        (true, Some(last)) => last.version,
        _ => tx.current_version().await?,
    };
    let mut answer = PullResponse {
        changes,
        cursor,
        more,
        epoch: tx.epoch_of(cursor).await?,
        unknown_tables,
        ..PullResponse::default()
    };
    if let Some(client) = &request.client_id {
        settle_for(tx, client, request.pending_from, &mut answer).await?;
        if request
            .acked_seen
            .is_some_and(|seen| answer.acked_through.is_some_and(|acked| acked < seen))
        {
            return Ok(PullResponse {
                cursor: request.cursor,
                reset: true,
                ..PullResponse::default()
            });
        }
    }
    Ok(answer)
}

/// Whether the request's cursor is in this primary's history: not past its newest version, and
/// in the same epoch as when the replica got it. A v1 replica (no epoch) is trusted as before.
async fn in_history<T: ReadTx>(tx: &mut T, request: &PullRequest) -> Result<bool, StoreError> {
    let Some(epoch) = &request.epoch else {
        return Ok(true);
    };
    if request.cursor == 0 {
        return Ok(true);
    }
    if request.cursor > tx.current_version().await? {
        return Ok(false);
    }
    Ok(tx.epoch_of(request.cursor).await?.as_ref() == Some(epoch))
}

/// What the pulled state holds of the client's own mutations, read in the same snapshot.
async fn settle_for<T: ReadTx>(
    tx: &mut T,
    client: &str,
    pending_from: Option<i64>,
    answer: &mut PullResponse,
) -> Result<(), StoreError> {
    let state = tx.client_state(client).await?;
    if let Some(first) = pending_from.filter(|first| *first <= state.acked_through) {
        for (seq, refusal) in tx
            .refusals_between(client, first, state.acked_through)
            .await?
        {
            // No row: the pulled state is the primary's, and the replica puts the row back from it.
            answer.rejected.push(Rejection {
                seq,
                code: refusal.code,
                reason: refusal.reason,
                row: None,
            });
        }
    }
    answer.acked_through = Some(state.acked_through);
    answer.acked_digest = state.acked_digest;
    Ok(())
}

/// How many of `changes` fit in `budget` bytes of JSON, at least one; None when all of them do.
fn changes_within(changes: &[Change], budget: usize) -> Option<usize> {
    let mut used = 0;
    for (i, change) in changes.iter().enumerate() {
        used += change_size(change);
        if used > budget && i > 0 {
            return Some(i);
        }
    }
    None
}

/// About the bytes `change` takes in a JSON answer (names, values, punctuation).
fn change_size(change: &Change) -> usize {
    let values = change
        .key
        .iter()
        .chain(change.row.iter().flat_map(|r| r.values()));
    let names = change
        .row
        .iter()
        .flat_map(|r| r.keys())
        .map(|n| n.len() + 4);
    64 + change.table.len() + names.sum::<usize>() + values.map(value_size).sum::<usize>()
}

fn value_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Integer(_) | Value::Real(_) => 24,
        // Quotes around text (escapes add a little more); base64 adds a third to a blob.
        Value::Text(t) => t.len() + 2,
        Value::Blob(b) => b.len() * 4 / 3 + 12,
    }
}

/// The tables the pull names that this database syncs, and those it does not. A v1 replica is
/// refused for one it does not (`UNKNOWN_TABLE`); a v2 replica may be a migration ahead, so it is
/// answered for the tables both have.
fn wanted_tables<'t, K>(
    tables: &'t Tables<K>,
    request: &PullRequest,
) -> Result<(Vec<&'t Table<K>>, Vec<String>), StoreError> {
    let mut known = Vec::with_capacity(request.tables.len());
    let mut unknown = Vec::new();
    for name in &request.tables {
        match tables.get(name) {
            Some(table) => known.push(table),
            None if request.v >= 2 => unknown.push(name.clone()),
            None => return Err(StoreError::UnknownTable(name.clone())),
        }
    }
    Ok((known, unknown))
}
