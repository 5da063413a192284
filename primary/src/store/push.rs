//! Applying a push, written once for every dialect: inside one write transaction (opened by the
//! store), each mutation with `seq` above the client's `acked_through` is applied alone, so a
//! refused mutation is undone by itself and never blocks the ones behind it. `acked_through`
//! moves in the same transaction, which makes a retried batch a no-op.

use outpost::codes;
use outpost::protocol::{Mutation, Op, PushRequest, PushResponse, Rejection, Waiting};
use outpost::Value;

use super::dialect::{ClientState, Refusal, WriteTx};
use super::ruled::{Access, RowView, WriteCheck};
use super::table::{Table, Tables};
use super::StoreError;
use crate::rules::{Op as RuleOp, Predicate};

pub async fn apply<T: WriteTx>(
    tx: &mut T,
    tables: &Tables<T::Kind>,
    request: &PushRequest,
    access: Option<Access<'_>>,
) -> Result<PushResponse, StoreError> {
    let client = request.client_id.as_str();
    let known = tx.client_state(client).await?;
    let acked = known.acked_through;
    let verdict = history_check(&known, request);
    if verdict != History::Same {
        return Ok(PushResponse {
            acked_through: acked,
            version: tx.current_version().await?,
            rejected: Vec::new(),
            diverged: verdict == History::ReplicaDiverged,
            reset: verdict == History::PrimaryLost,
            waiting: None,
            acked_digest: None,
        });
    }

    // A retry of mutations applied before: their answer was lost, so the client still holds them
    // as pending and may have replayed them over newer rows it pulled meanwhile. Mark those rows
    // changed again, so the next pull sends their current state and the replica cannot keep its
    // stale copy. Retries are rare; this costs one write per repeated mutation.
    for mutation in request.mutations.iter().filter(|m| m.seq <= acked) {
        if let Ok(table) = check_shape(tables, mutation) {
            tx.touch(table, &mutation.key).await?;
        }
    }

    let mut state = known;
    let mut last_applied = None;
    let mut waiting = None;
    for mutation in request.mutations.iter().filter(|m| m.seq > acked) {
        let refusal = match check_shape(tables, mutation) {
            // A v2 replica only sends the tables and columns its own schema has: one this
            // primary lacks is one of a migration it has not had yet. Refusing would make the
            // replica delete its write; it waits instead, with everything behind it, in order.
            Err(refusal) if schema_ahead(&refusal) && request.last_seq.is_some() => {
                waiting = Some(Waiting {
                    seq: mutation.seq,
                    code: codes::SCHEMA_AHEAD.to_owned(),
                    reason: format!(
                        "{}; the write waits until the primary has the migration that adds it",
                        refusal.reason
                    ),
                });
                break;
            }
            Err(refusal) => Some(refusal),
            Ok(table) => match access {
                None => tx.apply(table, mutation).await?,
                Some(access) => apply_ruled(tx, table, mutation, access).await?,
            },
        };
        if let Some(refusal) = refusal {
            tx.store_refusal(client, mutation.seq, &refusal).await?;
            // The replica shows the refused write until it learns of the refusal. If the answer
            // is lost, a pull settles the entry instead, and must bring the row's state: a new
            // version for it puts it in that pull.
            if let Ok(table) = check_shape(tables, mutation) {
                tx.touch(table, &mutation.key).await?;
            }
        }
        state.acked_through = mutation.seq;
        last_applied = Some(mutation);
    }
    if let Some(last) = last_applied {
        state.acked_digest = Some(last.digest());
        tx.set_client_state(client, &state).await?;
    }

    let mut rejected = Vec::new();
    if let (Some(first), Some(last)) = (request.mutations.first(), request.mutations.last()) {
        if let Some(held) = forgettable_below(request) {
            tx.forget_refusals_before(client, held).await?;
        }
        for (seq, refusal) in tx.refusals_between(client, first.seq, last.seq).await? {
            let mutation = request.mutations.iter().find(|m| m.seq == seq);
            let row = match mutation.map(|m| (m, check_shape(tables, m))) {
                // The row as this caller may see it: a refusal never shows another's row.
                Some((mutation, Ok(table))) => match access {
                    None => tx.read_row(table, &mutation.key, None).await?,
                    Some(access) => match read_view(access, &table.name) {
                        Some(view) => tx.read_row(table, &mutation.key, Some(view)).await?,
                        None => None,
                    },
                },
                _ => None,
            };
            rejected.push(Rejection {
                seq,
                code: refusal.code,
                reason: refusal.reason,
                row,
            });
        }
    }
    let version = tx.current_version().await?;
    Ok(PushResponse {
        acked_through: state.acked_through,
        version,
        rejected,
        diverged: false,
        reset: false,
        waiting,
        // For a v2 replica, which checks it (a version-1 answer is as it always was).
        acked_digest: state.acked_digest.filter(|_| request.last_seq.is_some()),
    })
}

