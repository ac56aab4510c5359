//! Secrets and OAuth client credentials, wherever the plan names them (`[target]`'s `token` and
//! `[target.auth]`, `[precheck]`): secret references by environment variable or file, and the
//! parts of a client-credentials grant.
//!
//! Only references are checked, never what they point at: validation reads no environment and
//! no secret file. Literal secrets never get this far; the secrets pass reported them.

use toml::Spanned;

use crate::plan::grammar::parse_secure_url;
use crate::plan::raw::{RawClientCredentials, RawSecretRef};
use crate::plan::{ClientCredentials, SecretRef};

use super::validator::Validator;

impl Validator<'_> {
    /// OAuth client credentials (`[target.auth]`, `[precheck]`); `None` when a part is wrong.
    pub(super) fn client_credentials(
        &mut self,
        raw: RawClientCredentials,
    ) -> Option<ClientCredentials> {
        let token_url = raw
            .token_url
            .as_ref()
            .and_then(|u| self.grammar(u, parse_secure_url, "plan::bad-url"));
        // Missing keys were reported by the structural pass; blank ones are reported here.
        let client_id = raw
            .client_id
            .and_then(|c| self.not_blank(c, "client_id", "the app registration's client id"));
        let client_secret = raw
            .client_secret
            .and_then(|secret| self.secret_ref(secret.into_inner()));
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
            client_secret: client_secret?,
            scopes,
        })
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
