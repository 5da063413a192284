//! Reading changes for a pull, written once for every dialect: the latest state of each row
//! changed after the cursor, in version order, inside one read snapshot (opened by the store) so
//! rows, versions and the new cursor agree.
//!
//! With sync rules (`crate::rules`) each row is read through its table's read rule: a changed row
//! the caller may not read comes as a tombstone, so a row that moved out of its view leaves the
//! replica. A row can also enter or leave the view without changing, when a row its rule looks up
//! changed (a membership) or the caller's claims or the rules did: the answer is then `resync`,
//! and the replica pulls everything again from cursor 0, where only rows it may read are sent.
//!
//! A replica may also sync a subset of a table (`PullRequest::subset`): a changed row out of it
//! comes as a tombstone too. The subset is the replica's choice and narrows, never widens, what
//! the rules let it read.

use outpost::protocol::{
    PageTable, PullRequest, PullResponse, Rejection, ServedChange, ServedPage, SubsetFill,
    MAX_PULL_BYTES, MAX_PULL_CHANGES,
};
use outpost::Value;

use super::dialect::ReadTx;
use super::ruled::{Access, RowView};
use super::table::{Table, Tables};
use super::StoreError;

/// Separates the epoch from the fingerprint of the caller's view in the `epoch` field.
const VIEW_MARK: char = '~';

pub async fn read_changes<T: ReadTx>(
    tx: &mut T,
    tables: &Tables<T::Kind>,
    request: &PullRequest,
    access: Option<Access<'_>>,
) -> Result<PullResponse<ServedPage>, StoreError> {
    let (mut wanted, unknown_tables) = wanted_tables(tables, request)?;
    if let Some(access) = access {
        // A table without a read rule is read by no one: nothing of it is sent, not even keys.
        wanted.retain(|t| read_rule(access, &t.name).is_some());
    }
    let view = access.map(|a| a.rules.view_of(a.caller));
    let (epoch, seen_view) = match request.epoch.as_deref().map(|e| e.split_once(VIEW_MARK)) {
        Some(Some((epoch, seen))) => (Some(epoch), Some(seen)),
        Some(None) => (request.epoch.as_deref(), None),
        None => (None, None),
    };
    if !in_history(tx, request.cursor, epoch).await? {
        return Ok(PullResponse {
            cursor: request.cursor,
            reset: true,
            ..PullResponse::default()
        });
    }
    check_subset_columns(&wanted, request)?;
    let after = |table: &str| request.behind.get(table).copied().unwrap_or(request.cursor);
    // A table filling a subset's new values already holds the rest as of the fill's `through`:
    // that is where its view must not have moved since.
    let seen_through = |table: &str| match filling(request, table) {
        Some(fill) => fill.through,
        None => after(table),
    };
    if request.cursor > 0
        && (seen_view != view.as_deref() || view_moved(tx, access, &wanted, &seen_through).await?)
    {
        return Ok(PullResponse {
            cursor: request.cursor,
            resync: true,
            ..PullResponse::default()
        });
    }
    let limit = request
        .limit
        .unwrap_or(MAX_PULL_CHANGES)
        .clamp(1, MAX_PULL_CHANGES) as usize;
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
    let last_read = entries.last().map(|e| e.version);

    let mut page = ServedPage::default();
    let mut rows = vec![None; entries.len()];
    let mut sent = vec![true; entries.len()];
    let mut table_of = vec![0; entries.len()];
    if let Some(upto) = last_read {
        for table in &wanted {
            let (positions, mine): (Vec<usize>, Vec<_>) = entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.table == table.name)
                .unzip();
            if mine.is_empty() {
                continue;
            }
            let view = access.and_then(|a| {
                read_rule(a, &table.name).map(|rule| RowView {
                    rule,
                    caller: a.caller,
                })
            });
            let found = tx
                .changed_rows(table, &mine, after(&table.name), upto, view)
                .await?;
            let index = page.tables.len();
            page.tables.push(PageTable {
                name: table.name.clone(),
                columns: table.columns.iter().map(|c| c.name.clone()).collect(),
            });
            let subset = request.subset.get(&table.name);
            let subset_column = subset.and_then(|s| table.column_index(&s.column));
            let fill = subset.and(filling(request, &table.name));
            for (position, mut row) in positions.into_iter().zip(found) {
                table_of[position] = index;
                if let Some(subset) = subset {
                    // Up to the fill's `through` the replica holds the rest of the subset: only
                    // rows of the values it gained are sent, and never a tombstone. After it, a
                    // row out of the subset comes as a tombstone, so a row that leaves it leaves
                    // the replica.
                    let value = subset_column.and_then(|c| row.as_ref().map(|values| &values[c]));
                    match fill.is_some_and(|f| entries[position].version <= f.through) {
                        true => sent[position] = subset.fills(value),
                        false if !subset.holds(value) => row = None,
                        false => {}
                    }
                }
                rows[position] = row;
            }
        }
    }
    page.changes = entries
        .into_iter()
        .zip(rows)
        .zip(table_of)
        .zip(sent)
        .filter(|(_, sent)| *sent)
        .map(|(((entry, values), table), _)| ServedChange {
            version: entry.version,
            table,
            key: entry.key,
            values,
        })
        .collect();
    // From cursor 0 a replica has nothing, or replaces everything: a tombstone would only tell
    // it the keys of rows it may not read, or of every row out of its subset.
    if request.cursor == 0 || request.from_scratch {
        let tables = &page.tables;
        page.changes.retain(|c| {
            c.values.is_some()
                || (access.is_none() && !request.subset.contains_key(&tables[c.table].name))
        });
    }
    let mut cut = false;
    if let Some(fits) = changes_within(&page, MAX_PULL_BYTES) {
        page.changes.truncate(fits);
        more = true;
        cut = true;
    }
    // Without more to send, the cursor jumps to the newest version overall, so a replica that
    // syncs only some tables still moves past changes to the others. A page cut short by its
    // size ends at its last change; one cut by the limit at the last entry read, sent or not.
    let newest = tx.current_version().await?;
    let cursor = match (more, cut, page.changes.last(), last_read) {
        (true, true, Some(last), _) => last.version,
        (true, false, _, Some(last)) => last,
        _ => newest,
    };
    let mut answer = PullResponse {
        changes: page,
        cursor,
        more,
        epoch: match (history_marker(tx, newest).await?, view) {
            (Some(epoch), Some(view)) => Some(format!("{epoch}{VIEW_MARK}{view}")),
            (epoch, _) => epoch,
        },
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

/// The fill of `table`'s subset, while the table is behind filling it.
fn filling<'r>(request: &'r PullRequest, table: &str) -> Option<&'r SubsetFill> {
    match request.behind.contains_key(table) {
        true => request.subset.get(table)?.fill.as_ref(),
        false => None,
    }
}

