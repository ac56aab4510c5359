//! Just enough DER to read a certificate's validity and key and the structure of a PKCS#12
//! file: tag, length, value, definite lengths only, bounds checked everywhere.
//!
//! This reads files an administrator supplies, not network input, but a malformed one must
//! still end in an error, never a panic or an out-of-bounds read.

/// Universal tags and the context tags cutover's formats use.
pub(super) const INTEGER: u8 = 0x02;
pub(super) const BIT_STRING: u8 = 0x03;
pub(super) const OCTET_STRING: u8 = 0x04;
pub(super) const OID: u8 = 0x06;
pub(super) const UTC_TIME: u8 = 0x17;
pub(super) const GENERALIZED_TIME: u8 = 0x18;
pub(super) const SEQUENCE: u8 = 0x30;
/// `[0]`, constructed (EXPLICIT) and primitive (IMPLICIT OCTET STRING).
pub(super) const CONTEXT_0: u8 = 0xA0;
pub(super) const CONTEXT_0_PRIMITIVE: u8 = 0x80;

/// What is wrong with a DER structure, in words for a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct DerError(pub(super) &'static str);

/// One tag-length-value.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tlv<'a> {
    pub(super) tag: u8,
    pub(super) value: &'a [u8],
    /// The whole encoding, tag and length included.
    pub(super) raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// Its contents read as a sequence of values.
    pub(super) fn inner(&self) -> Der<'a> {
        Der::new(self.value)
    }
}

/// A reader over consecutive values.
#[derive(Debug, Clone)]
pub(super) struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(super) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next value, whatever its tag.
    pub(super) fn next(&mut self) -> Result<Tlv<'a>, DerError> {
        let data = self.rest;
        let (&tag, after_tag) = data.split_first().ok_or(DerError("truncated"))?;
        if tag & 0x1f == 0x1f {
            return Err(DerError("a tag form it does not use"));
        }
        let (&first, after_length) = after_tag.split_first().ok_or(DerError("truncated"))?;
        let (length, header) = match first {
            n if n < 0x80 => (usize::from(n), 2),
            0x80 => return Err(DerError("an indefinite length (BER, not DER)")),
            n => {
                let count = usize::from(n & 0x7f);
                if count > 4 {
                    return Err(DerError("a length too large"));
                }
                let bytes = after_length.get(..count).ok_or(DerError("truncated"))?;
                let length = bytes
                    .iter()
                    .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
                (length, 2 + count)
            }
        };
        let end = header
            .checked_add(length)
            .ok_or(DerError("a length too large"))?;
        let raw = data.get(..end).ok_or(DerError("truncated"))?;
        self.rest = &data[end..];
        Ok(Tlv {
            tag,
            value: &raw[header..],
            raw,
        })
    }

    /// The next value, which must have `tag`.
    pub(super) fn expect(&mut self, tag: u8) -> Result<Tlv<'a>, DerError> {
        let tlv = self.next()?;
        if tlv.tag == tag {
            Ok(tlv)
        } else {
            Err(DerError("an unexpected structure"))
        }
    }

    /// The next value if it has `tag`; nothing is consumed otherwise.
    pub(super) fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, DerError> {
        if self.peek_tag() == Some(tag) {
            self.next().map(Some)
        } else {
            Ok(None)
        }
    }
}

/// A non-negative INTEGER that fits in a `u32`.
pub(super) fn small_integer(value: &[u8]) -> Result<u32, DerError> {
    let digits = match value {
        [0, rest @ ..] => rest,
        [first, ..] if first & 0x80 != 0 => return Err(DerError("a negative number")),
        other => other,
    };
    if digits.len() > 4 {
        return Err(DerError("a number too large"));
    }
    Ok(digits
        .iter()
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_and_refuses_what_is_broken() {
        // SEQUENCE { INTEGER 5, OCTET STRING "ab" }
        let data = [0x30, 0x07, 0x02, 0x01, 0x05, 0x04, 0x02, b'a', b'b'];
        let mut outer = Der::new(&data);
        let sequence = outer.expect(SEQUENCE).expect("a sequence");
        assert!(outer.is_empty());
        let mut inner = sequence.inner();
        let integer = inner.expect(INTEGER).expect("an integer");
        assert_eq!(small_integer(integer.value), Ok(5));
        assert_eq!(inner.optional(INTEGER).expect("fine").map(|t| t.tag), None);
        assert_eq!(inner.expect(OCTET_STRING).expect("bytes").value, b"ab");
        assert!(inner.is_empty());

        for (bytes, why) in [
            (&[0x30, 0x05, 0x02][..], "truncated"),
            (
                &[0x30, 0x80, 0x00, 0x00][..],
                "an indefinite length (BER, not DER)",
            ),
            (&[0x30][..], "truncated"),
            (&[0x1f, 0x01, 0x00][..], "a tag form it does not use"),
            (&[0x30, 0x85, 1, 1, 1, 1, 1][..], "a length too large"),
            (&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff][..], "truncated"),
        ] {
            assert_eq!(
                Der::new(bytes).next().map(|t| t.tag),
                Err(DerError(why)),
                "{bytes:?}"
            );
        }
        assert_eq!(small_integer(&[0x00, 0x80]), Ok(128));
        assert!(small_integer(&[0x80]).is_err());
        assert!(small_integer(&[1, 2, 3, 4, 5]).is_err());
    }
}
