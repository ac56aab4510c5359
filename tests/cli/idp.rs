//! A real OpenID Connect authorization server for the OAuth tests: `oidc-provider` from npm,
//! installed from `tests/oidc/package-lock.json` on first use and started on a free loopback
//! port (`tests/oidc/idp.js`), plus the headless "browser" an admin would sign in with.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::{TestEnv, repo};

/// The platform's OAuth client (`sandbox serve` authorizes configurations with it).
pub const PLATFORM_CLIENT: &str = "scheduling-platform";
pub const PLATFORM_SECRET: &str = "platform-secret-5b1e0c7a9d2f4e68";
/// cutover's client for the platform API (`[target.auth]`).
pub const API_CLIENT: &str = "cutover-api";
pub const API_SECRET: &str = "api-secret-77c0e3d1a2b94f5c";
/// The OAuth app's client for Graph (`[precheck]`).
pub const GRAPH_CLIENT: &str = "cutover-graph";
pub const GRAPH_SECRET: &str = "graph-secret-0f4b6a1c8e2d7395";
/// cutover's clients that prove themselves with the test certificate (`private_key_jwt`), for
/// the platform API (RS256 assertions) and for Graph (PS256).
pub const API_CERT_CLIENT: &str = "cutover-api-cert";
pub const GRAPH_CERT_CLIENT: &str = "cutover-graph-cert";
/// The test certificate's PKCS#12 password.
pub const PFX_PASSWORD: &str = "pfx-pass-8d2e61b4c0a7";
/// The tenant of the identity provider's Entra-shaped tokens (`tid`).
pub const TENANT: &str = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b";

/// The key `sandbox serve` seals its OAuth tokens with.
pub const SANDBOX_KEY: &str = "sandbox-key-3c9e1f7a5b2d8e40a6c4f1b9";

/// `npm ci` once per test process: the lockfile pins every package.
fn installed() -> &'static Path {
    static ONCE: OnceLock<PathBuf> = OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = repo().join("tests/oidc");
        let marker = dir.join("node_modules/oidc-provider/package.json");
        let pinned = std::fs::read_to_string(&marker)
            .is_ok_and(|text| text.contains("\"version\": \"9.13.3\""));
        if !pinned {
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .stdin(Stdio::null())
                .status()
                .expect("npm runs (Node 20 with npm is required for the OAuth tests)");
            assert!(status.success(), "npm ci in tests/oidc failed");
        }
        dir
    })
}

/// The test certificate's public key, as the identity provider knows the certificate clients.
fn certificate_jwk() -> serde_json::Value {
    let path = repo().join("tests/fixtures/certificates/app.jwk.json");
    let text = std::fs::read_to_string(&path).expect("the test certificate's JWK");
    serde_json::from_str(&text).expect("JWK JSON")
}

/// The test certificate's private key, in the words a leak would show: every line of its PEM
/// body (for the secret scan).
pub fn private_key_lines() -> Vec<String> {
    let pem = std::fs::read_to_string(repo().join("tests/fixtures/certificates/app.pem"))
        .expect("the test certificate");
    let key = pem
        .split("-----BEGIN PRIVATE KEY-----")
        .nth(1)
        .and_then(|k| k.split("-----END PRIVATE KEY-----").next())
        .expect("a private key block");
    key.lines()
        .map(str::trim)
        .filter(|l| l.len() >= 32)
        .map(str::to_owned)
        .collect()
}