/// Apply one mutation held to its table's write rule: a delete is judged on the row before it,
/// an insert on the row after it, an update on both; a write the rule refuses is undone whole
/// and refused with `NOT_PERMITTED`. A write that changes nothing (an update or delete of a row
/// the primary no longer has) has nothing to judge.
async fn apply_ruled<T: WriteTx>(
    tx: &mut T,
    table: &Table<T::Kind>,
    mutation: &Mutation,
    access: Access<'_>,
) -> Result<Option<Refusal>, StoreError> {
    let op = op_of(mutation);
    let Some(rule) = access.rules.table(&table.name).and_then(|t| t.rule(op)) else {
        return Ok(Some(not_permitted(table, op, None)));
    };
    let old = match op {
        RuleOp::Insert => None,
        _ => match tx.read_row(table, &mutation.key, None).await? {
            Some(row) => Some(row),
            None => return tx.apply(table, mutation).await,
        },
    };
    if op == RuleOp::Update && mutation.columns.is_empty() {
        return Ok(None);
    }
    // The row after the write is the rule's `new`: read by the unit the write runs in.
    let check = WriteCheck {
        rule,
        caller: access.caller,
        old: old.as_ref(),
        new: None,
    };
    if op == RuleOp::Delete {
        if !tx.holds(table, &check).await? {
            return Ok(Some(not_permitted(table, op, Some(rule))));
        }
        return tx.apply(table, mutation).await;
    }
    tx.apply_judged(&RuledWrite {
        table,
        mutation,
        check,
    })
    .await
}

/// An insert or update held to its rule, which judges the row the write leaves: applied and
/// judged as one unit by [`WriteTx::apply_judged`], which keeps it only when allowed.
pub struct RuledWrite<'a, K> {
    pub table: &'a Table<K>,
    pub mutation: &'a Mutation,
    /// The rule and the row before the write; the row after it is read by [`RuledWrite::run`].
    pub check: WriteCheck<'a>,
}

impl<K> RuledWrite<'_, K> {
    /// Apply the write and judge it, inside the unit the dialect opened: None when it stays,
    /// the refusal when everything it did must be undone.
    pub async fn run<T: WriteTx<Kind = K>>(
        &self,
        tx: &mut T,
    ) -> Result<Option<Refusal>, StoreError> {
        let (table, mutation) = (self.table, self.mutation);
        if let Some(refusal) = tx.apply(table, mutation).await? {
            return Ok(Some(refusal));
        }
        // An update that sets a key column moves the row: the new row is under the new key.
        let new_key: Vec<Value> = table
            .key_names
            .iter()
            .zip(&mutation.key)
            .map(|(name, value)| mutation.columns.get(name).unwrap_or(value).clone())
            .collect();
        let new = tx.read_row(table, &new_key, None).await?;
        let check = WriteCheck {
            new: new.as_ref(),
            ..self.check
        };
        match tx.holds(table, &check).await? {
            true => Ok(None),
            false => Ok(Some(not_permitted(
                table,
                op_of(mutation),
                Some(check.rule),
            ))),
        }
    }
}

fn op_of(mutation: &Mutation) -> RuleOp {
    match mutation.op {
        Op::Insert => RuleOp::Insert,
        Op::Update => RuleOp::Update,
        Op::Delete => RuleOp::Delete,
    }
}

