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
// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Check a config repository; report every problem with file, line and column.
    Validate(ValidateArgs),
    /// Print the Kubernetes objects the specs become.
    Render(RenderArgs),
    /// Show what apply would change in the clusters, Terraform-style.
    Plan(PlanArgs),
    /// Make the clusters match the configuration (or a saved plan).
    Apply(ApplyArgs),
    /// Report objects changed in the clusters outside berth; exit 2 when there are some.
    Drift(DriftArgs),
    /// Print or write the JSON Schemas of platform.toml, tenant and backups files.
    Schema(SchemaArgs),
    /// Keep the clusters matching the config source, and serve the dashboard.
    ///
    /// Syncs when the source changes (polling, GitHub and GitLab push webhooks, a file watcher
    /// for a directory), never applies an invalid revision, reports or corrects drift, and
    /// serves over HTTP: the dashboard (overview, tenant pages, plan and drift, backups,
    /// trends, and forms that propose changes as commits on a new branch, unlocked by
    /// --dashboard-token-file), /healthz, /readyz, /metrics, a JSON status API and the push
    /// webhooks. See docs/daemon.md.
    Daemon(DaemonArgs),
    /// One line per tenant: database readiness, revision, drift, backups, failing jobs.
    Status(StatusArgs),
    /// Show one part of the platform in detail.
    Show(ShowArgs),
    /// Print the completion script of a shell: bash, zsh, fish, elvish or powershell.
    Completions(CompletionsArgs),
    /// Print the man page, in roff: `berth man > berth.1`; `--write DIR` writes one page per
    /// command.
    Man(ManArgs),
}

/// Arguments of `berth completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `berth man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `berth.1` and a page for every command (`berth-plan.1`, ...) into this directory
    /// instead of printing `berth.1`.
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
}

/// Output format of `status` and `show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// Text for people.
    Text,
    /// JSON.
    Json,
}

/// Arguments of `berth status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The config repository.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = StatusFormat::Text)]
    pub output: StatusFormat,
    /// Clusters and scope.
    #[command(flatten)]
    pub target: ScopeArgs,
}

/// Arguments of `berth show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// What to show.
    #[command(subcommand)]
    pub what: ShowCommand,
}

/// What `berth show` shows.
#[derive(Debug, Subcommand)]
pub enum ShowCommand {
    /// A tenant: its settings and where they come from, objects, database pods, quota usage,
    /// backups and restores.
    Tenant(ShowTenantArgs),
}

/// Arguments of `berth show tenant`.
#[derive(Debug, clap::Args)]
pub struct ShowTenantArgs {
    /// The tenant.
    pub name: String,
    /// The config repository.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = StatusFormat::Text)]
    pub output: StatusFormat,
    /// Clusters and scope.
    #[command(flatten)]
    pub target: ScopeArgs,
}

/// Output format of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Terraform-style text.
    Text,
    /// The versioned JSON plan format (docs/plan-format.md).
    Json,
    /// A pull-request comment.
    Markdown,
}

/// Where the config repository is read from: a directory, or Git.
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// The config repository: a directory [default: .]. With --rev (or `plan --base`), the
    /// Git repository containing it is read at that commit instead of the files on disk.
    #[arg(value_name = "DIR", conflicts_with = "repo")]
    pub dir: Option<PathBuf>,
    /// Git options.
    #[command(flatten)]
    pub git: GitArgs,
}

/// The help heading of the Git flags: one group, saying what they are for.
pub const GIT_HEADING: &str =
    "Git source (read the config repository from a Git commit, not the files on disk)";

