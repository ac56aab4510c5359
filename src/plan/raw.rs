//! The plan file exactly as written: a serde model of the TOML, with spans.
//!
//! These types are the shape of the file and the source of its JSON Schema (`cutover schema`);
//! their doc comments are the descriptions an editor shows. Nothing here is validated: every
//! value is optional (a missing required key has already been reported by the structural pass),
//! and grammar such as durations stays a string until `validate` turns a `RawPlan` into a
//! [`Plan`](super::Plan). Nothing outside `crate::plan` ever sees these types.

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

use super::grammar::EMAIL_PATTERN;

/// Grammar shared by the plan's names and the schema's patterns.
pub(crate) const NAME_PATTERN: &str = "^[a-z][a-z0-9-]{0,62}$";
pub(crate) const DURATION_PATTERN: &str = "^([0-9]+[smhd])+$";
pub(crate) const SHARE_PATTERN: &str = r"^(100(\.0+)?|[0-9]{1,2}(\.[0-9]+)?)%$";
pub(crate) const SANDBOX_PATTERN: &str = r"^\S.*$";
pub(crate) const URL_PATTERN: &str = r"^https?://[^\s/?#]+[^\s]*$";
pub(crate) const TIME_PATTERN: &str = concat!(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?",
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
);
pub(crate) const WINDOW_PATTERN: &str = concat!(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)(-(Mon|Tue|Wed|Thu|Fri|Sat|Sun))?",
    r"(,(Mon|Tue|Wed|Thu|Fri|Sat|Sun)(-(Mon|Tue|Wed|Thu|Fri|Sat|Sun))?)*",
    r" ([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9] [A-Za-z][A-Za-z0-9_+/-]*$"
);

/// A cutover migration plan, format version 1: how to move a scheduling platform's Exchange
/// calendar sync from one service-account configuration (`from`, such as Basic/NTLM) to another
/// (`to`, OAuth), through a pilot and gated batches, to the final disconnect of `from`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "cutover plan")]
pub(crate) struct RawPlan {
    /// The plan format version. Always 1.
    #[schemars(with = "PlanVersion")]
    #[allow(dead_code)] // The structural pass checks it against the schema's `const`.
    pub(crate) version: Option<Spanned<i64>>,
    /// The plan's name: 1 to 63 lowercase letters, digits and dashes, starting with a letter.
    /// It names the state file, so renaming a plan starts a new rollout.
    #[schemars(with = "String", pattern(NAME_PATTERN), extend("examples" = ["contoso-exchange-oauth"]))]
    pub(crate) name: Option<Spanned<String>>,
    /// Free text shown in the dry-run.
    #[schemars(with = "Option<String>", extend("default" = ""))]
    pub(crate) description: Option<Spanned<String>>,
    /// Where the plan is applied.
    #[schemars(with = "RawTarget")]
    pub(crate) target: Option<Spanned<RawTarget>>,
    /// The configuration being retired (such as the Basic/NTLM service account).
    #[schemars(with = "RawFrom")]
    pub(crate) from: Option<Spanned<RawFrom>>,
    /// The configuration being introduced (the OAuth service account).
    #[schemars(with = "RawTo")]
    pub(crate) to: Option<Spanned<RawTo>>,
    /// The default verification gate of the pilot and every batch.
    #[schemars(with = "Option<RawGate>")]
    pub(crate) gate: Option<Spanned<RawGate>>,
    /// A small first group of users, switched and verified before any batch.
    #[schemars(with = "Option<RawPilot>")]
    pub(crate) pilot: Option<Spanned<RawPilot>>,
    /// The rollout batches, run in file order. At least one.
    #[schemars(with = "Vec<RawBatch>", length(min = 1))]
    pub(crate) batch: Option<Spanned<Vec<Spanned<RawBatch>>>>,
    /// The final, irreversible disconnect of the `from` configuration.
    #[schemars(with = "RawDisconnect")]
    pub(crate) disconnect: Option<Spanned<RawDisconnect>>,
    /// Checks run before users are switched.
    #[schemars(with = "Option<RawPrecheck>")]
    pub(crate) precheck: Option<Spanned<RawPrecheck>>,
    /// Where a halt, a wait for a person, an exception, the end of the rollout or a failed run
    /// is sent, so that an unattended run reaches someone: one channel per entry.
    #[schemars(with = "Option<Vec<RawNotify>>")]
    pub(crate) notify: Option<Spanned<Vec<Spanned<RawNotify>>>>,
    /// Change-management rules: a committed plan, an approved digest, four eyes, signed approvals.
    #[schemars(with = "Option<RawChangeControl>")]
    pub(crate) change_control: Option<Spanned<RawChangeControl>>,
}

