//! TLS to the state database: libpq's `sslmode` honoured with rustls (on aws-lc, as the rest of
//! cutover), no OpenSSL.
//!
//! As with libpq: `disable` never encrypts; `allow` and `prefer` encrypt when the server offers
//! it; `require` insists on TLS but checks no certificate — unless `sslrootcert` is given, when
//! it acts as `verify-ca`; `verify-ca` checks the chain against the trusted CAs; `verify-full`
//! also checks that the certificate names the host. The trusted CAs are `sslrootcert`, else
//! `~/.postgresql/root.crt` when it exists, else the system's.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    /// What the wire protocol is asked for.
    pub(crate) fn wire(self) -> postgres::config::SslMode {
        use postgres::config::SslMode as Wire;
        match self {
            Self::Disable => Wire::Disable,
            Self::Allow | Self::Prefer => Wire::Prefer,
            Self::Require | Self::VerifyCa | Self::VerifyFull => Wire::Require,
        }
    }
}

/// How far the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    #[error("sslrootcert {path}: {why}")]
    RootCert { path: String, why: String },
    #[error(
        "sslmode {0} needs trusted CA certificates: give sslrootcert, or install them for the system"
    )]
    NoRoots(&'static str),
    #[error("TLS set-up: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The rustls client settings for `mode`, or `None` when TLS is off.
pub(crate) fn client_config(
    mode: SslMode,
    root_cert: Option<&str>,
) -> Result<Option<ClientConfig>, TlsError> {
    let check = match (mode, root_cert) {
        (SslMode::Disable, _) => return Ok(None),
        (SslMode::Require, Some(_)) => Check::Chain,
        (SslMode::Allow | SslMode::Prefer | SslMode::Require, _) => Check::Nothing,
        (SslMode::VerifyCa, _) => Check::Chain,
        (SslMode::VerifyFull, _) => Check::ChainAndName,
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let config = match check {
        Check::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unchecked(provider)))
            .with_no_client_auth(),
        Check::Chain | Check::ChainAndName => {
            let roots = Arc::new(roots(mode, root_cert)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| TlsError::Rustls(rustls::Error::General(e.to_string())))?;
            if check == Check::Chain {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
                    .with_no_client_auth()
            } else {
                builder.with_webpki_verifier(webpki).with_no_client_auth()
            }
        }
    };
    Ok(Some(config))
}

fn roots(mode: SslMode, root_cert: Option<&str>) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    let default = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".postgresql/root.crt"))
        .filter(|p| p.exists());
    let file = root_cert.map(PathBuf::from).or(default);
    if let Some(path) = file {
        let shown = path.display().to_string();
        let certs = CertificateDer::pem_file_iter(&path)
            .map_err(|e| TlsError::RootCert {
                path: shown.clone(),
                why: e.to_string(),
            })?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::RootCert {
                path: shown.clone(),
                why: e.to_string(),
            })?;
        let (added, _) = store.add_parsable_certificates(certs);
        if added == 0 {
            return Err(TlsError::RootCert {
                path: shown,
                why: "no certificate in it".to_owned(),
            });
        }
    } else {
        let native = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(native.certs);
    }
    if store.is_empty() {
        return Err(TlsError::NoRoots(match mode {
            SslMode::VerifyFull => "verify-full",
            SslMode::VerifyCa => "verify-ca",
            _ => "require",
        }));
    }
    Ok(store)
}

/// `prefer` and `require` without a CA: encrypted, the certificate unchecked (libpq's meaning of
/// those modes). Handshake signatures are still verified.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted CA; the name in the certificate is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sslmode_asks_the_wire_and_checks_the_certificate_as_libpq_does() {
        use postgres::config::SslMode as Wire;
        let cases: &[(&str, Wire, Option<Check>)] = &[
            ("disable", Wire::Disable, None),
            ("allow", Wire::Prefer, Some(Check::Nothing)),
            ("prefer", Wire::Prefer, Some(Check::Nothing)),
            ("require", Wire::Require, Some(Check::Nothing)),
        ];
        for (text, wire, _) in cases {
            let mode = SslMode::parse(text).expect("a mode");
            assert_eq!(format!("{:?}", mode.wire()), format!("{wire:?}"), "{text}");
            let config = client_config(mode, None).expect("settings");
            assert_eq!(config.is_some(), mode != SslMode::Disable, "{text}");
        }
        assert!(SslMode::parse("verify-full").is_some_and(|m| matches!(m.wire(), Wire::Require)));
        let missing = client_config(SslMode::VerifyCa, Some("/nonexistent/root.crt"))
            .expect_err("a missing CA file");
        assert!(
            missing.to_string().contains("/nonexistent/root.crt"),
            "{missing}"
        );
    }
}
