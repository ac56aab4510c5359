//! Opening one rollout's state on PostgreSQL: connect, make sure the schema is current, find or
//! register the rollout (plan name and target), and load the working copy.

use super::super::{Store, StoreError, schema as state_schema};
use super::connect::Session;
use super::location::PgLocation;
use super::mirror::{self, Remote};
use super::schema;
use crate::sqlite_file::SqliteFile;

impl Store {
    /// Opens the rollout of `plan_name` on `target` at `location`; registers it when `create`,
    /// else returns `None` for a rollout that was never recorded there.
    pub(crate) fn open_postgres(
        location: &PgLocation,
        plan_name: &str,
        target: &str,
        create: bool,
    ) -> Result<Option<Self>, StoreError> {
        let label = format!("{location} (plan {plan_name}, target {target})");
        let connect = |source| StoreError::Connect {
            location: label.clone(),
            source,
        };
        let mut session = Session::connect(location).map_err(connect)?;
        let mut copy = SqliteFile::in_memory(&label, &state_schema::FORMAT, |tx| {
            state_schema::init(tx, plan_name)
        })?;
        let tables = mirror::shapes(copy.connection()).map_err(|e| copy.error(e))?;
        let schema_name = location.schema.clone();
        let format = state_schema::FORMAT.current;
        let shapes = tables.clone();
        let ensured = session.run(move |c| Ok(schema::ensure(c, &schema_name, &shapes, format)));
        ensured
            .map_err(|source| StoreError::Postgres {
                location: label.clone(),
                source,
            })?
            .map_err(|source| StoreError::Schema {
                location: label.clone(),
                source,
            })?;
        let (schema_name, plan, target_key) = (
            location.schema.clone(),
            plan_name.to_owned(),
            target.to_owned(),
        );
        let found = session.run(move |c| {
            let select = format!(
                "SELECT id FROM {schema_name}.rollouts WHERE plan_name = $1 AND target = $2"
            );
            if let Some(row) = c.query_opt(&select, &[&plan, &target_key])? {
                return Ok(Some(row.try_get::<_, i64>(0)?));
            }
            if !create {
                return Ok(None);
            }
            c.execute(
                &format!(
                    "INSERT INTO {schema_name}.rollouts (plan_name, target, created_ms)
                     VALUES ($1, $2, $3) ON CONFLICT (plan_name, target) DO NOTHING"
                ),
                &[&plan, &target_key, &jiff::Timestamp::now().as_millisecond()],
            )?;
            c.query_one(&select, &[&plan, &target_key])?
                .try_get::<_, i64>(0)
                .map(Some)
        });
        let Some(rollout_id) = found.map_err(|source| StoreError::Postgres {
            location: label.clone(),
            source,
        })?
        else {
            return Ok(None);
        };
        let remote = Remote::new(
            session,
            location.clone(),
            rollout_id,
            tables,
            copy.connection_mut(),
        )
        .map_err(|e| copy.error(e))?;
        let store = Self::over_postgres(copy, remote);
        store.connection()?;
        Ok(Some(store))
    }
}
