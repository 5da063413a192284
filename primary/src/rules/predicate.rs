//! One rule's SQL predicate, split once into what each dialect fills in: claims (`:sub`), the old
//! and new row of a write (`old.owner_id`, `new.list_id`) and plain SQL. String literals and quoted
//! identifiers are kept whole, so a `:` or a `new.` inside them is left alone.

use std::collections::BTreeSet;

/// A piece of a predicate's text.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Sql(String),
    /// `:name`: the token's claim `name` (NULL when the token has none).
    Claim(String),
    /// `old.column`: the row as it was before a write.
    Old(String),
    /// `new.column`: the row as the write leaves it.
    New(String),
}

/// What a rendered statement's placeholders stand for, in placeholder order.
#[derive(Clone, Debug, PartialEq)]
pub enum Binding {
    Claim(String),
    Old(String),
    New(String),
}

/// A predicate as written in the rules file.
#[derive(Clone, Debug, PartialEq)]
pub struct Predicate {
    pub pieces: Vec<Piece>,
    /// Where it starts in the rules file, for messages.
    pub line: usize,
}

impl Predicate {
    /// Split `text`; `rows` says whether `old.`/`new.` name a write's rows (write rules) or are
    /// left as SQL (a read rule has one row, named by its table or by nothing).
    pub fn parse(text: &str, line: usize, rows: bool) -> Predicate {
        let mut pieces = Vec::new();
        let mut sql = String::new();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' || c == '"' {
                let end = quoted_end(&chars, i);
                sql.extend(&chars[i..end]);
                i = end;
            } else if c == ':'
                && chars.get(i + 1).is_some_and(|n| is_ident_start(*n))
                && (i == 0 || chars[i - 1] != ':')
            {
                let end = ident_end(&chars, i + 1);
                flush(&mut sql, &mut pieces);
                pieces.push(Piece::Claim(chars[i + 1..end].iter().collect()));
                i = end;
            } else if is_ident_start(c) {
                let end = ident_end(&chars, i);
                let word: String = chars[i..end].iter().collect();
                let after_dot = i > 0 && chars[i - 1] == '.';
                let row = match word.to_ascii_lowercase().as_str() {
                    "old" if rows && !after_dot => Some(Piece::Old as fn(String) -> Piece),
                    "new" if rows && !after_dot => Some(Piece::New as fn(String) -> Piece),
                    _ => None,
                };
                match row {
                    Some(make)
                        if chars.get(end) == Some(&'.')
                            && chars.get(end + 1).is_some_and(|n| is_ident_start(*n)) =>
                    {
                        let column_end = ident_end(&chars, end + 1);
                        flush(&mut sql, &mut pieces);
                        pieces.push(make(chars[end + 1..column_end].iter().collect()));
                        i = column_end;
                    }
                    _ => {
                        sql.push_str(&word);
                        i = end;
                    }
                }
            } else {
                sql.push(c);
                i += 1;
            }
        }
        flush(&mut sql, &mut pieces);
        Predicate { pieces, line }
    }

    /// The SQL text with each claim and row column replaced by what `placeholder` makes of its
    /// number (counted from `first`) and binding, and the bindings in that order.
    pub fn render(
        &self,
        first: usize,
        placeholder: impl Fn(usize, &Binding) -> String,
    ) -> (String, Vec<Binding>) {
        let mut sql = String::new();
        let mut bindings = Vec::new();
        for piece in &self.pieces {
            let binding = match piece {
                Piece::Sql(text) => {
                    sql.push_str(text);
                    continue;
                }
                Piece::Claim(name) => Binding::Claim(name.clone()),
                Piece::Old(column) => Binding::Old(column.clone()),
                Piece::New(column) => Binding::New(column.clone()),
            };
            sql.push_str(&placeholder(first + bindings.len(), &binding));
            bindings.push(binding);
        }
        (format!("({sql})"), bindings)
    }

    pub fn claims(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Claim(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// The row columns a write rule names, as `(is_new, column)`.
    pub fn row_columns(&self) -> impl Iterator<Item = (bool, &str)> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Old(c) => Some((false, c.as_str())),
            Piece::New(c) => Some((true, c.as_str())),
            _ => None,
        })
    }

    /// The names among `tables` the predicate reads as tables: a name not followed by `.`
    /// (which would make it a qualifier, `tasks.owner_id`). A column that shares a table's name
    /// counts too; that only costs a replica a pull from scratch it did not need.
    pub fn tables_read<'t>(&self, tables: &[&'t str]) -> BTreeSet<&'t str> {
        let mut found = BTreeSet::new();
        for piece in &self.pieces {
            let Piece::Sql(text) = piece else { continue };
            let chars: Vec<char> = text.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                let (word, end) = if chars[i] == '"' {
                    let end = quoted_end(&chars, i);
                    let inner: String = chars[i + 1..end.saturating_sub(1).max(i + 1)]
                        .iter()
                        .collect();
                    (Some(inner.replace("\"\"", "\"")), end)
                } else if chars[i] == '\'' {
                    (None, quoted_end(&chars, i))
                } else if is_ident_start(chars[i]) {
                    let end = ident_end(&chars, i);
                    (Some(chars[i..end].iter().collect::<String>()), end)
                } else {
                    (None, i + 1)
                };
                let qualifier = chars.get(end) == Some(&'.');
                let after_dot = i > 0 && chars[i - 1] == '.';
                if let (Some(word), false, false) = (word, qualifier, after_dot) {
                    if let Some(table) = tables.iter().find(|t| t.eq_ignore_ascii_case(&word)) {
                        found.insert(*table);
                    }
                }
                i = end;
            }
        }
        found
    }
}

fn flush(sql: &mut String, pieces: &mut Vec<Piece>) {
    if !sql.is_empty() {
        pieces.push(Piece::Sql(std::mem::take(sql)));
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn ident_end(chars: &[char], from: usize) -> usize {
    let mut end = from;
    while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_') {
        end += 1;
    }
    end
}

/// The index after a quoted string or identifier starting at `start` (a doubled quote is one
/// quote inside it); the end of the text when it is not closed.
fn quoted_end(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_and_rows_are_found_outside_quotes() {
        let p = Predicate::parse(
            "new.owner = :sub AND old.x::text = ':no' AND \"new.y\" = 1 AND t.new = 2",
            1,
            true,
        );
        let (sql, bindings) = p.render(3, |n, _| format!("${n}"));
        assert_eq!(
            sql,
            "($3 = $4 AND $5::text = ':no' AND \"new.y\" = 1 AND t.new = 2)"
        );
        assert_eq!(
            bindings,
            vec![
                Binding::New("owner".into()),
                Binding::Claim("sub".into()),
                Binding::Old("x".into())
            ]
        );
    }

    #[test]
    fn tables_read_skips_qualifiers_and_literals() {
        let p = Predicate::parse(
            "tasks.list_id IN (SELECT list_id FROM \"members\" WHERE note = 'lists')",
            1,
            false,
        );
        let tables = ["tasks", "members", "lists"];
        assert_eq!(
            p.tables_read(&tables).into_iter().collect::<Vec<_>>(),
            ["members"]
        );
    }
}
