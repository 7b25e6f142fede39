//! `berth daemon`: resolves the settings (command line, environment, `--config` file), then
//! hands over to [`crate::daemon`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::common::{open_source, state_dir};
use super::{CommandError, Outcome};
use crate::cli::DaemonArgs;
use crate::daemon::{self, DaemonSource, LeaderElection, LeaseSettings, Settings, Timing};
use crate::pipeline::Scope;
use crate::printer::Printer;
use crate::source::Source;
use crate::values::duration::parse_duration;

/// The `--config` file: the same settings as the command line.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    dir: Option<PathBuf>,
    repo: Option<String>,
    branch: Option<String>,
    ssh_key: Option<PathBuf>,
    ssh_key_passphrase_file: Option<PathBuf>,
    known_hosts: Option<PathBuf>,
    git_token_file: Option<PathBuf>,
    verify_signatures: Option<bool>,
    allowed_signers: Option<PathBuf>,
    gpg_keyring: Option<PathBuf>,
    listen: Option<String>,
    interval: Option<String>,
    drift_interval: Option<String>,
    webhook_secret_file: Option<PathBuf>,
    leader_elect: Option<bool>,
    lease_cluster: Option<String>,
    lease_namespace: Option<String>,
    lease_name: Option<String>,
    lease_duration: Option<String>,
    identity: Option<String>,
    shutdown_grace: Option<String>,
    state_dir: Option<PathBuf>,
    kubeconfig: Option<PathBuf>,
    dashboard_token_file: Option<PathBuf>,
}

/// A setting that cannot be used, with the flag it came from.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {message}")]
struct SettingError {
    setting: String,
    message: String,
}

/// `berth daemon`.
pub fn run(args: &DaemonArgs, printer: &Printer) -> Result<Outcome, CommandError> {
    let settings = match resolve(args) {
        Ok(s) => s,
        Err(e) => {
            printer.err(&format!("error: {e}\n"));
            return Ok(Outcome::Failure);
        }
    };
    let source = settings.source.describe();
    daemon::run(settings, |addr| {
        printer.out(&format!(
            "berth daemon: serving http://{addr} (dashboard, health, metrics, status, webhooks); source {source}\n"
        ));
    })?;
    Ok(Outcome::Success)
}