/// Change-management rules a rollout must meet. Every rule is off unless set.
// One key per rule, each turned into `ChangeControl` in `validate/change_control.rs`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ChangeControl")]
pub(crate) struct RawChangeControl {
    /// `true`: `apply` runs the plan only when the plan file and the CSV user files it names are
    /// committed to git and unchanged (as `apply --require-clean-git`); otherwise it exits 2
    /// before it writes anything.
    #[schemars(with = "Option<bool>", extend("default" = false))]
    pub(crate) require_clean_git: Option<Spanned<bool>>,
    /// `true`: the rollout's first write waits (exit 6) until the plan's digest is approved,
    /// with `apply --approved DIGEST` or `cutover approve PLAN --digest DIGEST`.
    #[schemars(with = "Option<bool>", extend("default" = false))]
    pub(crate) require_approved_digest: Option<Spanned<bool>>,
    /// `true`: an approval (a step's, the disconnect's, an `accept`) counts only from another
    /// identity than the one who started the rollout or approved its current digest.
    #[schemars(with = "Option<bool>", extend("default" = false))]
    pub(crate) four_eyes: Option<Spanned<bool>>,
    /// An OpenSSH `allowed_signers` file, relative to the plan: approvals and acceptances then
    /// count only when signed (`--sign KEY`) by a principal it lists, namespace `cutover`.
    #[schemars(with = "Option<String>", length(min = 1))]
    pub(crate) allowed_signers: Option<Spanned<String>>,
}

/// The format version: the integer 1.
#[derive(JsonSchema)]
#[schemars(inline, extend("const" = 1))]
#[allow(dead_code)] // Only its schema is used.
struct PlanVersion(u32);

/// Where the plan is applied: the embedded sandbox or the platform's admin API.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Target", extend("allOf" = [
    {
        "if": { "properties": { "kind": { "const": "sandbox" } }, "required": ["kind"] },
        "then": {
            "required": ["sandbox"],
            "not": { "anyOf": [{ "required": ["url"] }, { "required": ["token"] }, { "required": ["auth"] }] }
        }
    },
    {
        "if": { "properties": { "kind": { "const": "http" } }, "required": ["kind"] },
        "then": {
            "required": ["url"],
            "oneOf": [{ "required": ["token"] }, { "required": ["auth"] }],
            "not": { "required": ["sandbox"] }
        }
    }
]))]
pub(crate) struct RawTarget {
    /// `"sandbox"` (the embedded simulation) or `"http"` (the platform's admin REST API).
    #[schemars(with = "TargetKind")]
    pub(crate) kind: Option<Spanned<String>>,
    /// For `kind = "sandbox"`: a scenario name such as `"demo"`, or a path to a sandbox file
    /// (relative paths resolve against the plan's folder).
    #[schemars(with = "Option<String>", pattern(SANDBOX_PATTERN), extend("examples" = ["demo"]))]
    pub(crate) sandbox: Option<Spanned<String>>,
    /// For `kind = "http"`: the admin API's base URL; its paths start here.
    #[schemars(with = "Option<String>", pattern(URL_PATTERN))]
    pub(crate) url: Option<Spanned<String>>,
    /// For `kind = "http"`: the API token, as a reference to where it is kept — never the
    /// token itself.
    #[schemars(with = "Option<RawSecretRef>")]
    pub(crate) token: Option<Spanned<RawSecretRef>>,
    /// For `kind = "http"`, instead of `token`: get API tokens with OAuth 2.0 client
    /// credentials (cached, refreshed before they expire).
    #[schemars(with = "Option<RawClientCredentials>")]
    pub(crate) auth: Option<Spanned<RawClientCredentials>>,
}

