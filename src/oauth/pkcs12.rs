//! PKCS#12 (`.pfx`, `.p12`) files as current tools write them: the key and certificates
//! encrypted with PBES2 (PBKDF2 and AES-CBC) and the whole checked with an HMAC keyed from the
//! password (RFC 7292, RFC 8018). That is OpenSSL 3's default, Windows' "AES256-SHA256" export
//! and Azure Key Vault's. The legacy RC2/3DES encryption is refused with the command that
//! re-exports the file, rather than supported with weak ciphers.
//!
//! Only the bags cutover needs are read (certificates, and the private key, shrouded or not);
//! every structure is bounds-checked, and the MAC is verified before anything is decrypted.

use std::num::NonZeroU32;

use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey,
};
use aws_lc_rs::{digest, hmac, pbkdf2};

use super::der::{
    CONTEXT_0, CONTEXT_0_PRIMITIVE, Der, DerError, INTEGER, OCTET_STRING, OID, SEQUENCE,
    small_integer,
};

/// The most iterations a file may ask for: far above any tool's default, low enough that a
/// malicious file cannot stall cutover for hours.
const MAX_ITERATIONS: u32 = 10_000_000;

const DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01];
const ENCRYPTED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x06];
const KEY_BAG: &[u8] = &[
    0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x01,
];
const SHROUDED_KEY_BAG: &[u8] = &[
    0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x02,
];
const CERT_BAG: &[u8] = &[
    0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x03,
];
const X509_CERTIFICATE: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x16, 0x01];
const PBES2: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D];
const PBKDF2: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0C];
const LEGACY_PBE: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x01];
const HMAC_SHA1: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x07];
const HMAC_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x09];
const HMAC_SHA384: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x0A];
const HMAC_SHA512: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x0B];
const AES_128_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02];
const AES_192_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x16];
const AES_256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A];
const SHA1: &[u8] = &[0x2B, 0x0E, 0x03, 0x02, 0x1A];
const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
const SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];

/// Why a PKCS#12 file could not be read. Never says anything about the password but that it
/// did not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Pkcs12Error {
    #[error("it is not a PKCS#12 file cutover can read ({0})")]
    Malformed(#[from] DerError),
    #[error("the password does not open it")]
    WrongPassword,
    #[error(
        "it is encrypted the legacy way (RC2/3DES); re-export it with AES: \
         `openssl pkcs12 -in old.pfx -nodes | openssl pkcs12 -export -out new.pfx` (OpenSSL 3), \
         or choose AES256-SHA256 when exporting on Windows"
    )]
    Legacy,
    #[error("it uses {0}, which cutover does not read")]
    Unsupported(&'static str),
    #[error("it is signed with a certificate (public-key integrity), which cutover does not read")]
    NotPasswordIntegrity,
}

/// What a PKCS#12 file holds that cutover uses.
#[derive(Debug, Default)]
pub(crate) struct Contents {
    /// PKCS#8 `PrivateKeyInfo` encodings.
    pub(crate) keys: Vec<Vec<u8>>,
    /// X.509 certificates, DER.
    pub(crate) certificates: Vec<Vec<u8>>,
}

/// Opens a PKCS#12 file with `password`.
pub(crate) fn open(file: &[u8], password: &str) -> Result<Contents, Pkcs12Error> {
    let mut outer = Der::new(file);
    let mut pfx = outer.expect(SEQUENCE)?.inner();
    if small_integer(pfx.expect(INTEGER)?.value)? != 3 {
        return Err(DerError("a version other than 3").into());
    }
    let mut auth_safe = pfx.expect(SEQUENCE)?.inner();
    if auth_safe.expect(OID)?.value != DATA {
        return Err(Pkcs12Error::NotPasswordIntegrity);
    }
    let content = octets(auth_safe.expect(CONTEXT_0)?.inner().next()?)?;
    match pfx.optional(SEQUENCE)? {
        Some(mac) => verify_mac(mac.inner(), &content, password)?,
        None => return Err(Pkcs12Error::Unsupported("no integrity check")),
    }
    let mut contents = Contents::default();
    let mut safes = Der::new(&content);
    let mut list = safes.expect(SEQUENCE)?.inner();
    while !list.is_empty() {
        let mut info = list.expect(SEQUENCE)?.inner();
        let kind = info.expect(OID)?.value;
        let body = info.expect(CONTEXT_0)?;
        let safe_contents = if kind == DATA {
            octets(body.inner().next()?)?
        } else if kind == ENCRYPTED_DATA {
            let mut encrypted = body.inner().expect(SEQUENCE)?.inner();
            encrypted.expect(INTEGER)?;
            let mut info = encrypted.expect(SEQUENCE)?.inner();
            info.expect(OID)?;
            let algorithm = info.expect(SEQUENCE)?;
            let ciphertext = match info.next()? {
                t if t.tag == CONTEXT_0_PRIMITIVE => t.value.to_vec(),
                // A constructed [0]: the ciphertext in pieces.
                t if t.tag == CONTEXT_0 => {
                    let mut pieces = t.inner();
                    let mut all = Vec::new();
                    while !pieces.is_empty() {
                        all.extend_from_slice(pieces.expect(OCTET_STRING)?.value);
                    }
                    all
                }
                _ => return Err(DerError("an unexpected structure").into()),
            };
            decrypt(algorithm.inner(), &ciphertext, password)?
        } else {
            return Err(Pkcs12Error::Unsupported("a content type other than data"));
        };
        read_bags(&safe_contents, password, &mut contents)?;
    }
    Ok(contents)
}

