//! The type mapping between wire values and PostgreSQL columns (docs/POSTGRES.md has the table).
//! Only column types that give back exactly what a replica wrote are accepted; every write is
//! converted here, before Postgres sees it, so a value that does not fit is refused with a reason.

use std::error::Error as StdError;

use bytes::BytesMut;
use outpost::Value;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::Row;

/// How a synced column is stored in Postgres.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    SmallInt,
    Int,
    BigInt,
    Double,
    Text,
    Bytes,
    Bool,
}

impl ColumnKind {
    /// From `pg_type.typname`; `None` for a type Outpost cannot carry faithfully.
    pub fn from_type_name(name: &str) -> Option<Self> {
        Some(match name {
            "int2" => ColumnKind::SmallInt,
            "int4" => ColumnKind::Int,
            "int8" => ColumnKind::BigInt,
            "float8" => ColumnKind::Double,
            "text" | "varchar" => ColumnKind::Text,
            "bytea" => ColumnKind::Bytes,
            "bool" => ColumnKind::Bool,
            _ => return None,
        })
    }

    /// Keys travel in JSON and are compared exactly on every replica: integers and text only.
    pub fn can_be_key(self) -> bool {
        matches!(
            self,
            ColumnKind::SmallInt | ColumnKind::Int | ColumnKind::BigInt | ColumnKind::Text
        )
    }

    /// The SQL type a parameter for this column is sent as.
    pub fn sql_type(self) -> Type {
        match self {
            ColumnKind::SmallInt => Type::INT2,
            ColumnKind::Int => Type::INT4,
            ColumnKind::BigInt => Type::INT8,
            ColumnKind::Double => Type::FLOAT8,
            ColumnKind::Text => Type::TEXT,
            ColumnKind::Bytes => Type::BYTEA,
            ColumnKind::Bool => Type::BOOL,
        }
    }

    /// The SQL a key component is read back with from `_outpost_changes.key` (a JSON array text).
    pub fn key_cast(self) -> &'static str {
        match self {
            ColumnKind::Text => "",
            _ => "::bigint",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            ColumnKind::SmallInt => "smallint",
            ColumnKind::Int => "integer",
            ColumnKind::BigInt => "bigint",
            ColumnKind::Double => "double precision",
            ColumnKind::Text => "text",
            ColumnKind::Bytes => "bytea",
            ColumnKind::Bool => "boolean (0 or 1)",
        }
    }
}

/// A wire value converted for one column, ready to bind.
#[derive(Clone, Debug, PartialEq)]
pub enum PgParam {
    Null,
    SmallInt(i16),
    Int(i32),
    BigInt(i64),
    Double(f64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
}

/// Convert `value` for a column of `kind`, as a replica's SQLite would have stored it, or say why
/// it cannot be stored there (the mutation is then rejected with `SQLITE_MISMATCH`).
pub fn to_param(kind: ColumnKind, value: &Value) -> Result<PgParam, String> {
    // SQLite keeps a REAL with an integral value as INTEGER in an INTEGER column: accept the same.
    let integral = match value {
        Value::Integer(i) => Some(*i),
        Value::Real(r) if r.fract() == 0.0 && r.abs() < 9.2e18 => Some(*r as i64),
        _ => None,
    };
    let param = match (kind, value) {
        (_, Value::Null) => Some(PgParam::Null),
        (ColumnKind::SmallInt, _) => {
            integral.and_then(|i| i16::try_from(i).ok().map(PgParam::SmallInt))
        }
        (ColumnKind::Int, _) => integral.and_then(|i| i32::try_from(i).ok().map(PgParam::Int)),
        (ColumnKind::BigInt, _) => integral.map(PgParam::BigInt),
        (ColumnKind::Bool, _) => match integral {
            Some(0) => Some(PgParam::Bool(false)),
            Some(1) => Some(PgParam::Bool(true)),
            _ => None,
        },
        (ColumnKind::Double, Value::Real(r)) => Some(PgParam::Double(*r)),
        // Exact only within 2^53; beyond it the replica's integer would come back rounded.
        (ColumnKind::Double, Value::Integer(i)) if i.unsigned_abs() <= 1 << 53 => {
            Some(PgParam::Double(*i as f64))
        }
        (ColumnKind::Text, Value::Text(t)) => Some(PgParam::Text(t.clone())),
        (ColumnKind::Bytes, Value::Blob(b)) => Some(PgParam::Bytes(b.clone())),
        _ => None,
    };
    param.ok_or_else(|| {
        format!(
            "{} cannot be stored faithfully in a {} column",
            describe_value(value),
            kind.describe()
        )
    })
}

fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Integer(i) => format!("the integer {i}"),
        Value::Real(r) => format!("the real {r}"),
        Value::Text(_) => "a text value".into(),
        Value::Blob(b) => format!("a {}-byte blob", b.len()),
    }
}

