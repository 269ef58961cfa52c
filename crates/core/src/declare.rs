//! Component declarations: what each component type states about itself, once.
//!
//! A component type is its validated settings type implementing [`Component`]: the
//! [`Declaration`] (type name, aliases, signals, stability), the configuration it parses
//! (with defaults) and `validate`, which turns that configuration into the settings the
//! builder takes, compiling what it checks. Each kind's crate lists its types once with
//! [`kind!`](crate::kind), which generates the closed settings enum, parsing by type name and
//! the declaration lookups; every list (`weir components`, the unknown-type message, signal
//! checks, the README table) is read from those declarations.

use std::fmt;

use serde::de::DeserializeOwned;
use weir_otlp::Signal;

/// The Collector's stability levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stability {
    /// Not yet ready for use.
    Development,
    /// Options and behaviour may still change.
    Alpha,
    /// Options settled; behaviour may be refined.
    Beta,
    /// Covered by compatibility guarantees.
    Stable,
}

impl Stability {
    /// The Collector's word for the level.
    pub fn as_str(self) -> &'static str {
        match self {
            Stability::Development => "development",
            Stability::Alpha => "alpha",
            Stability::Beta => "beta",
            Stability::Stable => "stable",
        }
    }
}

impl fmt::Display for Stability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a component does with signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signals {
    /// A receiver, processor or exporter: the pipeline types it can sit in.
    Pipeline(&'static [Signal]),
    /// A connector: the `(from, to)` pipeline pairs it joins.
    Connector(&'static [(Signal, Signal)]),
    /// An extension: none.
    None,
}

/// Every signal, for components that take them all.
pub const ALL_SIGNALS: &[Signal] = &[Signal::Traces, Signal::Metrics, Signal::Logs];

impl Signals {
    /// Whether a pipeline of `signal` may list the component (a connector: on either side).
    pub fn accepts(&self, signal: Signal) -> bool {
        match self {
            Signals::Pipeline(signals) => signals.contains(&signal),
            Signals::Connector(pairs) => pairs.iter().any(|&(a, b)| a == signal || b == signal),
            Signals::None => false,
        }
    }

    /// Whether a connector joins a pipeline of `from` to one of `to`.
    pub fn connects(&self, from: Signal, to: Signal) -> bool {
        match self {
            Signals::Connector(pairs) => pairs.contains(&(from, to)),
            Signals::Pipeline(_) | Signals::None => false,
        }
    }

    /// As written in `weir components` and the README table: `traces, metrics` or
    /// `traces→metrics, logs→metrics`.
    pub fn describe(&self) -> String {
        match self {
            Signals::Pipeline(signals) => {
                signals.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
            }
            Signals::Connector(pairs) => {
                pairs.iter().map(|(a, b)| format!("{a}→{b}")).collect::<Vec<_>>().join(", ")
            }
            Signals::None => "-".to_owned(),
        }
    }
}

/// What a component type states about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declaration {
    /// The type name (the Collector's current name).
    pub name: &'static str,
    /// Older names still accepted; using one is warned about, as the Collector does.
    pub aliases: &'static [&'static str],
    /// The signals it takes.
    pub signals: Signals,
    /// How settled it is.
    pub stability: Stability,
    /// One line on what it does.
    pub summary: &'static str,
}

impl Declaration {
    /// Whether `type_name` names this component, by its name or an alias.
    pub fn answers_to(&self, type_name: &str) -> bool {
        self.name == type_name || self.aliases.contains(&type_name)
    }
}

/// One problem with a configuration: where (a path below the component, or a line and column
/// of the file) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// `policies[2].latency.threshold_ms`, or empty for the component itself.
    pub path: String,
    /// What is wrong, lowercase, without a final period.
    pub message: String,
}

impl ConfigError {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { path: path.into(), message: message.into() }
    }

    /// The same problem one level down: `prefix.path`.
    pub fn under(self, prefix: &str) -> ConfigError {
        let path = match (prefix.is_empty(), self.path.is_empty()) {
            (true, _) => self.path,
            (false, true) => prefix.to_owned(),
            (false, false) if self.path.starts_with('[') => format!("{prefix}{}", self.path),
            (false, false) => format!("{prefix}.{}", self.path),
        };
        ConfigError { path, message: self.message }
    }
}

