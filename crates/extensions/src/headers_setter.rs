//! The `headers_setter` extension, with the Collector's options: a client authenticator that
//! sets headers on the requests exporters send, from a fixed `value`, a `value_file` (read
//! again when it changes), the request metadata (`from_context`: a header the receiver kept
//! with `include_metadata: true`, through a `batch` processor's `metadata_keys`), or the
//! authenticated client (`from_attribute`: what the receiver's authenticator said about it).
//! `action` inserts, updates, upserts (default) or deletes; `additional_auth` applies another
//! client authenticator first. The usual use: pass each tenant's `X-Scope-OrgID` on from a
//! multi-tenant gateway.

use std::{path::PathBuf, sync::Arc, sync::Mutex};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use weir_core::{Metadata, auth::ClientAuth};

use crate::watched_file::WatchedFile;

/// `extensions.headers_setter`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `headers`: what to set, in order.
    pub headers: Vec<Header>,
    /// `additional_auth`: another client authenticator, applied before these headers.
    pub additional_auth: Option<String>,
}

/// One entry of `headers`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Header {
    /// `key`: the header's name.
    pub key: String,
    /// `action` (default `upsert`).
    pub action: Action,
    /// `value`: a fixed value.
    pub value: Option<String>,
    /// `value_file`: a file holding the value, read again when it changes.
    pub value_file: Option<PathBuf>,
    /// `from_context`: the request metadata key holding the value.
    pub from_context: Option<String>,
    /// `from_attribute`: the authenticated client's attribute holding the value.
    pub from_attribute: Option<String>,
    /// `default_value`: the value when `from_context` or `from_attribute` finds none.
    pub default_value: Option<String>,
}

/// What `action` does with the header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Sets it only where it is absent.
    Insert,
    /// Sets it only where it is present.
    Update,
    /// Sets it.
    #[default]
    Upsert,
    /// Removes it.
    Delete,
}

const SOURCES: &str = "'from_context', 'from_attribute', 'value', or 'value_file'";

impl Config {
    /// Every problem, as `(path below the extension, message)`, in the Collector's words
    /// where it has them.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.headers.is_empty() {
            errors.push(("headers".into(), "missing headers configuration".into()));
        }
        for (i, header) in self.headers.iter().enumerate() {
            let mut problem = |field: &str, message: String| {
                errors.push((format!("headers[{i}]{field}"), message))
            };
            if header.key.is_empty() {
                problem("", "missing header name".into());
            } else if HeaderName::try_from(header.key.as_str()).is_err() {
                problem(".key", format!("{:?} is not a header name", header.key));
            }
            let sources = [
                header.from_context.is_some(),
                header.from_attribute.is_some(),
                header.value.is_some(),
                header.value_file.is_some(),
            ];
            match sources.iter().filter(|s| **s).count() {
                0 if header.action != Action::Delete => {
                    problem("", format!("missing header source, must be {SOURCES}"))
                }
                0 | 1 => {}
                _ => problem("", format!("invalid header source, must be only one of {SOURCES}")),
            }
            if header.default_value.is_some()
                && header.from_context.is_none()
                && header.from_attribute.is_none()
            {
                problem(".default_value", "applies to from_context or from_attribute only".into());
            }
            for (field, text) in
                [("value", &header.value), ("default_value", &header.default_value)]
            {
                if let Some(text) = text
                    && HeaderValue::try_from(text.as_str()).is_err()
                {
                    problem(&format!(".{field}"), "is not a valid header value".into());
                }
            }
        }
        errors
    }
}

/// The extension, built: its rules and the authenticator it chains to.
pub struct HeadersSetter {
    rules: Vec<Rule>,
    additional: Option<Arc<dyn ClientAuth>>,
}

struct Rule {
    name: HeaderName,
    action: Action,
    source: Source,
}

enum Source {
    Value(HeaderValue),
    File(Mutex<WatchedFile>),
    /// A request metadata key (`from_context`) or `auth.<attribute>` (`from_attribute`).
    Metadata {
        key: String,
        default: Option<String>,
    },
    None,
}

