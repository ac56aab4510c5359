//! The working copy: a PostgreSQL rollout is read and written through an in-memory SQLite
//! database of the state format, so every [`crate::state::Store`] method (and the audit chain's
//! hashing) is the same code on both backends.
//!
//! A write takes the rollout's registry row `FOR UPDATE` (writers of one rollout queue there,
//! from any host), brings the copy up to date when another writer moved the rollout's `version`
//! on, runs the method's SQLite transaction on the copy while SQLite's update hook notes each
//! row it touches, and sends those rows to PostgreSQL in the same PostgreSQL transaction that
//! bumps the version — so a write lands in both or, after a failed commit, the copy is thrown
//! away and read again. Reads only refresh the copy when the version moved. This file does not
//! know what the tables mean, nor the lock (`fence.rs`).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::{Arc, Mutex};

use postgres::types::ToSql;
use rusqlite::hooks::Action;
use rusqlite::types::Value;
use rusqlite::{Connection, Transaction};

use super::connect::Session;
use super::location::PgLocation;
use super::schema::{pg_table, quoted};

/// The `meta` keys that belong to the working copy itself, never mirrored.
const LOCAL_META: [&str; 2] = ["format_version", "plan_name"];

/// A table of the state format, as the working copy has it.
#[derive(Debug, Clone)]
pub(crate) struct TableShape {
    pub(crate) name: String,
    pub(crate) columns: Vec<ColumnShape>,
    /// The primary key's columns, in key order.
    pub(crate) key: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct ColumnShape {
    pub(crate) name: String,
    pub(crate) integer: bool,
}

impl ColumnShape {
    pub(crate) fn pg_type(&self) -> &'static str {
        if self.integer { "BIGINT" } else { "TEXT" }
    }
}

