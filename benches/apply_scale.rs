//! Apply at scale over HTTP: N synthetic tenants applied from empty to the in-process
//! Kubernetes-compatible API server through a kubeconfig, then a one-tenant change.
//!
//! ```text
//! cargo bench --bench apply_scale -- [--tenants N] [--concurrency C]
//! ```
//!
//! Prints wall time, objects per second and requests of each phase, and the peak resident
//! memory of the process (which includes the API server and its store: both run in it).
//! The last phases run the `berth` binary itself (`apply --changed`, then `apply --tenant`)
//! as a separate process, so its own CPU time is measured apart from the server's.
//! Without `--bench` (as `cargo test --all-targets` runs it) it is a 20-tenant smoke run.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use berth::apply::{self, ApplyOptions};
use berth::cluster::{self, ClusterSettings};
use berth::observe::{self, ObserveOptions};
use berth::plan::{self, PlanOptions};
use berth::render::{self, TemplateSet};
use berth::spec::model::{ClusterTarget, Config};
use berth::store::ObjectStore;
use berth::{source, spec, synth};
use kube_emulator::ApiServer;

mod support;

fn main() {
    support::serve_launch();
    let args = support::Args::from_env();
    let tenants = args.number("--tenants", if args.smoke() { 20 } else { 10_000 });
    let concurrency = args.number("--concurrency", 16);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(tenants, concurrency));
}

fn load(repo: &std::path::Path, kubeconfig: &str) -> Config {
    let tree = source::read_dir(repo).expect("read");
    let mut config = spec::load_config(&tree)
        .config
        .expect("valid synthetic repo");
    config
        .clusters
        .get_mut("local")
        .expect("cluster local")
        .target = ClusterTarget::Kubeconfig {
        context: "bench".into(),
        path: Some(kubeconfig.to_string()),
    };
    config
}

