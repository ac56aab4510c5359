//! `[change_control]`: the change-management rules. Their shapes (booleans, unknown keys) are
//! the structural pass's; this turns them into the typed [`ChangeControl`] and checks that the
//! `allowed_signers` file is there and lists someone, so a rollout never starts with approvals
//! nobody could sign.

use std::ops::Range;

use toml::Spanned;

use crate::diagnostic::Diagnostic;
use crate::plan::raw::RawChangeControl;
use crate::plan::{AllowedSigners, ChangeControl, TargetSpec};

use super::validator::Validator;

impl Validator<'_> {
    /// `target` is `None` when it did not validate: no warning is guessed at then.
    pub(super) fn change_control(
        &mut self,
        raw: Option<Spanned<RawChangeControl>>,
        target: Option<&TargetSpec>,
        target_span: Option<Range<usize>>,
    ) -> ChangeControl {
        let table_span = raw.as_ref().map(Spanned::span);
        let raw = raw.map(Spanned::into_inner).unwrap_or_default();
        let on = |rule: &Option<Spanned<bool>>| rule.as_ref().is_some_and(|r| *r.get_ref());
        let require_approved_digest = on(&raw.require_approved_digest);
        let real = matches!(target, Some(TargetSpec::Http { .. }));
        if real && !require_approved_digest {
            // At the rule when it is written `false`, else at the table, else at the target.
            let span = raw
                .require_approved_digest
                .as_ref()
                .map(Spanned::span)
                .or(table_span)
                .or(target_span)
                .unwrap_or(0..0);
            let warning = Diagnostic::warning(
                "plan::unapproved-start",
                self.file,
                span,
                "a rollout of this real platform can start without an approved digest",
            )
            .label("no approved dry-run required")
            .help(
                "set `[change_control] require_approved_digest = true`: the first change then \
                 waits for `cutover approve PLAN --digest D` (or `apply --approved D`) of the \
                 dry-run the change board reviewed",
            );
            self.diagnostics.push(warning);
        }
        ChangeControl {
            require_clean_git: on(&raw.require_clean_git),
            require_approved_digest,
            four_eyes: on(&raw.four_eyes),
            allowed_signers: raw.allowed_signers.and_then(|s| self.allowed_signers(&s)),
        }
    }

    fn allowed_signers(&mut self, written: &Spanned<String>) -> Option<AllowedSigners> {
        let path = self.dir.join(written.get_ref());
        let shown = path.display().to_string();
        let text = match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => std::fs::read_to_string(&path).map_err(|e| e.to_string()),
            Ok(_) => Err("it is not a regular file".to_owned()),
            Err(e) => Err(e.to_string()),
        };
        let text = match text {
            Ok(text) => text,
            Err(why) => {
                self.error(
                    "plan::bad-allowed-signers",
                    written.span(),
                    format!("cannot read the allowed_signers file {shown}: {why}"),
                    "this file",
                    "name an OpenSSH allowed_signers file, relative to the plan: one line per \
                     signer, `PRINCIPAL namespaces=\"cutover\" ssh-ed25519 AAAA…`",
                );
                return None;
            }
        };
        // Each entry is `principals [options] keytype key`: at least three fields.
        let listed = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .any(|l| l.split_whitespace().count() >= 3);
        if !listed {
            self.error(
                "plan::bad-allowed-signers",
                written.span(),
                format!("the allowed_signers file {shown} lists no signer"),
                "this file",
                "add a line per person who may approve: `PRINCIPAL namespaces=\"cutover\" \
                 ssh-ed25519 AAAA…` (their public key)",
            );
            return None;
        }
        Some(AllowedSigners {
            written: written.get_ref().clone(),
            path,
        })
    }
}
