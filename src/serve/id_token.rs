//! Who signed in, from the ID token the platform receives from the token endpoint over the back
//! channel (where OpenID Connect lets the TLS connection stand in for the signature, but the
//! issuer, audience and expiry must still hold), read the way Microsoft Entra ID issues them.
//!
//! Entra ID sends no `email_verified` and a pairwise `sub` (opaque, different for every app);
//! the account is its `preferred_username` (or `upn`). An `email` counts only when the provider
//! vouches for it (`email_verified`, or Entra's `xms_edov`): anyone may set an unverified one.
//! An opaque `sub` is kept exactly as sent, never lowercased. With a tenant to expect (the
//! configuration's, when it is a GUID, else the one in the issuer's URL), `tid` must be it, so
//! a sign-in to another tenant is not taken for the service account.

use base64::Engine;

/// Why an ID token names nobody the platform may record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum IdTokenError {
    #[error("the identity provider returned no identity for the account that signed in")]
    NoIdentity,
    #[error(
        "the account signed in to tenant {tid}, not {expected}: sign in with the service account of the plan's tenant"
    )]
    WrongTenant { tid: String, expected: String },
}

/// The account that signed in, if the token is from `issuer`, for `client_id` and live at
/// `now_s`; `tenant` is the tenant GUID the sign-in must be in, when one is known.
pub(crate) fn signed_in_account(
    id_token: &str,
    issuer: &str,
    client_id: &str,
    tenant: Option<&str>,
    now_s: i64,
) -> Result<String, IdTokenError> {
    let claims = claims(id_token).ok_or(IdTokenError::NoIdentity)?;
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let from_issuer = text("iss") == Some(issuer.trim_end_matches('/'));
    let for_us = match claims.get("aud") {
        Some(serde_json::Value::String(aud)) => aud == client_id,
        Some(serde_json::Value::Array(all)) => all.iter().any(|a| a == client_id),
        _ => false,
    };
    let live = claims
        .get("exp")
        .and_then(serde_json::Value::as_i64)
        .is_some_and(|exp| exp > now_s);
    if !from_issuer || !for_us || !live {
        return Err(IdTokenError::NoIdentity);
    }
    if let (Some(expected), Some(tid)) = (tenant, text("tid")) {
        if !tid.eq_ignore_ascii_case(expected) {
            return Err(IdTokenError::WrongTenant {
                tid: tid.to_owned(),
                expected: expected.to_owned(),
            });
        }
    }
    let vouched = |name: &str| match claims.get(name) {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => matches!(s.as_str(), "true" | "1"),
        Some(serde_json::Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    };
    let email = text("email").filter(|_| vouched("email_verified") || vouched("xms_edov"));
    // Names are case-insensitive; an opaque subject is not.
    text("preferred_username")
        .or_else(|| text("upn"))
        .or(email)
        .map(str::to_ascii_lowercase)
        .or_else(|| text("sub").map(str::to_owned))
        .ok_or(IdTokenError::NoIdentity)
}

/// The tenant GUID in an Entra ID issuer, `https://login.microsoftonline.com/{tid}/v2.0`.
pub(crate) fn issuer_tenant(issuer: &str) -> Option<String> {
    issuer
        .split('/')
        .find(|segment| crate::plan::grammar::is_tenant_id(segment) && !segment.contains('.'))
        .map(str::to_ascii_lowercase)
}

fn claims(id_token: &str) -> Option<serde_json::Value> {
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "http://127.0.0.1:1";
    const TENANT: &str = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b";

    fn read(claims: &str, tenant: Option<&str>) -> Result<String, IdTokenError> {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims);
        signed_in_account(&format!("h.{payload}.s"), ISSUER, "platform", tenant, 1_000)
    }

    /// A name, the claims, the tenant expected, and who signed in.
    type Case = (
        &'static str,
        String,
        Option<&'static str>,
        Result<String, IdTokenError>,
    );

    #[test]
    fn reads_the_account_as_entra_and_other_providers_send_it() {
        let base = r#""iss":"http://127.0.0.1:1","aud":"platform","exp":2000"#;
        let entra = format!(
            r#"{{{base},"sub":"AbC-pairwise_XyZ","tid":"{TENANT}","preferred_username":"Svc-Sync@Contoso.Example","email":"svc@elsewhere.example"}}"#
        );
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("Entra: preferred_username, not the pairwise sub", entra.clone(), Some(TENANT), Ok("svc-sync@contoso.example".to_owned())),
            ("Entra, no tenant to expect", entra.clone(), None, Ok("svc-sync@contoso.example".to_owned())),
            ("Entra, upn when there is no preferred_username", entra.replace("preferred_username", "upn"), Some(TENANT), Ok("svc-sync@contoso.example".to_owned())),
            ("another tenant", entra.replace(TENANT, "00000000-0000-0000-0000-000000000001"), Some(TENANT),
                Err(IdTokenError::WrongTenant { tid: "00000000-0000-0000-0000-000000000001".to_owned(), expected: TENANT.to_owned() })),
            ("a verified email", format!(r#"{{{base},"sub":"x","email":"Svc@Contoso.Example","email_verified":true}}"#), None, Ok("svc@contoso.example".to_owned())),
            ("an email Entra vouches for", format!(r#"{{{base},"sub":"x","email":"Svc@Contoso.Example","xms_edov":true}}"#), None, Ok("svc@contoso.example".to_owned())),
            ("an unverified email is nobody: the opaque sub, as sent", format!(r#"{{{base},"sub":"AbC-XyZ","email":"svc@contoso.example"}}"#), None, Ok("AbC-XyZ".to_owned())),
            ("another client's", entra.replace("\"platform\"", "\"other\""), None, Err(IdTokenError::NoIdentity)),
            ("another issuer's", entra.replace(ISSUER, "http://evil.example"), None, Err(IdTokenError::NoIdentity)),
            ("expired", entra.replace("2000", "999"), None, Err(IdTokenError::NoIdentity)),
        ];
        for (name, claims, tenant, expected) in cases {
            assert_eq!(read(&claims, tenant), expected, "{name}");
        }
        assert_eq!(
            signed_in_account("not-a-jwt", ISSUER, "platform", None, 1_000),
            Err(IdTokenError::NoIdentity)
        );
    }

    #[test]
    fn finds_the_tenant_in_an_entra_issuer() {
        assert_eq!(
            issuer_tenant(&format!("https://login.microsoftonline.com/{TENANT}/v2.0")).as_deref(),
            Some(TENANT)
        );
        assert_eq!(
            issuer_tenant("https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"),
            None
        );
        assert_eq!(issuer_tenant("http://127.0.0.1:8766"), None);
    }
}