/// The contents of an OCTET STRING (primitive, or constructed of pieces).
fn octets(tlv: super::der::Tlv<'_>) -> Result<Vec<u8>, DerError> {
    match tlv.tag {
        OCTET_STRING => Ok(tlv.value.to_vec()),
        0x24 => {
            let mut pieces = tlv.inner();
            let mut all = Vec::new();
            while !pieces.is_empty() {
                all.extend_from_slice(pieces.expect(OCTET_STRING)?.value);
            }
            Ok(all)
        }
        _ => Err(DerError("an unexpected structure")),
    }
}

fn read_bags(data: &[u8], password: &str, into: &mut Contents) -> Result<(), Pkcs12Error> {
    let mut outer = Der::new(data);
    let mut bags = outer.expect(SEQUENCE)?.inner();
    while !bags.is_empty() {
        let mut bag = bags.expect(SEQUENCE)?.inner();
        let kind = bag.expect(OID)?.value;
        let value = bag.expect(CONTEXT_0)?.inner().next()?;
        if kind == KEY_BAG {
            into.keys.push(value.raw.to_vec());
        } else if kind == SHROUDED_KEY_BAG {
            let mut info = value.inner();
            let algorithm = info.expect(SEQUENCE)?;
            let ciphertext = info.expect(OCTET_STRING)?.value;
            into.keys
                .push(decrypt(algorithm.inner(), ciphertext, password)?);
        } else if kind == CERT_BAG {
            let mut cert = value.inner();
            if cert.expect(OID)?.value == X509_CERTIFICATE {
                into.certificates
                    .push(octets(cert.expect(CONTEXT_0)?.inner().next()?)?);
            }
        }
        // Other bags (CRLs, secrets, nested safes) hold nothing cutover uses.
    }
    Ok(())
}

/// Decrypts with the algorithm identifier's contents (`OID, parameters`).
fn decrypt(
    mut algorithm: Der<'_>,
    ciphertext: &[u8],
    password: &str,
) -> Result<Vec<u8>, Pkcs12Error> {
    let oid = algorithm.expect(OID)?.value;
    if oid.starts_with(LEGACY_PBE) {
        return Err(Pkcs12Error::Legacy);
    }
    if oid != PBES2 {
        return Err(Pkcs12Error::Unsupported(
            "an encryption scheme other than PBES2",
        ));
    }
    let mut params = algorithm.expect(SEQUENCE)?.inner();
    let mut kdf = params.expect(SEQUENCE)?.inner();
    if kdf.expect(OID)?.value != PBKDF2 {
        return Err(Pkcs12Error::Unsupported(
            "a key derivation other than PBKDF2",
        ));
    }
    let mut kdf_params = kdf.expect(SEQUENCE)?.inner();
    let salt = kdf_params.expect(OCTET_STRING)?.value;
    let iterations = iterations(kdf_params.expect(INTEGER)?.value)?;
    kdf_params.optional(INTEGER)?; // the key length, which the cipher decides anyway
    let prf = match kdf_params.optional(SEQUENCE)? {
        None => pbkdf2::PBKDF2_HMAC_SHA1,
        Some(prf) => match prf.inner().expect(OID)?.value {
            HMAC_SHA1 => pbkdf2::PBKDF2_HMAC_SHA1,
            HMAC_SHA256 => pbkdf2::PBKDF2_HMAC_SHA256,
            HMAC_SHA384 => pbkdf2::PBKDF2_HMAC_SHA384,
            HMAC_SHA512 => pbkdf2::PBKDF2_HMAC_SHA512,
            _ => return Err(Pkcs12Error::Unsupported("an unknown PBKDF2 hash")),
        },
    };
    let mut scheme = params.expect(SEQUENCE)?.inner();
    let (cipher, key_length) = match scheme.expect(OID)?.value {
        AES_128_CBC => (&AES_128, 16),
        AES_192_CBC => (&AES_192, 24),
        AES_256_CBC => (&AES_256, 32),
        _ => return Err(Pkcs12Error::Unsupported("a cipher other than AES-CBC")),
    };
    let iv: [u8; 16] = scheme
        .expect(OCTET_STRING)?
        .value
        .try_into()
        .map_err(|_| DerError("an initialization vector of the wrong size"))?;
    let mut key = vec![0u8; key_length];
    pbkdf2::derive(prf, iterations, salt, password.as_bytes(), &mut key);
    let key = UnboundCipherKey::new(cipher, &key)
        .and_then(PaddedBlockDecryptingKey::cbc_pkcs7)
        .map_err(|_| Pkcs12Error::WrongPassword)?;
    let mut buffer = ciphertext.to_vec();
    let plain = key
        .decrypt(&mut buffer, DecryptionContext::Iv128(iv.into()))
        .map_err(|_| Pkcs12Error::WrongPassword)?;
    Ok(plain.to_vec())
}