async fn run(tenants: usize, concurrency: usize) {
    let server =
        ApiServer::start_background(ObjectStore::in_memory().expect("store")).expect("api server");
    // berth is measured, not the emulator's controllers: on a real cluster they run on other
    // machines, here they would share the two cores (nothing here waits on them).
    server.controllers().pause();
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    synth::generate_with(&repo, tenants, synth::Profile::from_env()).expect("generate");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig("bench")).expect("kubeconfig");
    let kubeconfig = kubeconfig.display().to_string();
    // The repository's own cluster points at the server too, for the berth binary.
    let platform = repo.join("platform.toml");
    let text = std::fs::read_to_string(&platform).expect("platform.toml");
    std::fs::write(
        &platform,
        text.replacen(
            "[clusters.local]\n",
            &format!("[clusters.local]\ncontext = \"bench\"\nkubeconfig = \"{kubeconfig}\"\n"),
            1,
        ),
    )
    .expect("platform.toml");
    let config = load(&repo, &kubeconfig);
    let rendered = render::render(&config, &TemplateSet::builtin()).expect("render");
    let mut settings = ClusterSettings::new(dir.path().join("state"));
    settings.request_timeout = Duration::from_secs(30);
    let backend = cluster::connect(&config.clusters["local"], &settings)
        .await
        .expect("connect");
    let backends = BTreeMap::from([("local".to_string(), backend)]);
    let mut opts = ApplyOptions::from_config(&config);
    opts.concurrency = concurrency;
    opts.tenant_concurrency = concurrency;
    opts.allow_mass_deletion = true;

    // Phase 1: plan and apply everything from empty.
    server.clear_log();
    let t0 = Instant::now();
    let observed =
        observe::observe(&config, &rendered, &backends, &ObserveOptions::default()).await;
    let planned = plan::plan(
        &config,
        &rendered,
        &observed,
        &PlanOptions::from_config(&config),
    );
    let t1 = Instant::now();
    // As `berth apply` does: record the applied revision and each tenant's inputs.
    opts.revision = Some("bench".into());
    opts.inputs = berth::pipeline::tenant_inputs(
        &render::input_digests(&config, &TemplateSet::builtin(), None),
        &rendered,
        &observed,
    );
    let set = apply::apply(&planned, &rendered, &backends, &opts, &|_| {}).await;
    let t2 = Instant::now();
    opts.inputs.clear();
    assert!(set.succeeded(), "apply failed: {:?}", set.failures().next());
    let objects = set.entries.len();
    let log = server.request_log();
    let patches = log.iter().filter(|r| r.method == "PATCH").count();
    println!("tenants:                     {tenants}");
    println!("objects:                     {objects}");
    println!(
        "plan from empty:             {:8.0} ms  ({} requests)",
        (t1 - t0).as_secs_f64() * 1000.0,
        log.len() - patches
    );
    println!(
        "apply from empty:            {:8.0} ms  ({:.0} objects/s, {patches} PATCH requests, concurrency {concurrency})",
        (t2 - t1).as_secs_f64() * 1000.0,
        objects as f64 / (t2 - t1).as_secs_f64()
    );

    // Phase 2: one tenant changes; plan the whole repo and apply that one change.
    let name = synth::tenant_name(tenants / 2);
    let path = repo.join(format!("tenants/{name}.toml"));
    let text = std::fs::read_to_string(&path).expect("tenant file");
    std::fs::write(&path, text.replacen("cost-center", "team", 1)).expect("edit");
    let config = load(&repo, &kubeconfig);
    server.clear_log();
    let t3 = Instant::now();
    let rendered = render::render(&config, &TemplateSet::builtin()).expect("render");
    let t4 = Instant::now();
    let observed =
        observe::observe(&config, &rendered, &backends, &ObserveOptions::default()).await;
    let t5 = Instant::now();
    let planned = plan::plan(
        &config,
        &rendered,
        &observed,
        &PlanOptions::from_config(&config),
    );
    let t6 = Instant::now();
    let set = apply::apply(&planned, &rendered, &backends, &opts, &|_| {}).await;
    let t7 = Instant::now();
    assert!(set.succeeded());
    let log = server.request_log();
    let writes = log.iter().filter(|r| r.method != "GET").count();
    println!(
        "one-tenant change:           {:8.0} ms  (render {:.0}, observe {:.0}, diff {:.0}, apply {:.0} ms; {} changes, {} requests of which {writes} writes)",
        (t7 - t3).as_secs_f64() * 1000.0,
        (t4 - t3).as_secs_f64() * 1000.0,
        (t5 - t4).as_secs_f64() * 1000.0,
        (t6 - t5).as_secs_f64() * 1000.0,
        (t7 - t6).as_secs_f64() * 1000.0,
        planned.changes.len(),
        log.len()
    );
    assert_eq!(
        writes,
        planned.changes.len() + 1,
        "only the changed objects are written, then the tenant's records"
    );

    // Phase 3: the same kind of change planned and applied with `--tenant` narrowing.
    let text = std::fs::read_to_string(&path).expect("tenant file");
    std::fs::write(&path, text.replacen("team", "owner", 1)).expect("edit");
    server.clear_log();
    let t8 = Instant::now();
    let config = load(&repo, &kubeconfig);
    // As `berth plan --tenant`: every spec validated above, only that tenant rendered.
    let mut scoped = config.clone();
    scoped.tenants.retain(|t| t.name == name);
    let rendered = render::render(&scoped, &TemplateSet::builtin()).expect("render");
    let scope: std::collections::BTreeSet<String> = [name.clone()].into();
    let observe_opts = ObserveOptions {
        tenants: Some(scope.clone()),
        ..ObserveOptions::default()
    };
    let observed = observe::observe(&config, &rendered, &backends, &observe_opts).await;
    let plan_opts = PlanOptions {
        tenants: Some(scope),
        ..PlanOptions::from_config(&config)
    };
    let planned = plan::plan(&config, &rendered, &observed, &plan_opts);
    let set = apply::apply(&planned, &rendered, &backends, &opts, &|_| {}).await;
    let t9 = Instant::now();
    assert!(set.succeeded());
    println!(
        "one-tenant change, --tenant: {:8.0} ms  ({} changes, {} requests)",
        (t9 - t8).as_secs_f64() * 1000.0,
        planned.changes.len(),
        server.request_log().len()
    );
    // Phases 4 and 5: the berth binary, a separate process, applies a one-tenant change with
    // `--changed` (no tenant named), then another with `--tenant`.
    let bin = env!("CARGO_BIN_EXE_berth");
    let state = dir.path().join("state");
    for (edit, flags) in [
        (("owner", "steward"), vec!["--changed"]),
        (("steward", "keeper"), vec!["--tenant", name.as_str()]),
    ] {
        let text = std::fs::read_to_string(&path).expect("tenant file");
        std::fs::write(&path, text.replacen(edit.0, edit.1, 1)).expect("edit");
        server.clear_log();
        let mut args: Vec<&std::ffi::OsStr> = vec!["apply".as_ref(), repo.as_os_str()];
        args.extend(flags.iter().map(std::ffi::OsStr::new));
        args.extend([
            "--auto-approve".as_ref(),
            "--state-dir".as_ref(),
            state.as_os_str(),
        ]);
        let run = support::run_child(bin.as_ref(), &args);
        assert!(
            run.code == Some(0),
            "berth apply {flags:?}: {}\n{}",
            run.stderr,
            run.stdout
        );
        assert!(
            run.stdout.contains("Apply complete!") && !run.stdout.contains("0 changed"),
            "{}",
            run.stdout
        );
        let log = server.request_log();
        let writes = log.iter().filter(|r| r.method != "GET").count();
        println!(
            "berth apply {:<22} {:6.0} ms wall, {:4.0} ms CPU of berth, peak RSS of berth {:4.0} MiB ({} requests of which {writes} writes)",
            flags.join(" "),
            run.wall.as_secs_f64() * 1000.0,
            run.cpu.as_secs_f64() * 1000.0,
            run.peak_rss_mib,
            log.len()
        );
    }
    println!(
        "peak memory (RSS, incl. server): {:6.0} MiB",
        support::peak_rss_mib()
    );
}
