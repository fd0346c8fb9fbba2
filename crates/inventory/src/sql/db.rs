//! One connection API over both backends, shaped like the subset of
//! `rusqlite` the rest of this module uses (`prepare_cached`, `query_row`,
//! `query_map`, `exists`, `params!`, `Row::get`), so that every query is
//! written once, in SQL both engines run.
//!
//! Why a hand-written layer and not `sqlx`: the store is synchronous (the
//! CLI, the governance poller and the usage writer are threads; the
//! console calls it from `spawn_blocking`), every query already existed
//! against `rusqlite`, and the audit checks read edited rows leniently
//! (any SQLite storage class). This layer keeps that code as it was and
//! adds what PostgreSQL needs:
//!
//! - placeholders: queries are written with `?N`; for PostgreSQL they are
//!   rewritten to `$N` (outside string literals) once per statement, and
//!   prepared statements are cached per connection;
//! - values: parameters are [`Value`]s, bound by the type PostgreSQL
//!   inferred for them (`BIGINT`, `INTEGER`, `TEXT`, `BOOLEAN`, …, checked
//!   conversions); result columns are decoded into [`Value`]s by their
//!   type (`NUMERIC` sums included), so a row reads the same on both;
//! - transactions: [`Connection::transaction`] is `BEGIN IMMEDIATE` on
//!   SQLite and, on PostgreSQL, `BEGIN` plus a transaction-level advisory
//!   lock ([`WRITE_LOCK`]), so writers on any number of replicas queue as
//!   SQLite's do and the audit chain stays one line;
//! - the `postgres` client runs its own small runtime: a call made on a
//!   thread inside a tokio runtime is moved to a scoped thread, since that
//!   runtime cannot be started from within another;
//! - a PostgreSQL connection that was closed (the server restarted) is
//!   opened again on the next call.

use std::cell::RefCell;
use std::collections::HashMap;

pub(crate) use super::tls::PgTarget;
use postgres::types::{FromSql as PgFromSql, IsNull, ToSql as PgToSql, Type, to_sql_checked};

/// The advisory lock every audited PostgreSQL transaction takes
/// (`pg_advisory_xact_lock`): one writer at a time, across every replica
/// using the database, released at commit or rollback.
pub(crate) const WRITE_LOCK: i64 = 0x6d67_6174_6501; // "mgate\x01"

/// The lock that serialises creating usage partitions.
pub(crate) const PARTITION_LOCK: i64 = 0x6d67_6174_6502;

/// The advisory lock that serialises the counting of console sign-in
/// attempts on PostgreSQL (not the writers' lock: a burst of sign-ins must
/// not queue audited changes).
pub(crate) const LOGIN_LOCK: i64 = 0x6d67_6174_6503;

/// At most this many prepared statements are kept per PostgreSQL
/// connection (the dynamic report queries vary by filter).
const MAX_CACHED_STATEMENTS: usize = 256;

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// SQLite refused or failed.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused or failed.
    #[error(transparent)]
    Postgres(#[from] postgres::Error),
    /// A query that must return a row returned none.
    #[error("the query returned no rows")]
    NoRows,
    /// A column's value does not convert to what the code reads.
    #[error("column {index}: {what}")]
    Conversion {
        /// The column, from 0.
        index: usize,
        /// What was found and what was wanted.
        what: String,
    },
    /// The TLS handshake with PostgreSQL failed, or the server offers no
    /// TLS where the URL's `sslmode` requires it.
    #[error("the TLS handshake with PostgreSQL failed (sslmode={mode}): {detail}; {hint}")]
    Tls {
        /// The URL's `sslmode`.
        mode: &'static str,
        /// What the handshake said.
        detail: String,
        /// What to do.
        hint: &'static str,
    },
    /// A parameter does not convert to the type the database wants.
    #[error("a parameter does not fit {wanted}")]
    Parameter {
        /// The database's type.
        wanted: String,
    },
}

impl DatabaseError {
    /// PostgreSQL's SQLSTATE, when it said one.
    pub fn sql_state(&self) -> Option<&str> {
        match self {
            DatabaseError::Postgres(error) => error.code().map(|code| code.code()),
            _ => None,
        }
    }
}