/// A free loopback port (for a server whose address must be known before it starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub struct Idp {
    child: Child,
    pub issuer: String,
    token_log: PathBuf,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Idp {
    /// Starts the identity provider with the three clients; the platform's redirect URI is
    /// `http://127.0.0.1:{platform_port}/oauth/callback`. `env` sets `IDP_CODE_TTL` and friends.
    pub fn start(dir: &Path, platform_port: u16, env: &[(&str, &str)]) -> Idp {
        let oidc = installed();
        let clients = serde_json::json!([
            {
                "client_id": PLATFORM_CLIENT,
                "client_secret": PLATFORM_SECRET,
                "grant_types": ["authorization_code", "refresh_token"],
                "redirect_uris": [format!("http://127.0.0.1:{platform_port}/oauth/callback")],
            },
            {
                "client_id": API_CLIENT,
                "client_secret": API_SECRET,
                "grant_types": ["client_credentials"],
                "redirect_uris": [],
                "response_types": [],
            },
            {
                "client_id": GRAPH_CLIENT,
                "client_secret": GRAPH_SECRET,
                "grant_types": ["client_credentials"],
                "redirect_uris": [],
                "response_types": [],
            },
            {
                "client_id": API_CERT_CLIENT,
                "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_signing_alg": "RS256",
                "jwks": { "keys": [certificate_jwk()] },
                "grant_types": ["client_credentials"],
                "redirect_uris": [],
                "response_types": [],
            },
            {
                "client_id": GRAPH_CERT_CLIENT,
                "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_signing_alg": "PS256",
                "jwks": { "keys": [certificate_jwk()] },
                "grant_types": ["client_credentials"],
                "redirect_uris": [],
                "response_types": [],
            },
        ]);
        let token_log = dir.join("idp-tokens.log");
        let mut command = Command::new("node");
        command
            .arg(oidc.join("idp.js"))
            .env("IDP_CLIENTS", clients.to_string())
            .env("IDP_PORT", "0")
            .env("IDP_TOKEN_LOG", &token_log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("node starts the identity provider");
        let mut stdout = child.stdout.take().expect("stdout");
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while stdout.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        let first: serde_json::Value = serde_json::from_slice(&line).unwrap_or_else(|e| {
            panic!(
                "the identity provider's first line is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&line)
            )
        });
        let issuer = first["issuer"].as_str().expect("issuer").to_owned();
        Idp {
            child,
            issuer,
            token_log,
        }
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.issuer)
    }

    /// Every token and code the identity provider issued so far.
    pub fn issued(&self) -> Vec<String> {
        std::fs::read_to_string(&self.token_log)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Revokes every access token issued so far (an admin revoking the app's sessions).
    pub fn revoke_all(&self) -> u64 {
        let (status, body) = request("POST", &format!("{}/test/revoke-all", self.issuer), &[], "");
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("revoke-all answered {body:?}: {e}"));
        json["revoked"].as_u64().expect("revoked count")
    }

    /// An app token by client credentials, as a client would get one.
    pub fn app_token(&self, client: &str, secret: &str, scope: &str) -> String {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client}:{secret}"));
        let (status, body) = request(
            "POST",
            &self.token_url(),
            &[
                ("Authorization", &format!("Basic {basic}")),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &format!(
                "grant_type=client_credentials&scope={}",
                scope.replace(' ', "+")
            ),
        );
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("token JSON");
        json["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }
}

/// One plain HTTP/1.1 request to a loopback server: (status, body).
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (address, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("answer");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    // Chunked bodies (Node's default) are unwrapped: size lines dropped.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 || after.len() < size {
                break;
            }
            out.push_str(&after[..size]);
            rest = after[size..].trim_start_matches("\r\n");
        }
        out
    } else {
        body.to_owned()
    };
    (status, body)
}

/// The admin's browser: opens `url`, signs in (as `account`, else the login hint), consents
/// or declines, and delivers the callback. Returns (success, what the platform's page said).
pub fn browse(url: &str, flags: &[&str]) -> (bool, String) {
    let output = Command::new("node")
        .arg(installed().join("browser.js"))
        .arg(url)
        .args(flags)
        .stdin(Stdio::null())
        .output()
        .expect("node runs the browser");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// `cutover sandbox serve` with an identity provider, its stdout and stderr kept in files of
/// the test folder (so the secret scan reads them); stopped with SIGTERM when dropped.
pub struct OAuthServed {
    child: Option<Child>,
    pub url: String,
}

impl OAuthServed {
    /// Stops the server the way an operator would, so it prints its summary.
    pub fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child);
        }
    }
}

impl Drop for OAuthServed {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child);
        }
    }
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl TestEnv {
    /// Serves `tenant.db` on `port` with `idp` as its identity provider. `env` adds variables
    /// (a fixed API token, a wrong client secret); `flags` adds flags.
    pub fn serve_with_idp(
        &self,
        idp: &Idp,
        port: u16,
        env: &[(&str, &str)],
        flags: &[&str],
    ) -> OAuthServed {
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec![
            "sandbox",
            "serve",
            "tenant.db",
            "--listen",
            &listen,
            "--oauth-issuer",
            &idp.issuer,
            "--oauth-client-id",
            PLATFORM_CLIENT,
        ];
        args.extend_from_slice(flags);
        let n = std::fs::read_dir(self.path())
            .map(|d| d.count())
            .unwrap_or(0);
        let out_path = self.path().join(format!("serve-{n}.out"));
        let err_path = self.path().join(format!("serve-{n}.err"));
        let mut command = Command::new(crate::support::binary());
        command
            .args(&args)
            .current_dir(self.path())
            .env_remove("CUTOVER_SANDBOX_TOKEN")
            .env_remove("CUTOVER_TEST_CLOCK_SHIFT")
            .env("CUTOVER_SANDBOX_OAUTH_SECRET", PLATFORM_SECRET)
            .env("CUTOVER_SANDBOX_KEY", SANDBOX_KEY)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).expect("serve.out"))
            .stderr(std::fs::File::create(&err_path).expect("serve.err"));
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("sandbox serve starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = std::fs::read_to_string(&out_path).unwrap_or_default();
            if let Some(line) = out.lines().next().filter(|_| out.contains('\n')) {
                let url = line
                    .strip_prefix("listening on ")
                    .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
                    .to_owned();
                return OAuthServed {
                    child: Some(child),
                    url,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "sandbox serve exited ({status}): {}",
                    std::fs::read_to_string(&err_path).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "sandbox serve did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
