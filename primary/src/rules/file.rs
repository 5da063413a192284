//! The rules file (`--rules FILE`, docs/RULES.md): a `table NAME` line starts a table's rules,
//! and each `read:`, `insert:`, `update:` or `delete:` line under it gives one predicate, which
//! may go on over the following lines. `#` starts a comment line. Lines are kept as they are
//! (joined with newlines), so an SQL `--` comment ends where its line ends.

use std::collections::BTreeMap;

use super::predicate::Predicate;
use super::{Op, RulesError, TableRules};

pub fn parse(text: &str) -> Result<BTreeMap<String, TableRules>, RulesError> {
    let mut tables: BTreeMap<String, TableRules> = BTreeMap::new();
    // The table being read, and the rule being read in it: (op, first line, text so far).
    let mut table: Option<String> = None;
    let mut rule: Option<(Op, usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(name) = table_line(trimmed) {
            finish(&mut tables, table.as_deref(), rule.take())?;
            if !outpost::protocol::is_valid_name(name) {
                return Err(RulesError::at(
                    line,
                    format!("{name:?} is not a table name"),
                ));
            }
            if tables.contains_key(name) {
                return Err(RulesError::at(
                    line,
                    format!(
                        "table {name} has rules already (line {})",
                        tables[name].line
                    ),
                ));
            }
            tables.insert(name.to_owned(), TableRules::new(line));
            table = Some(name.to_owned());
            continue;
        }
        let Some(current) = table.as_deref() else {
            return Err(RulesError::at(
                line,
                "expected `table NAME` before any rule".to_owned(),
            ));
        };
        match rule_line(trimmed) {
            Some((op, sql)) => {
                finish(&mut tables, Some(current), rule.take())?;
                if tables[current].rule(op).is_some() {
                    return Err(RulesError::at(
                        line,
                        format!("table {current} has a {} rule already", op.name()),
                    ));
                }
                rule = Some((op, line, sql.to_owned()));
            }
            None => match &mut rule {
                Some((_, _, sql)) => {
                    sql.push('\n');
                    sql.push_str(raw);
                }
                None => {
                    return Err(RulesError::at(
                        line,
                        format!(
                            "expected `read:`, `insert:`, `update:` or `delete:` in the rules \
                             of table {current}"
                        ),
                    ))
                }
            },
        }
    }
    finish(&mut tables, table.as_deref(), rule)?;
    Ok(tables)
}

fn table_line(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("table")?;
    rest.starts_with(char::is_whitespace).then(|| rest.trim())
}

fn rule_line(line: &str) -> Option<(Op, &str)> {
    let (word, rest) = line.split_once(':')?;
    let op = Op::ALL.into_iter().find(|op| op.name() == word.trim())?;
    Some((op, rest))
}

fn finish(
    tables: &mut BTreeMap<String, TableRules>,
    table: Option<&str>,
    rule: Option<(Op, usize, String)>,
) -> Result<(), RulesError> {
    let (Some(table), Some((op, line, sql))) = (table, rule) else {
        return Ok(());
    };
    if sql.trim().is_empty() {
        return Err(RulesError::at(
            line,
            format!(
                "table {table}: the {} rule is empty (leave it out to allow nothing, or write \
                 `true` to allow everything)",
                op.name()
            ),
        ));
    }
    let predicate = Predicate::parse(sql.trim(), line, op != Op::Read);
    let rules = tables.get_mut(table).expect("the table was added first");
    *rules.rule_mut(op) = Some(predicate);
    Ok(())
}