/// A subset names a column its table has.
fn check_subset_columns<K>(wanted: &[&Table<K>], request: &PullRequest) -> Result<(), StoreError> {
    for table in wanted {
        let Some(subset) = request.subset.get(&table.name) else {
            continue;
        };
        if !table.columns.iter().any(|c| c.name == subset.column) {
            return Err(StoreError::BadQuery {
                code: outpost::codes::UNKNOWN_COLUMN.into(),
                message: format!(
                    "the subset of {} names column {}, which it does not have",
                    table.name, subset.column
                ),
            });
        }
    }
    Ok(())
}

fn read_rule<'a>(access: Access<'a>, table: &str) -> Option<&'a crate::rules::Predicate> {
    access.rules.table(table).and_then(|t| t.read.as_ref())
}

/// Whether rows may have entered or left the caller's view without changing themselves: a row
/// that a wanted table's read rule looks up changed after that table's cursor. A ruled table
/// behind at cursor 0 (an app upgrade, a table begun) is pulled from scratch too, so that it is
/// never sent the keys of every row it may not read.
async fn view_moved<T: ReadTx>(
    tx: &mut T,
    access: Option<Access<'_>>,
    wanted: &[&Table<T::Kind>],
    after: &impl Fn(&str) -> i64,
) -> Result<bool, StoreError> {
    let Some(access) = access else {
        return Ok(false);
    };
    let mut groups: Vec<(i64, Vec<&str>)> = Vec::new();
    for table in wanted {
        let Some(rules) = access.rules.table(&table.name) else {
            continue;
        };
        let from = after(&table.name);
        if from == 0 {
            return Ok(true);
        }
        if !rules.read_depends_on.is_empty() {
            groups.push((
                from,
                rules.read_depends_on.iter().map(String::as_str).collect(),
            ));
        }
    }
    Ok(!groups.is_empty() && !tx.changes_after(&groups, 1).await?.is_empty())
}

/// The marker of the history an answer was read in: the epoch of the newest version then, and
/// that version, as `{epoch}@{version}`. It names the version the read saw, not the cursor: a
/// page's cursor is below it, and a row changed again after the cursor went past it, out of that
/// page. A primary restored to a backup between the two versions has the row at its old version,
/// below the cursor: the replica would never get it, unless the marker says it read a history
/// the primary no longer has.
async fn history_marker<T: ReadTx>(tx: &mut T, newest: i64) -> Result<Option<String>, StoreError> {
    Ok(tx
        .epoch_of(newest)
        .await?
        .map(|epoch| format!("{epoch}@{newest}")))
}

/// Whether the replica's state was read in this primary's history: the version its marker names
/// is not past the newest one, and falls in the same epoch. A marker without a version (from
/// before markers named one) stands for the cursor's. A v1 replica (no marker) is trusted as
/// before.
async fn in_history<T: ReadTx>(
    tx: &mut T,
    cursor: i64,
    marker: Option<&str>,
) -> Result<bool, StoreError> {
    let Some(marker) = marker else {
        return Ok(true);
    };
    if cursor == 0 {
        return Ok(true);
    }
    let (epoch, read_at) = match marker.split_once('@') {
        Some((epoch, at)) => match at.parse::<i64>() {
            Ok(at) if at >= cursor => (epoch, at),
            _ => return Ok(false),
        },
        None => (marker, cursor),
    };
    if read_at > tx.current_version().await? {
        return Ok(false);
    }
    Ok(tx.epoch_of(read_at).await?.as_deref() == Some(epoch))
}

/// What the pulled state holds of the client's own mutations, read in the same snapshot.
async fn settle_for<T: ReadTx>(
    tx: &mut T,
    client: &str,
    pending_from: Option<i64>,
    answer: &mut PullResponse<ServedPage>,
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

/// How many of the page's changes fit in `budget` bytes of JSON, at least one; None when all of
/// them do.
fn changes_within(page: &ServedPage, budget: usize) -> Option<usize> {
    // Per table: its name, and its column names as an object repeats them in every row.
    let fixed: Vec<usize> = page
        .tables
        .iter()
        .map(|t| 64 + t.name.len() + t.columns.iter().map(|n| n.len() + 4).sum::<usize>())
        .collect();
    let mut used = 0;
    for (i, change) in page.changes.iter().enumerate() {
        let values = change.key.iter().chain(change.values.iter().flatten());
        used += values.map(value_size).sum::<usize>();
        used += match change.values {
            Some(_) => fixed[change.table],
            None => 64 + page.tables[change.table].name.len(),
        };
        if used > budget && i > 0 {
            return Some(i);
        }
    }
    None
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