impl HeadersSetter {
    /// Builds the extension from a checked `config`, reading its value files once;
    /// `additional` is the authenticator `additional_auth` names.
    pub fn new(
        config: &Config,
        additional: Option<Arc<dyn ClientAuth>>,
    ) -> std::io::Result<HeadersSetter> {
        let invalid = |e: &dyn std::fmt::Display| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("headers_setter: {e}"))
        };
        let mut rules = Vec::new();
        for header in &config.headers {
            let name = HeaderName::try_from(header.key.as_str()).map_err(|e| invalid(&e))?;
            let default = header.default_value.clone();
            let source = match header {
                Header { value: Some(value), .. } => {
                    Source::Value(HeaderValue::try_from(value.as_str()).map_err(|e| invalid(&e))?)
                }
                Header { value_file: Some(path), .. } => {
                    Source::File(Mutex::new(WatchedFile::open("headers_setter", path)?))
                }
                Header { from_context: Some(key), .. } => {
                    Source::Metadata { key: key.clone(), default }
                }
                Header { from_attribute: Some(name), .. } => {
                    Source::Metadata { key: weir_core::auth::attribute_key(name), default }
                }
                _ => Source::None,
            };
            rules.push(Rule { name, action: header.action, source });
        }
        Ok(HeadersSetter { rules, additional })
    }
}

impl Rule {
    /// The value to set for a request with `metadata`; none when its source has none.
    fn value(&self, metadata: &Metadata) -> Option<HeaderValue> {
        let text = match &self.source {
            Source::Value(value) => return Some(value.clone()),
            Source::File(file) => file.lock().expect("not poisoned").current().to_owned(),
            Source::Metadata { key, default } => {
                metadata.get(key).or(default.as_deref())?.to_owned()
            }
            Source::None => return None,
        };
        match HeaderValue::try_from(text) {
            Ok(value) => Some(value),
            Err(_) => {
                tracing::warn!(header = %self.name, "headers_setter: the value is not a valid header value; not set");
                None
            }
        }
    }
}

impl ClientAuth for HeadersSetter {
    fn apply(&self, headers: &mut HeaderMap, metadata: &Metadata) {
        if let Some(additional) = &self.additional {
            additional.apply(headers, metadata);
        }
        for rule in &self.rules {
            if rule.action == Action::Delete {
                headers.remove(&rule.name);
                continue;
            }
            let Some(value) = rule.value(metadata).filter(|v| !v.is_empty()) else { continue };
            let present = headers.contains_key(&rule.name);
            let set = match rule.action {
                Action::Insert => !present,
                Action::Update => present,
                Action::Upsert => true,
                Action::Delete => false,
            };
            if set {
                headers.insert(rule.name.clone(), value);
            }
        }
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "headers_setter",
        aliases: &[],
        signals: weir_core::Signals::None,
        stability: weir_core::Stability::Alpha,
        summary: "sets headers on exporters' requests from values, files, request metadata or the authenticated client",
    }
);

impl crate::BuildExtension for Config {
    fn authenticates(&self) -> crate::Sides {
        crate::Sides { server: false, client: true }
    }

    fn chains_to(&self) -> Option<&str> {
        self.additional_auth.as_deref()
    }