impl From<(String, String)> for ConfigError {
    fn from((path, message): (String, String)) -> ConfigError {
        ConfigError { path, message }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// `Ok(value)` when `problems` is empty, else every problem.
pub fn checked<T>(value: T, problems: Vec<(String, String)>) -> Result<T, Vec<ConfigError>> {
    if problems.is_empty() {
        Ok(value)
    } else {
        Err(problems.into_iter().map(ConfigError::from).collect())
    }
}

/// A component type, as its validated settings: the builder of its kind takes only these.
pub trait Component: Sized + fmt::Debug + Clone + Send + Sync + 'static {
    /// The configuration as written, with the Collector's defaults.
    type Config: DeserializeOwned + Default;
    /// What the type states about itself.
    const DECLARATION: Declaration;
    /// Checks `config` and compiles it (regexes, durations, policy trees) into settings, or
    /// returns every problem found.
    fn validate(config: Self::Config) -> Result<Self, Vec<ConfigError>>;

    /// Parses the YAML text of one component's options (empty or `null`: the defaults) and
    /// validates it.
    fn parse(yaml: &str) -> Result<Self, Vec<ConfigError>> {
        let config: Self::Config = parse_options(yaml).map_err(|message| vec![message])?;
        Self::validate(config)
    }
}

/// Parses one component's options from YAML; `null` or an empty document means defaults.
pub fn parse_options<T: DeserializeOwned + Default>(yaml: &str) -> Result<T, ConfigError> {
    let parsed: Option<T> = serde_saphyr::from_str(yaml).map_err(|e| {
        let text = e.to_string();
        let text = text.strip_prefix("error: ").map(str::to_owned).unwrap_or(text);
        ConfigError::new("", text)
    })?;
    Ok(parsed.unwrap_or_default())
}

/// Declares the closed set of one kind's component types: `kind!(pub enum ProcessorSettings
/// as dyn BuildProcessor { Batch(batch::Settings), ... })` generates the enum (one variant
/// per type, boxed), `DECLARATIONS`, `parse(type_name, yaml)`, `declaration()` and
/// `as_dyn()`, through which the kind's builder trait is reached without a match per type.
#[macro_export]
macro_rules! kind {
    (
        $(#[$meta:meta])*
        $vis:vis enum $Settings:ident as dyn $Build:path {
            $( $(#[$vmeta:meta])* $Variant:ident($Type:ty) ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        $vis enum $Settings {
            $( $(#[$vmeta])* $Variant(Box<$Type>), )+
        }

        impl $Settings {
            /// Every type of this kind, in the order of the list.
            pub const DECLARATIONS: &'static [$crate::declare::Declaration] =
                &[$( <$Type as $crate::declare::Component>::DECLARATION, )+];

            /// Parses and validates the options of a component of type `type_name` (its name
            /// or an alias); `None` when no type of this kind answers to it.
            pub fn parse(
                type_name: &str,
                yaml: &str,
            ) -> Option<Result<$Settings, Vec<$crate::declare::ConfigError>>> {
                $(
                    if <$Type as $crate::declare::Component>::DECLARATION.answers_to(type_name) {
                        return Some(
                            <$Type as $crate::declare::Component>::parse(yaml)
                                .map(|s| $Settings::$Variant(Box::new(s))),
                        );
                    }
                )+
                None
            }

            /// The declaration of this component's type.
            pub fn declaration(&self) -> &'static $crate::declare::Declaration {
                match self {
                    $( $Settings::$Variant(_) => {
                        &<$Type as $crate::declare::Component>::DECLARATION
                    } )+
                }
            }

            /// The kind's builder for these settings.
            pub fn as_dyn(&self) -> &dyn $Build {
                match self {
                    $( $Settings::$Variant(settings) => &**settings, )+
                }
            }
        }
    };
}

/// Builds a processor from validated settings: one instance per pipeline that lists it, as in
/// the Collector. A connector builds one too: a processor whose output feeds the pipelines
/// that list the connector as a receiver.
pub trait BuildProcessor {
    /// A new instance for component `id`.
    fn build(&self, id: &str) -> Box<dyn crate::Processor>;

    /// Whether it reads the items (spans, data points, log records) rather than passing them
    /// on as they came. Where every pipeline a receiver feeds reads them, the receiver decodes
    /// requests at once; otherwise it keeps them encoded after a validating walk.
    fn reads_items(&self) -> bool;

    /// The pipelines a connector sends to by name (the `routing` connector's `pipelines` and
    /// `default_pipelines`), each with the option path naming it: each must be a pipeline that
    /// lists the connector as a receiver.
    fn routes(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Starts what the processor needs beside it while weir runs (the `k8s_attributes`
    /// processor's Kubernetes watches, which publish the snapshot its instances read): once
    /// per component, before the receivers start; it ends when `shutdown` is cancelled. An
    /// error stops weir's start.
    fn background(
        &self,
        _id: &str,
        _shutdown: crate::CancellationToken,
    ) -> crate::BoxFuture<'_, Result<Option<Background>, String>> {
        Box::pin(async { Ok(None) })
    }
}

/// A processor's work beside it (see [`BuildProcessor::background`]).
pub struct Background {
    /// The work, until shutdown.
    pub run: crate::BoxFuture<'static, ()>,
    /// What the receivers must wait for, if anything (`wait_for_metadata`).
    pub ready: Option<Ready>,
}

/// A condition the receivers wait for before they start.
pub struct Ready {
    /// Resolves once the condition holds.
    pub when: crate::BoxFuture<'static, ()>,
    /// How long to wait for it; weir's start fails after that.
    pub within: std::time::Duration,
    /// What the failure says (the option and what was not there in time).
    pub failure: String,
    /// Whether weir's start fails when the condition does not hold in time; otherwise the
    /// failure is logged and weir starts without it.
    pub fatal: bool,
}

/// Builds an exporter from validated settings, and tells the topology how its queue
/// delivers and which extension authenticates it.
pub trait BuildExporter {
    /// Builds the exporter (opening files and connections).
    fn build<'a>(
        &'a self,
        id: &'a str,
        auth: &'a crate::auth::Authenticators,
    ) -> crate::BoxFuture<'a, std::io::Result<std::sync::Arc<dyn crate::Exporter>>>;

    /// How its queue delivers: `sending_queue`, `retry_on_failure`, `timeout`.
    fn queue(&self) -> crate::export::Settings;

    /// The extension that authenticates its requests, if any.
    fn authenticator(&self) -> Option<&str>;

    /// Whether it reads the items (spans, data points, log records) rather than passing them
    /// on as they came. Where every pipeline a receiver feeds reads them, the receiver decodes
    /// requests at once; otherwise it keeps them encoded after a validating walk.
    fn reads_items(&self) -> bool;
}

/// Builds a receiver from validated settings (binding its sockets; it accepts when run).
pub trait BuildReceiver {
    /// Binds the receiver.
    fn build<'a>(
        &'a self,
        id: &'a str,
        auth: &'a crate::auth::Authenticators,
    ) -> crate::BoxFuture<'a, std::io::Result<Box<dyn crate::Receiver>>>;

    /// The extensions that authenticate the requests it receives.
    fn authenticators(&self) -> Vec<&str>;
}

/// Declares a component type whose settings are its configuration once checked: `validate` is
/// the configuration's own `problems()` (every problem as `(path, message)`), and the type is
/// its `Settings`. Components that compile something at validation implement [`Component`]
/// themselves (`tail_sampling`, `slo`).
#[macro_export]
macro_rules! checked_component {
    ($Config:ty, $declaration:expr) => {
        impl $crate::Component for $Config {
            type Config = $Config;
            const DECLARATION: $crate::Declaration = $declaration;
            fn validate(config: $Config) -> Result<$Config, Vec<$crate::ConfigError>> {
                let problems = config.problems();
                $crate::declare::checked(config, problems)
            }
        }
    };
}