/// Results of this layer.
pub(crate) type Result<T> = std::result::Result<T, DatabaseError>;

/// A value passed to or read from the database.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// NULL.
    Null,
    /// An integer (PostgreSQL `BIGINT`, `INTEGER`, `SMALLINT`, `BOOLEAN`).
    Integer(i64),
    /// A float.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// A borrowed [`Value`], as a row hands it out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ValueRef<'a> {
    /// NULL.
    Null,
    /// An integer.
    Integer(i64),
    /// A float.
    Real(f64),
    /// Text (SQLite may hold invalid UTF-8 in an edited file).
    Text(&'a [u8]),
    /// Bytes.
    Blob(&'a [u8]),
}

impl Value {
    fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Integer(n) => ValueRef::Integer(*n),
            Value::Real(x) => ValueRef::Real(*x),
            Value::Text(text) => ValueRef::Text(text.as_bytes()),
            Value::Blob(bytes) => ValueRef::Blob(bytes),
        }
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(text)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Integer(n)
    }
}

// ------------------------------------------------------------- parameters

/// Something that can be bound as a parameter.
pub(crate) trait ToSql {
    /// The value to bind.
    fn to_value(&self) -> Value;
}

impl ToSql for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl ToSql for i64 {
    fn to_value(&self) -> Value {
        Value::Integer(*self)
    }
}
impl ToSql for i32 {
    fn to_value(&self) -> Value {
        Value::Integer(i64::from(*self))
    }
}
impl ToSql for u32 {
    fn to_value(&self) -> Value {
        Value::Integer(i64::from(*self))
    }
}
impl ToSql for bool {
    fn to_value(&self) -> Value {
        Value::Integer(i64::from(*self))
    }
}
impl ToSql for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl ToSql for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}
impl ToSql for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToSql for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToSql for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToSql> ToSql for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToSql::to_value)
    }
}

/// The parameters of one statement.
pub(crate) trait Params {
    /// Their values, in order (`?1` first).
    fn into_values(self) -> Vec<Value>;
}

impl Params for &[&dyn ToSql] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(|p| p.to_value()).collect()
    }
}
impl<T: ToSql, const N: usize> Params for [T; N] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToSql::to_value).collect()
    }
}
impl<T: ToSql, const N: usize> Params for &[T; N] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToSql::to_value).collect()
    }
}

/// Parameters from an iterator (see [`params_from_iter`]).
pub(crate) struct ParamsFromIter(Vec<Value>);

impl Params for ParamsFromIter {
    fn into_values(self) -> Vec<Value> {
        self.0
    }
}

/// Bind every item of `iter`, in order.
pub(crate) fn params_from_iter<I>(iter: I) -> ParamsFromIter
where
    I: IntoIterator,
    I::Item: ToSql,
{
    ParamsFromIter(iter.into_iter().map(|p| p.to_value()).collect())
}

/// `params![a, b, c]`: the parameters of one statement.
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::sql::db::ToSql]
    };
    ($($param:expr),+ $(,)?) => {
        &[$(&$param as &dyn $crate::sql::db::ToSql),+] as &[&dyn $crate::sql::db::ToSql]
    };
}
pub(crate) use params;