    fn authenticators(
        &self,
        built: &weir_core::auth::Authenticators,
    ) -> std::io::Result<crate::Provided> {
        let additional = match &self.additional_auth {
            Some(name) => Some(built.client.get(name).cloned().ok_or_else(|| {
                std::io::Error::other(format!(
                    "headers_setter additional_auth: extension {name:?} does not authenticate clients"
                ))
            })?),
            None => None,
        };
        Ok(crate::Provided {
            server: None,
            client: Some(Arc::new(HeadersSetter::new(self, additional)?)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> Config {
        weir_core::declare::parse_options(yaml).expect("parses")
    }

    fn setter(yaml: &str) -> HeadersSetter {
        let config = config(yaml);
        assert_eq!(config.problems(), Vec::new());
        HeadersSetter::new(&config, None).unwrap()
    }

    fn sent(setter: &HeadersSetter, start: &[(&str, &str)], metadata: &Metadata) -> Vec<String> {
        let mut headers = HeaderMap::new();
        for (k, v) in start {
            headers.append(HeaderName::try_from(*k).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        setter.apply(&mut headers, metadata);
        let mut out: Vec<String> =
            headers.iter().map(|(k, v)| format!("{k}={}", v.to_str().unwrap())).collect();
        out.sort();
        out
    }

    #[test]
    fn actions_and_sources_follow_the_collector() {
        let setter = setter(
            r#"
headers:
  - {action: insert, key: X-Scope-OrgID, from_context: tenant_id, default_value: Org-ID}
  - {action: upsert, key: User-ID, value: user_id}
  - {action: update, key: X-Only-If-Present, value: updated}
  - {action: delete, key: Some-Header}
  - {key: X-User, from_attribute: username}
"#,
        );
        let tenant = Metadata::new([
            ("tenant_id".to_owned(), "acme".to_owned()),
            ("auth.username".to_owned(), "ada".to_owned()),
        ]);
        assert_eq!(
            sent(&setter, &[("some-header", "x"), ("user-id", "old")], &tenant),
            ["user-id=user_id", "x-scope-orgid=acme", "x-user=ada"]
        );
        assert_eq!(
            sent(&setter, &[("x-only-if-present", "1")], &Metadata::default()),
            ["user-id=user_id", "x-only-if-present=updated", "x-scope-orgid=Org-ID"],
            "the default value when the metadata has none; update only where present"
        );
        assert_eq!(
            sent(&setter, &[("x-scope-orgid", "kept")], &tenant)[1],
            "x-scope-orgid=kept",
            "insert leaves a present header alone"
        );
    }

    #[test]
    fn a_value_file_is_read_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "k1\n").unwrap();
        let setter =
            setter(&format!("headers: [{{key: X-API-Key, value_file: {}}}]", path.display()));
        assert_eq!(sent(&setter, &[], &Metadata::default()), ["x-api-key=k1"]);
        let missing = config("headers: [{key: a, value_file: /nonexistent/weir-key}]");
        let error = HeadersSetter::new(&missing, None).err().expect("refused").to_string();
        assert!(error.contains("/nonexistent/weir-key"), "{error}");
    }

    #[test]
    fn additional_auth_applies_first_and_can_be_overridden() {
        let bearer =
            crate::bearertokenauth::Config { token: Some("t".into()), ..Default::default() };
        let bearer: Arc<dyn ClientAuth> =
            Arc::new(crate::bearertokenauth::BearerToken::new(&bearer).unwrap());
        let config = config("headers: [{key: X-Scope-OrgID, value: acme}]");
        let setter = HeadersSetter::new(&config, Some(bearer)).unwrap();
        assert_eq!(
            sent(&setter, &[], &Metadata::default()),
            ["authorization=Bearer t", "x-scope-orgid=acme"]
        );
    }

    #[test]
    fn mistakes_are_named_in_the_collector_words() {
        let problems = |yaml: &str| -> Vec<String> {
            config(yaml).problems().into_iter().map(|(p, m)| format!("{p}: {m}")).collect()
        };
        assert_eq!(problems("headers: []"), ["headers: missing headers configuration"]);
        assert_eq!(
            problems("headers: [{value: v}, {key: a}, {key: b, value: v, from_context: c}]"),
            [
                "headers[0]: missing header name",
                "headers[1]: missing header source, must be 'from_context', 'from_attribute', 'value', or 'value_file'",
                "headers[2]: invalid header source, must be only one of 'from_context', 'from_attribute', 'value', or 'value_file'",
            ]
        );
        assert_eq!(
            problems("headers: [{key: a, value: v, default_value: d}]"),
            ["headers[0].default_value: applies to from_context or from_attribute only"]
        );
        assert!(problems("headers: [{key: a, action: delete}]").is_empty());
    }
}
