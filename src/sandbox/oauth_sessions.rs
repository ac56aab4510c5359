//! OAuth sessions: the sealed authorization attempt a pending configuration carries while
//! `sandbox serve` (with an identity provider) connects it, and how an attempt begins, is claimed
//! by exactly one callback, and completes or fails.
//!
//! This module stores sealed bytes and never opens them: sealing, PKCE and the code exchange are
//! `crate::serve`'s. Connecting a configuration without an identity provider is
//! `configurations.rs`'s.

use rusqlite::{OptionalExtension, params};

use super::configurations::authorizable;
use super::write_ledger::record_write;
use super::{SandboxError, SandboxFile};

/// The session of an attempt whose callback is being exchanged, followed by when it was
/// claimed (in ms).
pub(crate) const CLAIMED: &str = "claimed:";

impl SandboxFile {
    /// The sealed authorization attempt of a pending configuration, if one is under way.
    pub(crate) fn auth_session(&self, id: &str) -> Result<Option<Vec<u8>>, SandboxError> {
        self.connection()
            .query_row(
                "SELECT auth_session FROM configurations WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(self.db())
    }

    /// Every attempt under way, as `(configuration id, sealed session)`.
    pub(crate) fn auth_sessions(&self) -> Result<Vec<(String, Vec<u8>)>, SandboxError> {
        let mut statement = self
            .connection()
            .prepare("SELECT id, auth_session FROM configurations WHERE auth_session IS NOT NULL")
            .map_err(self.db())?;
        let rows = statement
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)?.to_string(), r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(self.db())?;
        rows.collect::<Result<_, _>>().map_err(self.db())
    }

    /// Starts a new attempt: the configuration is pending again, with this sealed session.
    pub(crate) fn begin_authorization(
        &mut self,
        id: &str,
        session: &[u8],
        now_ms: i64,
    ) -> Result<(), SandboxError> {
        let configuration = self.configuration(id)?;
        authorizable(&configuration)?;
        let name = configuration.display_name;
        self.write(|tx| {
            tx.execute(
                "UPDATE configurations SET state = 'pending_authorization', auth_session = ?2, error = NULL,
                        authorized_account = NULL, tokens = NULL WHERE id = ?1",
                params![id, session],
            )?;
            record_write(tx, now_ms, "begin_authorization", None, Some(&name), true)
        })
    }

    /// The attempt succeeded: connected as `account`, with the sealed tokens.
    pub(crate) fn complete_authorization(
        &mut self,
        id: &str,
        account: &str,
        tokens: &[u8],
        now_ms: i64,
    ) -> Result<(), SandboxError> {
        let name = self.configuration(id)?.display_name;
        self.write(|tx| {
            // Only the claimed attempt (no newer one, not disconnected since) may complete.
            let changed = tx.execute(
                "UPDATE configurations SET state = 'connected', authorized_account = ?2, tokens = ?3, error = NULL,
                        auth_session = NULL
                 WHERE id = ?1 AND state = 'pending_authorization' AND CAST(auth_session AS TEXT) LIKE 'claimed:%'",
                params![id, account, tokens],
            )?;
            record_write(tx, now_ms, "authorize", None, Some(&name), changed == 1)
        })
    }

    /// Takes the attempt whose sealed session is `session` for its callback: true for exactly
    /// one caller, so a replayed or doubled callback cannot complete or fail it again. The
    /// session becomes `claimed:<ms>` until the exchange ends (see [`CLAIMED`]).
    pub(crate) fn claim_authorization(
        &mut self,
        id: &str,
        session: &[u8],
        now_ms: i64,
    ) -> Result<bool, SandboxError> {
        let claimed = format!("{CLAIMED}{now_ms}");
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE configurations SET auth_session = ?3
                 WHERE id = ?1 AND auth_session = ?2 AND state = 'pending_authorization'",
                params![id, session, claimed.as_bytes()],
            )?;
            Ok(changed == 1)
        })
    }

    /// The attempt failed, in the identity provider's words.
    pub(crate) fn fail_authorization(
        &mut self,
        id: &str,
        error: &str,
        now_ms: i64,
    ) -> Result<(), SandboxError> {
        let name = self.configuration(id)?.display_name;
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE configurations SET state = 'error', error = ?2, auth_session = NULL
                 WHERE id = ?1 AND state = 'pending_authorization' AND CAST(auth_session AS TEXT) LIKE 'claimed:%'",
                params![id, error],
            )?;
            record_write(tx, now_ms, "authorization_failed", None, Some(&name), changed == 1)
        })
    }

    /// The login hint recorded when the configuration was created.
    pub(crate) fn login_hint(&self, id: &str) -> Result<Option<String>, SandboxError> {
        self.connection()
            .query_row(
                "SELECT login_hint FROM configurations WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(self.db())
    }
}
