//! `[from]` and `[to]`: the configuration being retired and the OAuth one replacing it — that
//! they differ, the tenant ID, the Exchange service address and the service account.
//!
//! Whether the platform has them is the preflight's to find out, not this static pass's.

use toml::Spanned;

use crate::plan::grammar::{Email, is_tenant_id, parse_service_address};
use crate::plan::plan::{FromConfig, ToConfig};
use crate::plan::raw::{RawFrom, RawTo};

use super::validator::Validator;

/// `[from]` has nothing to get wrong that the structural pass would not have caught.
pub(super) fn from(raw: RawFrom) -> Option<FromConfig> {
    raw.display_name.map(|d| FromConfig {
        display_name: d.into_inner().trim().to_owned(),
    })
}

impl Validator<'_> {
    pub(super) fn to(&mut self, raw: RawTo, from: Option<&FromConfig>) -> Option<ToConfig> {
        let display = raw.display_name?;
        let display_name = display.get_ref().trim().to_owned();
        if let Some(from) = from {
            if from.display_name.eq_ignore_ascii_case(&display_name) {
                self.error(
                    "plan::same-configuration",
                    display.span(),
                    format!("`to` and `from` both name the configuration \"{display_name}\""),
                    "same as [from] display_name",
                    "`to` is the new OAuth configuration; give it its own Display Name, such as \"OAuth\"",
                );
            }
        }
        let tenant_id = raw.tenant_id.and_then(|t| {
            let span = t.span();
            let value = t.into_inner();
            if is_tenant_id(value.trim()) {
                Some(value.trim().to_owned())
            } else {
                self.error(
                    "plan::bad-tenant",
                    span,
                    format!("\"{value}\" is not a tenant ID"),
                    "here",
                    "use the tenant's domain, such as \"contoso.onmicrosoft.com\", or its GUID",
                );
                None
            }
        });
        let service_address = raw
            .service_address
            .as_ref()
            .and_then(|s| self.grammar(s, parse_service_address, "plan::bad-url"));
        let service_account = raw
            .service_account
            .as_ref()
            .and_then(|s| self.grammar(s, Email::parse, "plan::bad-email"));
        let ok = raw.service_address.is_none() == service_address.is_none()
            && raw.service_account.is_none() == service_account.is_none();
        ok.then_some(())?;
        Some(ToConfig {
            display_name,
            tenant_id: tenant_id?,
            exchange_version: raw.exchange_version.map(Spanned::into_inner),
            service_address,
            service_account,
        })
    }
}