fn not_permitted<K>(table: &Table<K>, op: RuleOp, rule: Option<&Predicate>) -> Refusal {
    let reason = match rule {
        Some(rule) => format!(
            "the {} rule of table {} (rules line {}) does not allow this write for this token",
            op.name(),
            table.name,
            rule.line
        ),
        None => format!("the rules allow no {} on table {}", op.name(), table.name),
    };
    Refusal::new(codes::NOT_PERMITTED, reason)
}

/// The caller's view of `table`; None when it may read none of it.
fn read_view<'a>(access: Access<'a>, table: &str) -> Option<RowView<'a>> {
    let rule = access.rules.table(table)?.read.as_ref()?;
    Some(RowView {
        rule,
        caller: access.caller,
    })
}

/// The refusals of this client a replica can never ask about again are those below the oldest
/// entry it holds: seqs only grow. Not below the request's first mutation: the replica keeps
/// acknowledged entries until a pull settles them, and a request delivered late or twice (sent
/// before the primary was restored from a backup and refused them anew) names later seqs than
/// the ones whose refusals it has yet to learn. A v1 replica sends its oldest unacknowledged
/// entry first and is taken at its word, as before; a v2 one that does not say keeps them all.
fn forgettable_below(request: &PushRequest) -> Option<i64> {
    match (request.last_seq, request.pending_from) {
        (None, _) => request.mutations.first().map(|m| m.seq),
        (Some(_), held) => held,
    }
}

fn schema_ahead(refusal: &Refusal) -> bool {
    refusal.code == codes::UNKNOWN_TABLE || refusal.code == codes::UNKNOWN_COLUMN
}

/// How the replica's account of this client's mutations compares with the primary's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum History {
    Same,
    /// The replica is not the one the primary talked to under this client id: it has never
    /// assigned the seq the primary acknowledged last (a file restored from an older copy), or
    /// holds that seq with other content (a copy of the file writing on a second device).
    ReplicaDiverged,
    /// The replica was told of more acknowledged mutations than the primary has now: the
    /// primary was restored from a backup, or replaced.
    PrimaryLost,
}

/// Only a v2 replica says its `last_seq`; a v1 replica is trusted as before. A request that holds
/// the acknowledged seq must hold it with the same content; one that does not (a retry in a
/// smaller batch) is judged by `last_seq` alone.
fn history_check(known: &ClientState, request: &PushRequest) -> History {
    let (Some(last_seq), Some(first)) = (request.last_seq, request.mutations.first()) else {
        return History::Same;
    };
    let acked = known.acked_through;
    if acked > last_seq {
        return History::ReplicaDiverged;
    }
    if request.acked_seen.is_some_and(|seen| seen > acked) {
        return History::PrimaryLost;
    }
    if first.seq > acked {
        return History::Same;
    }
    match request.mutations.iter().find(|m| m.seq == acked) {
        None => History::Same,
        Some(mutation) => match &known.acked_digest {
            Some(digest) if mutation.digest() != *digest => History::ReplicaDiverged,
            _ => History::Same,
        },
    }
}

/// The mutation's table when the mutation fits it; a refusal saying why not otherwise.
fn check_shape<'t, K>(tables: &'t Tables<K>, mutation: &Mutation) -> Result<&'t Table<K>, Refusal> {
    let Some(table) = tables.get(&mutation.table) else {
        let reason = format!("table {} is not synced by this database", mutation.table);
        return Err(Refusal::new(codes::UNKNOWN_TABLE, reason));
    };
    if let Some(column) = mutation.columns.keys().find(|c| table.column(c).is_none()) {
        let reason = format!("table {} has no column {column}", table.name);
        return Err(Refusal::new(codes::UNKNOWN_COLUMN, reason));
    }
    let key_ok = mutation.key.len() == table.key.len()
        && mutation
            .key
            .iter()
            .all(|v| matches!(v, Value::Integer(_) | Value::Text(_)));
    if !key_ok {
        let reason = format!(
            "the key of table {} is {} INTEGER or TEXT value(s): ({})",
            table.name,
            table.key.len(),
            table.key_names.join(", ")
        );
        return Err(Refusal::new(codes::BAD_KEY, reason));
    }
    Ok(table)
}
