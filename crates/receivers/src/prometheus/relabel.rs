//! Prometheus' relabeling (`relabel_configs`, `metric_relabel_configs`): each rule in order on
//! a label set, every action Prometheus has — `replace`, `keep`, `drop`, `keepequal`,
//! `dropequal`, `hashmod`, `labelmap`, `labeldrop`, `labelkeep`, `lowercase`, `uppercase` —
//! with its defaults (`separator` `;`, `regex` `(.*)` anchored at both ends, `replacement`
//! `$1`).

use serde::Deserialize;

/// One rule as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelabelConfig {
    /// `source_labels`.
    pub source_labels: Vec<String>,
    /// `separator`.
    pub separator: String,
    /// `target_label`.
    pub target_label: String,
    /// `regex`.
    pub regex: String,
    /// `modulus` (`hashmod`).
    pub modulus: u64,
    /// `replacement`.
    pub replacement: String,
    /// `action`.
    pub action: String,
}

impl Default for RelabelConfig {
    fn default() -> RelabelConfig {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: ";".into(),
            target_label: String::new(),
            regex: "(.*)".into(),
            modulus: 0,
            replacement: "$1".into(),
            action: "replace".into(),
        }
    }
}

/// The actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

/// A checked rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    source_labels: Vec<String>,
    separator: String,
    target_label: String,
    regex: regex::Regex,
    modulus: u64,
    replacement: String,
    action: Action,
}

impl Rule {
    /// Checks `config`: every problem as `(field, message)`.
    pub(crate) fn new(config: &RelabelConfig) -> Result<Rule, (String, String)> {
        let action = match config.action.to_ascii_lowercase().as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            other => return Err(("action".into(), format!("unknown relabel action {other:?}"))),
        };
        let regex = regex::Regex::new(&format!("^(?:{})$", config.regex))
            .map_err(|e| ("regex".to_owned(), format!("invalid regular expression: {e}")))?;
        let needs_target = matches!(
            action,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if needs_target && config.target_label.is_empty() {
            return Err((
                "target_label".into(),
                format!("is required by action {}", config.action),
            ));
        }
        if action == Action::HashMod && config.modulus == 0 {
            return Err(("modulus".into(), "must be > 0 with action hashmod".into()));
        }
        Ok(Rule {
            source_labels: config.source_labels.clone(),
            separator: config.separator.clone(),
            target_label: config.target_label.clone(),
            regex,
            modulus: config.modulus,
            replacement: config.replacement.clone(),
            action,
        })
    }
}

/// Applies `rules` to `labels` (sorted by name, unique); `false` when a rule drops them.
pub(crate) fn apply(rules: &[Rule], labels: &mut Vec<(String, String)>) -> bool {
    for rule in rules {
        if !apply_one(rule, labels) {
            return false;
        }
    }
    true
}

fn get<'a>(labels: &'a [(String, String)], name: &str) -> &'a str {
    labels.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

/// Sets (or, with an empty value, removes) a label, keeping the set sorted.
pub(crate) fn set(labels: &mut Vec<(String, String)>, name: &str, value: String) {
    match labels.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
        Ok(i) if value.is_empty() => {
            labels.remove(i);
        }
        Ok(i) => labels[i].1 = value,
        Err(_) if value.is_empty() => {}
        Err(i) => labels.insert(i, (name.to_owned(), value)),
    }
}

fn apply_one(rule: &Rule, labels: &mut Vec<(String, String)>) -> bool {
    let joined = rule
        .source_labels
        .iter()
        .map(|name| get(labels, name))
        .collect::<Vec<_>>()
        .join(&rule.separator);
    match rule.action {
        Action::Keep => rule.regex.is_match(&joined),
        Action::Drop => !rule.regex.is_match(&joined),
        Action::KeepEqual => joined == get(labels, &rule.target_label),
        Action::DropEqual => joined != get(labels, &rule.target_label),
        Action::Replace => {
            if let Some(captures) = rule.regex.captures(&joined) {
                let mut target = String::new();
                captures.expand(&rule.target_label, &mut target);
                let mut value = String::new();
                captures.expand(&rule.replacement, &mut value);
                if valid_label_name(&target) {
                    set(labels, &target, value);
                }
            }
            true
        }
        Action::Lowercase => {
            set(labels, &rule.target_label, joined.to_lowercase());
            true
        }
        Action::Uppercase => {
            set(labels, &rule.target_label, joined.to_uppercase());
            true
        }
        Action::HashMod => {
            use md5::Digest as _;
            let digest = md5::Md5::digest(joined.as_bytes());
            // Prometheus sums the digest's bytes shifted into 64 bits: its last eight count.
            let sum = u64::from_be_bytes(digest[8..].try_into().expect("8 bytes"));
            set(labels, &rule.target_label, (sum % rule.modulus).to_string());
            true
        }
        Action::LabelMap => {
            let mut added = Vec::new();
            for (name, value) in labels.iter() {
                if let Some(captures) = rule.regex.captures(name) {
                    let mut target = String::new();
                    captures.expand(&rule.replacement, &mut target);
                    added.push((target, value.clone()));
                }
            }
            for (name, value) in added {
                set(labels, &name, value);
            }
            true
        }
        Action::LabelDrop => {
            labels.retain(|(name, _)| !rule.regex.is_match(name));
            true
        }
        Action::LabelKeep => {
            labels.retain(|(name, _)| rule.regex.is_match(name));
            true
        }
    }
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
