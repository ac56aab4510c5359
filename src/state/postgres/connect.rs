//! Opening the session to the state database: the password (from `PGPASSWORD` or a password
//! file, never the URL), TLS per `sslmode`, and the check that the session is a real one — a
//! transaction-mode pooler between cutover and PostgreSQL would hand each statement to another
//! server session, and a session advisory lock would then guard nothing.
//!
//! [`Session`] runs every call off the caller's async runtime: the `postgres` client drives its
//! own, which must not be started from inside another.

use std::path::PathBuf;

use super::location::PgLocation;
use super::tls;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
    #[error("{0}")]
    Postgres(#[from] postgres::Error),
    #[error(
        "a transaction-mode connection pooler sits between cutover and PostgreSQL (consecutive \
         statements ran in different server sessions); the run lock needs one session: connect \
         to PostgreSQL directly or through a pooler in session mode"
    )]
    Pooler,
}

/// One server session, held for as long as the store is open.
pub(crate) struct Session {
    client: postgres::Client,
}

impl Session {
    pub(crate) fn connect(location: &PgLocation) -> Result<Self, ConnectError> {
        let mut config = postgres::Config::new();
        config
            .host(&location.host)
            .port(location.port)
            .user(&location.user)
            .dbname(&location.database)
            .application_name("cutover")
            .connect_timeout(location.connect_timeout)
            .ssl_mode(location.ssl_mode.wire());
        if let Some(password) = password(location) {
            config.password(password);
        }
        let tls = tls::client_config(location.ssl_mode, location.ssl_root_cert.as_deref())?;
        let client = off_runtime(move || match tls {
            None => config.connect(postgres::NoTls),
            Some(tls) => config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls)),
        })?;
        let mut session = Self { client };
        session.check_not_pooled()?;
        Ok(session)
    }

    /// Runs `f` on the session, off any async runtime.
    pub(crate) fn run<R: Send>(
        &mut self,
        f: impl FnOnce(&mut postgres::Client) -> Result<R, postgres::Error> + Send,
    ) -> Result<R, postgres::Error> {
        let client = &mut self.client;
        off_runtime(move || f(client))
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// A setting made by one statement must be seen by the next, from the same backend.
    fn check_not_pooled(&mut self) -> Result<(), ConnectError> {
        let nonce = format!(
            "{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        );
        let probe = nonce.clone();
        let (first, second) = self.run(move |c| {
            let first = c.query_one(
                "SELECT pg_backend_pid(), set_config('cutover.session_probe', $1, false)",
                &[&probe],
            )?;
            let second = c.query_one(
                "SELECT pg_backend_pid(), current_setting('cutover.session_probe', true)",
                &[],
            )?;
            Ok((
                first.try_get::<_, i32>(0)?,
                (
                    second.try_get::<_, i32>(0)?,
                    second.try_get::<_, Option<String>>(1)?,
                ),
            ))
        })?;
        if same_session(first, second, &nonce) {
            Ok(())
        } else {
            Err(ConnectError::Pooler)
        }
    }
}

fn same_session(first: i32, second: (i32, Option<String>), nonce: &str) -> bool {
    first == second.0 && second.1.as_deref() == Some(nonce)
}

/// Runs `f` on a thread of its own when this one drives an async runtime (which the `postgres`
/// client's own `block_on` would panic inside), else here.
pub(crate) fn off_runtime<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|scope| match scope.spawn(f).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// `PGPASSWORD`, else the first matching line of the password file, as libpq looks them up.
fn password(location: &PgLocation) -> Option<String> {
    if let Some(password) = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()) {
        return Some(password);
    }
    let file = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // libpq ignores a password file others can read; so does cutover.
        let mode = std::fs::metadata(&file).ok()?.permissions().mode();
        if mode & 0o077 != 0 {
            return None;
        }
    }
    let text = std::fs::read_to_string(&file).ok()?;
    from_passfile(&text, location)
}

fn from_passfile(text: &str, location: &PgLocation) -> Option<String> {
    let port = location.port.to_string();
    let wanted = [
        location.host.as_str(),
        port.as_str(),
        location.database.as_str(),
        location.user.as_str(),
    ];
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let fields = split_passfile_line(line);
            if fields.len() != 5 {
                return None;
            }
            let matches = fields[..4]
                .iter()
                .zip(wanted)
                .all(|(field, want)| field == "*" || field == want);
            matches.then(|| fields[4].clone())
        })
}

/// `host:port:database:user:password`, with `\:` and `\\` escaping.
fn split_passfile_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(field)) = (chars.next(), fields.last_mut()) {
                    field.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location() -> PgLocation {
        PgLocation::parse("postgres://ops@db.example:5433/state", &|_| None).expect("a URL")
    }

    #[test]
    fn the_password_file_is_read_as_libpq_reads_it() {
        let cases: &[(&str, Option<&str>)] = &[
            ("db.example:5433:state:ops:s3cret", Some("s3cret")),
            ("*:*:*:ops:any", Some("any")),
            ("db.example:5432:state:ops:wrong-port", None),
            ("# db.example:5433:state:ops:comment", None),
            (
                "other:5433:state:ops:x\ndb.example:*:state:ops:second",
                Some("second"),
            ),
            ("db.example:5433:state:ops:with\\:colon", Some("with:colon")),
            ("db.example:5433:state:ops:has:colon", Some("has:colon")),
        ];
        for (text, expected) in cases {
            assert_eq!(
                from_passfile(text, &location()).as_deref(),
                *expected,
                "{text}"
            );
        }
    }

    #[test]
    fn a_pooler_shows_as_another_session_or_a_lost_setting() {
        type Case<'a> = (i32, (i32, Option<&'a str>), bool);
        let cases: &[Case<'_>] = &[
            (7, (7, Some("n")), true),
            (7, (8, Some("n")), false),
            (7, (7, None), false),
            (7, (7, Some("other")), false),
        ];
        for (first, (pid, setting), same) in cases {
            let second = (*pid, setting.map(str::to_owned));
            assert_eq!(
                same_session(*first, second, "n"),
                *same,
                "{first} {pid} {setting:?}"
            );
        }
    }
}