impl PgToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let misfit = || -> Box<dyn std::error::Error + Sync + Send> {
            Box::new(DatabaseError::Parameter {
                wanted: ty.name().to_owned(),
            })
        };
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(n) => match *ty {
                Type::INT8 => n.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n).map_err(|_| misfit())?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*n).map_err(|_| misfit())?.to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                Type::FLOAT8 => {
                    #[allow(clippy::cast_precision_loss)] // only where SQL asks for a float
                    let x = *n as f64;
                    x.to_sql(ty, out)
                }
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    n.to_string().to_sql(ty, out)
                }
                _ => Err(misfit()),
            },
            Value::Real(x) => match *ty {
                Type::FLOAT8 => x.to_sql(ty, out),
                _ => Err(misfit()),
            },
            Value::Text(text) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    text.as_str().to_sql(ty, out)
                }
                _ => Err(misfit()),
            },
            Value::Blob(bytes) => match *ty {
                Type::BYTEA => bytes.as_slice().to_sql(ty, out),
                _ => Err(misfit()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

// ------------------------------------------------------------------ rows

/// Conversion from a column's value.
pub(crate) trait FromSql: Sized {
    /// The value, or why not.
    fn from_value(value: ValueRef<'_>) -> std::result::Result<Self, String>;
}

fn kind(value: ValueRef<'_>) -> &'static str {
    match value {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a float",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "bytes",
    }
}

impl FromSql for i64 {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<i64, String> {
        match value {
            ValueRef::Integer(n) => Ok(n),
            other => Err(format!("{} where an integer was expected", kind(other))),
        }
    }
}
impl FromSql for u32 {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<u32, String> {
        let n = i64::from_value(value)?;
        u32::try_from(n).map_err(|_| format!("{n} does not fit 32 bits"))
    }
}
impl FromSql for bool {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<bool, String> {
        Ok(i64::from_value(value)? != 0)
    }
}
impl FromSql for f64 {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<f64, String> {
        match value {
            ValueRef::Real(x) => Ok(x),
            #[allow(clippy::cast_precision_loss)] // SQLite stores whole floats as integers
            ValueRef::Integer(n) => Ok(n as f64),
            other => Err(format!("{} where a number was expected", kind(other))),
        }
    }
}
impl FromSql for String {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<String, String> {
        match value {
            ValueRef::Text(bytes) => {
                String::from_utf8(bytes.to_vec()).map_err(|_| "text that is not UTF-8".to_string())
            }
            other => Err(format!("{} where text was expected", kind(other))),
        }
    }
}
impl FromSql for Vec<u8> {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<Vec<u8>, String> {
        match value {
            ValueRef::Blob(bytes) | ValueRef::Text(bytes) => Ok(bytes.to_vec()),
            other => Err(format!("{} where bytes were expected", kind(other))),
        }
    }
}
impl FromSql for Value {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<Value, String> {
        Ok(match value {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(n) => Value::Integer(n),
            ValueRef::Real(x) => Value::Real(x),
            ValueRef::Text(bytes) => Value::Text(String::from_utf8_lossy(bytes).into_owned()),
            ValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
        })
    }
}
impl<T: FromSql> FromSql for Option<T> {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<Option<T>, String> {
        match value {
            ValueRef::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// A column index (by position; rows are read positionally here).
pub(crate) trait RowIndex {
    /// The position.
    fn position(&self) -> usize;
}
impl RowIndex for usize {
    fn position(&self) -> usize {
        *self
    }
}

/// One row of a result.
#[derive(Clone, Copy)]
pub(crate) enum Row<'a> {
    /// SQLite's row, read in place.
    Sqlite(&'a rusqlite::Row<'a>),
    /// A PostgreSQL row, decoded.
    Values(&'a [Value]),
}

impl Row<'_> {
    /// Column `idx`, converted.
    pub(crate) fn get<I: RowIndex, T: FromSql>(&self, idx: I) -> Result<T> {
        let index = idx.position();
        let value = self.get_ref(index)?;
        T::from_value(value).map_err(|what| DatabaseError::Conversion { index, what })
    }

    /// Column `idx` as it is stored.
    pub(crate) fn get_ref(&self, idx: usize) -> Result<ValueRef<'_>> {
        match self {
            Row::Sqlite(row) => Ok(match row.get_ref(idx)? {
                rusqlite::types::ValueRef::Null => ValueRef::Null,
                rusqlite::types::ValueRef::Integer(n) => ValueRef::Integer(n),
                rusqlite::types::ValueRef::Real(x) => ValueRef::Real(x),
                rusqlite::types::ValueRef::Text(bytes) => ValueRef::Text(bytes),
                rusqlite::types::ValueRef::Blob(bytes) => ValueRef::Blob(bytes),
            }),
            Row::Values(values) => {
                values
                    .get(idx)
                    .map(Value::as_ref)
                    .ok_or(DatabaseError::Conversion {
                        index: idx,
                        what: format!("the row has {} columns", values.len()),
                    })
            }
        }
    }
}

/// `NUMERIC` (what PostgreSQL's `SUM` of `BIGINT` returns), read when it
/// is a whole number that fits `i64`.
struct Numeric(i64);

impl<'a> PgFromSql<'a> for Numeric {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Numeric, Box<dyn std::error::Error + Sync + Send>> {
        let word =
            |i: usize| -> std::result::Result<u16, Box<dyn std::error::Error + Sync + Send>> {
                match raw.get(i * 2..i * 2 + 2) {
                    Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
                    _ => Err("a truncated NUMERIC".into()),
                }
            };
        let ndigits = usize::from(word(0)?);
        let weight = i16::from_be_bytes(word(1)?.to_be_bytes());
        let sign = word(2)?;
        let mut value: i64 = 0;
        let too_big = || -> Box<dyn std::error::Error + Sync + Send> {
            "a NUMERIC that does not fit 64 bits".into()
        };
        for i in 0..ndigits {
            // Base-10000 digits; those after the point must be zero.
            let digit = i64::from(word(4 + i)?);
            if digit >= 10_000 {
                return Err("a NUMERIC digit over 9999".into());
            }
            let position = i64::from(weight) - i64::try_from(i).map_err(|_| too_big())?;
            if position < 0 {
                if digit != 0 {
                    return Err("a NUMERIC with a fraction".into());
                }
                continue;
            }
            value = value
                .checked_mul(10_000)
                .and_then(|v| v.checked_add(digit))
                .ok_or_else(too_big)?;
        }
        // Trailing zero digits are not stored: scale up to the weight.
        let stored = i64::try_from(ndigits).map_err(|_| too_big())?;
        for _ in stored..=i64::from(weight) {
            value = value.checked_mul(10_000).ok_or_else(too_big)?;
        }
        match sign {
            0x0000 => Ok(Numeric(value)),
            0x4000 => Ok(Numeric(-value)),
            _ => Err("a NUMERIC that is not a number".into()),
        }
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

/// A PostgreSQL row as [`Value`]s, by each column's type.
fn decode(row: &postgres::Row) -> Result<Vec<Value>> {
    let mut values = Vec::with_capacity(row.len());
    for (index, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let value = match *ty {
            Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map(Value::Integer),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(index)?
                .map(|n| Value::Integer(i64::from(n))),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(index)?
                .map(|n| Value::Integer(i64::from(n))),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(index)?
                .map(|b| Value::Integer(i64::from(b))),
            Type::FLOAT8 => row.try_get::<_, Option<f64>>(index)?.map(Value::Real),
            Type::FLOAT4 => row
                .try_get::<_, Option<f32>>(index)?
                .map(|x| Value::Real(f64::from(x))),
            Type::NUMERIC => row
                .try_get::<_, Option<Numeric>>(index)?
                .map(|n| Value::Integer(n.0)),
            Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(index)?.map(Value::Blob),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                row.try_get::<_, Option<String>>(index)?.map(Value::Text)
            }
            _ => {
                return Err(DatabaseError::Conversion {
                    index,
                    what: format!("PostgreSQL type {} is not read here (cast it)", ty.name()),
                });
            }
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(values)
}

// ------------------------------------------------------------ connections

/// Which engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A PostgreSQL session: the client and its prepared statements.
pub(crate) struct Pg {
    target: PgTarget,
    /// `None` only while being replaced or dropped.
    client: RefCell<Option<postgres::Client>>,
    statements: RefCell<HashMap<String, postgres::Statement>>,
}

/// A connection to either backend.
#[allow(clippy::large_enum_variant)] // one per store, never moved in a loop
pub(crate) enum Connection {
    /// SQLite.
    Sqlite(rusqlite::Connection),
    /// PostgreSQL.
    Postgres(Pg),
}

/// Run `job` where the `postgres` client may start its own runtime: here,
/// or on a scoped thread when this thread is inside a tokio runtime.
pub(crate) fn off_runtime<T: Send>(job: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return job();
    }
    std::thread::scope(|scope| match scope.spawn(job).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// `?N` placeholders rewritten as PostgreSQL's `$N`, outside string
/// literals and quoted names.
pub(crate) fn postgres_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('$');
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    out
}

impl Pg {
    /// Connect to `target`.
    pub(crate) fn connect(target: PgTarget) -> Result<Pg> {
        let client = target.connect()?;
        Ok(Pg {
            target,
            client: RefCell::new(Some(client)),
            statements: RefCell::new(HashMap::new()),
        })
    }

    /// Run `job` with the client, reconnecting first if the server closed
    /// the session (outside a transaction only: a transaction's session
    /// cannot be resumed, and its next statement fails instead).
    pub(crate) fn with_client<T: Send>(
        &self,
        job: impl FnOnce(&mut postgres::Client) -> Result<T> + Send,
    ) -> Result<T> {
        let mut slot = self.client.borrow_mut();
        if slot.as_ref().is_none_or(postgres::Client::is_closed) {
            let fresh = self.target.connect()?;
            if let Some(old) = slot.replace(fresh) {
                off_runtime(move || drop(old));
            }
            self.statements.borrow_mut().clear();
        }
        let Some(client) = slot.as_mut() else {
            // Cannot happen: the slot was filled just above.
            return Err(DatabaseError::NoRows);
        };
        off_runtime(move || job(client))
    }

    fn statement(&self, sql: &str) -> Result<postgres::Statement> {
        if let Some(statement) = self.statements.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let text = postgres_sql(sql);
        let statement = self.with_client(|client| Ok(client.prepare(&text)?))?;
        let mut cache = self.statements.borrow_mut();
        if cache.len() >= MAX_CACHED_STATEMENTS {
            cache.clear();
        }
        cache.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    fn query(&self, statement: &postgres::Statement, values: &[Value]) -> Result<Vec<Vec<Value>>> {
        let params = pg_params(values);
        let rows = self.with_client(|client| Ok(client.query(statement, &params)?))?;
        rows.iter().map(decode).collect()
    }

    fn execute(&self, statement: &postgres::Statement, values: &[Value]) -> Result<usize> {
        let params = pg_params(values);
        let n = self.with_client(|client| Ok(client.execute(statement, &params)?))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

/// `values` as the `postgres` client takes parameters.
pub(crate) fn pg_params(values: &[Value]) -> Vec<&(dyn PgToSql + Sync)> {
    values.iter().map(|v| v as &(dyn PgToSql + Sync)).collect()
}

impl Drop for Pg {
    /// Closing the client blocks on its runtime, which must not happen on
    /// a thread inside another one.
    fn drop(&mut self) {
        if let Some(client) = self.client.get_mut().take() {
            off_runtime(move || drop(client));
        }
    }
}

impl Connection {
    /// Which engine this is.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Connection::Sqlite(_) => Backend::Sqlite,
            Connection::Postgres(_) => Backend::Postgres,
        }
    }

    /// The PostgreSQL session, if this is one.
    pub(crate) fn postgres(&self) -> Option<&Pg> {
        match self {
            Connection::Postgres(pg) => Some(pg),
            Connection::Sqlite(_) => None,
        }
    }

    /// A statement, prepared once per connection.
    pub(crate) fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(match self {
            Connection::Sqlite(conn) => Statement::Sqlite(conn.prepare_cached(sql)?),
            Connection::Postgres(pg) => Statement::Postgres {
                pg,
                statement: pg.statement(sql)?,
            },
        })
    }

    /// A statement (cached as [`Connection::prepare_cached`]).
    pub(crate) fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        self.prepare_cached(sql)
    }

    /// Run `sql` and read its first row with `f`.
    pub(crate) fn query_row<T, P: Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    /// The first column of every row of `sql` (no parameters).
    pub(crate) fn column<T: FromSql>(&self, sql: &str) -> Result<Vec<T>> {
        let mut stmt = self.prepare(sql)?;
        let rows = stmt.query_map([] as [i64; 0], |row| row.get::<_, T>(0))?;
        rows.collect()
    }

    /// Run one statement; how many rows it changed.
    pub(crate) fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    /// Run several statements with no parameters (migrations).
    pub(crate) fn execute_batch(&self, sql: &str) -> Result<()> {
        match self {
            Connection::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Connection::Postgres(pg) => pg.with_client(|client| Ok(client.batch_execute(sql)?)),
        }
    }

    /// Start a transaction that writes audited state: on SQLite `BEGIN
    /// IMMEDIATE` (the write lock now, not at the first write), on
    /// PostgreSQL `BEGIN` and the [`WRITE_LOCK`] advisory lock.
    pub(crate) fn transaction(&mut self) -> Result<Transaction<'_>> {
        self.begin(true)
    }

    /// Start a transaction that does not take the audit writers' lock on
    /// PostgreSQL (usage records); on SQLite it is `BEGIN IMMEDIATE` like
    /// any other write.
    pub(crate) fn unlocked_transaction(&mut self) -> Result<Transaction<'_>> {
        self.begin(false)
    }

    fn begin(&mut self, locked: bool) -> Result<Transaction<'_>> {
        match self {
            Connection::Sqlite(conn) => conn.execute_batch("BEGIN IMMEDIATE")?,
            Connection::Postgres(pg) => {
                pg.with_client(|client| Ok(client.batch_execute("BEGIN")?))?;
                if locked {
                    let locking = pg.with_client(|client| {
                        Ok(client.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?)
                    });
                    if let Err(error) = locking {
                        let _ = pg.with_client(|client| Ok(client.batch_execute("ROLLBACK")?));
                        return Err(error);
                    }
                }
            }
        }
        Ok(Transaction {
            conn: self,
            open: true,
        })
    }
}

/// A transaction: committed by [`Transaction::commit`], rolled back when
/// dropped without it. Reads and writes through it as a [`Connection`].
pub(crate) struct Transaction<'c> {
    conn: &'c Connection,
    open: bool,
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Transaction<'_> {
    /// Make the changes permanent.
    pub(crate) fn commit(mut self) -> Result<()> {
        self.open = false;
        self.conn.execute_batch("COMMIT")
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

// -------------------------------------------------------------- statements

/// A prepared statement.
pub(crate) enum Statement<'c> {
    /// SQLite's, from its statement cache.
    Sqlite(rusqlite::CachedStatement<'c>),
    /// PostgreSQL's, with the session that prepared it.
    Postgres {
        /// The session.
        pg: &'c Pg,
        /// The statement.
        statement: postgres::Statement,
    },
}

impl Statement<'_> {
    /// The names of the columns it returns.
    pub(crate) fn column_names(&self) -> Vec<String> {
        match self {
            Statement::Sqlite(stmt) => stmt.column_names().map(str::to_owned).collect(),
            Statement::Postgres { statement, .. } => statement
                .columns()
                .iter()
                .map(|column| column.name().to_owned())
                .collect(),
        }
    }

    /// Run it; how many rows it changed.
    pub(crate) fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        let values = params.into_values();
        match self {
            Statement::Sqlite(stmt) => Ok(stmt.execute(rusqlite::params_from_iter(values.iter()))?),
            Statement::Postgres { pg, statement } => pg.execute(statement, &values),
        }
    }

    /// Run it and read its first row with `f` ([`DatabaseError::NoRows`]
    /// when there is none).
    pub(crate) fn query_row<T, P: Params>(
        &mut self,
        params: P,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut rows = self.query(params)?;
        match rows.next()? {
            Some(row) => f(&row),
            None => Err(DatabaseError::NoRows),
        }
    }

    /// Whether it returns any row.
    pub(crate) fn exists<P: Params>(&mut self, params: P) -> Result<bool> {
        let mut rows = self.query(params)?;
        Ok(rows.next()?.is_some())
    }

    /// Run it and read every row with `f`.
    pub(crate) fn query_map<T, P: Params>(
        &mut self,
        params: P,
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let mut rows = self.query(params)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(f(&row));
        }
        Ok(out.into_iter())
    }

    /// Run it; its rows, one at a time.
    pub(crate) fn query<P: Params>(&mut self, params: P) -> Result<Rows<'_>> {
        let values = params.into_values();
        Ok(match self {
            Statement::Sqlite(stmt) => {
                Rows::Sqlite(stmt.query(rusqlite::params_from_iter(values.iter()))?)
            }
            Statement::Postgres { pg, statement } => Rows::Values {
                rows: pg.query(statement, &values)?,
                next: 0,
            },
        })
    }
}

/// SQLite binds a [`Value`] in place, without copying its text or bytes.
impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::ValueRef as Sqlite;
        Ok(rusqlite::types::ToSqlOutput::Borrowed(match self {
            Value::Null => Sqlite::Null,
            Value::Integer(n) => Sqlite::Integer(*n),
            Value::Real(x) => Sqlite::Real(*x),
            Value::Text(text) => Sqlite::Text(text.as_bytes()),
            Value::Blob(bytes) => Sqlite::Blob(bytes),
        }))
    }
}