fn iterations(value: &[u8]) -> Result<NonZeroU32, Pkcs12Error> {
    let n = small_integer(value)?;
    if n > MAX_ITERATIONS {
        return Err(DerError("an iteration count too large").into());
    }
    NonZeroU32::new(n).ok_or_else(|| DerError("no iterations").into())
}

/// Checks the file's HMAC over `content` (RFC 7292 appendix B: the key derived from the
/// password as a BMPString), so a wrong password is told apart from a broken file.
fn verify_mac(mut mac_data: Der<'_>, content: &[u8], password: &str) -> Result<(), Pkcs12Error> {
    let mut digest_info = mac_data.expect(SEQUENCE)?.inner();
    let oid = digest_info.expect(SEQUENCE)?.inner().expect(OID)?.value;
    let expected = digest_info.expect(OCTET_STRING)?.value;
    let salt = mac_data.expect(OCTET_STRING)?.value;
    let iterations = match mac_data.optional(INTEGER)? {
        Some(n) => iterations(n.value)?,
        None => NonZeroU32::MIN,
    };
    let (hash, mac, block) = match oid {
        SHA1 => (
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            64,
        ),
        SHA256 => (&digest::SHA256, hmac::HMAC_SHA256, 64),
        SHA384 => (&digest::SHA384, hmac::HMAC_SHA384, 128),
        SHA512 => (&digest::SHA512, hmac::HMAC_SHA512, 128),
        _ => return Err(Pkcs12Error::Unsupported("an unknown integrity hash")),
    };
    let mut bmp: Vec<u8> = password.encode_utf16().flat_map(u16::to_be_bytes).collect();
    bmp.extend_from_slice(&[0, 0]);
    let key = pkcs12_kdf(
        hash,
        block,
        &bmp,
        salt,
        3,
        iterations.get(),
        hash.output_len(),
    );
    hmac::verify(&hmac::Key::new(mac, &key), content, expected)
        .map_err(|_| Pkcs12Error::WrongPassword)
}

/// RFC 7292 appendix B.2, for one hash output's worth of key (all a MAC key needs).
fn pkcs12_kdf(
    hash: &'static digest::Algorithm,
    block: usize,
    password: &[u8],
    salt: &[u8],
    id: u8,
    iterations: u32,
    length: usize,
) -> Vec<u8> {
    let repeat = |data: &[u8]| -> Vec<u8> {
        if data.is_empty() {
            return Vec::new();
        }
        let size = block * data.len().div_ceil(block);
        data.iter().copied().cycle().take(size).collect()
    };
    let mut input = vec![id; block];
    input.extend(repeat(salt));
    input.extend(repeat(password));
    let mut a = digest::digest(hash, &input).as_ref().to_vec();
    for _ in 1..iterations {
        a = digest::digest(hash, &a).as_ref().to_vec();
    }
    a.truncate(length);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mac_key_derivation_matches_rfc_7292() {
        // The PKCS#12 key-derivation test vectors other implementations check against (password
        // "smeg", one iteration, SHA-1): the first block of a key (id 1) and a MAC key (id 3).
        let mut bmp: Vec<u8> = "smeg".encode_utf16().flat_map(u16::to_be_bytes).collect();
        bmp.extend_from_slice(&[0, 0]);
        let hex = |id, salt: &[u8]| {
            let key = pkcs12_kdf(&digest::SHA1_FOR_LEGACY_USE_ONLY, 64, &bmp, salt, id, 1, 20);
            key.iter().map(|b| format!("{b:02X}")).collect::<String>()
        };
        assert_eq!(
            hex(1, &[0x0A, 0x58, 0xCF, 0x64, 0x53, 0x0D, 0x82, 0x3F]),
            "8AAAE6297B6CB04642AB5B077851284EB7128F1A"
        );
        assert_eq!(
            hex(3, &[0x3D, 0x83, 0xC0, 0xE4, 0x54, 0x6A, 0xC1, 0x40]),
            "8D967D88F6CAA9D714800AB3D48051D63F73A312"
        );
    }

    #[test]
    fn a_broken_file_is_an_error_not_a_panic() {
        for bytes in [
            &b""[..],
            b"\x30\x03\x02\x01\x03",
            b"\x30\x80",
            b"not a pfx at all",
        ] {
            assert!(open(bytes, "pw").is_err(), "{bytes:?}");
        }
    }
}