/// OAuth 2.0 client credentials: how cutover gets an app token from an identity provider.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ClientCredentials", extend("allOf" = credential_rules()))]
pub(crate) struct RawClientCredentials {
    /// The identity provider's token endpoint, such as
    /// `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`.
    #[schemars(with = "String", pattern(URL_PATTERN))]
    pub(crate) token_url: Option<Spanned<String>>,
    /// The app registration's client id.
    #[schemars(with = "String", length(min = 1))]
    pub(crate) client_id: Option<Spanned<String>>,
    /// The client secret, as a reference: `{ env = "NAME" }` or `{ file = "PATH" }`. A secret
    /// or a `certificate`, not both.
    #[schemars(with = "Option<RawSecretRef>")]
    pub(crate) client_secret: Option<Spanned<RawSecretRef>>,
    /// Instead of a secret: the app's certificate with its private key (PEM), or a PKCS#12
    /// file, as a reference. Its key signs a client assertion (`private_key_jwt`).
    #[schemars(with = "Option<RawSecretRef>")]
    pub(crate) certificate: Option<Spanned<RawSecretRef>>,
    /// The PKCS#12 file's password, as a reference.
    #[schemars(with = "Option<RawSecretRef>")]
    pub(crate) certificate_password: Option<Spanned<RawSecretRef>>,
    /// How the client assertion is signed: `"PS256"` (RSASSA-PSS, which Microsoft Entra ID
    /// recommends) or `"RS256"`.
    #[schemars(with = "Option<AssertionAlgorithmName>", extend("default" = "PS256"))]
    pub(crate) assertion_algorithm: Option<Spanned<String>>,
    /// The scopes to ask for, such as `["api://scheduling-platform/.default"]`.
    #[schemars(with = "Vec<String>", length(min = 1), inner(length(min = 1)))]
    pub(crate) scopes: Option<Spanned<Vec<Spanned<String>>>>,
}

/// Exactly one of `client_secret` and `certificate`; the certificate's keys only with it.
/// (Conditions the structural pass does not read: the validator says the same in words.)
fn credential_rules() -> serde_json::Value {
    serde_json::json!([
        { "if": { "not": { "required": ["certificate"] } }, "then": { "required": ["client_secret"] } },
        { "not": { "required": ["client_secret", "certificate"] } },
        { "dependencies": {
            "certificate_password": ["certificate"],
            "assertion_algorithm": ["certificate"]
        } }
    ])
}

#[derive(JsonSchema)]
#[schemars(rename = "AssertionAlgorithm")]
#[allow(dead_code, clippy::upper_case_acronyms)] // Only its schema is used.
enum AssertionAlgorithmName {
    PS256,
    RS256,
}

/// One notification channel: exactly one of `webhook`, `email` or `command`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Notify", extend("allOf" = [
    {
        "if": { "required": ["webhook"] },
        "then": { "not": { "anyOf": [{ "required": ["email"] }, { "required": ["command"] }] } }
    },
    {
        "if": { "required": ["email"] },
        "then": { "not": { "required": ["command"] } }
    },
    {
        "if": { "not": { "anyOf": [{ "required": ["webhook"] }, { "required": ["email"] }] } },
        "then": { "required": ["command"] }
    },
    {
        "if": { "not": { "required": ["webhook"] } },
        "then": { "not": { "required": ["format"] } }
    }
]))]
pub(crate) struct RawNotify {
    /// POST each event to a webhook. Its URL is a secret (whoever has it can post), so it is a
    /// reference such as `{ env = "CUTOVER_SLACK_WEBHOOK" }`: `https://`, or `http://` to
    /// loopback only.
    #[schemars(with = "Option<RawSecretRef>")]
    pub(crate) webhook: Option<Spanned<RawSecretRef>>,
    /// A webhook's body: `"json"` (cutover's own, `schemas/notification.schema.json`),
    /// `"slack"` (an incoming webhook's blocks) or `"teams"` (a Workflows webhook's Adaptive
    /// Card).
    #[schemars(with = "Option<WebhookFormatName>", extend("default" = "json"))]
    pub(crate) format: Option<Spanned<String>>,
    /// Send each event as an email over SMTP.
    #[schemars(with = "Option<RawEmail>")]
    pub(crate) email: Option<Spanned<RawEmail>>,
    /// Run a program with the event as JSON on its standard input: the program and its
    /// arguments, run directly (no shell), with an empty environment and 10 seconds to finish.
    #[schemars(with = "Option<Vec<String>>", length(min = 1), inner(length(min = 1)),
        extend("examples" = [["/usr/local/bin/page-oncall", "--team", "exchange"]]))]
    pub(crate) command: Option<Spanned<Vec<Spanned<String>>>>,
    /// Which events this channel receives. Default: all of them.
    #[schemars(with = "Option<Vec<NotifyEventName>>", length(min = 1),
        extend("uniqueItems" = true,
            "default" = ["halted", "needs_person", "exception", "done", "error"]))]
    pub(crate) events: Option<Spanned<Vec<Spanned<String>>>>,
    /// Send a reminder every so often while the same halt or wait lasts, such as `"4h"`.
    /// Unset: each event is sent once.
    #[schemars(with = "Option<String>", pattern(DURATION_PATTERN), extend("examples" = ["4h"]))]
    pub(crate) repeat: Option<Spanned<String>>,
}

