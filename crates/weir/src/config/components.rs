//! Component maps keyed by `type` or `type/name`, deserialised straight into each kind's
//! typed configuration enum so that errors keep their line and column.

use std::{fmt, marker::PhantomData};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use weir_core::ComponentInfo;
use weir_exporters::ExporterConfig;
use weir_processors::{ConnectorConfig, ProcessorConfig};
use weir_receivers::ReceiverConfig;

use crate::extensions::ExtensionConfig;

/// A component id: `type` or `type/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId(String);

impl ComponentId {
    /// Parses `type` or `type/name`.
    pub fn parse(id: &str) -> Result<ComponentId, String> {
        let (kind, name) = match id.split_once('/') {
            Some((kind, name)) => (kind, Some(name)),
            None => (id, None),
        };
        let kind_ok = !kind.is_empty()
            && kind.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !kind_ok {
            return Err(format!(
                "invalid component id {id:?}: the type must be lowercase letters, digits and '_'"
            ));
        }
        if name.is_some_and(|n| n.is_empty() || n.contains(char::is_whitespace)) {
            return Err(format!(
                "invalid component id {id:?}: the name after '/' must be non-empty, without spaces"
            ));
        }
        Ok(ComponentId(id.to_owned()))
    }

    /// The type: the part before `/`.
    pub fn kind(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(kind, _)| kind)
    }

    /// The whole id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A kind of component (receiver, processor, exporter, connector, extension) and how to read
/// one of its configurations by type.
pub trait Kind: Sized {
    /// `receiver`, `processor`, ...
    const NAME: &'static str;
    /// Every type of this kind.
    fn known() -> &'static [ComponentInfo];
    /// Deserialises a configuration of type `kind`; `None` for an unknown type.
    fn deserialize_kind<'de, D: Deserializer<'de>>(
        kind: &str,
        d: D,
    ) -> Option<Result<Self, D::Error>>;
}

impl Kind for ReceiverConfig {
    const NAME: &'static str = "receiver";
    fn known() -> &'static [ComponentInfo] {
        weir_receivers::RECEIVERS
    }
    fn deserialize_kind<'de, D: Deserializer<'de>>(
        kind: &str,
        d: D,
    ) -> Option<Result<Self, D::Error>> {
        ReceiverConfig::deserialize(kind, d)
    }
}

impl Kind for ProcessorConfig {
    const NAME: &'static str = "processor";
    fn known() -> &'static [ComponentInfo] {
        weir_processors::PROCESSORS
    }
    fn deserialize_kind<'de, D: Deserializer<'de>>(
        kind: &str,
        d: D,
    ) -> Option<Result<Self, D::Error>> {
        ProcessorConfig::deserialize(kind, d)
    }
}

impl Kind for ExporterConfig {
    const NAME: &'static str = "exporter";
    fn known() -> &'static [ComponentInfo] {
        weir_exporters::EXPORTERS
    }
    fn deserialize_kind<'de, D: Deserializer<'de>>(
        kind: &str,
        d: D,
    ) -> Option<Result<Self, D::Error>> {
        ExporterConfig::deserialize(kind, d)
    }
}

impl Kind for ConnectorConfig {
    const NAME: &'static str = "connector";
    fn known() -> &'static [ComponentInfo] {
        weir_processors::CONNECTORS
    }
    fn deserialize_kind<'de, D: Deserializer<'de>>(
        kind: &str,
        d: D,
    ) -> Option<Result<Self, D::Error>> {
        ConnectorConfig::deserialize(kind, d)
    }
}

impl Kind for ExtensionConfig {
    const NAME: &'static str = "extension";
    fn known() -> &'static [ComponentInfo] {
        crate::extensions::EXTENSIONS
    }
    fn deserialize_kind<'de, D: Deserializer<'de>>(
        kind: &str,
        d: D,
    ) -> Option<Result<Self, D::Error>> {
        ExtensionConfig::deserialize(kind, d)
    }
}

/// The components of one kind, in the order the file gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct Components<T>(pub Vec<(ComponentId, T)>);

impl<T> Default for Components<T> {
    fn default() -> Self {
        Components(Vec::new())
    }
}

impl<T> Components<T> {
    /// The configuration of `id`, if defined.
    pub fn get(&self, id: &str) -> Option<&T> {
        self.0.iter().find(|(i, _)| i.as_str() == id).map(|(_, c)| c)
    }
}

struct Seed<'a, T>(&'a str, PhantomData<T>);

impl<'de, T: Kind> DeserializeSeed<'de> for Seed<'_, T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        match T::deserialize_kind(self.0, deserializer) {
            Some(result) => result,
            None => {
                let known: Vec<&str> = T::known().iter().map(|c| c.name).collect();
                let known = if known.is_empty() { "none yet".to_owned() } else { known.join(", ") };
                Err(de::Error::custom(format!(
                    "unknown {} type {:?}: known types are {known}",
                    T::NAME,
                    self.0
                )))
            }
        }
    }
}

impl<'de, T: Kind> serde::Deserialize<'de> for Components<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<T>(PhantomData<T>);

        impl<'de, T: Kind> Visitor<'de> for MapVisitor<T> {
            type Value = Components<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a map of {} ids to their options", T::NAME)
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Components::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(ComponentId, T)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let id = ComponentId::parse(&key).map_err(de::Error::custom)?;
                    if out.iter().any(|(i, _)| *i == id) {
                        return Err(de::Error::custom(format!(
                            "{} {id:?} is defined twice",
                            T::NAME
                        )));
                    }
                    let config = map.next_value_seed(Seed::<T>(id.kind(), PhantomData))?;
                    out.push((id, config));
                }
                Ok(Components(out))
            }
        }

        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}
