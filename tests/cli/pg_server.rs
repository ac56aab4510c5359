//! A throwaway PostgreSQL 15 server for the tests, started once per test process.
//!
//! `initdb` makes a cluster in a fresh temporary folder (owned by `postgres` when the tests run
//! as root, since the server refuses to run as root), the server listens on a free loopback
//! port, and a small shell watchdog stops it and removes the folder when this process's end of
//! its stdin closes — however the test process ends. Missing PostgreSQL fails the test with what
//! to install; it never skips. Each test takes its own schema, so tests run in parallel.
//!
//! Also compiled into the library's unit tests (`src/state/conformance.rs` includes it by path).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// The role the CLI tests connect as, with a password (read from `PGPASSWORD`).
pub const OPS_ROLE: &str = "cutover_ops";
pub const OPS_PASSWORD: &str = "ops-test-password";

pub struct PgServer {
    pub port: u16,
    pub dir: PathBuf,
    /// Held for the process's life: its closing stops the server.
    _watchdog: Mutex<Child>,
}

static SERVER: OnceLock<PgServer> = OnceLock::new();
static SCHEMAS: AtomicUsize = AtomicUsize::new(0);

/// The server, started on first use.
pub fn server() -> &'static PgServer {
    SERVER.get_or_init(start)
}

impl PgServer {
    /// A schema name no other test of this run uses.
    pub fn fresh_schema(&self, prefix: &str) -> String {
        let n = SCHEMAS.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}_{}_{n}", std::process::id())
    }

    /// A `--state` URL for the superuser (trusted on loopback: the unit tests set no password).
    pub fn superuser_url(&self, schema: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable&schema={schema}",
            self.port
        )
    }

    /// A `--state` URL for [`OPS_ROLE`], whose password must come from `PGPASSWORD`.
    pub fn ops_url(&self, schema: &str) -> String {
        format!(
            "postgres://{OPS_ROLE}@127.0.0.1:{}/postgres?sslmode=disable&schema={schema}",
            self.port
        )
    }

    /// The CA that signed the server's certificate (for 127.0.0.1).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("tls/ca.pem")
    }

    /// The server's own certificate: a trust anchor that signed nothing.
    pub fn server_certificate(&self) -> PathBuf {
        self.dir.join("tls/server.crt")
    }

    /// Runs SQL as the superuser with `psql`, returning its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        let output = Command::new(Path::new(BIN).join("psql"))
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", "postgres", "-c", sql])
            .env_remove("PGPASSWORD")
            .output()
            .expect("psql runs");
        assert!(
            output.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

fn start() -> PgServer {
    let bin = Path::new(BIN);
    assert!(
        bin.join("initdb").exists() && bin.join("postgres").exists(),
        "PostgreSQL 15 is not installed ({BIN}/initdb is missing): install the Debian package \
         postgresql-15 (`apt-get install postgresql-15`; .ci/run does this)"
    );
    let root = is_root();
    let dir = std::env::temp_dir().join(format!(
        "cutover-pg-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    std::fs::create_dir_all(&dir).expect("a folder for the cluster");
    let data = dir.join("data");
    let pwfile = dir.join("pw");
    std::fs::write(&pwfile, "unused-superuser-password\n").expect("a password file");
    make_certificates(&dir.join("tls"));
    if root {
        run(Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir));
    }
    run(as_postgres(root, &bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-E", "UTF8", "--no-sync", "--auth=trust"])
        .arg(format!("--pwfile={}", pwfile.display())));
    let hba = "local all all trust\n\
               host all postgres 127.0.0.1/32 trust\n\
               host all all 127.0.0.1/32 scram-sha-256\n";
    std::fs::write(data.join("pg_hba.conf"), hba).expect("pg_hba.conf");
    let port = free_port();
    let script = r#"
        "$0" -D "$1" -p "$2" -k "$3" -c listen_addresses=127.0.0.1 -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
            -c ssl=on -c ssl_cert_file="$3/tls/server.crt" -c ssl_key_file="$3/tls/server.key" \
            >"$3/server.log" 2>&1 &
        pid=$!
        cat >/dev/null
        kill -INT "$pid" 2>/dev/null
        wait "$pid"
        rm -rf "$3"
    "#;
    let watchdog = as_postgres(root, Path::new("/bin/sh"))
        .arg("-c")
        .arg(script)
        .arg(bin.join("postgres"))
        .arg(&data)
        .arg(port.to_string())
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let server = PgServer {
        port,
        dir: dir.clone(),
        _watchdog: Mutex::new(watchdog),
    };
    wait_ready(&server);
    server.psql(&format!(
        "CREATE ROLE {OPS_ROLE} LOGIN PASSWORD '{OPS_PASSWORD}'; GRANT CREATE ON DATABASE postgres TO {OPS_ROLE}"
    ));
    server
}

/// A test CA and a server certificate it signed, for 127.0.0.1 only (so `localhost` is a
/// name the certificate does not carry).
fn make_certificates(dir: &Path) {
    std::fs::create_dir_all(dir).expect("a folder for certificates");
    let openssl = |args: &[&str]| {
        run(Command::new("openssl").current_dir(dir).args(args));
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &["-days", "3", "-subj", "/CN=cutover test CA"],
            &["-keyout", "ca.key", "-out", "ca.pem"],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &["-subj", "/CN=127.0.0.1", "-keyout", "server.key"],
            &["-out", "server.csr"],
        ]
        .concat(),
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("san.ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "3",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    ]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("the key's mode");
    }
}

fn wait_ready(server: &PgServer) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = Command::new(Path::new(BIN).join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &server.port.to_string(), "-q"])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default();
            panic!(
                "PostgreSQL did not start on port {} within 60 s:\n{log}",
                server.port
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn as_postgres(root: bool, program: &Path) -> Command {
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn run(command: &mut Command) {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
