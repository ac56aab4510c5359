//! Secrets and OAuth client credentials, wherever the plan names them (`[target]`'s `token` and
//! `[target.auth]`, `[precheck]`): secret references by environment variable or file, and the
//! parts of a client-credentials grant.
//!
//! Only references are checked, never what they point at: validation reads no environment and
//! no secret file. Literal secrets never get this far; the secrets pass reported them.

use std::ops::Range;

use toml::Spanned;

use crate::plan::grammar::parse_secure_url;
use crate::plan::raw::{RawClientCredentials, RawSecretRef};
use crate::plan::{
    AssertionAlgorithm, CertificateCredential, ClientCredential, ClientCredentials, SecretRef,
};

use super::validator::Validator;

impl Validator<'_> {
    /// OAuth client credentials (`[target.auth]`, `[precheck]`, the `table` at `span`); `None`
    /// when a part is wrong.
    pub(super) fn client_credentials(
        &mut self,
        raw: RawClientCredentials,
        table: &str,
        span: Range<usize>,
    ) -> Option<ClientCredentials> {
        let token_url = raw
            .token_url
            .as_ref()
            .and_then(|u| self.grammar(u, parse_secure_url, "plan::bad-url"));
        // Missing keys were reported by the structural pass; blank ones are reported here.
        let client_id = raw
            .client_id
            .and_then(|c| self.not_blank(c, "client_id", "the app registration's client id"));
        let credential = self.credential(
            RawCredential {
                client_secret: raw.client_secret,
                certificate: raw.certificate,
                certificate_password: raw.certificate_password,
                assertion_algorithm: raw.assertion_algorithm,
            },
            table,
            span,
        );
        let mut scopes = Vec::new();
        let mut blank_scope = false;
        for scope in raw.scopes.map(Spanned::into_inner).unwrap_or_default() {
            match self.not_blank(
                scope,
                "scopes",
                "a scope such as `https://graph.microsoft.com/.default`",
            ) {
                Some(scope) => scopes.push(scope),
                None => blank_scope = true,
            }
        }
        if scopes.is_empty() || blank_scope {
            return None;
        }
        Some(ClientCredentials {
            token_url: token_url?,
            client_id: client_id?,
            credential: credential?,
            scopes,
        })
    }

    /// A secret or a certificate, never both, never neither; the certificate's own keys only
    /// beside it.
    fn credential(
        &mut self,
        raw: RawCredential,
        table: &str,
        span: Range<usize>,
    ) -> Option<ClientCredential> {
        let RawCredential {
            client_secret,
            certificate,
            certificate_password,
            assertion_algorithm,
        } = raw;
        match (client_secret, certificate) {
            (Some(secret), None) => {
                for (key, given) in [
                    (
                        "certificate_password",
                        certificate_password.as_ref().map(Spanned::span),
                    ),
                    (
                        "assertion_algorithm",
                        assertion_algorithm.as_ref().map(Spanned::span),
                    ),
                ] {
                    if let Some(at) = given {
                        self.error(
                            "plan::misplaced-key",
                            at,
                            format!("`{key}` applies only to a `certificate`"),
                            "beside a client secret",
                            format!(
                                "remove `{key}`, or replace `client_secret` with `certificate`"
                            ),
                        );
                    }
                }
                self.secret_ref(secret.into_inner())
                    .map(ClientCredential::ClientSecret)
            }
            (None, Some(certificate)) => {
                let key = self.secret_ref(certificate.into_inner());
                let password = match certificate_password {
                    Some(p) => Some(self.secret_ref(p.into_inner())?),
                    None => None,
                };
                let algorithm = match assertion_algorithm.as_ref().map(|a| a.get_ref().as_str()) {
                    Some("RS256") => AssertionAlgorithm::RS256,
                    // Anything else was reported by the structural pass.
                    _ => AssertionAlgorithm::PS256,
                };
                Some(ClientCredential::Certificate(CertificateCredential {
                    key: key?,
                    password,
                    algorithm,
                }))
            }
            (Some(secret), Some(_)) => {
                self.error(
                    "plan::conflicting-keys",
                    secret.span(),
                    format!("{table} takes `client_secret` or `certificate`, not both"),
                    "one of the two",
                    "keep `certificate` where the tenant's app policy forbids client secrets, or \
                     `client_secret`; the identity provider accepts one credential per request",
                );
                None
            }
            (None, None)
                if self.was_pruned(&format!("{}.client_secret", dotted(table)))
                    || self.was_pruned(&format!("{}.certificate", dotted(table))) =>
            {
                None
            }
            (None, None) => {
                self.error(
                    "plan::missing-key",
                    span.start..span.start,
                    format!("{table} needs `client_secret` or `certificate`"),
                    "required here",
                    "add `client_secret = { env = \"NAME\" }`, or `certificate = { file = \"app.pem\" }` \
                     (the app's certificate and private key, PEM, or a PKCS#12 file with \
                     `certificate_password`)",
                );
                None
            }
        }
    }

    /// A string that must hold more than spaces.
    fn not_blank(&mut self, value: Spanned<String>, key: &str, example: &str) -> Option<String> {
        let span = value.span();
        let text = value.into_inner().trim().to_owned();
        if text.is_empty() {
            self.error(
                "plan::blank-value",
                span,
                format!("`{key}` is blank"),
                "only spaces",
                format!("write {example}"),
            );
            return None;
        }
        Some(text)
    }
    pub(super) fn secret_ref(&mut self, raw: RawSecretRef) -> Option<SecretRef> {
        match (raw.env, raw.file, raw.credential) {
            (None, None, Some(credential)) => {
                let name = credential.get_ref();
                if is_credential_name(name) {
                    Some(SecretRef::Credential(name.clone()))
                } else {
                    self.error(
                        "plan::bad-secret-ref",
                        credential.span(),
                        format!("\"{name}\" is not a systemd credential name"),
                        "here",
                        "name the credential as `LoadCredential=NAME:PATH` names it, such as \
                         \"cutover-api-token\" (letters, digits, `_`, `-` and `.`; not a path: \
                         cutover reads `$CREDENTIALS_DIRECTORY/NAME`)",
                    );
                    None
                }
            }
            (Some(env), None, None) => {
                let name = env.get_ref();
                let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if valid {
                    Some(SecretRef::Env(name.clone()))
                } else {
                    self.error(
                        "plan::bad-secret-ref",
                        env.span(),
                        format!("\"{name}\" is not an environment variable name"),
                        "here",
                        "name the variable that holds the secret, such as \"CUTOVER_API_TOKEN\" \
                         (letters, digits and _, not starting with a digit)",
                    );
                    None
                }
            }
            (None, Some(file), None) => {
                let written = file.get_ref().clone();
                let path = self.dir.join(&written);
                Some(SecretRef::File { written, path })
            }
            // More than one, or none: the structural pass reported the shape.
            _ => None,
        }
    }
}

/// The keys that say how the client proves who it is, taken out of their table.
struct RawCredential {
    client_secret: Option<Spanned<RawSecretRef>>,
    certificate: Option<Spanned<RawSecretRef>>,
    certificate_password: Option<Spanned<RawSecretRef>>,
    assertion_algorithm: Option<Spanned<String>>,
}

/// `[target.auth]` → `target.auth`, the form pruned keys are named in.
fn dotted(table: &str) -> &str {
    table.trim_start_matches('[').trim_end_matches(']')
}

/// A systemd credential name as cutover accepts it: a plain file name (no `/`, no leading
/// `.`, so never `..`), as the schema's pattern says.
fn is_credential_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::is_credential_name;

    #[test]
    fn credential_names_are_names_not_paths() {
        for (name, ok) in [
            ("cutover-api-token", true),
            ("api.token", true),
            ("_x", true),
            ("", false),
            ("..", false),
            (".hidden", false),
            ("../etc/passwd", false),
            ("a/b", false),
            ("/run/secrets/x", false),
            ("with space", false),
        ] {
            assert_eq!(is_credential_name(name), ok, "{name:?}");
        }
    }
}
