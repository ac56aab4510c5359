//! `[target]`: the embedded sandbox or the platform's admin API, and how the API is signed in
//! to (a fixed `token` or `[target.auth]` client credentials).
//!
//! This checks which keys belong to which kind and that exactly one way to sign in is given.
//! The URL grammar is [`crate::plan::grammar`]'s, and the secret references and client
//! credentials are checked in `credentials.rs`.

use toml::Spanned;

use crate::plan::grammar::parse_api_url;
use crate::plan::raw::RawTarget;
use crate::plan::{ApiAuth, SandboxRef, TargetSpec};

use super::validator::Validator;

impl Validator<'_> {
    pub(super) fn target(&mut self, raw: RawTarget) -> Option<TargetSpec> {
        let kind = raw.kind.as_ref()?;
        let kind_span = kind.span();
        match kind.get_ref().as_str() {
            "sandbox" => {
                for (key, span) in [
                    ("url", raw.url.as_ref().map(Spanned::span)),
                    ("token", raw.token.as_ref().map(Spanned::span)),
                    ("auth", raw.auth.as_ref().map(Spanned::span)),
                ] {
                    if let Some(span) = span {
                        self.error(
                            "plan::misplaced-key",
                            span,
                            format!("`{key}` applies only to `kind = \"http\"`"),
                            "not used by a sandbox target",
                            format!(
                                "remove `{key}`, or set `kind = \"http\"` to use the platform's API"
                            ),
                        );
                    }
                }
                let Some(sandbox) = raw.sandbox else {
                    if self.was_pruned("target.sandbox") {
                        return None;
                    }
                    self.error(
                        "plan::missing-key",
                        kind_span,
                        "a sandbox target needs `sandbox`",
                        "kind is \"sandbox\"",
                        "add `sandbox = \"demo\"` (a scenario name) or the path of a file made by `cutover sandbox init`",
                    );
                    return None;
                };
                let written = sandbox.get_ref().trim().to_owned();
                let is_scenario = !written.is_empty()
                    && written
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                let sandbox = if is_scenario {
                    SandboxRef::Scenario(written)
                } else {
                    let path = self.dir.join(&written);
                    SandboxRef::File { written, path }
                };
                Some(TargetSpec::Sandbox { sandbox })
            }
            "http" => {
                if let Some(sandbox) = &raw.sandbox {
                    self.error(
                        "plan::misplaced-key",
                        sandbox.span(),
                        "`sandbox` applies only to `kind = \"sandbox\"`",
                        "not used by an http target",
                        "remove `sandbox`, or set `kind = \"sandbox\"`",
                    );
                }
                let url = match &raw.url {
                    Some(url) => self.grammar(url, parse_api_url, "plan::bad-url"),
                    None if self.was_pruned("target.url") => None,
                    None => {
                        self.error(
                            "plan::missing-key",
                            kind_span.clone(),
                            "an http target needs `url`",
                            "kind is \"http\"",
                            "add `url = \"https://scheduling.example.org/api/admin/v1\"`: the admin API's base URL",
                        );
                        None
                    }
                };
                let auth = match (raw.token, raw.auth) {
                    (Some(token), None) => self.secret_ref(token.into_inner()).map(ApiAuth::Token),
                    (None, Some(auth)) => {
                        let span = auth.span();
                        self.client_credentials(auth.into_inner(), "[target.auth]", span)
                            .map(ApiAuth::ClientCredentials)
                    }
                    (Some(token), Some(_)) => {
                        self.error(
                            "plan::conflicting-keys",
                            token.span(),
                            "an http target takes `token` or `[target.auth]`, not both",
                            "one of the two",
                            "keep `token` for a fixed API token, or `[target.auth]` for OAuth client credentials",
                        );
                        None
                    }
                    (None, None)
                        if self.was_pruned("target.token") || self.was_pruned("target.auth") =>
                    {
                        None
                    }
                    (None, None) => {
                        self.error(
                            "plan::missing-key",
                            kind_span,
                            "an http target needs `token` or `[target.auth]`",
                            "kind is \"http\"",
                            "add `token = { env = \"CUTOVER_API_TOKEN\" }` and keep the token in that environment \
                             variable, or a `[target.auth]` table with OAuth client credentials",
                        );
                        None
                    }
                };
                Some(TargetSpec::Http {
                    url: url?,
                    auth: auth?,
                })
            }
            _ => None, // Not one of the enum's values: reported by the structural pass.
        }
    }
}
