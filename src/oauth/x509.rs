//! The two things cutover reads from the app's X.509 certificate: when it expires (for `plan`'s
//! warning) and its public key (to pair it with the private key), plus its thumbprints, which
//! identify it to Microsoft Entra ID (`x5t#S256`) and to the admin (the SHA-1 thumbprint the
//! Entra admin center shows).

use aws_lc_rs::digest;
use jiff::Timestamp;

use super::der::{
    BIT_STRING, CONTEXT_0, Der, DerError, GENERALIZED_TIME, INTEGER, SEQUENCE, UTC_TIME,
};

#[derive(Debug, Clone)]
pub(crate) struct Certificate {
    /// The certificate's DER encoding.
    pub(crate) der: Vec<u8>,
    pub(crate) not_after: Timestamp,
    /// The subject public key's bytes (the RSA key's PKCS#1 encoding).
    pub(crate) public_key: Vec<u8>,
}

impl Certificate {
    pub(crate) fn parse(der: &[u8]) -> Result<Self, DerError> {
        let mut outer = Der::new(der);
        let certificate = outer.expect(SEQUENCE)?;
        let mut parts = certificate.inner();
        let mut tbs = parts.expect(SEQUENCE)?.inner();
        tbs.optional(CONTEXT_0)?; // version
        tbs.expect(INTEGER)?; // serial number
        tbs.expect(SEQUENCE)?; // signature algorithm
        tbs.expect(SEQUENCE)?; // issuer
        let mut validity = tbs.expect(SEQUENCE)?.inner();
        validity.next()?; // not before
        let not_after = time(validity.next()?)?;
        tbs.expect(SEQUENCE)?; // subject
        let mut spki = tbs.expect(SEQUENCE)?.inner();
        spki.expect(SEQUENCE)?; // algorithm
        let key = spki.expect(BIT_STRING)?;
        let public_key = match key.value {
            [0, rest @ ..] => rest.to_vec(),
            _ => return Err(DerError("a public key with unused bits")),
        };
        Ok(Self {
            der: der.to_vec(),
            not_after,
            public_key,
        })
    }

    /// `x5t#S256`: the SHA-256 of the DER encoding, base64url.
    pub(crate) fn x5t_s256(&self) -> String {
        use base64::Engine;
        let hash = digest::digest(&digest::SHA256, &self.der);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.as_ref())
    }

    /// `x5t`: the SHA-1 of the DER encoding, base64url (what RS256 assertions carried first).
    pub(crate) fn x5t(&self) -> String {
        use base64::Engine;
        let hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &self.der);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.as_ref())
    }

    /// The SHA-1 thumbprint in upper-case hex, as the Entra admin center lists certificates.
    pub(crate) fn thumbprint(&self) -> String {
        let hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &self.der);
        hash.as_ref().iter().map(|b| format!("{b:02X}")).collect()
    }
}

/// A UTCTime (`YYMMDDHHMMSSZ`, years 1950–2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn time(tlv: super::der::Tlv<'_>) -> Result<Timestamp, DerError> {
    let text = std::str::from_utf8(tlv.value).map_err(|_| DerError("a time that is not text"))?;
    let digits = text
        .strip_suffix('Z')
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(DerError("a time that is not UTC"))?;
    let full = match (tlv.tag, digits.len()) {
        (UTC_TIME, 12) => {
            let year: u32 = digits[..2].parse().map_err(|_| DerError("a bad year"))?;
            format!("{}{digits}", if year >= 50 { "19" } else { "20" })
        }
        (GENERALIZED_TIME, 14) => digits.to_owned(),
        _ => return Err(DerError("a time in a form it does not read")),
    };
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &full[..4],
        &full[4..6],
        &full[6..8],
        &full[8..10],
        &full[10..12],
        &full[12..14]
    );
    iso.parse().map_err(|_| DerError("an impossible time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_time_forms() {
        let read = |tag, text: &str| {
            let mut bytes = vec![tag, text.len() as u8];
            bytes.extend_from_slice(text.as_bytes());
            let tlv = Der::new(&bytes).next().expect("a value");
            time(tlv).map(|t| t.to_string())
        };
        assert_eq!(
            read(UTC_TIME, "361231235959Z"),
            Ok("2036-12-31T23:59:59Z".to_owned())
        );
        assert_eq!(
            read(UTC_TIME, "990101000000Z"),
            Ok("1999-01-01T00:00:00Z".to_owned())
        );
        assert_eq!(
            read(GENERALIZED_TIME, "20510630120000Z"),
            Ok("2051-06-30T12:00:00Z".to_owned())
        );
        assert!(read(UTC_TIME, "361231235959+0100").is_err());
        assert!(read(UTC_TIME, "361331235959Z").is_err());
        assert!(read(GENERALIZED_TIME, "361231235959Z").is_err());
    }
}
