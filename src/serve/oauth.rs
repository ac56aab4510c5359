//! The platform as an OAuth client, the way the real one connects a configuration: creating it
//! returns an authorization URL; an admin signs in there as the service account; the identity
//! provider redirects back to the platform's callback; the platform exchanges the code (with
//! PKCE) and reports the configuration connected — with the account that signed in — or the
//! OAuth error.
//!
//! The `state` is checked (in constant time) and the PKCE verifier never leaves the server. Both,
//! and the tokens, are sealed in the sandbox file under the server's own key.

use std::time::Duration;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use super::id_token::{IdTokenError, issuer_tenant, signed_in_account};
use super::vault::{Vault, constant_time_eq, random_token};
use crate::oauth::OAuthHttp;
use crate::sandbox::{CLAIMED, SandboxTarget};
use crate::target::{AuthType, Authorization, ConfigurationState, TargetError};

/// The scopes the platform asks for: who signed in (`profile` carries Entra ID's
/// `preferred_username`), a refresh token, and EWS as that account.
const SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "offline_access",
    "https://outlook.office365.com/EWS.AccessAsUser.All",
];

/// How long a claimed callback's code exchange may take before the attempt counts as abandoned.
const EXCHANGE_LIFETIME: Duration = Duration::from_secs(120);

/// How long an authorization attempt stays open.
const ATTEMPT_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// `sandbox serve`'s OAuth client settings.
pub(crate) struct OAuthSettings {
    pub(crate) issuer: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    /// Where the identity provider sends the browser back: `http://<listen>/oauth/callback`.
    pub(crate) redirect_uri: String,
    pub(crate) vault: Vault,
    /// Test-only: send a PKCE verifier that does not match the challenge.
    pub(crate) wrong_verifier: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdTokenField {
    id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

type TokenWithIdentity = StandardTokenResponse<IdTokenField, BasicTokenType>;

type PlatformClient = oauth2::Client<
    BasicErrorResponse,
    TokenWithIdentity,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// An attempt under way, sealed in the sandbox file.
#[derive(Serialize, Deserialize)]
struct Attempt {
    state: String,
    verifier: String,
    url: String,
    started_ms: i64,
}

/// What the platform keeps after a successful authorization, sealed.
#[derive(Serialize, Deserialize)]
struct Tokens {
    access_token: String,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
}

/// Why the platform cannot act as the identity provider's client yet: its discovery document
/// could not be read, or names endpoints the platform must not use.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OAuthClientError {
    #[error("the identity provider's discovery document: {0}")]
    Discovery(String),
    #[error(
        "the discovery document at {url} names the issuer {named}, not {issuer}: give --oauth-issuer as the \
         document names it (Microsoft Entra ID names a tenant by its GUID: \
         https://login.microsoftonline.com/<tenant GUID>/v2.0, not the tenant's domain)"
    )]
    WrongIssuer {
        url: String,
        named: String,
        issuer: String,
    },
    #[error("the identity provider's endpoint {endpoint} is not https:// (nor on this machine)")]
    InsecureEndpoint { endpoint: String },
    #[error("the identity provider's {what} is not a URL: {source}")]
    NotAUrl {
        what: &'static str,
        #[source]
        source: oauth2::url::ParseError,
    },
}

pub(crate) struct PlatformOAuth {
    settings: OAuthSettings,
    http: OAuthHttp,
    client: OnceCell<PlatformClient>,
}

impl PlatformOAuth {
    pub(crate) fn new(settings: OAuthSettings, http: OAuthHttp) -> Self {
        Self {
            settings,
            http,
            client: OnceCell::new(),
        }
    }

