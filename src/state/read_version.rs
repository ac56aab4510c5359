//! When something kept between loads was read, as far as anything that may have changed it
//! since can tell.

use rusqlite::Connection;

/// `PRAGMA data_version`, which changes when another connection commits to the file, and the
/// store's generation, which changes when the PostgreSQL working copy is reloaded. This
/// handle's own writes change neither: what it keeps, it updates or forgets itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ReadVersion {
    data_version: i64,
    generation: u64,
}

impl ReadVersion {
    pub(super) fn of(db: &Connection, generation: u64) -> rusqlite::Result<Self> {
        let data_version = db
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        Ok(Self {
            data_version,
            generation,
        })
    }
}
