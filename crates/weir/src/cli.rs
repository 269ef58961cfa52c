//! The command line: `weir [run]`, `weir validate`, `weir components`, `weir print-config`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::{
    bench,
    config::{self, Loaded, Source},
    loadgen, topology,
};

/// weir: an OpenTelemetry pipeline that limits, samples and measures telemetry.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; `run` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `run` when no subcommand is given.
    #[command(flatten)]
    pub run: ConfigArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pipelines of a configuration (the default).
    Run(ConfigArgs),
    /// Check a configuration and report every problem, then exit.
    Validate(ConfigArgs),
    /// List every component type with its signals, stability and deprecated names.
    Components {
        /// Print the README's Markdown table instead.
        #[arg(long)]
        markdown: bool,
    },
    /// Print the effective configuration (files merged, variables expanded, `--set` applied)
    /// with secrets redacted.
    PrintConfig(ConfigArgs),
    /// Send OTLP load to an endpoint and report throughput and latency.
    Loadgen(Box<loadgen::Args>),
    /// Measure a configuration's capacity under stepped load and size replicas for a rate.
    Bench(Box<bench::Args>),
}

/// Where the configuration comes from.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// A configuration file in the OpenTelemetry Collector's format; repeat to merge several
    /// (later files win). Without it, weir runs its embedded default configuration.
    #[arg(long = "config", short = 'c', value_name = "FILE")]
    pub configs: Vec<PathBuf>,
    /// Override one option, e.g. `--set processors::batch::timeout=1s` (`.` also separates
    /// keys); repeatable, applied after the files.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

impl ConfigArgs {
    fn sources(&self) -> Vec<Source> {
        self.configs.iter().cloned().map(Source::File).collect()
    }

    fn load(&self) -> Result<Loaded, config::ConfigError> {
        config::load(&self.sources(), &self.sets)
    }
}

/// Runs the command line; returns the process exit code.
pub fn main(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Run(cli.run)) {
        Command::Run(args) => run(&args),
        Command::Validate(args) => {
            let loaded = args.load()?;
            for warning in &loaded.warnings {
                eprintln!("warning: {warning}");
            }
            println!(
                "configuration is valid: {} pipelines, {} receivers, {} processors, {} exporters, {} connectors",
                loaded.plan.pipelines.len(),
                loaded.plan.receivers.len(),
                loaded.plan.processors.len(),
                loaded.plan.exporters.len(),
                loaded.plan.connectors.len()
            );
            Ok(())
        }
        Command::Loadgen(args) => {
            let output = args.output;
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let report = runtime.block_on(loadgen::run(*args))?;
            match output {
                loadgen::Output::Text => print!("{}", report.text()),
                loadgen::Output::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            }
            Ok(())
        }
        Command::Bench(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let report = runtime.block_on(bench::run(*args))?;
            print!("{}", bench::report::text(&report));
            println!("report written to {}", report.args.report.join("report.html").display());
            Ok(())
        }
        Command::Components { markdown } => {
            print!("{}", if markdown { components_markdown() } else { components_table() });
            Ok(())
        }
        Command::PrintConfig(args) => {
            // Print what was given even when it does not validate: that is when it helps most.
            let prepared = config::prepare(&args.sources(), &args.sets)?;
            print!("{}", config::redacted_yaml(&prepared.effective));
            prepared.load()?;
            Ok(())
        }
    }
}

/// Every kind's declarations, in the order `weir components` lists them.
pub fn declarations() -> Vec<(&'static str, &'static [weir_core::Declaration])> {
    fn of<K: config::Kind>() -> (&'static str, &'static [weir_core::Declaration]) {
        (K::NAME, K::declarations())
    }
    vec![
        of::<weir_receivers::ReceiverSettings>(),
        of::<weir_processors::ProcessorSettings>(),
        of::<weir_exporters::ExporterSettings>(),
        of::<weir_processors::ConnectorSettings>(),
        of::<weir_extensions::ExtensionSettings>(),
    ]
}

/// The table `weir components` prints.
pub fn components_table() -> String {
    let mut out = format!(
        "{:<10} {:<24} {:<26} {:<12} {}\n",
        "KIND", "TYPE", "SIGNALS", "STABILITY", "DEPRECATED NAMES"
    );
    for (kind, declarations) in declarations() {
        for d in declarations {
            out.push_str(&format!(
                "{kind:<10} {:<24} {:<26} {:<12} {}\n",
                d.name,
                d.signals.describe(),
                d.stability,
                d.aliases.join(", ")
            ));
        }
    }
    out
}

/// The README's component table (between its `components-table` markers), as Markdown.
pub fn components_markdown() -> String {
    let mut out = String::from(
        "| kind | type | also accepted (deprecated) | signals | stability | what it does |\n\
         | --- | --- | --- | --- | --- | --- |\n",
    );
    for (kind, declarations) in declarations() {
        for d in declarations {
            let aliases: Vec<String> = d.aliases.iter().map(|a| format!("`{a}`")).collect();
            out.push_str(&format!(
                "| {kind} | `{}` | {} | {} | {} | {} |\n",
                d.name,
                aliases.join(", "),
                d.signals.describe(),
                d.stability,
                d.summary
            ));
        }
    }
    out
}

fn run(args: &ConfigArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    crate::logs::init(&loaded.plan.telemetry.logs)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let running = topology::start(&loaded.plan).await?;
        tracing::info!(pipelines = loaded.plan.pipelines.len(), "weir is running");
        running.run_until_signal(topology::DEFAULT_SHUTDOWN_DEADLINE).await
    })?;
    tracing::info!("weir stopped");
    Ok(())
}