fn resolve(args: &DaemonArgs) -> Result<Settings, SettingError> {
    let file = match &args.config {
        Some(path) => load_file(path)?,
        None => FileSettings::default(),
    };
    let duration = |flag: &str, cli: &Option<String>, file: &Option<String>, default: &str| {
        let text = cli.as_deref().or(file.as_deref()).unwrap_or(default);
        parse_duration(text)
            .map(Duration::from_secs)
            .map_err(|e| SettingError {
                setting: format!("--{flag} {text}"),
                message: e.message,
            })
    };
    let interval = duration("interval", &args.interval, &file.interval, "1m")?;
    let drift_interval = duration(
        "drift-interval",
        &args.drift_interval,
        &file.drift_interval,
        "5m",
    )?;
    let shutdown_grace = duration(
        "shutdown-grace",
        &args.shutdown_grace,
        &file.shutdown_grace,
        "30s",
    )?;
    let lease_duration = duration(
        "lease-duration",
        &args.lease_duration,
        &file.lease_duration,
        "15s",
    )?;
    for (flag, d) in [("interval", interval), ("drift-interval", drift_interval)] {
        if d.is_zero() {
            return Err(SettingError {
                setting: format!("--{flag}"),
                message: "must be at least 1s".into(),
            });
        }
    }
    let listen_text = args
        .listen
        .clone()
        .or(file.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen: SocketAddr = listen_text.parse().map_err(|e| SettingError {
        setting: format!("--listen {listen_text}"),
        message: format!("{e}; write an address and port such as `0.0.0.0:8080`"),
    })?;

    let webhook_secret = match args
        .webhook_secret_file
        .clone()
        .or(file.webhook_secret_file.clone())
    {
        Some(path) => Some(
            std::fs::read_to_string(&path)
                .map(|s| s.trim().to_string())
                .map_err(|e| SettingError {
                    setting: format!("--webhook-secret-file {}", path.display()),
                    message: e.to_string(),
                })?,
        ),
        None => std::env::var("BERTH_WEBHOOK_SECRET")
            .ok()
            .filter(|s| !s.is_empty()),
    };

    let mut git = args.source.git.clone();
    let fill = |cli: &mut Option<PathBuf>, file: &Option<PathBuf>| {
        if cli.is_none() {
            cli.clone_from(file);
        }
    };
    fill(&mut git.state_dir, &file.state_dir);
    fill(&mut git.ssh_key, &file.ssh_key);
    fill(
        &mut git.ssh_key_passphrase_file,
        &file.ssh_key_passphrase_file,
    );
    fill(&mut git.known_hosts, &file.known_hosts);
    fill(&mut git.git_token_file, &file.git_token_file);
    fill(&mut git.allowed_signers, &file.allowed_signers);
    fill(&mut git.gpg_keyring, &file.gpg_keyring);
    if git.repo.is_none() && args.source.dir.is_none() {
        git.repo.clone_from(&file.repo);
        if git.branch.is_none() {
            git.branch.clone_from(&file.branch);
        }
    }
    git.verify_signatures |= file.verify_signatures == Some(true);
    let dir = args.source.dir.clone().or(file.dir.clone());
    let state_dir = state_dir(&git);
    let source = open_source(dir.as_deref(), &git, false).map_err(|e| SettingError {
        setting: "source".into(),
        message: format!("{e:#}"),
    })?;
    let config_dir = match &source {
        Source::Dir(d) => Some(d.clone()),
        Source::Git(_) => None,
    };
    let scope = Scope {
        state_dir: Some(state_dir.clone()),
        kubeconfig: args
            .target
            .scope
            .kubeconfig
            .clone()
            .or(file.kubeconfig.clone()),
        config_dir,
        tenants: args.target.scope.tenant.clone(),
        clusters: args.target.scope.cluster.clone(),
        adopt: args.target.write.adopt,
        allow_destroy: args.target.write.allow_destroy.iter().cloned().collect(),
        allow_replace: args.target.write.allow_replace,
        correct_drift: args.target.write.correct_drift,
        request_timeout: args.target.scope.request_timeout,
        retry: args.target.scope.retry_policy(),
    };
    let leader_election =
        (args.leader_elect || file.leader_elect == Some(true)).then(|| LeaderElection {
            cluster: args.lease_cluster.clone().or(file.lease_cluster.clone()),
            lease: LeaseSettings {
                namespace: args
                    .lease_namespace
                    .clone()
                    .or(file.lease_namespace.clone())
                    .unwrap_or_else(|| "berth-system".into()),
                name: args
                    .lease_name
                    .clone()
                    .or(file.lease_name.clone())
                    .unwrap_or_else(|| "berth".into()),
                identity: args
                    .identity
                    .clone()
                    .or(file.identity.clone())
                    .unwrap_or_else(default_identity),
                duration: lease_duration,
            },
        });
    Ok(Settings {
        source: DaemonSource::new(source),
        listen,
        timing: Timing {
            interval,
            drift_interval,
            jitter: 0.1,
        },
        scope,
        webhook_secret,
        leader_election,
        shutdown_grace,
        status_file: Some(daemon::Status::path(&state_dir)),
        dashboard: daemon::dashboard::DashboardSettings::resolve(
            args.dashboard_token_file
                .as_deref()
                .or(file.dashboard_token_file.as_deref()),
        )
        .map_err(|message| SettingError {
            setting: "dashboard".into(),
            message,
        })?,
    })
}

fn load_file(path: &Path) -> Result<FileSettings, SettingError> {
    let text = std::fs::read_to_string(path).map_err(|e| SettingError {
        setting: format!("--config {}", path.display()),
        message: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| {
        let place = e
            .span()
            .map(|s| {
                let (line, col) = crate::diag::line_col(&text, s.start);
                format!(":{line}:{col}")
            })
            .unwrap_or_default();
        SettingError {
            setting: format!("{}{place}", path.display()),
            message: e.message().to_string(),
        }
    })
}

/// `$POD_NAME` (set by the Deployment), else the host name and process id.
fn default_identity() -> String {
    if let Some(pod) = std::env::var("POD_NAME").ok().filter(|s| !s.is_empty()) {
        return pod;
    }
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "berth".into());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings file that deploy/config.yaml ships is one this daemon reads.
    #[test]
    fn deploy_config_map_holds_valid_daemon_settings() {
        let yaml = include_str!("../../deploy/config.yaml");
        let doc: serde_json::Value =
            serde_norway::from_str(yaml.split("\n---\n").next().unwrap()).unwrap();
        let toml_text = doc["data"]["daemon.toml"].as_str().unwrap();
        let file: FileSettings = toml::from_str(toml_text).unwrap();
        assert!(file.repo.is_some() && file.leader_elect == Some(true));
        // known_hosts is the ConfigMap's own key, mounted at /etc/berth.
        assert_eq!(
            file.known_hosts.as_deref(),
            Some(Path::new("/etc/berth/known_hosts"))
        );
        let known_hosts = doc["data"]["known_hosts"].as_str().unwrap();
        assert!(known_hosts.starts_with("github.com ssh-ed25519 AAAA"));
        assert_eq!(file.listen.as_deref(), Some("0.0.0.0:8080"));
        for d in [&file.interval, &file.drift_interval] {
            parse_duration(d.as_deref().unwrap()).unwrap();
        }
    }

    #[test]
    fn unknown_keys_in_the_settings_file_are_errors_with_a_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.toml");
        std::fs::write(&path, "listen = \"0.0.0.0:8080\"\nintervall = \"1m\"\n").unwrap();
        let e = load_file(&path).unwrap_err().to_string();
        assert!(e.contains("daemon.toml:2:1"), "{e}");
        assert!(e.contains("intervall"), "{e}");
    }
}