/// The rows of a query.
pub(crate) enum Rows<'s> {
    /// SQLite's, stepped as they are read.
    Sqlite(rusqlite::Rows<'s>),
    /// PostgreSQL's, all fetched.
    Values {
        /// The decoded rows.
        rows: Vec<Vec<Value>>,
        /// The next to hand out.
        next: usize,
    },
}

impl Rows<'_> {
    /// The next row, if any.
    #[allow(clippy::should_implement_trait)] // a lending iterator, as rusqlite's
    pub(crate) fn next(&mut self) -> Result<Option<Row<'_>>> {
        match self {
            #[allow(clippy::redundant_closure)] // the closure lets the row's lifetime shorten
            Rows::Sqlite(rows) => Ok(rows.next()?.map(|row| Row::Sqlite(row))),
            Rows::Values { rows, next } => {
                let row = rows.get(*next);
                *next = next.saturating_add(1);
                Ok(row.map(|values| Row::Values(values)))
            }
        }
    }
}

/// `.optional()`: no row is `None`, not an error.
pub(crate) trait OptionalExtension<T> {
    /// `Ok(None)` for [`DatabaseError::NoRows`].
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(DatabaseError::NoRows) => Ok(None),
            Err(DatabaseError::Sqlite(rusqlite::Error::QueryReturnedNoRows)) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// PostgreSQL's binary NUMERIC: ndigits, weight, sign, dscale, then
    /// base-10000 digits.
    fn numeric(weight: i16, sign: u16, digits: &[u16]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for word in [
            u16::try_from(digits.len()).unwrap(),
            weight.cast_unsigned(),
            sign,
            0,
        ] {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        for digit in digits {
            bytes.extend_from_slice(&digit.to_be_bytes());
        }
        bytes
    }

    fn read(bytes: &[u8]) -> std::result::Result<i64, String> {
        Numeric::from_sql(&Type::NUMERIC, bytes)
            .map(|n| n.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn whole_numerics_are_read_and_the_rest_refused() {
        assert_eq!(read(&numeric(0, 0, &[])), Ok(0));
        assert_eq!(read(&numeric(1, 0, &[1234, 5678])), Ok(12_345_678));
        // Trailing zero digits are not stored.
        assert_eq!(read(&numeric(2, 0, &[3])), Ok(300_000_000));
        assert_eq!(read(&numeric(0, 0x4000, &[5])), Ok(-5));
        assert_eq!(
            read(&numeric(4, 0, &[922, 3372, 368, 5477, 5807])),
            Ok(i64::MAX)
        );
        assert!(read(&numeric(5, 0, &[1])).unwrap_err().contains("64 bits"));
        assert!(
            read(&numeric(0, 0, &[1, 5]))
                .unwrap_err()
                .contains("fraction")
        );
        assert!(
            read(&numeric(0, 0xC000, &[]))
                .unwrap_err()
                .contains("not a number")
        );
        let mut truncated = numeric(1, 0, &[1, 2]);
        truncated.pop();
        assert!(read(&truncated).unwrap_err().contains("truncated"));
        assert!(
            read(&numeric(0, 0, &[10_000]))
                .unwrap_err()
                .contains("over 9999")
        );
        // Whatever the bytes, an answer and no panic: every 8-byte header
        // with up to two digits, from a small deterministic generator.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let bytes = state.to_be_bytes();
            let len = usize::from(bytes[7] % 13);
            let mut input = bytes.to_vec();
            input.extend_from_slice(&state.rotate_left(17).to_be_bytes());
            input.truncate(len);
            let _ = read(&input);
        }
    }

    #[test]
    fn placeholders_are_rewritten_outside_literals() {
        assert_eq!(
            postgres_sql("SELECT '?1', \"a?2\" FROM t WHERE a = ?1 AND b = ?12 AND c = ?"),
            "SELECT '?1', \"a?2\" FROM t WHERE a = $1 AND b = $12 AND c = ?"
        );
    }
}
