//! How `sandbox serve` keeps the OAuth secrets it must keep (PKCE verifiers while an
//! authorization is under way, the service account's tokens after): sealed with AES-256-GCM under
//! a key from its own environment, as a real platform would, never in the clear in the sandbox
//! file.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest;

pub(crate) struct Vault {
    key: LessSafeKey,
}

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VaultError {
    #[error("cannot make the vault key")]
    Key,
    #[error("no randomness for a nonce")]
    NoNonce,
    #[error("no randomness")]
    NoRandomness,
    #[error("sealing failed")]
    Seal,
    #[error("a sealed value is too short")]
    TooShort,
    #[error("a sealed value has a bad nonce")]
    BadNonce,
    #[error("a sealed value does not open with this key (was CUTOVER_SANDBOX_KEY changed?)")]
    WrongKey,
}

impl Vault {
    /// A vault keyed by a secret string (hashed to 256 bits).
    pub(crate) fn new(secret: &str) -> Result<Self, VaultError> {
        let hashed = digest::digest(&digest::SHA256, secret.as_bytes());
        let key = UnboundKey::new(&AES_256_GCM, hashed.as_ref()).map_err(|_| VaultError::Key)?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    pub(crate) fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| VaultError::NoNonce)?;
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut sealed,
            )
            .map_err(|_| VaultError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub(crate) fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        if sealed.len() < NONCE_LEN {
            return Err(VaultError::TooShort);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| VaultError::BadNonce)?;
        let mut buffer = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut buffer)
            .map_err(|_| VaultError::WrongKey)?;
        Ok(plain.to_vec())
    }
}

/// Compares secrets without leaking, by timing, their length or how long a prefix matched.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut difference = a.len() ^ b.len();
    for (i, byte) in b.iter().enumerate() {
        difference |= usize::from(a.get(i).copied().unwrap_or(0) ^ byte);
    }
    difference == 0
}

/// Random bytes as base64url, for `state` values.
pub(crate) fn random_token() -> Result<String, VaultError> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| VaultError::NoRandomness)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_with_its_key() {
        let vault = Vault::new("key-one").expect("vault");
        let sealed = vault.seal(b"refresh-token-value").expect("seal");
        assert!(
            !sealed.windows(5).any(|w| w == b"token"),
            "nothing in the clear"
        );
        assert_eq!(vault.open(&sealed).expect("open"), b"refresh-token-value");
        assert!(Vault::new("key-two").expect("vault").open(&sealed).is_err());
        assert_ne!(
            vault.seal(b"x").expect("seal"),
            vault.seal(b"x").expect("seal"),
            "fresh nonce each time"
        );
    }
}
