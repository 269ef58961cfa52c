//! Several configuration files and `--set` overrides, merged as the Collector merges them:
//! maps merge key by key, later sources win, lists and scalars are replaced whole.

use serde_json::{Map, Value};

/// Merges `overlay` into `base`.
pub(super) fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value)
                    }
                    _ => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// Applies one `--set key=value`: the key is a path of map keys separated by `::` (or by `.`
/// when the key has no `::`); the value is read as a YAML scalar or flow collection.
pub(super) fn set(config: &mut Value, assignment: &str) -> Result<(), String> {
    let Some((path, raw)) = assignment.split_once('=') else {
        return Err(format!("invalid --set {assignment:?}: expected key=value"));
    };
    let keys: Vec<&str> =
        if path.contains("::") { path.split("::").collect() } else { path.split('.').collect() };
    if keys.iter().any(|k| k.is_empty()) {
        return Err(format!("invalid --set {assignment:?}: empty key in {path:?}"));
    }
    let value =
        serde_saphyr::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
    let mut overlay = value;
    for key in keys.iter().rev() {
        let mut map = Map::new();
        map.insert((*key).to_owned(), overlay);
        overlay = Value::Object(map);
    }
    merge(config, overlay);
    Ok(())
}

/// Keys whose values are secrets: replaced by `[REDACTED]` wherever they appear.
const SECRET_KEYS: [&str; 10] = [
    "headers",
    "auth",
    "password",
    "token",
    "tokens",
    "inline",
    "bearer_token",
    "api_key",
    "client_secret",
    "key_pem",
];

/// Replaces every secret value in `config`.
pub(super) fn redact(config: &mut Value) {
    match config {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if SECRET_KEYS.contains(&key.as_str()) {
                    redact_all(value);
                } else {
                    redact(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Redacts every leaf, keeping the shape (so `headers` still shows which headers are set).
fn redact_all(value: &mut Value) {
    match value {
        Value::Object(map) => map.values_mut().for_each(redact_all),
        Value::Array(items) => items.iter_mut().for_each(redact_all),
        Value::Null => {}
        leaf => *leaf = Value::String("[REDACTED]".into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn maps_merge_and_lists_are_replaced() {
        let mut base = json!({"a": {"x": 1, "y": [1, 2]}, "b": 1});
        merge(&mut base, json!({"a": {"y": [3], "z": 2}, "c": 3}));
        assert_eq!(base, json!({"a": {"x": 1, "y": [3], "z": 2}, "b": 1, "c": 3}));
    }

    #[test]
    fn set_takes_both_separators_and_yaml_values() {
        let mut config = json!({"processors": {"batch": {"timeout": "1s"}}});
        set(&mut config, "processors::batch::timeout=2s").unwrap();
        set(&mut config, "processors.batch.send_batch_size=100").unwrap();
        set(&mut config, "service::pipelines::traces::receivers=[otlp]").unwrap();
        assert_eq!(config["processors"]["batch"], json!({"timeout": "2s", "send_batch_size": 100}));
        assert_eq!(config["service"]["pipelines"]["traces"]["receivers"], json!(["otlp"]));
        assert!(set(&mut config, "novalue").is_err());
        assert!(set(&mut config, "a..b=1").is_err());
    }

    #[test]
    fn secrets_are_redacted_and_the_rest_kept() {
        let mut config = json!({"exporters": {"otlp": {"endpoint": "x:4317",
            "headers": {"authorization": "Bearer s3cret"}, "auth": {"authenticator": "a"}}}});
        redact(&mut config);
        assert_eq!(
            config,
            json!({"exporters": {"otlp": {"endpoint": "x:4317",
                "headers": {"authorization": "[REDACTED]"}, "auth": {"authenticator": "[REDACTED]"}}}})
        );
    }
}
