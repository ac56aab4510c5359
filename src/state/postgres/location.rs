//! Where a PostgreSQL state store lives: the `--state postgres://…` URL, checked and turned into
//! a connection's settings.
//!
//! A password is never taken from the URL (a URL sits in process lists, shell history and
//! scheduler files): one there is refused, and the password comes from `PGPASSWORD` or a
//! password file (`PGPASSFILE`, else `~/.pgpass`), as libpq reads them. What this type prints is
//! the URL without a password, since it never holds one. Connecting is `connect.rs`'s.

use std::fmt;
use std::time::Duration;

use super::tls::SslMode;

/// The schema cutover keeps its tables in unless the URL says `?schema=NAME`.
pub(crate) const DEFAULT_SCHEMA: &str = "cutover";

/// A PostgreSQL database and schema holding rollouts' state, without any secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PgLocation {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) database: String,
    pub(crate) schema: String,
    pub(crate) ssl_mode: SslMode,
    /// `sslrootcert`: the CA certificates (PEM) that a verifying `sslmode` trusts.
    pub(crate) ssl_root_cert: Option<String>,
    pub(crate) connect_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LocationError {
    #[error(
        "the state URL holds a password; it would sit in process lists and shell history, so \
         cutover refuses it: remove it from the URL and set PGPASSWORD or put it in a password \
         file (PGPASSFILE, else ~/.pgpass)"
    )]
    PasswordInUrl,
    #[error("the state URL {0:?} is not a postgres:// URL cutover can read")]
    NotAUrl(String),
    #[error(
        "the state URL has an unknown parameter {0:?}; cutover reads sslmode, sslrootcert, schema and connect_timeout"
    )]
    UnknownParameter(String),
    #[error("the state URL's {key} {value:?} is not valid: {why}")]
    BadParameter {
        key: &'static str,
        value: String,
        why: &'static str,
    },
}

impl PgLocation {
    /// Whether `text` names a PostgreSQL store rather than a state file.
    pub(crate) fn is_postgres_url(text: &str) -> bool {
        text.starts_with("postgres://") || text.starts_with("postgresql://")
    }

    /// Reads a `postgres://[user@]host[:port]/database[?parameters]` URL. `env` answers for
    /// `PGUSER` and the OS user when the URL names no user (the caller's environment, so tests
    /// pass their own).
    pub(crate) fn parse(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, LocationError> {
        // The message never repeats the URL when it may hold a password.
        let url = url::Url::parse(text).map_err(|_| LocationError::NotAUrl(redact(text)))?;
        if url.password().is_some() {
            return Err(LocationError::PasswordInUrl);
        }
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(LocationError::NotAUrl(redact(text)));
        }
        let decode =
            |s: &str| percent_decode(s).ok_or_else(|| LocationError::NotAUrl(redact(text)));
        let host = match url.host_str() {
            Some(h) if !h.is_empty() => decode(h.trim_start_matches('[').trim_end_matches(']'))?,
            _ => env("PGHOST").unwrap_or_else(|| "localhost".to_owned()),
        };
        let user = match url.username() {
            "" => env("PGUSER").unwrap_or_else(crate::state::os_user),
            u => decode(u)?,
        };
        let path = url.path().trim_start_matches('/');
        let database = if path.is_empty() {
            env("PGDATABASE").unwrap_or_else(|| user.clone())
        } else {
            decode(path)?
        };
        let mut location = Self {
            host,
            port: url.port().unwrap_or(5432),
            user,
            database,
            schema: DEFAULT_SCHEMA.to_owned(),
            ssl_mode: SslMode::Prefer,
            ssl_root_cert: None,
            connect_timeout: Duration::from_secs(10),
        };
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "password" => return Err(LocationError::PasswordInUrl),
                "sslmode" => {
                    location.ssl_mode =
                        SslMode::parse(&value).ok_or_else(|| LocationError::BadParameter {
                            key: "sslmode",
                            value: value.to_string(),
                            why: "use disable, allow, prefer, require, verify-ca or verify-full",
                        })?;
                }
                "sslrootcert" => location.ssl_root_cert = Some(value.to_string()),
                "schema" => {
                    if !is_identifier(&value) {
                        return Err(LocationError::BadParameter {
                            key: "schema",
                            value: value.to_string(),
                            why: "use lowercase letters, digits and underscores, starting with a letter",
                        });
                    }
                    location.schema = value.to_string();
                }
                "connect_timeout" => {
                    let seconds =
                        value
                            .parse::<u64>()
                            .ok()
                            .filter(|s| *s > 0)
                            .ok_or_else(|| LocationError::BadParameter {
                                key: "connect_timeout",
                                value: value.to_string(),
                                why: "use a whole number of seconds",
                            })?;
                    location.connect_timeout = Duration::from_secs(seconds);
                }
                other => return Err(LocationError::UnknownParameter(other.to_owned())),
            }
        }
        Ok(location)
    }
}