#[derive(JsonSchema)]
#[schemars(rename = "WebhookFormat", rename_all = "lowercase")]
#[allow(dead_code)] // Only its schema is used.
enum WebhookFormatName {
    Json,
    Slack,
    Teams,
}

/// An event a channel can receive: `halted` (exit 3), `needs_person` (an approval, an
/// authorization or a confirmation: exit 6), `exception` (a gate passed with exceptions),
/// `done` (the rollout is complete), `error` (a run ended 1 or 2).
#[derive(JsonSchema)]
#[schemars(rename = "NotifyEvent", rename_all = "snake_case")]
#[allow(dead_code)] // Only its schema is used.
enum NotifyEventName {
    Halted,
    NeedsPerson,
    Exception,
    Done,
    Error,
}

/// An SMTP relay and who the mail goes to.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Email")]
pub(crate) struct RawEmail {
    /// The relay's host name or IP address.
    #[schemars(with = "String", length(min = 1), extend("examples" = ["smtp.contoso.example"]))]
    pub(crate) host: Option<Spanned<String>>,
    /// The relay's port. Default: 587 for `starttls`, 465 for `tls`, 25 for `none`.
    #[schemars(with = "Option<u16>", range(min = 1, max = 65535))]
    pub(crate) port: Option<Spanned<i64>>,
    /// `"starttls"` (the server must offer STARTTLS), `"tls"` (implicit TLS) or `"none"` (no
    /// encryption: only to a relay on loopback).
    #[schemars(with = "Option<SmtpTlsName>", extend("default" = "starttls"))]
    pub(crate) tls: Option<Spanned<String>>,
    /// The sender's address.
    #[schemars(with = "String", pattern(EMAIL_PATTERN))]
    pub(crate) from: Option<Spanned<String>>,
    /// The recipients.
    #[schemars(with = "Vec<String>", length(min = 1), inner(pattern(EMAIL_PATTERN)))]
    pub(crate) to: Option<Spanned<Vec<Spanned<String>>>>,
    /// The SMTP AUTH user name, when the relay asks for one (with `password`).
    #[schemars(with = "Option<String>", length(min = 1))]
    pub(crate) username: Option<Spanned<String>>,
    /// The SMTP AUTH password, as a reference (with `username`).
    #[schemars(with = "Option<RawSecretRef>")]
    pub(crate) password: Option<Spanned<RawSecretRef>>,
}

#[derive(JsonSchema)]
#[schemars(rename = "SmtpTls", rename_all = "lowercase")]
#[allow(dead_code)] // Only its schema is used.
enum SmtpTlsName {
    Starttls,
    Tls,
    None,
}

