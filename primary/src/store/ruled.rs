//! The statements sync rules add, written once for every dialect: a table's rows as a token may
//! read them (`SELECT * FROM t WHERE <read rule>`), and the check of one write
//! (`SELECT 1 WHERE <write rule>`, the old and new row and the claims bound as parameters). A
//! dialect only says how it writes a placeholder, and runs them.

use outpost::{Row, Value};

use super::table::{Table, Tables};
use super::StoreError;
use crate::rules::{Binding, Caller, Op, Predicate, Rules};

/// The caller and the rules it is held to, for one push or pull.
#[derive(Clone, Copy)]
pub struct Access<'a> {
    pub rules: &'a Rules,
    pub caller: &'a Caller,
}

impl<'a> Access<'a> {
    /// The caller held to `rules`; None when there are none.
    pub fn of(rules: Option<&'a Rules>, caller: &'a Caller) -> Option<Access<'a>> {
        rules.map(|rules| Access { rules, caller })
    }
}

/// The rows of one table a caller may read.
#[derive(Clone, Copy)]
pub struct RowView<'a> {
    pub rule: &'a Predicate,
    pub caller: &'a Caller,
}

impl RowView<'_> {
    /// `SELECT * FROM {table_sql} WHERE <rule>`, its placeholders numbered from `first`, and the
    /// claim values to bind to them, in order.
    pub fn select(
        &self,
        table_sql: &str,
        first: usize,
        placeholder: impl Fn(usize, &Binding) -> String,
    ) -> (String, Vec<Value>) {
        let (predicate, bindings) = self.rule.render(first, placeholder);
        let values = bind(&bindings, self.caller, None, None);
        (
            format!("SELECT * FROM {table_sql} WHERE {predicate}"),
            values,
        )
    }
}

/// One write held to its rule: the row before it (update, delete) and after it (insert, update).
pub struct WriteCheck<'a> {
    pub rule: &'a Predicate,
    pub caller: &'a Caller,
    pub old: Option<&'a Row>,
    pub new: Option<&'a Row>,
}

impl WriteCheck<'_> {
    /// `SELECT 1 WHERE <rule>` and its values; `placeholder` may cast a row column's value to
    /// its column's type (it is given the binding).
    pub fn select(&self, placeholder: impl Fn(usize, &Binding) -> String) -> (String, Vec<Value>) {
        let (predicate, bindings) = self.rule.render(1, placeholder);
        let values = bind(&bindings, self.caller, self.old, self.new);
        (format!("SELECT 1 WHERE {predicate}"), values)
    }
}

fn bind(bindings: &[Binding], caller: &Caller, old: Option<&Row>, new: Option<&Row>) -> Vec<Value> {
    let column = |row: Option<&Row>, name: &str| {
        row.and_then(|r| r.get(name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    bindings
        .iter()
        .map(|b| match b {
            Binding::Claim(name) => caller.claim(name).clone(),
            Binding::Old(name) => column(old, name),
            Binding::New(name) => column(new, name),
        })
        .collect()
}

/// One statement a rule makes, as the store runs it: prepared at start-up to check the rule.
pub struct RuleStatement {
    pub table: String,
    pub op: Op,
    pub line: usize,
    pub sql: String,
    /// How many values it binds: a store that checks a statement by running it binds them.
    #[cfg_attr(not(feature = "durable-object"), allow(dead_code))]
    pub params: usize,
}

impl RuleStatement {
    /// A start-up error for this rule, from the dialect's `message`.
    pub fn error(&self, rules: &Rules, message: &str) -> String {
        format!(
            "{}:{}: table {}: the {} rule does not work: {message}",
            rules.origin,
            self.line,
            self.table,
            self.op.name()
        )
    }
}

/// Every statement `rules` make on `tables`, rendered as a dialect writes placeholders and
/// names a table, with no caller (claims are bound, not written, so their values do not matter).
pub fn statements<K>(
    rules: &Rules,
    tables: &Tables<K>,
    placeholder: impl Fn(usize, &Binding) -> String + Copy,
    table_sql: impl Fn(&Table<K>) -> String,
) -> Vec<RuleStatement> {
    let caller = Caller::default();
    let mut statements = Vec::new();
    for (name, table_rules) in rules.iter() {
        let Some(table) = tables.get(name) else {
            continue;
        };
        for op in Op::ALL {
            let Some(rule) = table_rules.rule(op) else {
                continue;
            };
            let (sql, values) = match op {
                Op::Read => RowView {
                    rule,
                    caller: &caller,
                }
                .select(&table_sql(table), 1, placeholder),
                _ => WriteCheck {
                    rule,
                    caller: &caller,
                    old: None,
                    new: None,
                }
                .select(placeholder),
            };
            statements.push(RuleStatement {
                table: name.clone(),
                op,
                line: rule.line,
                sql,
                params: values.len(),
            });
        }
    }
    statements
}

/// With rules, `/query` would read past them.
pub fn queries_disabled() -> StoreError {
    StoreError::BadQuery {
        code: outpost::codes::QUERY_DISABLED.into(),
        message: "this primary has sync rules: /query is off, since a query would read rows the \
                  rules keep from this token"
            .into(),
    }
}