/// Reading the config repository from Git. Each flag names [`GIT_HEADING`] itself: a
/// struct-wide `next_help_heading` would also head every flag that follows it in a command.
#[derive(Debug, Clone, clap::Args)]
pub struct GitArgs {
    /// Read the config repository from Git: an https://, ssh://, git@host:path or file:// URL,
    /// or a local path. Fetched into a cache under the state directory.
    #[arg(long, help_heading = GIT_HEADING, value_name = "URL")]
    pub repo: Option<String>,
    /// The branch of --repo to follow [default: the remote's default branch, else main].
    #[arg(long, help_heading = GIT_HEADING, requires = "repo")]
    pub branch: Option<String>,
    /// The commit (sha), tag or branch to read [default: the tip of the branch; HEAD for a
    /// directory's repository].
    #[arg(long, help_heading = GIT_HEADING)]
    pub rev: Option<String>,
    /// Do not contact the remote of --repo: read what its cache holds.
    #[arg(long, help_heading = GIT_HEADING, requires = "repo")]
    pub offline: bool,
    /// SSH private key for ssh URLs [default: the keys of ssh-agent].
    #[arg(long, help_heading = GIT_HEADING, env = "BERTH_GIT_SSH_KEY", value_name = "FILE")]
    pub ssh_key: Option<PathBuf>,
    /// File holding the passphrase of --ssh-key, when one protects it
    /// [default: $BERTH_GIT_SSH_KEY_PASSPHRASE].
    #[arg(long, help_heading = GIT_HEADING, env = "BERTH_GIT_SSH_KEY_PASSPHRASE_FILE", value_name = "FILE")]
    pub ssh_key_passphrase_file: Option<PathBuf>,
    /// known_hosts file that SSH servers' host keys must be listed in
    /// [default: ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts].
    #[arg(long, help_heading = GIT_HEADING, env = "BERTH_GIT_KNOWN_HOSTS", value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// File holding a token for https URLs [default: $BERTH_GIT_TOKEN].
    #[arg(long, help_heading = GIT_HEADING, env = "BERTH_GIT_TOKEN_FILE", value_name = "FILE")]
    pub git_token_file: Option<PathBuf>,
    /// Read only commits signed by a key of --allowed-signers (SSH) or --gpg-keyring
    /// (OpenPGP); anything else is refused.
    #[arg(long, help_heading = GIT_HEADING)]
    pub verify_signatures: bool,
    /// SSH allowed-signers file (as for `git verify-commit`, gpg.ssh.allowedSignersFile).
    #[arg(long, help_heading = GIT_HEADING, value_name = "FILE", requires = "verify_signatures")]
    pub allowed_signers: Option<PathBuf>,
    /// OpenPGP keyring of the accepted signers (`gpg --export [--armor] KEYID > FILE`).
    #[arg(long, help_heading = GIT_HEADING, value_name = "FILE", requires = "verify_signatures")]
    pub gpg_keyring: Option<PathBuf>,
    /// Directory of berth's state: embedded clusters' stores and Git caches
    /// [default: $XDG_STATE_HOME/berth].
    #[arg(long, env = "BERTH_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Where clusters are and which part of the configuration to consider.
#[derive(Debug, Clone, clap::Args)]
pub struct ScopeArgs {
    /// Kubeconfig file for clusters that name a context (default: their own or $KUBECONFIG).
    #[arg(long, env = "BERTH_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Only this tenant (repeatable).
    #[arg(long)]
    pub tenant: Vec<String>,
    /// Only this cluster (repeatable).
    #[arg(long)]
    pub cluster: Vec<String>,
    /// `--tenant` may name a tenant the configuration no longer has (one a cluster may still
    /// keep): set by `show tenant`, never on the command line.
    #[arg(skip)]
    pub removed_ok: bool,
    /// How long each request to a Kubernetes API server may take (connecting, sending,
    /// reading), e.g. `30s`, `2m`; a stalled server fails the request, which is then retried.
    #[arg(long, env = "BERTH_REQUEST_TIMEOUT", value_name = "DURATION", default_value = "30s", value_parser = seconds)]
    pub request_timeout: std::time::Duration,
    /// Attempts per request that fails for a reason worth retrying (throttled, a server
    /// error, a dropped or timed-out connection), the first included; 1 retries nothing.
    #[arg(long, env = "BERTH_RETRY_ATTEMPTS", value_name = "N", default_value_t = crate::cluster::DEFAULT_ATTEMPTS, value_parser = clap::value_parser!(u32).range(1..))]
    pub retry_attempts: u32,
    /// No retry begins once this long has passed since the run began (for the daemon, since
    /// the sync began): what still fails then is reported, and the next run goes on.
    #[arg(long, env = "BERTH_RETRY_BUDGET", value_name = "DURATION", default_value = "5m", value_parser = seconds)]
    pub retry_budget: std::time::Duration,
}

impl ScopeArgs {
    /// The retries these arguments ask for, with a new budget for the run.
    pub fn retry_policy(&self) -> crate::cluster::RetryPolicy {
        crate::cluster::RetryPolicy {
            attempts: self.retry_attempts,
            budget: Some(crate::cluster::RetryBudget::new(self.retry_budget)),
            ..crate::cluster::RetryPolicy::default()
        }
    }
}

impl Default for ScopeArgs {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            tenant: Vec::new(),
            cluster: Vec::new(),
            removed_ok: false,
            request_timeout: crate::cluster::DEFAULT_REQUEST_TIMEOUT,
            retry_attempts: crate::cluster::DEFAULT_ATTEMPTS,
            retry_budget: crate::cluster::DEFAULT_RETRY_BUDGET,
        }
    }
}

