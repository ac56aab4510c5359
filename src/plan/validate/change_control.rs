//! `[change_control]`: the change-management rules. Their shapes (booleans, unknown keys) are
//! the structural pass's; this turns them into the typed [`ChangeControl`].

use toml::Spanned;

use crate::plan::ChangeControl;
use crate::plan::raw::RawChangeControl;

use super::validator::Validator;

impl Validator<'_> {
    pub(super) fn change_control(
        &mut self,
        raw: Option<Spanned<RawChangeControl>>,
    ) -> ChangeControl {
        let raw = raw.map(Spanned::into_inner).unwrap_or_default();
        ChangeControl {
            require_clean_git: raw.require_clean_git.is_some_and(|r| *r.get_ref()),
        }
    }
}
