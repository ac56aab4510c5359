//! A certificate credential: the app's X.509 certificate and RSA private key, from PEM or a
//! PKCS#12 file, and the client assertions it signs (`private_key_jwt`, RFC 7523, as Microsoft
//! Entra ID's certificate-credentials documentation describes): `alg` PS256 or RS256, the
//! certificate's `x5t#S256` thumbprint in the header; `aud` the token endpoint, `iss` and `sub`
//! the client id, a unique `jti`, and a short life.
//!
//! The private key stays in memory here; errors name the reference it came from, never its
//! contents or the password.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair};
use base64::Engine;
use jiff::Timestamp;

use super::certificate_error::CertificateError;
use super::x509::Certificate;
use super::{pkcs12, read_secret_bytes};
use crate::plan::{AssertionAlgorithm, CertificateCredential};

/// How long a client assertion is good for: long enough for one token request, short enough
/// that a leaked one is soon worthless.
const ASSERTION_LIFETIME_S: i64 = 300;

pub(crate) struct ClientCertificate {
    key: RsaKeyPair,
    certificate: Certificate,
    algorithm: AssertionAlgorithm,
    /// Where it came from, for messages.
    source: String,
}

impl ClientCertificate {
    /// Reads the certificate and its key now, so a missing or unreadable one is reported before
    /// anything starts.
    pub(crate) fn load(credential: &CertificateCredential) -> Result<Self, CertificateError> {
        let (bytes, source) = read_secret_bytes(&credential.key, "certificate")?;
        let from = |e| CertificateError::Unreadable {
            source_words: source.clone(),
            why: e,
        };
        let (keys, certificates) = if looks_like_pem(&bytes) {
            pem_blocks(&bytes).map_err(|why| from(why.to_owned()))?
        } else {
            let file = if bytes.first() == Some(&0x30) {
                bytes
            } else {
                // From an environment variable, a PKCS#12 file comes base64-encoded.
                let text: String = String::from_utf8_lossy(&bytes)
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|_| from("neither PEM nor a PKCS#12 file".to_owned()))?
            };
            let password = match &credential.password {
                Some(reference) => read_password(reference)?,
                None => String::new(),
            };
            let contents = pkcs12::open(&file, &password).map_err(|e| match e {
                pkcs12::Pkcs12Error::WrongPassword if credential.password.is_none() => {
                    from("it needs a password: add `certificate_password`".to_owned())
                }
                other => from(other.to_string()),
            })?;
            (contents.keys, contents.certificates)
        };
        let key = match keys.as_slice() {
            [] => return Err(from("it holds no private key".to_owned())),
            [one] => RsaKeyPair::from_pkcs8(one)
                .or_else(|_| RsaKeyPair::from_der(one))
                .map_err(|_| {
                    from("its private key is not an RSA key (Entra ID signs client assertions with RSA only)".to_owned())
                })?,
            _ => return Err(from("it holds more than one private key".to_owned())),
        };
        let public = key.public_key().as_ref().to_vec();
        let mut parsed = Vec::new();
        for der in &certificates {
            parsed.push(
                Certificate::parse(der)
                    .map_err(|e| from(format!("a certificate in it is not X.509 ({e})")))?,
            );
        }
        if parsed.is_empty() {
            return Err(from(
                "it holds no certificate: put the certificate beside the private key".to_owned(),
            ));
        }
        // With a chain, the certificate is the one whose public key is the private key's.
        let certificate = parsed
            .into_iter()
            .find(|c| same_key(&c.public_key, &public))
            .ok_or_else(|| from("no certificate in it matches its private key".to_owned()))?;
        Ok(Self {
            key,
            certificate,
            algorithm: credential.algorithm,
            source,
        })
    }

    /// Which certificate, and where it comes from, for messages.
    pub(crate) fn describe(&self) -> String {
        format!(
            "certificate {} from {}",
            self.certificate.thumbprint(),
            self.source
        )
    }

    pub(crate) fn not_after(&self) -> Timestamp {
        self.certificate.not_after
    }

    /// A client assertion for `client_id` at `token_url`, valid from `now` for five minutes.
    /// `now` is the real time: the identity provider checks it against its own clock.
    pub(crate) fn assertion(
        &self,
        client_id: &str,
        token_url: &str,
        now: Timestamp,
    ) -> Result<String, CertificateError> {
        let rng = SystemRandom::new();
        let mut id = [0u8; 16];
        rng.fill(&mut id).map_err(|_| CertificateError::Signing)?;
        // A version-4 UUID, the shape Entra ID's examples give `jti`.
        id[6] = (id[6] & 0x0f) | 0x40;
        id[8] = (id[8] & 0x3f) | 0x80;
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let jti = format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        );
        let mut header = serde_json::json!({
            "alg": self.algorithm.as_str(),
            "typ": "JWT",
            "x5t#S256": self.certificate.x5t_s256(),
        });
        if self.algorithm == AssertionAlgorithm::RS256 {
            // RS256 assertions carried the SHA-1 thumbprint first; send both.
            header["x5t"] = serde_json::Value::String(self.certificate.x5t());
        }
        let now_s = now.as_second();
        let claims = serde_json::json!({
            "aud": token_url,
            "iss": client_id,
            "sub": client_id,
            "jti": jti,
            "iat": now_s,
            "nbf": now_s,
            "exp": now_s + ASSERTION_LIFETIME_S,
        });
        let encode = |value: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
        };
        let signing_input = format!("{}.{}", encode(&header), encode(&claims));
        let padding: &'static dyn signature::RsaEncoding = match self.algorithm {
            AssertionAlgorithm::PS256 => &signature::RSA_PSS_SHA256,
            AssertionAlgorithm::RS256 => &signature::RSA_PKCS1_SHA256,
        };
        let mut signed = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(padding, &rng, signing_input.as_bytes(), &mut signed)
            .map_err(|_| CertificateError::Signing)?;
        Ok(format!(
            "{signing_input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signed)
        ))
    }
}

