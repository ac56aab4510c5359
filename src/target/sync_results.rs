//! A user's latest sync attempt per configuration id.
//!
//! A user syncs on one configuration, two while they move: a short list sorted by id holds that
//! in one small allocation (none when empty), where a map spent a kilobyte-sized tree node per
//! user of every reading. It reads, prints and goes over the wire as that map did: an object
//! keyed by configuration id, in id order.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ConfigurationId, SyncResult};

#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct SyncResults(Vec<(ConfigurationId, SyncResult)>);

impl SyncResults {
    pub(crate) fn new() -> Self {
        Self(Vec::new())
    }

    /// Room for `n` results: a short list grown from empty would be given room for four.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    fn find(&self, configuration: &str) -> Result<usize, usize> {
        self.0
            .binary_search_by(|(id, _)| id.as_str().cmp(configuration))
    }

    pub(crate) fn get(&self, configuration: &str) -> Option<&SyncResult> {
        self.find(configuration).ok().map(|i| &self.0[i].1)
    }

    /// Sets the result for `configuration`, returning the one it replaces.
    pub(crate) fn insert(
        &mut self,
        configuration: impl Into<ConfigurationId>,
        result: SyncResult,
    ) -> Option<SyncResult> {
        let configuration = configuration.into();
        match self.find(&configuration) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, result)),
            Err(i) => {
                self.0.insert(i, (configuration, result));
                None
            }
        }
    }

    pub(crate) fn remove(&mut self, configuration: &str) -> Option<SyncResult> {
        let i = self.find(configuration).ok()?;
        Some(self.0.remove(i).1)
    }

    #[cfg(test)]
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// In configuration id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&ConfigurationId, &SyncResult)> {
        self.0.iter().map(|(id, result)| (id, result))
    }
}

impl<K: Into<ConfigurationId>> FromIterator<(K, SyncResult)> for SyncResults {
    fn from_iter<I: IntoIterator<Item = (K, SyncResult)>>(entries: I) -> Self {
        let mut results = Self::new();
        results.extend(entries);
        results
    }
}

impl<K: Into<ConfigurationId>> Extend<(K, SyncResult)> for SyncResults {
    fn extend<I: IntoIterator<Item = (K, SyncResult)>>(&mut self, entries: I) {
        for (configuration, result) in entries {
            self.insert(configuration, result);
        }
    }
}

impl fmt::Debug for SyncResults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for SyncResults {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (id, result) in &self.0 {
            map.serialize_entry(id, result)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for SyncResults {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;

        impl<'de> Visitor<'de> for Entries {
            type Value = SyncResults;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of configuration ids to sync results")
            }

            // A key given twice keeps its last value, as a map would.
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SyncResults, A::Error> {
                let mut results = SyncResults::new();
                while let Some((id, result)) = map.next_entry::<String, SyncResult>()? {
                    results.insert(id, result);
                }
                Ok(results)
            }
        }

        deserializer.deserialize_map(Entries)
    }
}

/// The map's schema, as the API has always described it.
impl schemars::JsonSchema for SyncResults {
    fn inline_schema() -> bool {
        <BTreeMap<String, SyncResult>>::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        <BTreeMap<String, SyncResult>>::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <BTreeMap<String, SyncResult>>::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::target::SyncOutcome;

    fn result(second: i64) -> SyncResult {
        SyncResult {
            at: Timestamp::from_second(second).expect("time"),
            outcome: SyncOutcome::Ok,
            error: None,
            code: None,
        }
    }

    #[test]
    fn behaves_as_the_map_it_replaces() {
        let mut results = SyncResults::new();
        let mut map = BTreeMap::new();
        for (id, second) in [("2", 1), ("10", 2), ("1", 3), ("2", 4)] {
            assert_eq!(
                results.insert(id, result(second)),
                map.insert(id.to_owned(), result(second)),
                "{id}"
            );
        }
        let keys: Vec<&str> = results.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(keys, map.keys().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(results.get("2"), map.get("2"));
        assert_eq!(results.get("3"), None);
        assert_eq!(results.remove("10"), map.remove("10"));
        assert_eq!(results.remove("10"), None);
        assert_eq!(results.iter().count(), map.len());
        assert_eq!(format!("{results:?}"), format!("{map:?}"));
        assert_eq!(
            serde_json::to_string(&results).expect("json"),
            serde_json::to_string(&map).expect("json")
        );
    }

    #[test]
    fn reads_the_map_it_writes() {
        let json = r#"{"2":{"at":"2026-01-01T00:00:00Z","outcome":"ok","error":null,"code":null},"1":{"at":"2026-01-01T00:00:01Z","outcome":"throttled","error":"busy","code":"ErrorServerBusy"}}"#;
        let results: SyncResults = serde_json::from_str(json).expect("reads");
        let map: BTreeMap<String, SyncResult> = serde_json::from_str(json).expect("reads");
        assert_eq!(results, map.into_iter().collect());
        let again: SyncResults =
            serde_json::from_str(&serde_json::to_string(&results).expect("json")).expect("reads");
        assert_eq!(again, results);
        assert!(serde_json::from_str::<SyncResults>("[]").is_err());
    }
}
