//! A configuration's id as a user carries it (in what they are enabled on, and by which their
//! syncs are keyed).
//!
//! Shared, not owned: every user of a platform reading names one of a few configurations, so a
//! copy is a reference count, not an allocation per user per reading.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ConfigurationId(Arc<str>);

impl ConfigurationId {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for ConfigurationId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

// `Hash` and `Ord` are the text's, so a `str` can look one up.
impl Borrow<str> for ConfigurationId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ConfigurationId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for ConfigurationId {
    fn from(id: &str) -> Self {
        Self(id.into())
    }
}

impl From<String> for ConfigurationId {
    fn from(id: String) -> Self {
        Self(id.into())
    }
}

impl From<&String> for ConfigurationId {
    fn from(id: &String) -> Self {
        Self(id.as_str().into())
    }
}

impl PartialEq<str> for ConfigurationId {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for ConfigurationId {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for ConfigurationId {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<ConfigurationId> for String {
    fn eq(&self, other: &ConfigurationId) -> bool {
        **self == *other.0
    }
}

impl PartialEq<ConfigurationId> for &str {
    fn eq(&self, other: &ConfigurationId) -> bool {
        **self == *other.0
    }
}

/// As the text, so that a user prints as it did when ids were strings.
impl fmt::Debug for ConfigurationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for ConfigurationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for ConfigurationId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ConfigurationId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::from(String::deserialize(deserializer)?))
    }
}

/// A plain string on the wire.
impl schemars::JsonSchema for ConfigurationId {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        String::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(generator)
    }
}