impl fmt::Display for PgLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Shown so that it reads back: an IPv6 address in brackets, a socket folder encoded.
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.replace('/', "%2F")
        };
        write!(
            f,
            "postgres://{}@{}:{}/{}",
            self.user, host, self.port, self.database
        )?;
        // Every setting that is not the default, so the URL shown is one to point --state at.
        let mut settings = Vec::new();
        if self.ssl_mode != SslMode::Prefer {
            settings.push(format!("sslmode={}", self.ssl_mode.as_str()));
        }
        if let Some(root) = &self.ssl_root_cert {
            settings.push(format!("sslrootcert={root}"));
        }
        if self.schema != DEFAULT_SCHEMA {
            settings.push(format!("schema={}", self.schema));
        }
        if self.connect_timeout != Duration::from_secs(10) {
            settings.push(format!(
                "connect_timeout={}",
                self.connect_timeout.as_secs()
            ));
        }
        if !settings.is_empty() {
            write!(f, "?{}", settings.join("&"))?;
        }
        Ok(())
    }
}

/// A schema name safe to put in SQL unquoted.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// The URL with anything between `//` and `@` dropped, for messages about a URL that did not
/// parse (it may still hold a password).
fn redact(text: &str) -> String {
    match (text.find("//"), text.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            format!("{}//…{}", &text[..start], &text[at..])
        }
        _ => text.to_owned(),
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(key: &str) -> Option<String> {
        match key {
            "PGUSER" => Some("svc".to_owned()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<PgLocation, LocationError> {
        PgLocation::parse(text, &env)
    }

    #[test]
    fn urls_read_as_libpq_reads_them() {
        let cases: &[(&str, &str, SslMode)] = &[
            (
                "postgres://db.example/state",
                "postgres://svc@db.example:5432/state",
                SslMode::Prefer,
            ),
            (
                "postgresql://ops@db.example:6000/state?sslmode=verify-full",
                "postgres://ops@db.example:6000/state?sslmode=verify-full",
                SslMode::VerifyFull,
            ),
            (
                "postgres://ops@127.0.0.1/state?schema=tenant_a&sslmode=disable",
                "postgres://ops@127.0.0.1:5432/state?sslmode=disable&schema=tenant_a",
                SslMode::Disable,
            ),
            (
                "postgres://ops@%2Frun%2Fpostgresql/state",
                "postgres://ops@%2Frun%2Fpostgresql:5432/state",
                SslMode::Prefer,
            ),
            (
                "postgres://ops@db.example",
                "postgres://ops@db.example:5432/ops",
                SslMode::Prefer,
            ),
        ];
        for (url, shown, mode) in cases {
            let location = parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(location.to_string(), *shown, "{url}");
            assert_eq!(location.ssl_mode, *mode, "{url}");
            assert_eq!(parse(shown).as_ref(), Ok(&location), "{shown} reads back");
        }
    }

    #[test]
    fn a_password_in_the_url_is_refused_and_never_repeated() {
        for url in [
            "postgres://ops:hunter2@db.example/state",
            "postgres://ops@db.example/state?password=hunter2",
            "postgres://ops:hunter2@db.example:notaport/state",
        ] {
            let error = parse(url).expect_err(url);
            assert!(!error.to_string().contains("hunter2"), "{url}: {error}");
        }
        assert_eq!(
            parse("postgres://ops:hunter2@db.example/state"),
            Err(LocationError::PasswordInUrl)
        );
    }

    #[test]
    fn unknown_or_bad_parameters_are_refused() {
        let cases: &[(&str, &str)] = &[
            ("postgres://h/d?sslmode=sometimes", "sslmode"),
            ("postgres://h/d?schema=Drop;Table", "schema"),
            ("postgres://h/d?connect_timeout=0", "connect_timeout"),
            (
                "postgres://h/d?target_session_attrs=any",
                "target_session_attrs",
            ),
            ("mysql://h/d", "not a postgres:// URL"),
        ];
        for (url, named) in cases {
            let error = parse(url).expect_err(url).to_string();
            assert!(error.contains(named), "{url}: {error}");
        }
    }
}