/// Checks a plan can enable before anyone is switched.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Precheck", extend("allOf" = credential_rules()))]
pub(crate) struct RawPrecheck {
    /// Before a step is switched, ask Microsoft Graph for each user's calendar with the OAuth
    /// app's own token: a mailbox outside the app's access policy answers 403.
    #[schemars(with = "bool")]
    pub(crate) mailbox_access: Option<Spanned<bool>>,
    /// Microsoft Graph's base URL (a national cloud's, such as
    /// `https://graph.microsoft.us/v1.0`, sets the default scope to match).
    #[schemars(with = "Option<String>", pattern(URL_PATTERN), extend("default" = "https://graph.microsoft.com/v1.0"))]
    pub(crate) graph_url: Option<Spanned<String>>,
    /// The identity provider's token endpoint.
    #[schemars(with = "String", pattern(URL_PATTERN))]
    pub(crate) token_url: Option<Spanned<String>>,
    /// The OAuth app's client id (the app the platform's configuration uses).
    #[schemars(with = "String", length(min = 1))]
    pub(crate) client_id: Option<Spanned<String>>,
    /// The client secret, as a reference. A secret or a `certificate`, not both.
    #[schemars(with = "Option<RawSecretRef>")]
    pub(crate) client_secret: Option<Spanned<RawSecretRef>>,
    /// Instead of a secret: the app's certificate with its private key (PEM), or a PKCS#12
    /// file, as a reference.
    #[schemars(with = "Option<RawSecretRef>")]
    pub(crate) certificate: Option<Spanned<RawSecretRef>>,
    /// The PKCS#12 file's password, as a reference.
    #[schemars(with = "Option<RawSecretRef>")]
    pub(crate) certificate_password: Option<Spanned<RawSecretRef>>,
    /// How the client assertion is signed: `"PS256"` or `"RS256"`.
    #[schemars(with = "Option<AssertionAlgorithmName>", extend("default" = "PS256"))]
    pub(crate) assertion_algorithm: Option<Spanned<String>>,
    /// The scopes to ask for. Default: `<graph_url's origin>/.default` for Microsoft Graph and
    /// its national clouds.
    #[schemars(with = "Option<Vec<String>>", length(min = 1), inner(length(min = 1)),
        extend("default" = ["https://graph.microsoft.com/.default"]))]
    pub(crate) scopes: Option<Spanned<Vec<Spanned<String>>>>,
    /// What a denied mailbox (403 `ErrorAccessDenied`), or one no answer could verify, does:
    /// `"block"` the step until it is fixed, or `"skip"` the user (who stays on `from`, is
    /// listed, and holds up the disconnect until fixed or accepted).
    #[schemars(with = "Option<OnDeniedName>", extend("default" = "block"))]
    pub(crate) on_denied: Option<Spanned<String>>,
    /// What a mailbox Graph does not find (404 `MailboxNotEnabledForRESTAPI`,
    /// `ErrorInvalidUser`, `ResourceNotFound`) does: `"block"` or `"skip"`, as `on_denied`. A
    /// user already failing on `from` is pre-existing and blocks nothing.
    #[schemars(with = "Option<OnDeniedName>", extend("default" = "block"))]
    pub(crate) on_not_found: Option<Spanned<String>>,
    /// When an email is not a user principal name, find the user by `mail` and
    /// `proxyAddresses` (the app then needs the `User.Read.All` application permission).
    #[schemars(with = "Option<bool>", extend("default" = false))]
    pub(crate) resolve_by_mail: Option<Spanned<bool>>,
}

#[derive(JsonSchema)]
#[schemars(rename = "MailboxPolicy", rename_all = "lowercase")]
#[allow(dead_code)] // Only its schema is used.
enum OnDeniedName {
    Block,
    Skip,
}

#[derive(JsonSchema)]
#[schemars(inline, rename_all = "lowercase")]
#[allow(dead_code)] // Only its schema is used.
enum TargetKind {
    Sandbox,
    Http,
}

/// A reference to a secret: an environment variable, a file holding it, or a systemd credential.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSecretRef {
    pub(crate) env: Option<Spanned<String>>,
    pub(crate) file: Option<Spanned<String>>,
    pub(crate) credential: Option<Spanned<String>>,
}

/// A systemd credential's name: a file name, never a path.
pub(crate) const CREDENTIAL_PATTERN: &str = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$";