/// A duration on the command line (`30s`, `2m`, `1h`).
fn seconds(s: &str) -> Result<std::time::Duration, String> {
    crate::values::duration::parse_duration(s)
        .map(std::time::Duration::from_secs)
        .map_err(|e| e.to_string())
}

/// What a command that writes (or plans writes) is permitted to do beyond the platform's
/// policy. Read-only commands (`drift`, `status`, `show`) do not take these.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WriteArgs {
    /// Take over objects berth does not own whose names it wants.
    #[arg(long)]
    pub adopt: bool,
    /// Permit destroying this tenant, protected or not: its namespace, its database and
    /// everything around them (repeatable, or comma-separated). Also `policy.allow_destroy`.
    #[arg(long, value_name = "TENANT", value_delimiter = ',')]
    pub allow_destroy: Vec<String>,
    /// Allow replacing data-bearing objects when an immutable field changes.
    #[arg(long)]
    pub allow_replace: bool,
    /// Put objects changed outside berth back as Git says, even under `policy.drift =
    /// "report"` (which otherwise leaves them and reports them).
    #[arg(long)]
    pub correct_drift: bool,
}

/// The scope of a command that writes, and its permissions.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TargetArgs {
    /// Clusters and tenants.
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Permissions.
    #[command(flatten)]
    pub write: WriteArgs,
}

impl TargetArgs {
    /// The target of a read-only command: its scope, nothing permitted.
    pub fn read_only(scope: &ScopeArgs) -> Self {
        TargetArgs {
            scope: scope.clone(),
            write: WriteArgs::default(),
        }
    }
}

/// Arguments of `berth plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The config repository.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Plan offline what changes from this revision to --rev (default HEAD, or the branch
    /// tip of --repo), taking BASE as exactly applied: no cluster is contacted. For pull
    /// requests.
    #[arg(long, value_name = "REV", conflicts_with_all = ["out", "server_dry_run", "offline"])]
    pub base: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = PlanFormat::Text)]
    pub output: PlanFormat,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Save the plan to this file, for `berth apply FILE`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Confirm each planned create and update with a server-side dry-run apply, so that
    /// admission webhooks and server defaults take part (one request per changed object).
    #[arg(long)]
    pub server_dry_run: bool,
    /// Only the tenants whose inputs (spec, platform settings, templates, berth version)
    /// changed since they were last applied completely, as recorded on each tenant Namespace,
    /// and tenants removed from the configuration. Fast on large repositories; drift in the
    /// other tenants is not looked for (run without it, or `berth drift`, for that).
    #[arg(long, conflicts_with_all = ["tenant", "base"])]
    pub changed: bool,
    /// Clusters and scope.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Arguments of `berth drift`.
#[derive(Debug, clap::Args)]
pub struct DriftArgs {
    /// The config repository.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = PlanFormat::Text)]
    pub output: PlanFormat,
    /// Clusters and scope.
    #[command(flatten)]
    pub target: ScopeArgs,
}

