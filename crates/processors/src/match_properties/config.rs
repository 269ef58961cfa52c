//! `include` and `exclude` as written, and the typed values they compare with.

use serde::{Deserialize, de};
use weir_otlp::proto::common::v1::{AnyValue, KeyValue, any_value};

/// One `include` or `exclude`, as written.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchProperties {
    /// `match_type`: `strict` or `regexp` (required).
    pub match_type: String,
    /// `regexp`: the Collector's cache options (accepted; weir needs no cache).
    pub regexp: Option<RegexpOptions>,
    /// `services`: the resource's `service.name`, any entry.
    pub services: Vec<String>,
    /// `span_names`: any entry.
    pub span_names: Vec<String>,
    /// `span_kinds`: `SPAN_KIND_SERVER`, ..., any entry.
    pub span_kinds: Vec<String>,
    /// `attributes`: the span's or log record's attributes, every entry.
    pub attributes: Vec<Attribute>,
    /// `resources`: the resource's attributes, every entry.
    pub resources: Vec<Attribute>,
    /// `libraries`: the instrumentation scope, any entry.
    pub libraries: Vec<Library>,
    /// `log_bodies`: the log record's body as text, any entry.
    pub log_bodies: Vec<String>,
    /// `log_severity_texts`: any entry.
    pub log_severity_texts: Vec<String>,
    /// `log_severity_number`: a lowest severity.
    pub log_severity_number: Option<SeverityNumber>,
    /// `metric_names`: any entry.
    pub metric_names: Vec<String>,
}

/// `regexp`: the Collector's match-result cache, which weir does not need.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegexpOptions {
    /// `cacheenabled`.
    pub cacheenabled: bool,
    /// `cachemaxnumentries`.
    pub cachemaxnumentries: u64,
}

/// One entry of `attributes` or `resources`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    /// `key` (the Collector also reads `Key`).
    #[serde(alias = "Key")]
    pub key: String,
    /// `value`: absent, the key's presence is enough.
    #[serde(default, alias = "Value")]
    pub value: Option<ConfigValue>,
}

/// One entry of `libraries`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Library {
    /// `name`.
    #[serde(alias = "Name")]
    pub name: String,
    /// `version`: absent, any version.
    #[serde(default, alias = "Version")]
    pub version: Option<String>,
}

/// `log_severity_number`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeverityNumber {
    /// `min`: a severity number (0 to 24) or name (`INFO`, `warn2`, `SEVERITY_NUMBER_ERROR`).
    pub min: Option<ConfigValue>,
    /// `match_undefined`: whether records without a severity number match.
    pub match_undefined: bool,
}

/// A value written in the configuration, kept with its YAML type: `2245` is an int, `"2245"`
/// a string, `1.5` a double, `true` a bool; sequences and maps nest.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    /// A string.
    String(String),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Double(f64),
    /// A boolean.
    Bool(bool),
    /// A sequence.
    Array(Vec<ConfigValue>),
    /// A map, in the order written.
    Map(Vec<(String, ConfigValue)>),
}

impl ConfigValue {
    /// The OTLP value it stands for.
    pub fn to_any_value(&self) -> AnyValue {
        let value = match self {
            ConfigValue::String(s) => any_value::Value::StringValue(s.clone()),
            ConfigValue::Int(i) => any_value::Value::IntValue(*i),
            ConfigValue::Double(d) => any_value::Value::DoubleValue(*d),
            ConfigValue::Bool(b) => any_value::Value::BoolValue(*b),
            ConfigValue::Array(values) => {
                any_value::Value::ArrayValue(weir_otlp::proto::common::v1::ArrayValue {
                    values: values.iter().map(ConfigValue::to_any_value).collect(),
                })
            }
            ConfigValue::Map(entries) => {
                any_value::Value::KvlistValue(weir_otlp::proto::common::v1::KeyValueList {
                    values: entries
                        .iter()
                        .map(|(key, value)| KeyValue {
                            key: key.clone(),
                            value: Some(value.to_any_value()),
                            ..KeyValue::default()
                        })
                        .collect(),
                })
            }
        };
        AnyValue { value: Some(value) }
    }

    /// Its type, in words for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            ConfigValue::String(_) => "a string",
            ConfigValue::Int(_) => "an int",
            ConfigValue::Double(_) => "a double",
            ConfigValue::Bool(_) => "a bool",
            ConfigValue::Array(_) => "a sequence",
            ConfigValue::Map(_) => "a map",
        }
    }
}

impl<'de> Deserialize<'de> for ConfigValue {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<ConfigValue, D::Error> {
        deserializer.deserialize_any(ConfigValueVisitor)
    }
}

struct ConfigValueVisitor;

impl<'de> de::Visitor<'de> for ConfigValueVisitor {
    type Value = ConfigValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string, number, bool, sequence or map")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<ConfigValue, E> {
        Ok(ConfigValue::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ConfigValue, E> {
        Ok(ConfigValue::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ConfigValue, E> {
        i64::try_from(v)
            .map(ConfigValue::Int)
            .map_err(|_| E::custom(format!("{v} is out of range for a 64-bit signed integer")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ConfigValue, E> {
        Ok(ConfigValue::Double(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ConfigValue, E> {
        Ok(ConfigValue::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<ConfigValue, E> {
        Ok(ConfigValue::String(v))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ConfigValue, A::Error> {
        let mut values = Vec::new();
        while let Some(value) = seq.next_element()? {
            values.push(value);
        }
        Ok(ConfigValue::Array(values))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<ConfigValue, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, ConfigValue>()? {
            entries.push((key, value));
        }
        Ok(ConfigValue::Map(entries))
    }
}
