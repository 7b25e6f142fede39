//! Benchmark of `berth plan` at scale: observe + diff of a synthetic repository whose every
//! object is already applied and unchanged, against the embedded store and over HTTP.
//!
//! ```text
//! cargo bench --bench plan_scale -- [--tenants N] [--only embedded|http] [--runs R]
//! ```
//!
//! Generates N synthetic tenants (10,000 by default), renders them, and seeds two stores
//! with exactly what `berth apply` writes (the manifest plus its last-applied annotation),
//! through [`ObjectStore::apply_all`] (the same server-side apply the API server runs, without
//! the HTTP round trips):
//!
//! - an embedded cluster in a temporary state directory (a SQLite file);
//! - an in-memory store served by the in-process test API server, reached through a
//!   kubeconfig like a real cluster.
//!
//! For each, it measures observe + plan: wall time and CPU time of each, requests (LIST
//! pages), and the peak resident memory of the phase (the peak is reset before it; the
//! figure includes what the process already held: the rendered objects and, for HTTP, the
//! server with its store). Every plan must show no changes and no drift.
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it is a quick smoke test with
//! 20 tenants.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use berth::apiserver::ApiServer;
use berth::cluster::{self, Backend, ClusterSettings, EmbeddedCluster};
use berth::observe::{self, ObserveOptions, Observed};
use berth::plan::{self, PlanOptions};
use berth::render::{self, Rendered};
use berth::spec::model::{Cluster, ClusterTarget, Config};
use berth::store::ObjectStore;
use berth::{source, spec, synth};
use serde_json::Value;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let smoke = !args.iter().any(|a| a == "--bench");
    let tenants: usize = arg("--tenants")
        .and_then(|v| v.parse().ok())
        .unwrap_or(if smoke { 20 } else { 10_000 });
    let only = arg("--only");
    // Repeats of each measurement (for profiling; each run is printed).
    let runs: usize = arg("--runs").and_then(|v| v.parse().ok()).unwrap_or(1);
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);

    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    synth::generate(&repo, tenants).expect("generate");
    let tree = source::read_dir(&repo).expect("read");
    let config = spec::load_config(&tree)
        .config
        .expect("synthetic repository is valid");
    let templates = render::TemplateSet::new(&tree.template_texts()).expect("templates");
    let rendered = render::render(&config, &templates).expect("render");
    drop(tree);
    let objects = rendered.objects.len();
    println!("tenants:  {tenants}");
    println!("objects:  {objects}");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    if run("embedded") {
        let local = EmbeddedCluster::open("local", &tmp.path().join("state")).expect("open");
        let t = Instant::now();
        seed(local.store(), &rendered);
        println!("embedded: seeded in {:.1} s", t.elapsed().as_secs_f64());
        let backend = Backend::Embedded(local);
        for _ in 0..runs {
            measure("embedded", &rt, &config, &rendered, &backend, None);
        }
    }

    if run("http") {
        let store = ObjectStore::in_memory().expect("store");
        let t = Instant::now();
        seed(&store, &rendered);
        println!("http:     seeded in {:.1} s", t.elapsed().as_secs_f64());
        let server = ApiServer::start_background(store).expect("server");
        let kubeconfig = write_kubeconfig(tmp.path(), &server.url());
        let cluster = Cluster {
            name: "local".into(),
            target: ClusterTarget::Kubeconfig {
                context: "bench".into(),
                path: Some(kubeconfig.display().to_string()),
            },
        };
        let mut settings = ClusterSettings::new(tmp.path().join("state-http"));
        settings.request_timeout = Duration::from_secs(120);
        let backend = rt
            .block_on(cluster::connect(&cluster, &settings))
            .expect("connect");
        for _ in 0..runs {
            server.clear_log();
            measure("http", &rt, &config, &rendered, &backend, Some(&server));
        }
        server.shutdown();
    }
}

/// Writes what `berth apply` would: each manifest with its last-applied annotation.
fn seed(store: &ObjectStore, rendered: &Rendered) {
    for chunk in rendered.objects.chunks(5_000) {
        let bodies: Vec<Value> = chunk.iter().map(berth::apply::with_last_applied).collect();
        store
            .apply_all(&bodies, cluster::FIELD_MANAGER, true, false)
            .expect("seed");
    }
}

fn measure(
    label: &str,
    rt: &tokio::runtime::Runtime,
    config: &Config,
    rendered: &Rendered,
    backend: &Backend,
    server: Option<&ApiServer>,
) {
    let backends: BTreeMap<String, Backend> =
        [(backend.name().to_string(), backend.clone())].into();
    let rss_before = memory("VmRSS");
    reset_peak_memory();
    let (c0, t0) = (cpu_time(), Instant::now());
    let observed: Observed = rt.block_on(observe::observe(
        config,
        rendered,
        &backends,
        &ObserveOptions::default(),
    ));
    let (c1, t1) = (cpu_time(), Instant::now());
    let plan = plan::plan(
        config,
        rendered,
        &observed,
        &PlanOptions::from_config(config),
    );
    let (c2, t2) = (cpu_time(), Instant::now());
    let peak = memory("VmHWM");
    let state = &observed.clusters[backend.name()];
    assert_eq!(state.error, None);
    assert_eq!(state.owned.len(), rendered.objects.len());
    assert!(
        !plan.has_changes() && plan.drift.is_empty() && plan.conflicts.is_empty(),
        "an unchanged repository plans no changes: {:?}",
        plan.summary
    );
    let s = |d: Duration| d.as_secs_f64();
    println!(
        "{label:<8}  observe {:6.2} s (cpu {:6.2} s)  plan {:6.2} s (cpu {:6.2} s)  total {:6.2} s  \
         requests {}  peak RSS {:7.0} MiB (before {:5.0} MiB)  No changes",
        s(t1 - t0),
        s(c1 - c0),
        s(t2 - t1),
        s(c2 - c1),
        s(t2 - t0),
        state.requests,
        peak,
        rss_before
    );
    if let Some(server) = server {
        println!(
            "{label:<8}  server requests by verb (discovery included): {:?}",
            server.counts_by_verb()
        );
    }
}

fn write_kubeconfig(dir: &Path, server: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: bench
  cluster:
    server: {server}
users:
- name: bench
  user:
    token: bench-token
contexts:
- name: bench
  context:
    cluster: bench
    user: bench
current-context: bench
"
    );
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}

/// Resets the peak resident set size of this process (Linux).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A memory figure of this process from /proc/self/status, in MiB.
fn memory(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// User + system CPU time of this process so far (Linux: /proc/self/stat, in clock ticks).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let total = ticks(11) + ticks(12);
    Duration::from_millis(total * 10)
}