impl JsonSchema for RawSecretRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SecretRef".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A reference to a secret, never the secret itself: \
                `{ env = \"NAME\" }` (an environment variable), `{ file = \"PATH\" }` \
                (a file holding it; relative paths resolve against the plan's folder) or \
                `{ credential = \"NAME\" }` (a systemd credential: the file \
                `$CREDENTIALS_DIRECTORY/NAME` that `LoadCredential=` gives the service).",
            "oneOf": [
                {
                    "type": "object",
                    "properties": { "env": { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" } },
                    "required": ["env"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "properties": { "file": { "type": "string", "minLength": 1 } },
                    "required": ["file"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "properties": {
                        "credential": { "type": "string", "pattern": CREDENTIAL_PATTERN }
                    },
                    "required": ["credential"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// The configuration being retired.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "From")]
pub(crate) struct RawFrom {
    /// Its Display Name on the platform (also the column title in the User Accounts table).
    #[schemars(with = "String", length(min = 1), extend("examples" = ["Basic Auth"]))]
    pub(crate) display_name: Option<Spanned<String>>,
}

/// The configuration being introduced.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "To")]
pub(crate) struct RawTo {
    /// Its Display Name on the platform; must differ from `from`'s.
    #[schemars(with = "String", length(min = 1), extend("examples" = ["OAuth"]))]
    pub(crate) display_name: Option<Spanned<String>>,
    /// The Microsoft Entra tenant: a domain such as `contoso.onmicrosoft.com` or a GUID.
    #[schemars(with = "String", length(min = 1), extend("examples" = ["contoso.onmicrosoft.com"]))]
    pub(crate) tenant_id: Option<Spanned<String>>,
    /// The Exchange version the platform should speak. Unset: not checked.
    #[schemars(with = "Option<ExchangeVersionName>")]
    pub(crate) exchange_version: Option<Spanned<String>>,
    /// The Exchange service address (EWS URL), `https://`. Unset: not checked.
    #[schemars(with = "Option<String>", pattern("^https://[^\\s/?#]+[^\\s]*$"),
        extend("examples" = ["https://outlook.office365.com/EWS/Exchange.asmx"]))]
    pub(crate) service_address: Option<Spanned<String>>,
    /// The account that must sign in when the configuration is authorized. Unset: not checked.
    #[schemars(with = "Option<String>", pattern(EMAIL_PATTERN))]
    pub(crate) service_account: Option<Spanned<String>>,
}

/// Exchange versions a platform configuration can name.
#[derive(JsonSchema)]
#[schemars(rename = "ExchangeVersion")]
#[allow(dead_code, non_camel_case_types)] // Only its schema is used; names are the wire values.
enum ExchangeVersionName {
    Exchange2007_SP1,
    Exchange2010,
    Exchange2010_SP1,
    Exchange2010_SP2,
    Exchange2013,
    Exchange2013_SP1,
    Exchange2015,
    Exchange2016,
    Exchange2019,
}

/// A verification gate. In `[pilot]` and `[[batch]]`, `gate = { ... }` overrides single keys
/// of the default `[gate]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Gate")]
pub(crate) struct RawGate {
    /// Minimum time after the step's last switch before the gate can pass: a duration such as
    /// `"10m"` or `"1h30m"`.
    #[schemars(with = "Option<String>", pattern(DURATION_PATTERN), extend("default" = "0s"))]
    pub(crate) soak: Option<Spanned<String>>,
    /// If some user still has no clean OAuth sync after this long, the gate fails.
    #[schemars(with = "Option<String>", pattern(DURATION_PATTERN), extend("default" = "1h"))]
    pub(crate) timeout: Option<Spanned<String>>,
    /// How many users may show OAuth sync errors before the gate fails: a count, or a share of
    /// the step's users such as `"2%"`.
    #[schemars(with = "Option<RawThreshold>", extend("default" = 0))]
    pub(crate) max_errors: Option<Spanned<RawThreshold>>,
    /// What a failed gate does: `"halt"` (failing users sync over `from` again beside `to`) or
    /// `"rollback"` (the whole step moves back to `from`).
    #[schemars(with = "Option<OnFailureName>", extend("default" = "halt"))]
    pub(crate) on_failure: Option<Spanned<String>>,
    /// Whether users already failing on `from` before the step count toward `max_errors`.
    #[schemars(with = "Option<bool>", extend("default" = false))]
    pub(crate) count_preexisting: Option<Spanned<bool>>,
}

#[derive(JsonSchema)]
#[schemars(rename = "OnFailure", rename_all = "lowercase")]
#[allow(dead_code)] // Only its schema is used.
enum OnFailureName {
    Halt,
    Rollback,
}

/// `max_errors`: a count, or a share of the step's users.
#[derive(Debug)]
pub(crate) enum RawThreshold {
    Count(i64),
    Share(String),
}

impl JsonSchema for RawThreshold {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Threshold".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A number of users (0 or more), or a share of the step's users \
                from \"0%\" to \"100%\".",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": SHARE_PATTERN }
            ]
        })
    }
}

impl<'de> Deserialize<'de> for RawThreshold {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ThresholdVisitor;
        impl Visitor<'_> for ThresholdVisitor {
            type Value = RawThreshold;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count or a share such as \"2%\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawThreshold, E> {
                Ok(RawThreshold::Count(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawThreshold, E> {
                Ok(RawThreshold::Count(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawThreshold, E> {
                Ok(RawThreshold::Share(v.to_owned()))
            }
        }
        deserializer.deserialize_any(ThresholdVisitor)
    }
}

/// The optional pilot: users switched first, one gate, before any batch.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Pilot")]
pub(crate) struct RawPilot {
    /// The pilot's users: a list of emails, or a selector such as `{ group = "pilot" }`.
    #[schemars(with = "RawUsers")]
    pub(crate) users: Option<Spanned<RawUsers>>,
    /// Whether the pilot waits for `cutover approve PLAN pilot` before it starts.
    #[schemars(with = "Option<bool>", extend("default" = false))]
    pub(crate) approval: Option<Spanned<bool>>,
    /// Overrides keys of the default `[gate]` for the pilot.
    #[schemars(with = "Option<RawGate>")]
    pub(crate) gate: Option<Spanned<RawGate>>,
}

/// A rollout batch.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Batch")]
pub(crate) struct RawBatch {
    /// The batch's name, unique in the plan: lowercase letters, digits and dashes, starting
    /// with a letter. `pilot` and `disconnect` are reserved.
    #[schemars(with = "String", pattern(NAME_PATTERN))]
    pub(crate) name: Option<Spanned<String>>,
    /// Who moves in this batch.
    #[schemars(with = "RawUsers")]
    pub(crate) users: Option<Spanned<RawUsers>>,
    /// Whether the batch waits for `cutover approve PLAN <batch>` before it starts.
    #[schemars(with = "Option<bool>", extend("default" = false))]
    pub(crate) approval: Option<Spanned<bool>>,
    /// The batch starts no earlier than this time (RFC 3339, with an offset).
    #[schemars(with = "Option<String>", pattern(TIME_PATTERN),
        extend("examples" = ["2026-12-07T18:00:00-05:00"]))]
    pub(crate) not_before: Option<Spanned<String>>,
    /// When the batch (and each of its waves) may start: `<days> <HH:MM>-<HH:MM> <IANA zone>`,
    /// such as `"Mon-Fri 18:00-22:00 America/New_York"`.
    #[schemars(with = "Option<String>", pattern(WINDOW_PATTERN),
        extend("examples" = ["Mon-Fri 18:00-22:00 America/New_York"]))]
    pub(crate) window: Option<Spanned<String>>,
    /// Split the batch into gated waves of at most this many users.
    #[schemars(with = "Option<u32>", range(min = 1))]
    pub(crate) max_size: Option<Spanned<i64>>,
    /// Overrides keys of the default `[gate]` for this batch.
    #[schemars(with = "Option<RawGate>")]
    pub(crate) gate: Option<Spanned<RawGate>>,
}

