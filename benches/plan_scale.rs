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
//! Then it runs the `berth` binary itself, a separate process, with `berth plan
//! --detailed-exitcode` on the same repository and the same cluster: its wall time, its own CPU
//! time and its own peak resident memory (from `wait4`, so the API server's memory is not
//! counted). That is the whole command a user runs: read, validate, render, observe, diff and
//! print.
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it is a quick smoke test with
//! 20 tenants.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use berth::cluster::{self, Backend, ClusterSettings, EmbeddedCluster};
use berth::observe::{self, ObserveOptions, Observed};
use berth::plan::{self, PlanOptions};
use berth::render::{self, Rendered};
use berth::spec::model::{Cluster, ClusterTarget, Config};
use berth::store::ObjectStore;
use berth::{source, spec, synth};
use kube_emulator::ApiServer;
use serde_json::Value;

mod support;

use support::{cpu_time, memory, reset_peak_memory};

fn main() {
    support::serve_launch();
    let args = support::Args::from_env();
    let tenants = args.number("--tenants", if args.smoke() { 20 } else { 10_000 });
    let only = args.value("--only").map(str::to_string);
    // Repeats of each measurement (for profiling; each run is printed).
    let runs = args.number("--runs", 1);
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);

    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    synth::generate_with(&repo, tenants, synth::Profile::from_env()).expect("generate");
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
        for _ in 0..runs {
            binary("embedded", &repo, &tmp.path().join("state"), None);
        }
    }

    if run("http") {
        let store = ObjectStore::in_memory().expect("store");
        let t = Instant::now();
        seed(&store, &rendered);
        println!("http:     seeded in {:.1} s", t.elapsed().as_secs_f64());
        let server = ApiServer::start_background(store).expect("server");
        // berth is measured, not the emulator's controllers: on a real cluster they run on
        // other machines, here they would share the two cores (nothing here waits on them).
        server.controllers().pause();
        let kubeconfig = tmp.path().join("kubeconfig");
        std::fs::write(&kubeconfig, server.kubeconfig("bench")).expect("write kubeconfig");
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
        // The repository's own cluster points at the server, for the binary.
        let platform = repo.join("platform.toml");
        let text = std::fs::read_to_string(&platform).expect("platform.toml");
        let target = format!(
            "[clusters.local]\ncontext = \"bench\"\nkubeconfig = \"{}\"\n",
            kubeconfig.display()
        );
        std::fs::write(&platform, text.replacen("[clusters.local]\n", &target, 1))
            .expect("platform.toml");
        for _ in 0..runs {
            server.clear_log();
            binary("http", &repo, &tmp.path().join("state-http"), Some(&server));
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

/// Runs `berth plan --detailed-exitcode` (the release binary) and prints what it cost.
fn binary(label: &str, repo: &Path, state: &Path, server: Option<&ApiServer>) {
    let run = support::run_child(
        env!("CARGO_BIN_EXE_berth").as_ref(),
        &[
            "plan".as_ref(),
            repo.as_os_str(),
            "--detailed-exitcode".as_ref(),
            "--state-dir".as_ref(),
            state.as_os_str(),
        ],
    );
    assert!(
        run.code == Some(0) && run.stdout.contains("No changes."),
        "berth plan of an unchanged repository: exit {:?}\n{}\n{}",
        run.code,
        run.stderr,
        run.stdout
    );
    let requests = server.map_or(String::new(), |s| {
        format!("  requests {:?}", s.counts_by_verb())
    });
    println!(
        "{label:<8}  berth plan (binary): {:6.2} s wall  cpu {:6.2} s  peak RSS {:5.0} MiB{requests}  No changes",
        run.wall.as_secs_f64(),
        run.cpu.as_secs_f64(),
        run.peak_rss_mib
    );
}