fn read_password(reference: &crate::plan::SecretRef) -> Result<String, CertificateError> {
    let (bytes, _) = read_secret_bytes(reference, "certificate password")?;
    let text = String::from_utf8(bytes).map_err(|_| CertificateError::PasswordNotText)?;
    // A file ends with a newline an editor added; the password does not.
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

fn same_key(certificate_key: &[u8], key_pair_public: &[u8]) -> bool {
    // Both are the PKCS#1 encoding of the RSA public key; re-encode the certificate's, so an
    // equivalent encoding still matches.
    aws_lc_rs::rsa::PublicKey::from_der(certificate_key)
        .is_ok_and(|key| key.as_ref() == key_pair_public)
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    String::from_utf8_lossy(bytes.get(..bytes.len().min(4096)).unwrap_or_default())
        .contains("-----BEGIN ")
}

/// DER encodings: private keys, then certificates.
type KeysAndCertificates = (Vec<Vec<u8>>, Vec<Vec<u8>>);

/// The private keys (PKCS#8, or PKCS#1 for `RSA PRIVATE KEY`) and certificates of a PEM text.
fn pem_blocks(bytes: &[u8]) -> Result<KeysAndCertificates, &'static str> {
    let text = std::str::from_utf8(bytes).map_err(|_| "PEM that is not text")?;
    let mut keys = Vec::new();
    let mut certificates = Vec::new();
    let mut open: Option<(&str, String)> = None;
    for line in text.lines().map(str::trim) {
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            open = Some((label, String::new()));
        } else if let Some(label) = line
            .strip_prefix("-----END ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            let Some((begun, body)) = open.take() else {
                return Err("a PEM block that ends before it begins");
            };
            if begun != label {
                return Err("a PEM block whose end does not match its beginning");
            }
            let der = base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|_| "a PEM block that is not base64")?;
            match label {
                "CERTIFICATE" => certificates.push(der),
                "PRIVATE KEY" | "RSA PRIVATE KEY" => keys.push(der),
                "ENCRYPTED PRIVATE KEY" => {
                    return Err(
                        "an encrypted PEM private key: decrypt it (`openssl pkey`) and keep \
                                the file itself secret, or use a PKCS#12 file with a password",
                    );
                }
                _ => {}
            }
        } else if let Some((_, body)) = open.as_mut() {
            if !line.contains(':') {
                body.push_str(line);
            }
        }
    }
    if open.is_some() {
        return Err("a PEM block that never ends");
    }
    Ok((keys, certificates))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::plan::SecretRef;

    const PFX_PASSWORD: &str = "pfx-pass-8d2e61b4c0a7";

    fn fixture(name: &str) -> SecretRef {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/certificates")
            .join(name);
        SecretRef::File {
            written: name.to_owned(),
            path,
        }
    }

    fn credential(
        file: &str,
        password: Option<SecretRef>,
        algorithm: AssertionAlgorithm,
    ) -> CertificateCredential {
        CertificateCredential {
            key: fixture(file),
            password,
            algorithm,
        }
    }

    fn password_file(dir: &tempfile::TempDir, text: &str) -> SecretRef {
        let path = dir.path().join("password");
        std::fs::write(&path, text).expect("written");
        SecretRef::File {
            written: "password".to_owned(),
            path,
        }
    }

    #[test]
    fn pem_and_pkcs12_give_the_same_certificate_and_key() {
        let dir = tempfile::tempdir().expect("a folder");
        let pem = ClientCertificate::load(&credential("app.pem", None, AssertionAlgorithm::PS256))
            .expect("the PEM loads");
        let pfx = ClientCertificate::load(&credential(
            "app.pfx",
            Some(password_file(&dir, &format!("{PFX_PASSWORD}\n"))),
            AssertionAlgorithm::PS256,
        ))
        .expect("the PKCS#12 file loads");
        assert_eq!(
            pem.certificate.thumbprint(),
            "1C3C3095B6F516F39819257AA985F2BDFCEFE2ED"
        );
        assert_eq!(pfx.certificate.thumbprint(), pem.certificate.thumbprint());
        assert_eq!(pem.not_after().to_string(), "2036-11-28T23:18:09Z");
        assert_eq!(pfx.key.public_key().as_ref(), pem.key.public_key().as_ref());
        assert_eq!(
            pem.describe(),
            "certificate 1C3C3095B6F516F39819257AA985F2BDFCEFE2ED from file app.pem"
        );
    }

    #[test]
    fn a_wrong_or_missing_password_is_said_so_without_showing_it() {
        let dir = tempfile::tempdir().expect("a folder");
        let wrong = ClientCertificate::load(&credential(
            "app.pfx",
            Some(password_file(&dir, "not-the-password")),
            AssertionAlgorithm::PS256,
        ));
        let missing =
            ClientCertificate::load(&credential("app.pfx", None, AssertionAlgorithm::PS256));
        let words = |r: Result<ClientCertificate, CertificateError>| r.err().map(|e| e.to_string());
        assert_eq!(
            words(wrong).as_deref(),
            Some("the certificate from file app.pfx cannot be used: the password does not open it")
        );
        assert_eq!(
            words(missing).as_deref(),
            Some(
                "the certificate from file app.pfx cannot be used: it needs a password: add `certificate_password`"
            )
        );
    }

    #[test]
    fn the_assertion_is_signed_as_entra_id_expects() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        for (algorithm, verify) in [
            (
                AssertionAlgorithm::PS256,
                &signature::RSA_PSS_2048_8192_SHA256,
            ),
            (
                AssertionAlgorithm::RS256,
                &signature::RSA_PKCS1_2048_8192_SHA256,
            ),
        ] {
            let certificate =
                ClientCertificate::load(&credential("app.pem", None, algorithm)).expect("loads");
            let now: Timestamp = "2026-12-01T10:00:00Z".parse().expect("time");
            let token_url = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
            let jwt = certificate
                .assertion("client-1", token_url, now)
                .expect("signed");
            let again = certificate
                .assertion("client-1", token_url, now)
                .expect("signed");
            let parts: Vec<&str> = jwt.split('.').collect();
            assert_eq!(parts.len(), 3);
            let decode = |p: &str| -> serde_json::Value {
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("base64url"))
                    .expect("JSON")
            };
            let (header, claims) = (decode(parts[0]), decode(parts[1]));
            assert_eq!(header["alg"], algorithm.as_str());
            assert_eq!(header["x5t#S256"], certificate.certificate.x5t_s256());
            assert_eq!(
                header.get("x5t").is_some(),
                algorithm == AssertionAlgorithm::RS256
            );
            assert_eq!(claims["aud"], token_url);
            assert_eq!(claims["iss"], "client-1");
            assert_eq!(claims["sub"], "client-1");
            assert_eq!(claims["exp"].as_i64(), Some(now.as_second() + 300));
            assert_eq!(claims["nbf"].as_i64(), Some(now.as_second()));
            assert_ne!(
                claims["jti"],
                decode(again.split('.').nth(1).expect("claims"))["jti"]
            );
            assert_eq!(claims["jti"].as_str().map(str::len), Some(36));
            let public =
                signature::UnparsedPublicKey::new(verify, certificate.key.public_key().as_ref());
            let signed = format!("{}.{}", parts[0], parts[1]);
            public
                .verify(
                    signed.as_bytes(),
                    &URL_SAFE_NO_PAD.decode(parts[2]).expect("signature"),
                )
                .expect("the signature verifies");
        }
    }

    #[test]
    fn pem_text_gives_its_keys_and_certificates() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n\
                    -----BEGIN PRIVATE KEY-----\nAwQF\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            pem_blocks(text.as_bytes()),
            Ok((vec![vec![3, 4, 5]], vec![vec![0, 1, 2]]))
        );
        for broken in [
            "-----BEGIN CERTIFICATE-----\nAAEC\n",
            "-----BEGIN CERTIFICATE-----\nAAEC\n-----END PRIVATE KEY-----\n",
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAEC\n-----END ENCRYPTED PRIVATE KEY-----\n",
        ] {
            assert!(pem_blocks(broken.as_bytes()).is_err(), "{broken}");
        }
    }
}