/// Arguments of `berth apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// The config repository [default: .], or a plan file saved with `berth plan --out`.
    #[arg(value_name = "DIR|PLANFILE")]
    pub dir_or_plan: Option<PathBuf>,
    /// Read the configuration of a saved plan from this directory instead of the one the plan
    /// records.
    #[arg(long, value_name = "DIR", conflicts_with = "repo")]
    pub config: Option<PathBuf>,
    /// Apply without asking for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Apply even when more objects would be deleted than `policy.max_deletions`, or every
    /// tenant of a cluster.
    #[arg(long)]
    pub allow_mass_deletion: bool,
    /// Objects applied at once within a wave [default: policy.apply_concurrency].
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Wait until the database StatefulSets that were applied are ready.
    #[arg(long)]
    pub wait: bool,
    /// How long `--wait` waits, e.g. `10m`, `90s`.
    #[arg(long, default_value = "10m", requires = "wait")]
    pub timeout: String,
    /// Only the tenants whose inputs (spec, platform settings, templates, berth version)
    /// changed since they were last applied completely, as recorded on each tenant Namespace,
    /// and tenants removed from the configuration. Fast on large repositories; drift in the
    /// other tenants is not looked for (run without it, or `berth drift`, for that).
    #[arg(long, conflicts_with = "tenant")]
    pub changed: bool,
    /// Clusters and scope.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Git options.
    #[command(flatten)]
    pub git: GitArgs,
}

/// Arguments of `berth validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The config repository.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Arguments of `berth render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The config repository.
    #[command(flatten)]
    pub source: SourceArgs,
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

/// Arguments of `berth daemon`. Every setting can also come from the environment (shown) or
/// from a TOML file given with `--config` (same names, with `_` for `-`); the command line
/// wins over the environment, which wins over the file.
#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// The config repository: a directory, or Git with --repo.
    #[command(flatten)]
    pub source: SourceArgs,
    /// A TOML file of daemon settings.
    #[arg(long, env = "BERTH_DAEMON_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address of the HTTP server (health, metrics, status, webhooks) [default: 127.0.0.1:8080].
    #[arg(long, env = "BERTH_LISTEN")]
    pub listen: Option<String>,
    /// How often the source is checked for a new revision, e.g. `1m`, `30s` [default: 1m].
    #[arg(long, env = "BERTH_INTERVAL")]
    pub interval: Option<String>,
    /// How often live state is checked for drift [default: 5m].
    #[arg(long, env = "BERTH_DRIFT_INTERVAL")]
    pub drift_interval: Option<String>,
    /// A file holding the shared secret of the GitHub/GitLab push webhooks (the variable
    /// BERTH_WEBHOOK_SECRET holds it directly). Without one, webhooks are off.
    #[arg(long, env = "BERTH_WEBHOOK_SECRET_FILE")]
    pub webhook_secret_file: Option<PathBuf>,
    /// Elect a leader with a Kubernetes Lease: only the holder applies.
    #[arg(long, env = "BERTH_LEADER_ELECT")]
    pub leader_elect: bool,
    /// The cluster (from platform.toml) that holds the Lease [default: the only cluster].
    #[arg(long, env = "BERTH_LEASE_CLUSTER")]
    pub lease_cluster: Option<String>,
    /// Namespace of the Lease [default: berth-system].
    #[arg(long, env = "BERTH_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// Name of the Lease [default: berth].
    #[arg(long, env = "BERTH_LEASE_NAME")]
    pub lease_name: Option<String>,
    /// How long a Lease lasts without renewal [default: 15s].
    #[arg(long, env = "BERTH_LEASE_DURATION")]
    pub lease_duration: Option<String>,
    /// This replica's identity in the Lease [default: $POD_NAME, else host name and process id].
    #[arg(long, env = "BERTH_IDENTITY")]
    pub identity: Option<String>,
    /// How long shutdown waits for the sync in progress [default: 30s].
    #[arg(long, env = "BERTH_SHUTDOWN_GRACE")]
    pub shutdown_grace: Option<String>,
    /// A file holding the token that unlocks the dashboard's "propose a change" forms (the
    /// variable BERTH_DASHBOARD_TOKEN holds it directly). Without one, the forms are disabled;
    /// the read-only pages are always served.
    #[arg(long, env = "BERTH_DASHBOARD_TOKEN_FILE")]
    pub dashboard_token_file: Option<PathBuf>,
    /// Clusters and scope.
    #[command(flatten)]
    pub target: TargetArgs,
}
