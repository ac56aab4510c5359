//! `[precheck]`: the mailbox-access check against Graph before users are switched, with its
//! own client credentials and the default Graph URL and scope.
//!
//! The credentials' parts are checked in `credentials.rs`; running the check is `precheck/`'s.

use toml::Spanned;

use crate::plan::grammar::parse_secure_url;
use crate::plan::raw::{RawClientCredentials, RawPrecheck};
use crate::plan::{OnDenied, Precheck};

use super::validator::Validator;

impl Validator<'_> {
    pub(super) fn precheck(&mut self, raw: RawPrecheck) -> Option<Option<Precheck>> {
        let enabled = raw.mailbox_access.as_ref().is_some_and(|m| *m.get_ref());
        let graph_url = match &raw.graph_url {
            Some(url) => self.grammar(url, parse_secure_url, "plan::bad-url"),
            None => Some("https://graph.microsoft.com/v1.0".to_owned()),
        };
        let on_denied = match raw.on_denied.as_ref().map(|o| o.get_ref().as_str()) {
            Some("skip") => OnDenied::Skip,
            _ => OnDenied::Block,
        };
        let credentials = RawClientCredentials {
            token_url: raw.token_url,
            client_id: raw.client_id,
            client_secret: raw.client_secret,
            scopes: Some(raw.scopes.unwrap_or_else(|| {
                Spanned::new(
                    0..0,
                    vec![Spanned::new(
                        0..0,
                        "https://graph.microsoft.com/.default".to_owned(),
                    )],
                )
            })),
        };
        let credentials = self.client_credentials(credentials);
        Some(enabled.then_some(Precheck {
            graph_url: graph_url?,
            credentials: credentials?,
            on_denied,
        }))
    }
}