/// Column `index` of `row`, read as the wire value of a column of `kind`.
pub fn read_value(
    row: &Row,
    index: usize,
    kind: ColumnKind,
) -> Result<Value, tokio_postgres::Error> {
    Ok(match kind {
        ColumnKind::SmallInt => opt(row.try_get::<_, Option<i16>>(index)?, |v| {
            Value::Integer(v.into())
        }),
        ColumnKind::Int => opt(row.try_get::<_, Option<i32>>(index)?, |v| {
            Value::Integer(v.into())
        }),
        ColumnKind::BigInt => opt(row.try_get::<_, Option<i64>>(index)?, Value::Integer),
        ColumnKind::Double => opt(row.try_get::<_, Option<f64>>(index)?, Value::Real),
        ColumnKind::Text => opt(row.try_get::<_, Option<String>>(index)?, Value::Text),
        ColumnKind::Bytes => opt(row.try_get::<_, Option<Vec<u8>>>(index)?, Value::Blob),
        ColumnKind::Bool => opt(row.try_get::<_, Option<bool>>(index)?, |v| {
            Value::Integer(v.into())
        }),
    })
}

fn opt<T>(value: Option<T>, wrap: impl FnOnce(T) -> Value) -> Value {
    value.map_or(Value::Null, wrap)
}

impl ToSql for PgParam {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            PgParam::Null => Ok(IsNull::Yes),
            PgParam::SmallInt(v) => v.to_sql(ty, out),
            PgParam::Int(v) => v.to_sql(ty, out),
            PgParam::BigInt(v) => v.to_sql(ty, out),
            PgParam::Double(v) => v.to_sql(ty, out),
            PgParam::Text(v) => v.to_sql(ty, out),
            PgParam::Bytes(v) => v.to_sql(ty, out),
            PgParam::Bool(v) => v.to_sql(ty, out),
        }
    }

    /// The statement is always sent with the column's own type (`execute_typed`), chosen by
    /// [`to_param`], so any type the caller names is the right one.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Whether a [`QueryParam`] can be bound to a placeholder Postgres gave this type.
pub fn can_bind(ty: &Type) -> bool {
    param_kind(ty).is_some()
}

fn param_kind(ty: &Type) -> Option<ColumnKind> {
    Some(match *ty {
        Type::INT2 => ColumnKind::SmallInt,
        Type::INT4 => ColumnKind::Int,
        Type::INT8 => ColumnKind::BigInt,
        Type::FLOAT8 => ColumnKind::Double,
        Type::BYTEA => ColumnKind::Bytes,
        Type::BOOL => ColumnKind::Bool,
        Type::TEXT | Type::VARCHAR | Type::UNKNOWN => ColumnKind::Text,
        _ => return None,
    })
}

/// A `/query` parameter (or a claim a rule compares): its SQL type is whatever Postgres inferred
/// for the placeholder.
#[derive(Debug)]
pub struct QueryParam(pub Value);

impl ToSql for QueryParam {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        let Some(kind) = param_kind(ty) else {
            return Err(
                format!("cannot bind a parameter of type {ty}; cast it (e.g. $1::text)").into(),
            );
        };
        to_param(kind, &self.0)?.to_sql(ty, out)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// How a `/query` answer column is read: the mapped types (and `name`, `char(n)` as text);
/// anything else must be cast by the caller, e.g. `amount::text`.
pub fn query_column_kind(ty: &Type) -> Option<ColumnKind> {
    match *ty {
        Type::INT2 => Some(ColumnKind::SmallInt),
        Type::INT4 => Some(ColumnKind::Int),
        Type::INT8 => Some(ColumnKind::BigInt),
        Type::FLOAT8 => Some(ColumnKind::Double),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => Some(ColumnKind::Text),
        Type::BYTEA => Some(ColumnKind::Bytes),
        Type::BOOL => Some(ColumnKind::Bool),
        _ => None,
    }
}
