//! `[precheck]`: the mailbox-access check against Graph before users are switched, with its
//! own client credentials and the default Graph URL and scope.
//!
//! The credentials' parts are checked in `credentials.rs`; running the check is `precheck/`'s.

use std::ops::Range;

use toml::Spanned;

use crate::plan::grammar::parse_secure_url;
use crate::plan::raw::{RawClientCredentials, RawPrecheck};
use crate::plan::{MailboxPolicy, Precheck};

use super::validator::Validator;

impl Validator<'_> {
    pub(super) fn precheck(
        &mut self,
        raw: RawPrecheck,
        span: Range<usize>,
    ) -> Option<Option<Precheck>> {
        let enabled = raw.mailbox_access.as_ref().is_some_and(|m| *m.get_ref());
        let graph_url = match &raw.graph_url {
            Some(url) => self.grammar(url, parse_secure_url, "plan::bad-url"),
            None => Some("https://graph.microsoft.com/v1.0".to_owned()),
        };
        let policy =
            |value: &Option<Spanned<String>>| match value.as_ref().map(|o| o.get_ref().as_str()) {
                Some("skip") => MailboxPolicy::Skip,
                _ => MailboxPolicy::Block,
            };
        let on_denied = policy(&raw.on_denied);
        let on_not_found = policy(&raw.on_not_found);
        let default_scope = graph_url
            .as_deref()
            .map_or_else(|| GLOBAL_GRAPH_SCOPE.to_owned(), default_graph_scope);
        let credentials = RawClientCredentials {
            token_url: raw.token_url,
            client_id: raw.client_id,
            client_secret: raw.client_secret,
            certificate: raw.certificate,
            certificate_password: raw.certificate_password,
            assertion_algorithm: raw.assertion_algorithm,
            scopes: Some(
                raw.scopes
                    .unwrap_or_else(|| Spanned::new(0..0, vec![Spanned::new(0..0, default_scope)])),
            ),
        };
        let credentials = self.client_credentials(credentials, "[precheck]", span);
        Some(enabled.then_some(Precheck {
            graph_url: graph_url?,
            credentials: credentials?,
            on_denied,
            on_not_found,
            resolve_by_mail: raw.resolve_by_mail.is_some_and(|r| *r.get_ref()),
        }))
    }
}

const GLOBAL_GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Microsoft Graph's hosts: the global service and the national clouds (US Government L4 and L5
/// (DOD), China operated by 21Vianet). A token for one is refused by the others.
const GRAPH_HOSTS: &[&str] = &[
    "graph.microsoft.com",
    "graph.microsoft.us",
    "dod-graph.microsoft.us",
    "microsoftgraph.chinacloudapi.cn",
];

/// The app token's scope for `graph_url`: its own cloud's `/.default`. Any other host (a proxy,
/// a test server) keeps the global one: Entra ID knows no other Graph resource.
fn default_graph_scope(graph_url: &str) -> String {
    let host = graph_url
        .split_once("://")
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.split(['/', ':', '?', '#']).next())
        .unwrap_or("")
        .to_ascii_lowercase();
    if GRAPH_HOSTS.contains(&host.as_str()) {
        format!("https://{host}/.default")
    } else {
        GLOBAL_GRAPH_SCOPE.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_scope_follows_the_national_cloud_of_graph_url() {
        for (graph_url, scope) in [
            (
                "https://graph.microsoft.com/v1.0",
                "https://graph.microsoft.com/.default",
            ),
            (
                "https://graph.microsoft.us/v1.0",
                "https://graph.microsoft.us/.default",
            ),
            (
                "https://dod-graph.microsoft.us/v1.0",
                "https://dod-graph.microsoft.us/.default",
            ),
            (
                "https://microsoftgraph.chinacloudapi.cn/v1.0",
                "https://microsoftgraph.chinacloudapi.cn/.default",
            ),
            (
                "https://Graph.Microsoft.US:443/beta",
                "https://graph.microsoft.us/.default",
            ),
            (
                "http://127.0.0.1:8765/graph/v1.0",
                "https://graph.microsoft.com/.default",
            ),
            (
                "https://graph-proxy.bank.example/v1.0",
                "https://graph.microsoft.com/.default",
            ),
        ] {
            assert_eq!(default_graph_scope(graph_url), scope, "{graph_url}");
        }
    }
}
