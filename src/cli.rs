//! Command-line arguments (clap only; no logic here).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// GitOps for multi-tenant database platforms on Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// When to use colours: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Operator logs on stderr: -v info, -vv debug, -vvv trace (or RUST_LOG).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Format of operator logs.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// When to use colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Format of operator logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Output format of rendered objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    /// Multi-document YAML.
    Yaml,
    /// A Kubernetes `v1/List` in JSON.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a config repository; report every problem with file, line and column.
    Validate(ValidateArgs),
    /// Print the Kubernetes objects the specs become.
    Render(RenderArgs),
    /// Print or write the JSON Schemas of platform.toml, tenant and backups files.
    Schema(SchemaArgs),
}

/// Arguments of `berth validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The config repository.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

/// Arguments of `berth render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The config repository.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Only this tenant (repeatable).
    #[arg(long)]
    pub tenant: Vec<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = RenderFormat::Yaml)]
    pub output: RenderFormat,
}

/// Arguments of `berth schema`.
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Write `<kind>.schema.json` files into this directory instead of printing them.
    #[arg(long)]
    pub write: Option<PathBuf>,
    /// Exit 1 if the files in `--write`'s directory differ from the generated ones; write nothing.
    #[arg(long, requires = "write")]
    pub check: bool,
    /// Print a Markdown reference of every field instead.
    #[arg(long, conflicts_with = "write")]
    pub reference: bool,
}