/// Every table of the working copy but `moved` (a state file's own marker).
pub(crate) fn shapes(copy: &Connection) -> rusqlite::Result<Vec<TableShape>> {
    let names = copy
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' AND name != 'moved' ORDER BY name",
        )?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut shapes = Vec::new();
    for name in names {
        let mut columns = Vec::new();
        let mut key = Vec::new();
        let mut statement =
            copy.prepare("SELECT name, type, pk FROM pragma_table_info(?1) ORDER BY cid")?;
        let rows = statement.query_map([&name], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (column, kind, pk) = row?;
            if pk > 0 {
                key.push((pk, column.clone()));
            }
            columns.push(ColumnShape {
                name: column,
                integer: kind.to_ascii_uppercase().contains("INT"),
            });
        }
        key.sort();
        shapes.push(TableShape {
            name,
            columns,
            key: key.into_iter().map(|(_, c)| c).collect(),
        });
    }
    Ok(shapes)
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum MirrorError {
    #[error("{0}")]
    Postgres(#[from] postgres::Error),
    #[error("working copy: {0}")]
    Copy(#[from] rusqlite::Error),
    #[error("not a PostgreSQL store")]
    NotPostgres,
    #[error("column {table}.{column} holds a value PostgreSQL's copy cannot: {why}")]
    Value {
        table: String,
        column: String,
        why: &'static str,
    },
}

/// One value on its way between the two databases.
#[derive(Debug, Clone)]
enum Cell64 {
    Int(Option<i64>),
    Text(Option<String>),
}

impl Cell64 {
    fn as_pg(&self) -> &(dyn ToSql + Sync) {
        match self {
            Cell64::Int(v) => v,
            Cell64::Text(v) => v,
        }
    }

    fn into_sqlite(self) -> Value {
        match self {
            Cell64::Int(Some(v)) => Value::Integer(v),
            Cell64::Text(Some(v)) => Value::Text(v),
            Cell64::Int(None) | Cell64::Text(None) => Value::Null,
        }
    }
}

/// A row touched by a write, as it now stands in the copy (`None`: deleted).
struct Touched {
    table: usize,
    row_id: i64,
    now: Option<Vec<Cell64>>,
}

/// A PostgreSQL rollout's session, its key and the copy's bookkeeping.
pub(crate) struct Remote {
    pub(crate) session: RefCell<Session>,
    pub(crate) location: PgLocation,
    pub(crate) rollout_id: i64,
    pub(crate) tables: Vec<TableShape>,
    /// The rollout's run lock (`fence.rs`).
    pub(crate) lock_key: i64,
    /// The rollout's `version` the copy reflects; `-1` forces a reload.
    version: Cell<i64>,
    /// How many times the copy was replaced by PostgreSQL's rows: what a cache of the copy's
    /// contents must compare, since SQLite's `data_version` does not see changes made on the
    /// copy's own connection.
    reloads: Cell<u64>,
    /// Filled by the copy's update hook during a write.
    touched: Arc<Mutex<Vec<(String, i64)>>>,
}

impl Remote {
    pub(crate) fn new(
        session: Session,
        location: PgLocation,
        rollout_id: i64,
        tables: Vec<TableShape>,
        copy: &mut Connection,
    ) -> rusqlite::Result<Self> {
        let touched: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
        let sink = touched.clone();
        copy.update_hook(Some(move |_: Action, _: &str, table: &str, row_id: i64| {
            if let Ok(mut rows) = sink.lock() {
                rows.push((table.to_owned(), row_id));
            }
        }))?;
        Ok(Self {
            session: RefCell::new(session),
            lock_key: super::fence::lock_key(&location.schema, rollout_id),
            location,
            rollout_id,
            tables,
            version: Cell::new(-1),
            reloads: Cell::new(0),
            touched,
        })
    }

    pub(crate) fn reloads(&self) -> u64 {
        self.reloads.get()
    }

    fn schema(&self) -> &str {
        &self.location.schema
    }

    /// Brings the copy up to date if another writer moved the rollout on: the version and the
    /// rows are read in one repeatable-read snapshot, so a write committed meanwhile is seen
    /// whole or not at all.
    pub(crate) fn refresh(&self, copy: &Connection) -> Result<(), MirrorError> {
        self.session
            .borrow_mut()
            .run(|c| c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"))?;
        let read = self.refresh_inside(copy);
        let end = if read.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = self.session.borrow_mut().run(move |c| c.batch_execute(end));
        read?;
        ended?;
        Ok(())
    }

    fn refresh_inside(&self, copy: &Connection) -> Result<(), MirrorError> {
        let (schema, id) = (self.schema().to_owned(), self.rollout_id);
        let version: i64 = self.session.borrow_mut().run(move |c| {
            c.query_one(
                &format!("SELECT version FROM {schema}.rollouts WHERE id = $1"),
                &[&id],
            )?
            .try_get(0)
        })?;
        if version != self.version.get() {
            self.reload(copy)?;
            self.version.set(version);
        }
        Ok(())
    }

    /// Replaces the copy's rows with PostgreSQL's (inside whatever PostgreSQL transaction the
    /// session has open, so a writer reads what it then locks).
    fn reload(&self, copy: &Connection) -> Result<(), MirrorError> {
        self.version.set(-1);
        self.reloads.set(self.reloads.get() + 1);
        let tx = copy.unchecked_transaction()?;
        for table in &self.tables {
            let rows = self.fetch(table)?;
            if table.name == "meta" {
                tx.execute(
                    "DELETE FROM meta WHERE key NOT IN (?1, ?2)",
                    [LOCAL_META[0], LOCAL_META[1]],
                )?;
            } else {
                // `WHERE true`: a bare DELETE would take SQLite's truncate path.
                tx.execute(
                    &format!("DELETE FROM {} WHERE true", quoted(&table.name)),
                    [],
                )?;
            }
            let insert = format!(
                "INSERT INTO {} (rowid, {}) VALUES (?1, {})",
                quoted(&table.name),
                column_list(table),
                (2..table.columns.len() + 2)
                    .map(|i| format!("?{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut statement = tx.prepare(&insert)?;
            for (row_id, values) in rows {
                if table.name == "meta" && is_local_meta(&values) {
                    continue;
                }
                let values = std::iter::once(Value::Integer(row_id))
                    .chain(values.into_iter().map(Cell64::into_sqlite));
                statement.execute(rusqlite::params_from_iter(values))?;
            }
        }
        tx.commit()?;
        self.take_touched();
        Ok(())
    }

    fn fetch(&self, table: &TableShape) -> Result<Vec<(i64, Vec<Cell64>)>, MirrorError> {
        let sql = format!(
            "SELECT row_id, {} FROM {}.{} WHERE rollout_id = $1 ORDER BY row_id",
            column_list(table),
            self.schema(),
            quoted(&pg_table(&table.name))
        );
        let id = self.rollout_id;
        let rows = self
            .session
            .borrow_mut()
            .run(move |c| c.query(&sql, &[&id]))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let row_id: i64 = row.try_get(0)?;
            let mut values = Vec::with_capacity(table.columns.len());
            for (i, column) in table.columns.iter().enumerate() {
                values.push(if column.integer {
                    Cell64::Int(row.try_get(i + 1)?)
                } else {
                    Cell64::Text(row.try_get(i + 1)?)
                });
            }
            out.push((row_id, values));
        }
        Ok(out)
    }

    fn take_touched(&self) -> Vec<(String, i64)> {
        match self.touched.lock() {
            Ok(mut rows) => std::mem::take(&mut *rows),
            Err(_) => Vec::new(),
        }
    }

    /// One write: `f` on the copy and its rows to PostgreSQL, in one transaction of each.
    /// `check` runs first inside the PostgreSQL transaction (the fencing check), `extra` last
    /// (the lock's own rows); either failing rolls both back.
    pub(crate) fn write<T, X: Send, E: Send>(
        &self,
        copy: &Connection,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
        check: impl FnOnce(&mut postgres::Client) -> Result<Result<(), E>, postgres::Error> + Send,
        epoch: Option<i64>,
        extra: impl FnOnce(&mut postgres::Client) -> Result<X, postgres::Error> + Send,
    ) -> Result<Result<(T, X), E>, MirrorError> {
        let (schema, id) = (self.schema().to_owned(), self.rollout_id);
        let mut session = self.session.borrow_mut();
        // The PostgreSQL transaction stays open across the copy's work: BEGIN here, COMMIT
        // below, ROLLBACK on any failure in between.
        let begun = session.run(|c| {
            c.batch_execute("BEGIN")?;
            let refused = check(c)?;
            let version: i64 = c
                .query_one(
                    &format!("SELECT version FROM {schema}.rollouts WHERE id = $1 FOR UPDATE"),
                    &[&id],
                )?
                .try_get(0)?;
            Ok((refused, version))
        });
        let (refused, version) = match begun {
            Ok(v) => v,
            Err(e) => {
                let _ = session.run(|c| c.batch_execute("ROLLBACK"));
                return Err(e.into());
            }
        };
        if let Err(refusal) = refused {
            let _ = session.run(|c| c.batch_execute("ROLLBACK"));
            return Ok(Err(refusal));
        }
        drop(session);
        let outcome = self.write_inside(copy, f, version, epoch, extra);
        let mut session = self.session.borrow_mut();
        match outcome {
            Ok((value, extra, tx, new_version)) => {
                if let Err(e) = session.run(|c| c.batch_execute("COMMIT")) {
                    self.version.set(-1);
                    return Err(e.into());
                }
                tx.commit()?;
                self.version.set(new_version);
                Ok(Ok((value, extra)))
            }
            Err(e) => {
                let _ = session.run(|c| c.batch_execute("ROLLBACK"));
                self.version.set(-1);
                Err(e)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn write_inside<'c, T, X: Send>(
        &self,
        copy: &'c Connection,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
        version: i64,
        epoch: Option<i64>,
        extra: impl FnOnce(&mut postgres::Client) -> Result<X, postgres::Error> + Send,
    ) -> Result<(T, X, Transaction<'c>, i64), MirrorError> {
        if version != self.version.get() {
            self.reload(copy)?;
        }
        self.take_touched();
        let tx = copy.unchecked_transaction()?;
        let value = f(&tx)?;
        let touched = self.rows_now(&tx, self.take_touched())?;
        let (schema, id) = (self.schema().to_owned(), self.rollout_id);
        let tables = &self.tables;
        let (extra, new_version) = self.session.borrow_mut().run(move |c| {
            push(c, &schema, id, tables, &touched, epoch)?;
            let new_version = if touched.is_empty() {
                version
            } else {
                c.query_one(
                    &format!(
                        "UPDATE {schema}.rollouts SET version = version + 1 WHERE id = $1
                         RETURNING version"
                    ),
                    &[&id],
                )?
                .try_get(0)?
            };
            let extra = extra(c)?;
            Ok((extra, new_version))
        })?;
        Ok((value, extra, tx, new_version))
    }

    /// The rows the hook saw, each once, as they now are in the copy.
    fn rows_now(
        &self,
        tx: &Transaction<'_>,
        seen: Vec<(String, i64)>,
    ) -> Result<Vec<Touched>, MirrorError> {
        let mut unique = BTreeMap::new();
        for (table, row_id) in seen {
            if let Some(index) = self.tables.iter().position(|t| t.name == table) {
                unique.insert((index, row_id), ());
            }
        }
        let mut out = Vec::with_capacity(unique.len());
        for (table, row_id) in unique.into_keys() {
            let shape = &self.tables[table];
            let sql = format!(
                "SELECT {} FROM {} WHERE rowid = ?1",
                column_list(shape),
                quoted(&shape.name)
            );
            let mut statement = tx.prepare_cached(&sql)?;
            let mut rows = statement.query([row_id])?;
            let now = match rows.next()? {
                None => None,
                Some(row) => {
                    let mut values = Vec::with_capacity(shape.columns.len());
                    for (i, column) in shape.columns.iter().enumerate() {
                        values.push(cell(shape, column, row.get_ref(i)?)?);
                    }
                    if shape.name == "meta" && is_local_meta(&values) {
                        continue;
                    }
                    Some(values)
                }
            };
            out.push(Touched { table, row_id, now });
        }
        Ok(out)
    }
}

/// Sends the touched rows: each SQLite row id's old row goes, its current row (if any) comes
/// in by the table's key (which also replaces a row that `INSERT OR REPLACE` deleted unseen).
fn push(
    tx: &mut postgres::Client,
    schema: &str,
    rollout_id: i64,
    tables: &[TableShape],
    touched: &[Touched],
    epoch: Option<i64>,
) -> Result<(), postgres::Error> {
    let mut deletes = BTreeMap::new();
    let mut upserts = BTreeMap::new();
    for row in touched {
        let shape = &tables[row.table];
        let name = format!("{schema}.{}", quoted(&pg_table(&shape.name)));
        let delete = match deletes.entry(row.table) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(tx.prepare(&format!(
                "DELETE FROM {name} WHERE rollout_id = $1 AND row_id = $2"
            ))?),
        };
        tx.execute(&*delete, &[&rollout_id, &row.row_id])?;
        let Some(values) = &row.now else { continue };
        let journal = shape.name == "journal";
        let upsert = match upserts.entry(row.table) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(tx.prepare(&upsert_sql(&name, shape, journal))?),
        };
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&rollout_id, &row.row_id];
        params.extend(values.iter().map(Cell64::as_pg));
        if journal {
            params.push(&epoch);
        }
        tx.execute(&*upsert, &params)?;
    }
    Ok(())
}

fn upsert_sql(name: &str, shape: &TableShape, journal: bool) -> String {
    let mut columns: Vec<String> = shape.columns.iter().map(|c| quoted(&c.name)).collect();
    if journal {
        columns.push("epoch".to_owned());
    }
    let placeholders = (3..columns.len() + 3)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let updates = std::iter::once("row_id = EXCLUDED.row_id".to_owned())
        .chain(columns.iter().map(|c| format!("{c} = EXCLUDED.{c}")))
        .collect::<Vec<_>>()
        .join(", ");
    let key = shape
        .key
        .iter()
        .map(|k| quoted(k))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO {name} (rollout_id, row_id, {}) VALUES ($1, $2, {placeholders})
         ON CONFLICT (rollout_id, {key}) DO UPDATE SET {updates}",
        columns.join(", ")
    )
}

fn column_list(table: &TableShape) -> String {
    table
        .columns
        .iter()
        .map(|c| quoted(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_local_meta(values: &[Cell64]) -> bool {
    matches!(values.first(), Some(Cell64::Text(Some(key))) if LOCAL_META.contains(&key.as_str()))
}

fn cell(
    shape: &TableShape,
    column: &ColumnShape,
    value: rusqlite::types::ValueRef<'_>,
) -> Result<Cell64, MirrorError> {
    use rusqlite::types::ValueRef;
    let bad = |why| MirrorError::Value {
        table: shape.name.clone(),
        column: column.name.clone(),
        why,
    };
    Ok(match (column.integer, value) {
        (true, ValueRef::Null) => Cell64::Int(None),
        (false, ValueRef::Null) => Cell64::Text(None),
        (true, ValueRef::Integer(v)) => Cell64::Int(Some(v)),
        (false, ValueRef::Integer(v)) => Cell64::Text(Some(v.to_string())),
        (false, ValueRef::Text(t)) => Cell64::Text(Some(
            String::from_utf8(t.to_vec()).map_err(|_| bad("text that is not UTF-8"))?,
        )),
        (false, ValueRef::Real(v)) => Cell64::Text(Some(v.to_string())),
        (true, ValueRef::Text(_) | ValueRef::Real(_)) => {
            return Err(bad("a non-integer in an integer column"));
        }
        (_, ValueRef::Blob(_)) => return Err(bad("a blob")),
    })
}
