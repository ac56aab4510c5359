//! When the certificate of a client-credentials grant expires, for `plan`'s warning: an expired
//! certificate is refused by the identity provider, and a new one must be uploaded to the app
//! registration before then.

use jiff::{SignedDuration, Timestamp};

use super::ClientCertificate;
use crate::plan::{ClientCredential, ClientCredentials};

/// Warn this long before a certificate expires.
pub(crate) const WARN_BEFORE_DAYS: i64 = 30;

/// A certificate that expires within [`WARN_BEFORE_DAYS`] of `now` (or already has).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expiring {
    /// Which client and certificate, and where it comes from.
    pub(crate) what: String,
    pub(crate) not_after: Timestamp,
    pub(crate) expired: bool,
}

/// Loads the certificate `credentials` use, if any, and says whether it expires soon. One that
/// cannot be loaded is not this check's to report: the command that needs it says why.
pub(crate) fn expiring(credentials: &ClientCredentials, now: Timestamp) -> Option<Expiring> {
    let ClientCredential::Certificate(certificate) = &credentials.credential else {
        return None;
    };
    let loaded = ClientCertificate::load(certificate).ok()?;
    soon(
        format!("client {} ({})", credentials.client_id, loaded.describe()),
        loaded.not_after(),
        now,
    )
}

fn soon(what: String, not_after: Timestamp, now: Timestamp) -> Option<Expiring> {
    let horizon = now
        .checked_add(SignedDuration::from_hours(24 * WARN_BEFORE_DAYS))
        .ok()?;
    (not_after <= horizon).then_some(Expiring {
        what,
        not_after,
        expired: not_after <= now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_within_thirty_days_and_says_when_it_is_too_late() {
        let now: Timestamp = "2026-12-01T00:00:00Z".parse().expect("time");
        let at = |s: &str| s.parse::<Timestamp>().expect("time");
        let check = |not_after| soon("c".to_owned(), at(not_after), now).map(|e| e.expired);
        assert_eq!(check("2027-06-01T00:00:00Z"), None);
        assert_eq!(check("2026-12-31T00:00:01Z"), None);
        assert_eq!(check("2026-12-31T00:00:00Z"), Some(false));
        assert_eq!(check("2026-12-02T00:00:00Z"), Some(false));
        assert_eq!(check("2026-11-30T00:00:00Z"), Some(true));
    }
}
