//! Component maps keyed by `type` or `type/name`. The document is first read with each
//! component's options kept aside (with where they start); each component is then parsed and
//! validated on its own by its kind's declarations, so a mistake in one never hides another.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;
use weir_core::{ConfigError, Declaration};
use weir_exporters::ExporterSettings;
use weir_extensions::ExtensionSettings;
use weir_processors::{ConnectorSettings, ProcessorSettings};
use weir_receivers::ReceiverSettings;

use super::excerpt;

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

/// A kind of component (receiver, processor, exporter, connector, extension): its closed
/// settings enum, generated from its declarations by `weir_core::kind!`.
pub trait Kind: Sized {
    /// `receiver`, `processor`, ...
    const NAME: &'static str;
    /// The configuration section: `receivers`, `processors`, ...
    const SECTION: &'static str;
    /// Every type of this kind.
    fn declarations() -> &'static [Declaration];
    /// Parses and validates options of type `type_name`; `None` for an unknown type.
    fn parse(type_name: &str, yaml: &str) -> Option<Result<Self, Vec<ConfigError>>>;
    /// The declaration of this component's type.
    fn declaration(&self) -> &'static Declaration;
}

macro_rules! kinds {
    ($($Settings:ty => $name:literal, $section:literal;)+) => {$(
        impl Kind for $Settings {
            const NAME: &'static str = $name;
            const SECTION: &'static str = $section;
            fn declarations() -> &'static [Declaration] {
                <$Settings>::DECLARATIONS
            }
            fn parse(type_name: &str, yaml: &str) -> Option<Result<Self, Vec<ConfigError>>> {
                <$Settings>::parse(type_name, yaml)
            }
            fn declaration(&self) -> &'static Declaration {
                <$Settings>::declaration(self)
            }
        }
    )+};
}

kinds! {
    ReceiverSettings => "receiver", "receivers";
    ProcessorSettings => "processor", "processors";
    ExporterSettings => "exporter", "exporters";
    ConnectorSettings => "connector", "connectors";
    ExtensionSettings => "extension", "extensions";
}

/// The names a kind's types answer to, for the unknown-type message: every name and alias,
/// sorted.
pub fn known_names<K: Kind>() -> Vec<&'static str> {
    let mut names: Vec<&str> = K::declarations()
        .iter()
        .flat_map(|d| std::iter::once(d.name).chain(d.aliases.iter().copied()))
        .collect();
    names.sort_unstable();
    names
}

/// One entry of a component map as written: its key and its options, with where they start.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// `type` or `type/name`.
    pub(super) key: String,
    /// The options, kept as a tree (for the fallback parse) with their location.
    pub(super) value: Spanned<serde_json::Value>,
}

/// A component map as written (an empty section, `extensions:`, is an empty map).
#[derive(Debug, Clone, Default)]
pub(super) struct Entries(pub(super) Vec<Entry>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;

        impl<'de> Visitor<'de> for MapVisitor {
            type Value = Entries;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of component ids to their options")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Entries, E> {
                Ok(Entries::default())
            }

            fn visit_none<E: de::Error>(self) -> Result<Entries, E> {
                Ok(Entries::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value::<Spanned<serde_json::Value>>()?;
                    entries.push(Entry { key, value });
                }
                Ok(Entries(entries))
            }
        }

        deserializer.deserialize_map(MapVisitor)
    }
}

/// The components of one kind, validated, in the order the file gives them.
#[derive(Debug, Clone)]
pub struct Components<T>(pub Vec<(ComponentId, T)>);

impl<T> Default for Components<T> {
    fn default() -> Self {
        Components(Vec::new())
    }
}

impl<T> Components<T> {
    /// The settings of `id`, if defined (and valid).
    pub fn get(&self, id: &str) -> Option<&T> {
        self.0.iter().find(|(i, _)| i.as_str() == id).map(|(_, c)| c)
    }
}

/// What parsing one section found: the valid components, the ids of invalid ones (so that
/// pipelines naming them are not also reported as naming undefined components), errors and
/// warnings.
pub(super) struct Parsed<K> {
    /// Valid components.
    pub(super) components: Components<K>,
    /// Ids defined but invalid.
    pub(super) invalid: Vec<String>,
}

/// Parses every entry of a section on its own; errors go to `errors`, warnings (deprecated
/// names) to `warnings`.
pub(super) fn parse_section<K: Kind>(
    text: &str,
    entries: &Entries,
    errors: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Parsed<K> {
    let mut components = Vec::new();
    let mut invalid = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for entry in &entries.0 {
        let at = format!("{}.{}", K::SECTION, entry.key);
        if seen.contains(&entry.key.as_str()) {
            errors.push(format!("{at}: {} {:?} is defined twice", K::NAME, entry.key));
            continue;
        }
        seen.push(&entry.key);
        let id = match ComponentId::parse(&entry.key) {
            Ok(id) => id,
            Err(message) => {
                errors.push(format!("{at}: {message}"));
                invalid.push(entry.key.clone());
                continue;
            }
        };
        match parse_entry::<K>(text, id.kind(), &entry.value) {
            None => {
                let known = known_names::<K>().join(", ");
                errors.push(format!(
                    "{at}: unknown {} type {:?}: known types are {known}",
                    K::NAME,
                    id.kind()
                ));
                invalid.push(entry.key.clone());
            }
            Some(Err(problems)) => {
                for problem in problems {
                    errors.push(format!("{}", problem.under(&at)));
                }
                invalid.push(entry.key.clone());
            }
            Some(Ok(settings)) => {
                let declaration = settings.declaration();
                if declaration.name != id.kind() {
                    warnings.push(format!(
                        "{at}: {:?} alias is deprecated; use {:?} instead",
                        id.kind(),
                        declaration.name
                    ));
                }
                components.push((id, settings));
            }
        }
    }
    Parsed { components: Components(components), invalid }
}

/// Parses one component's options from its place in the document, so that errors carry the
/// document's own line and column. Where the excerpt cannot stand alone (an alias of an anchor
/// defined elsewhere, a merge key), the options are parsed again from their tree, which YAML
/// has already resolved; only when both fail is the excerpt's error reported.
fn parse_entry<K: Kind>(
    text: &str,
    type_name: &str,
    value: &Spanned<serde_json::Value>,
) -> Option<Result<K, Vec<ConfigError>>> {
    if value.value.is_null() {
        return K::parse(type_name, "");
    }
    let from_text = K::parse(type_name, &excerpt::of(text, &value.referenced))?;
    if from_text.is_ok() {
        return Some(from_text);
    }
    let tree = serde_saphyr::to_string(&value.value).unwrap_or_default();
    match K::parse(type_name, &tree)? {
        Ok(settings) => Some(Ok(settings)),
        Err(_) => Some(from_text),
    }
}