    /// The OAuth client, from the issuer's discovery document (read once, on first use, so the
    /// identity provider may start after the platform).
    async fn client(&self) -> Result<&PlatformClient, OAuthClientError> {
        self.client
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.settings.issuer.trim_end_matches('/')
                );
                let discovery: Discovery = self
                    .http
                    .get_json(&url)
                    .await
                    .map_err(|e| OAuthClientError::Discovery(e.to_string()))?;
                let issuer = self.settings.issuer.trim_end_matches('/');
                if discovery.issuer.trim_end_matches('/') != issuer {
                    return Err(OAuthClientError::WrongIssuer {
                        url,
                        named: discovery.issuer,
                        issuer: issuer.to_owned(),
                    });
                }
                // The client secret goes to the token endpoint, the admin to the other one.
                for endpoint in [&discovery.token_endpoint, &discovery.authorization_endpoint] {
                    if !crate::plan::grammar::is_secure_url(endpoint) {
                        return Err(OAuthClientError::InsecureEndpoint {
                            endpoint: endpoint.clone(),
                        });
                    }
                }
                let invalid = |what, source| OAuthClientError::NotAUrl { what, source };
                Ok(
                    oauth2::Client::new(ClientId::new(self.settings.client_id.clone()))
                        .set_client_secret(ClientSecret::new(self.settings.client_secret.clone()))
                        .set_auth_uri(
                            AuthUrl::new(discovery.authorization_endpoint)
                                .map_err(|e| invalid("authorization endpoint", e))?,
                        )
                        .set_token_uri(
                            TokenUrl::new(discovery.token_endpoint)
                                .map_err(|e| invalid("token endpoint", e))?,
                        )
                        .set_redirect_uri(
                            RedirectUrl::new(self.settings.redirect_uri.clone())
                                .map_err(|e| invalid("redirect URI", e))?,
                        ),
                )
            })
            .await
    }

    /// Starts an attempt (or returns the one under way) and says where to sign in.
    pub(crate) async fn authorization(
        &self,
        target: &SandboxTarget,
        id: &str,
        restart: bool,
    ) -> Result<Authorization, TargetError> {
        let now_ms = target.now_ms();
        let configuration = target
            .with_file(|file, _| file.configurations())?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| TargetError::NotFound(format!("no configuration {id:?}")))?;
        if configuration.auth_type != AuthType::Oauth
            || configuration.state == ConfigurationState::Disconnected
        {
            return Err(TargetError::Conflict(format!(
                "{:?} is not an OAuth configuration that can be authorized",
                configuration.display_name
            )));
        }
        let pending = configuration.state == ConfigurationState::PendingAuthorization;
        if !restart && !pending {
            // Connected (or failed): report it as it stands.
            return Ok(Authorization {
                state: configuration.state,
                url: None,
                account: configuration.authorized_account,
                error: configuration.error,
            });
        }
        if !restart {
            if let Some(sealed) = target.with_file(|file, _| file.auth_session(id))? {
                // A callback is being exchanged right now: its outcome is moments away (unless
                // the server stopped mid-exchange, long ago).
                let claimed_at = std::str::from_utf8(&sealed)
                    .ok()
                    .and_then(|s| s.strip_prefix(CLAIMED))
                    .and_then(|ms| ms.parse::<i64>().ok());
                if claimed_at.is_some_and(|at| now_ms - at < EXCHANGE_LIFETIME.as_millis() as i64) {
                    return Ok(Authorization {
                        state: ConfigurationState::PendingAuthorization,
                        url: None,
                        account: None,
                        error: None,
                    });
                }
                if let Some(attempt) = self.open_attempt(&sealed) {
                    if now_ms - attempt.started_ms < ATTEMPT_LIFETIME.as_millis() as i64 {
                        return Ok(Authorization {
                            state: ConfigurationState::PendingAuthorization,
                            url: Some(attempt.url),
                            account: None,
                            error: None,
                        });
                    }
                }
            }
        }
        let client = self
            .client()
            .await
            .map_err(|e| TargetError::Unreachable(e.to_string()))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = random_token().map_err(|e| TargetError::Other(e.to_string()))?;
        let state_for_url = state.clone();
        let mut request = client
            .authorize_url(move || CsrfToken::new(state_for_url))
            .set_pkce_challenge(challenge);
        for scope in SCOPES {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        // `select_account`: an existing browser session must not sign in whoever it holds
        // (`consent` alone does not stop that); the hints point the sign-in at the service account
        // and its home realm.
        request = request.add_extra_param("prompt", "select_account");
        let hint = target.with_file(|file, _| file.login_hint(id))?;
        if let Some(hint) = &hint {
            request = request.add_extra_param("login_hint", hint.clone());
            if let Some((_, domain)) = hint.rsplit_once('@') {
                request = request.add_extra_param("domain_hint", domain.to_owned());
            }
        }
        let (url, _) = request.url();
        let attempt = Attempt {
            state,
            verifier: verifier.secret().clone(),
            url: url.to_string(),
            started_ms: now_ms,
        };
        let sealed = self.seal(&attempt)?;
        target.with_file(|file, now| file.begin_authorization(id, &sealed, now))?;
        Ok(Authorization {
            state: ConfigurationState::PendingAuthorization,
            url: Some(url.to_string()),
            account: None,
            error: None,
        })
    }

    /// The identity provider sent the admin's browser back. Returns the page to show.
    pub(crate) async fn callback(
        &self,
        target: &SandboxTarget,
        query: &CallbackQuery,
    ) -> (bool, String) {
        let Some(state) = query.state.as_deref() else {
            return (
                false,
                "The request has no state: start the authorization again from cutover.".to_owned(),
            );
        };
        let sessions = match target.with_file(|file, _| file.auth_sessions()) {
            Ok(sessions) => sessions,
            Err(e) => {
                return (
                    false,
                    format!("The platform could not read its pending authorizations: {e}"),
                );
            }
        };
        let found = sessions.into_iter().find_map(|(id, sealed)| {
            let attempt = self.open_attempt(&sealed)?;
            constant_time_eq(attempt.state.as_bytes(), state.as_bytes())
                .then_some((id, sealed, attempt))
        });
        let unknown = || {
            (
                false,
                "This authorization is unknown, already used or expired: start it again from cutover."
                    .to_owned(),
            )
        };
        let Some((id, sealed, attempt)) = found else {
            return unknown();
        };
        // One callback per attempt: claimed before anything else, so a replay (or a browser
        // delivering it twice) finds nothing to complete or fail.
        if !target
            .with_file(|file, now| file.claim_authorization(&id, &sealed, now))
            .unwrap_or(false)
        {
            return unknown();
        }
        let now_ms = target.now_ms();
        if now_ms.saturating_sub(attempt.started_ms) >= ATTEMPT_LIFETIME.as_millis() as i64 {
            return self.fail(
                target,
                &id,
                "the authorization was started more than 15 minutes ago; start it again".to_owned(),
            );
        }
        if let Some(error) = &query.error {
            let description = query.error_description.as_deref().unwrap_or("");
            let message = match error.as_str() {
                "access_denied" => format!(
                    "access_denied: consent was declined at the identity provider ({description})"
                ),
                other => format!("{other}: {description}"),
            };
            return self.fail(target, &id, message);
        }
        let Some(code) = &query.code else {
            return self.fail(
                target,
                &id,
                "the identity provider sent no authorization code".to_owned(),
            );
        };
        let client = match self.client().await {
            Ok(client) => client,
            Err(e) => return self.fail(target, &id, e.to_string()),
        };
        let verifier = if self.settings.wrong_verifier {
            PkceCodeVerifier::new(format!("{}x", attempt.verifier))
        } else {
            PkceCodeVerifier::new(attempt.verifier)
        };
        let exchanged = client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await;
        let response = match exchanged {
            Ok(response) => response,
            Err(RequestTokenError::ServerResponse(response)) => {
                let error = response.error().to_string();
                let description = response.error_description().cloned().unwrap_or_default();
                let meaning = match error.as_str() {
                    "invalid_client" => {
                        "the identity provider refused the platform's client id or secret"
                    }
                    "invalid_grant" => {
                        "the authorization code expired, was already used, or its PKCE verifier did not match"
                    }
                    _ => "the identity provider refused the code exchange",
                };
                return self.fail(target, &id, format!("{error}: {meaning} ({description})"));
            }
            Err(e) => return self.fail(target, &id, format!("the code exchange failed: {e}")),
        };
        // The tenant the sign-in must be in: the configuration's, when it is a GUID, else the
        // one Entra ID's issuer names.
        let tenant = target
            .with_file(|file, _| file.configurations())
            .ok()
            .and_then(|all| all.into_iter().find(|c| c.id == id))
            .and_then(|c| c.tenant_id)
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| crate::plan::grammar::is_tenant_id(t) && !t.contains('.'))
            .or_else(|| issuer_tenant(&self.settings.issuer));
        let account = response
            .extra_fields()
            .id_token
            .as_deref()
            .ok_or(IdTokenError::NoIdentity)
            .and_then(|t| {
                let now_s = jiff::Timestamp::now().as_second();
                signed_in_account(
                    t,
                    &self.settings.issuer,
                    &self.settings.client_id,
                    tenant.as_deref(),
                    now_s,
                )
            });
        let account = match account {
            Ok(account) => account,
            Err(e) => return self.fail(target, &id, e.to_string()),
        };
        let tokens = Tokens {
            access_token: response.access_token().secret().clone(),
            refresh_token: response.refresh_token().map(|t| t.secret().clone()),
        };
        let sealed = match serde_json::to_vec(&tokens) {
            Ok(plain) => self.settings.vault.seal(&plain),
            Err(e) => return self.fail(target, &id, e.to_string()),
        };
        let sealed = match sealed {
            Ok(sealed) => sealed,
            Err(e) => return self.fail(target, &id, e.to_string()),
        };
        match target.with_file(|file, now| file.complete_authorization(&id, &account, &sealed, now))
        {
            Ok(()) => (
                true,
                format!(
                    "Authorized as {account}. You can close this window and return to cutover."
                ),
            ),
            Err(e) => (
                false,
                format!("The platform could not record the authorization: {e}"),
            ),
        }
    }

    fn fail(&self, target: &SandboxTarget, id: &str, message: String) -> (bool, String) {
        let _ = target.with_file(|file, now| file.fail_authorization(id, &message, now));
        (false, format!("Authorization failed: {message}"))
    }

    fn seal(&self, attempt: &Attempt) -> Result<Vec<u8>, TargetError> {
        let plain = serde_json::to_vec(attempt).map_err(|e| TargetError::Other(e.to_string()))?;
        self.settings
            .vault
            .seal(&plain)
            .map_err(|e| TargetError::Other(e.to_string()))
    }

    fn open_attempt(&self, sealed: &[u8]) -> Option<Attempt> {
        let plain = self.settings.vault.open(sealed).ok()?;
        serde_json::from_slice(&plain).ok()
    }
}

/// The callback's query: `code` and `state`, or `error`.
#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    pub(crate) code: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) error_description: Option<String>,
}
