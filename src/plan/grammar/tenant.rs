//! Tenant IDs: how `[to] tenant_id` names the Microsoft 365 tenant, a domain or a GUID.
//!
//! Only the shape is checked: validation is static, so nothing here asks whether it exists.

/// A tenant is named by a domain (`contoso.onmicrosoft.com`) or a GUID.
pub(crate) fn is_tenant_id(text: &str) -> bool {
    let is_guid = text.len() == 36
        && text.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    let is_domain = text.contains('.')
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    is_guid || is_domain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants() {
        for (text, ok) in [
            ("contoso.onmicrosoft.com", true),
            ("contoso.example", true),
            ("72f988bf-86f1-41af-91ab-2d7cd011db47", true),
            ("contoso", false),
            ("contoso..com", false),
            ("-contoso.com", false),
            ("72f988bf86f141af91ab2d7cd011db47", false),
            ("contoso.com/", false),
        ] {
            assert_eq!(is_tenant_id(text), ok, "{text}");
        }
    }
}