/// The final disconnect of `from`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Disconnect")]
pub(crate) struct RawDisconnect {
    /// Quiet time after the last batch passed before the disconnect may run.
    #[schemars(with = "Option<String>", pattern(DURATION_PATTERN), extend("default" = "0s"))]
    pub(crate) after: Option<Spanned<String>>,
    /// Whether the disconnect waits for `cutover approve PLAN disconnect`. Strongly advised.
    #[schemars(with = "Option<bool>", extend("default" = true))]
    pub(crate) approval: Option<Spanned<bool>>,
}

/// Who a step moves.
#[derive(Debug)]
pub(crate) enum RawUsers {
    /// `"remaining"`: every user still on `from` and in no earlier step.
    Remaining,
    /// An explicit list of emails.
    List(Vec<Spanned<String>>),
    /// `{ location = "..." }`.
    Location(Spanned<String>),
    /// `{ group = "..." }`.
    Group(Spanned<String>),
    /// `{ file = "users.csv" }`, and the name of its email column if the plan gives one:
    /// `{ file = "mailboxes.csv", column = "PrimarySmtpAddress" }`.
    File {
        file: Spanned<String>,
        column: Option<Spanned<String>>,
    },
}

impl JsonSchema for RawUsers {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Users".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let selector = |key: &str, description: &str| {
            json_schema!({
                "type": "object",
                "description": description,
                "properties": { key: { "type": "string", "minLength": 1 } },
                "required": [key],
                "additionalProperties": false
            })
        };
        json_schema!({
            "description": "Who moves: a list of emails, \"remaining\", or one selector table.",
            "examples": [{ "location": "East" }, ["ana@contoso.example"], "remaining"],
            "anyOf": [
                {
                    "type": "array",
                    "description": "An explicit list of user emails.",
                    "examples": [["ana@contoso.example", "ben@contoso.example"]],
                    "items": { "type": "string", "pattern": EMAIL_PATTERN },
                    "minItems": 1
                },
                {
                    "type": "string",
                    "description": "Every user still on `from` and in no earlier step \
                        (only the last batch may use it).",
                    "const": "remaining"
                },
                selector("location", "Every user whose location is this value."),
                selector("group", "Every user in this group."),
                {
                    "type": "object",
                    "description": "The emails in this CSV file (`,` or `;` between fields); \
                        relative paths resolve against the plan's folder.",
                    "properties": {
                        "file": { "type": "string", "minLength": 1 },
                        "column": {
                            "type": "string",
                            "minLength": 1,
                            "description": "The header of the email column. Default: `email`, \
                                or else `PrimarySmtpAddress` (any case); a `UserPrincipalName` \
                                column is the email only if named here.",
                            "examples": ["PrimarySmtpAddress"]
                        }
                    },
                    "required": ["file"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

impl<'de> Deserialize<'de> for RawUsers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UsersVisitor;
        impl<'de> Visitor<'de> for UsersVisitor {
            type Value = RawUsers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of emails, \"remaining\", or a selector table")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawUsers, E> {
                if v == "remaining" {
                    Ok(RawUsers::Remaining)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawUsers, A::Error> {
                let mut emails = Vec::new();
                while let Some(email) = seq.next_element::<Spanned<String>>()? {
                    emails.push(email);
                }
                Ok(RawUsers::List(emails))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawUsers, A::Error> {
                const KEYS: &[&str] = &["location", "group", "file", "column"];
                let mut entries: Vec<(String, Spanned<String>)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if entries.len() == 2 {
                        return Err(de::Error::custom("a selector has one key (a file, two)"));
                    }
                    entries.push((key, map.next_value::<Spanned<String>>()?));
                }
                let mut column = None;
                let mut selector = None;
                for (key, value) in entries {
                    match key.as_str() {
                        "column" => column = Some(value),
                        "location" | "group" | "file" if selector.is_none() => {
                            selector = Some((key, value));
                        }
                        "location" | "group" | "file" => {
                            return Err(de::Error::custom("a selector has exactly one key"));
                        }
                        other => return Err(de::Error::unknown_field(other, KEYS)),
                    }
                }
                match (selector, column) {
                    (Some((key, file)), column) if key == "file" => {
                        Ok(RawUsers::File { file, column })
                    }
                    (Some(_), Some(_)) => Err(de::Error::custom("`column` goes with `file`")),
                    (Some((key, value)), None) if key == "location" => {
                        Ok(RawUsers::Location(value))
                    }
                    (Some((_, value)), None) => Ok(RawUsers::Group(value)),
                    (None, _) => Err(de::Error::custom("a selector needs one key")),
                }
            }
        }
        deserializer.deserialize_any(UsersVisitor)
    }
}
