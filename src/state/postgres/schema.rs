//! The PostgreSQL layout: one schema per database (`cutover` unless the URL says otherwise),
//! created and upgraded by cutover, its version recorded in `schema_meta`.
//!
//! `rollouts` keys each rollout by plan name and target and counts its writes (`version`, which
//! tells a reader whether its working copy is current); `fences` holds each rollout's lock epoch.
//! Every table of the SQLite state format is mirrored with the same columns, a `rollout_id` and
//! the SQLite `row_id` ([`TableShape`] reads them from the working copy, so the two cannot
//! drift); the journal also records the lock epoch each row was written under. A later SQLite
//! format that adds a table or a column reaches PostgreSQL the same way, by this upgrade.

use postgres::Client;

use super::mirror::TableShape;

/// Version 1: the rollout registry, fences and the mirror of SQLite state format 8 onwards.
pub(crate) const SCHEMA_VERSION: i64 = 1;

#[derive(Debug, thiserror::Error)]
pub(crate) enum SchemaError {
    #[error("{0}")]
    Postgres(#[from] postgres::Error),
    #[error(
        "schema {schema} was made by a newer cutover (version {found}); this one reads version {supported}"
    )]
    Newer {
        schema: String,
        found: i64,
        supported: i64,
    },
}

/// The mirrored table's name in PostgreSQL (the SQLite `meta` would read as the schema's own).
pub(crate) fn pg_table(sqlite_table: &str) -> String {
    match sqlite_table {
        "meta" => "rollout_meta".to_owned(),
        other => other.to_owned(),
    }
}

/// Quotes an identifier (`by` is a keyword in PostgreSQL).
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates or upgrades the schema, under a transaction-scoped advisory lock so that hosts
/// starting together do it once. `state_format` is the SQLite format the tables mirror.
pub(crate) fn ensure(
    client: &mut Client,
    schema: &str,
    tables: &[TableShape],
    state_format: i64,
) -> Result<(), SchemaError> {
    if current(client, schema)? == Some((SCHEMA_VERSION, state_format)) {
        return Ok(());
    }
    let mut tx = client.transaction()?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('cutover schema ' || $1, 0))",
        &[&schema],
    )?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.schema_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    ))?;
    let found: Option<String> = tx
        .query_opt(
            &format!("SELECT value FROM {schema}.schema_meta WHERE key = 'schema_version'"),
            &[],
        )?
        .map(|r| r.try_get(0))
        .transpose()?;
    let found = found.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let mirrored: Option<String> = tx
        .query_opt(
            &format!("SELECT value FROM {schema}.schema_meta WHERE key = 'state_format'"),
            &[],
        )?
        .map(|r| r.try_get(0))
        .transpose()?;
    let mirrored = mirrored.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    // A newer cutover's tables have columns this one would not keep: refused, never downgraded.
    if found > SCHEMA_VERSION || mirrored > state_format {
        return Err(SchemaError::Newer {
            schema: schema.to_owned(),
            found: found.max(mirrored),
            supported: if found > SCHEMA_VERSION {
                SCHEMA_VERSION
            } else {
                state_format
            },
        });
    }
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {schema}.rollouts (
             id BIGSERIAL PRIMARY KEY,
             plan_name TEXT NOT NULL,
             target TEXT NOT NULL,
             version BIGINT NOT NULL DEFAULT 0,
             created_ms BIGINT NOT NULL,
             UNIQUE (plan_name, target)
         );
         CREATE TABLE IF NOT EXISTS {schema}.fences (
             rollout_id BIGINT PRIMARY KEY REFERENCES {schema}.rollouts (id) ON DELETE CASCADE,
             epoch BIGINT NOT NULL,
             backend_pid INTEGER
         );"
    ))?;
    for table in tables {
        tx.batch_execute(&table_ddl(schema, table))?;
    }
    for (key, value) in [
        ("schema_version", SCHEMA_VERSION),
        ("state_format", state_format),
    ] {
        tx.execute(
            &format!(
                "INSERT INTO {schema}.schema_meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
            ),
            &[&key, &value.to_string()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

fn current(client: &mut Client, schema: &str) -> Result<Option<(i64, i64)>, postgres::Error> {
    let exists: Option<String> = client
        .query_one(
            "SELECT to_regclass($1)::text",
            &[&format!("{schema}.schema_meta")],
        )?
        .try_get(0)?;
    if exists.is_none() {
        return Ok(None);
    }
    let rows = client.query(
        &format!(
            "SELECT key, value FROM {schema}.schema_meta
             WHERE key IN ('schema_version', 'state_format')"
        ),
        &[],
    )?;
    let mut version = None;
    let mut format = None;
    for row in rows {
        let key: String = row.try_get(0)?;
        let value: Option<i64> = row.try_get::<_, String>(1)?.parse().ok();
        match key.as_str() {
            "schema_version" => version = value,
            _ => format = value,
        }
    }
    Ok(version.zip(format))
}

/// `CREATE TABLE IF NOT EXISTS` for a mirrored table, then each column `IF NOT EXISTS`, so a
/// table created by an older cutover gains the columns of a newer state format.
fn table_ddl(schema: &str, table: &TableShape) -> String {
    let name = format!("{schema}.{}", quoted(&pg_table(&table.name)));
    let key = table
        .key
        .iter()
        .map(|k| quoted(k))
        .collect::<Vec<_>>()
        .join(", ");
    let mut ddl = format!(
        "CREATE TABLE IF NOT EXISTS {name} (
             rollout_id BIGINT NOT NULL REFERENCES {schema}.rollouts (id) ON DELETE CASCADE,
             row_id BIGINT NOT NULL,
             {columns},
             PRIMARY KEY (rollout_id, {key})
         );
         CREATE INDEX IF NOT EXISTS {index} ON {name} (rollout_id, row_id);",
        columns = table
            .columns
            .iter()
            .map(|c| format!("{} {}", quoted(&c.name), c.pg_type()))
            .collect::<Vec<_>>()
            .join(", "),
        index = quoted(&format!("{}_row_id", pg_table(&table.name))),
    );
    for column in &table.columns {
        ddl.push_str(&format!(
            "ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {} {};",
            quoted(&column.name),
            column.pg_type()
        ));
    }
    if table.name == "journal" {
        // The lock epoch of the run that wrote the row: which holder did what, after a takeover.
        ddl.push_str(&format!(
            "ALTER TABLE {name} ADD COLUMN IF NOT EXISTS epoch BIGINT;"
        ));
    }
    ddl
}
