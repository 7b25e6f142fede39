//! The cluster backends and the observe stage against the test API server over real HTTP,
//! through real kubeconfig files, and with the real `kubectl` as an independent client.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use berth::cluster::{self, Backend, ClusterError, ClusterSettings, EmbeddedCluster, KindRef};
use berth::object::ObjectRef;
use berth::observe::{self, ObserveOptions};
use berth::render::{DesiredObject, Manifest, Rendered};
use berth::spec::model::{Cluster, ClusterTarget, Config, PolicyModel};
use berth::spec::types::DriftMode;
use berth::store::ObjectStore;
use kube_emulator::ApiServer;
use serde_json::{json, Value};

mod support;

use support::{write_kubeconfig, CONTEXT};

fn kube_cluster(kubeconfig: &Path, context: &str) -> Cluster {
    Cluster {
        name: "test".into(),
        target: ClusterTarget::Kubeconfig {
            context: context.into(),
            path: Some(kubeconfig.display().to_string()),
        },
    }
}

fn config(clusters: &[&Cluster]) -> Config {
    Config {
        platform_name: "test".into(),
        revision: None,
        clusters: clusters
            .iter()
            .map(|c| (c.name.clone(), (*c).clone()))
            .collect(),
        tenants: Vec::new(),
        common_labels: BTreeMap::new(),
        policy: PolicyModel {
            prune: true,
            drift: DriftMode::Report,
            max_deletions: 10,
            apply_concurrency: 4,
            allow_destroy: Vec::new(),
        },
        database_engine: "kwdb".into(),
        dashboard: Default::default(),
        pod_security: Default::default(),
    }
}

fn settings(dir: &Path) -> ClusterSettings {
    let mut s = ClusterSettings::new(dir.join("state"));
    s.request_timeout = Duration::from_secs(5);
    s
}

fn ns(name: &str) -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: None,
        name: name.into(),
    }
}

fn cm(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some(namespace.into()),
        name: name.into(),
    }
}

fn manifest(id: &ObjectRef, managed_by: Option<&str>) -> Value {
    let mut m = json!({
        "apiVersion": id.api_version,
        "kind": id.kind,
        "metadata": {"name": id.name, "labels": {"berth.io/tenant": "a"}},
    });
    if let Some(ns) = &id.namespace {
        m["metadata"]["namespace"] = json!(ns);
    }
    if let Some(by) = managed_by {
        m["metadata"]["labels"]["app.kubernetes.io/managed-by"] = json!(by);
    }
    if id.kind == "ConfigMap" {
        m["data"] = json!({"k": "v"});
    }
    m
}

fn desired(cluster: &str, ids: &[ObjectRef]) -> Rendered {
    Rendered {
        objects: ids
            .iter()
            .map(|id| DesiredObject {
                id: id.clone(),
                tenant: "a".into(),
                cluster: cluster.into(),
                source_file: "tenants/a.toml".into(),
                template: "configmap.yaml".into(),
                manifest: Manifest::from_value(&manifest(id, Some("berth"))),
            })
            .collect(),
    }
}

struct Fixture {
    server: ApiServer,
    dir: tempfile::TempDir,
    cluster: Cluster,
    backend: Backend,
}

async fn fixture() -> Fixture {
    let server =
        ApiServer::start_background(ObjectStore::in_memory().expect("store")).expect("api server");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let cluster = kube_cluster(&kubeconfig, CONTEXT);
    let backend = cluster::connect(&cluster, &settings(dir.path()))
        .await
        .expect("connect");
    Fixture {
        server,
        dir,
        cluster,
        backend,
    }
}

fn backends(list: &[&Backend]) -> BTreeMap<String, Backend> {
    list.iter()
        .map(|b| (b.name().to_string(), (*b).clone()))
        .collect()
}

/// A discovery request: `/api`, `/api/v1`, `/apis`, `/apis/{group}/{version}`.
fn is_discovery(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(
        parts.as_slice(),
        ["api"] | ["api", _] | ["apis"] | ["apis", _, _]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_pages_through_1200_owned_objects_without_per_object_gets() {
    let f = fixture().await;
    // Namespaces first (the server 404s namespaced objects in a missing namespace), through
    // the backend with server-side apply.
    for n in ["tenant-a", "tenant-b", "tenant-c"] {
        f.backend
            .apply(&ns(n), &manifest(&ns(n), Some("berth")), false, true)
            .await
            .expect("apply namespace");
    }
    for i in 0..2 {
        let id = cm("tenant-a", &format!("via-backend-{i}"));
        let live = f
            .backend
            .apply(&id, &manifest(&id, Some("berth")), false, true)
            .await
            .expect("apply configmap");
        assert_eq!(
            live.pointer("/metadata/managedFields/0/manager"),
            Some(&json!("berth"))
        );
    }
    // The bulk straight into the server's store.
    let mut owned_ids: Vec<ObjectRef> = ["tenant-a", "tenant-b", "tenant-c"]
        .into_iter()
        .map(ns)
        .chain((0..2).map(|i| cm("tenant-a", &format!("via-backend-{i}"))))
        .collect();
    let bulk: Vec<ObjectRef> = (0..1195)
        .map(|i| {
            cm(
                ["tenant-a", "tenant-b", "tenant-c"][i % 3],
                &format!("cm-{i:04}"),
            )
        })
        .collect();
    let bodies: Vec<Value> = bulk.iter().map(|id| manifest(id, Some("berth"))).collect();
    f.server
        .store()
        .apply_all(&bodies, "berth", true, false)
        .expect("bulk apply");
    owned_ids.extend(bulk);
    assert_eq!(owned_ids.len(), 1200);
    // Someone else's object under a name berth wants.
    let taken = cm("tenant-b", "taken");
    f.server
        .store()
        .apply_all(&[manifest(&taken, Some("Helm"))], "helm", true, false)
        .expect("unowned object");

    let fresh = cm("tenant-a", "fresh");
    let new_ns = ns("tenant-new");
    let in_new_ns = cm("tenant-new", "x");
    let mut wanted = owned_ids.clone();
    wanted.extend([taken.clone(), fresh.clone(), new_ns.clone(), in_new_ns]);

    f.server.clear_log();
    let observed = observe::observe(
        &config(&[&f.cluster]),
        &desired("test", &wanted),
        &backends(&[&f.backend]),
        &ObserveOptions {
            page_size: 500,
            ..Default::default()
        },
    )
    .await;
    let state = &observed.clusters["test"];
    assert_eq!(state.error, None);
    assert_eq!(state.owned.len(), 1200);
    let mut expected = owned_ids.clone();
    expected.sort();
    let got: Vec<ObjectRef> = state.owned.iter().map(|o| o.id.clone()).collect();
    assert_eq!(got, expected, "every owned object, sorted by identity");
    assert!(state.owned[0].manifest().pointer("/metadata/uid").is_some());
    assert!(
        state.owned[0]
            .manifest()
            .pointer("/metadata/managedFields")
            .is_none(),
        "managed fields are dropped by default"
    );
    assert_eq!(state.unowned.len(), 1);
    assert_eq!(state.unowned[0].id, taken);
    assert_eq!(state.unowned[0].managed_by.as_deref(), Some("Helm"));

    // Requests: LIST pages, discovery, and one GET per desired object that is not owned,
    // except those in a namespace that does not exist.
    let log = f.server.request_log();
    assert!(log.iter().all(|r| r.method == "GET"), "{log:#?}");
    let lists: Vec<_> = log.iter().filter(|r| r.query.contains("limit=")).collect();
    assert!(lists.iter().all(|r| r
        .query
        .contains("labelSelector=app.kubernetes.io%2Fmanaged-by%3Dberth")
        || r.query
            .contains("labelSelector=app.kubernetes.io/managed-by=berth")));
    let configmap_pages = lists
        .iter()
        .filter(|r| r.path == "/api/v1/configmaps")
        .count();
    assert_eq!(configmap_pages, 3, "1,197 ConfigMaps in pages of 500");
    assert_eq!(lists.len(), 3 + 12, "one page for each other kind");
    let gets: Vec<&str> = log
        .iter()
        .filter(|r| !r.query.contains("limit=") && !is_discovery(&r.path))
        .map(|r| r.path.as_str())
        .collect();
    let mut gets = gets;
    gets.sort();
    assert_eq!(
        gets,
        [
            "/api/v1/namespaces/tenant-a/configmaps/fresh",
            "/api/v1/namespaces/tenant-b/configmaps/taken",
            "/api/v1/namespaces/tenant-new",
        ]
    );
    assert_eq!(state.requests, 15 + 3);

    // A second observe reuses the discovery cache: LISTs and GETs only.
    f.server.clear_log();
    let again = observe::observe(
        &config(&[&f.cluster]),
        &desired("test", &wanted),
        &backends(&[&f.backend]),
        &ObserveOptions::default(),
    )
    .await;
    assert_eq!(again.clusters["test"].owned.len(), 1200);
    assert!(f
        .server
        .request_log()
        .iter()
        .all(|r| !is_discovery(&r.path)));
    drop(f.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_apply_get_delete_over_http() {
    let f = fixture().await;
    let b = &f.backend;
    let n = ns("tenant-a");
    let id = cm("tenant-a", "settings");

    // A namespaced object in a missing namespace: 404, one line.
    let err = b
        .apply(&id, &manifest(&id, Some("berth")), false, true)
        .await
        .expect_err("namespace missing");
    assert!(err.is_not_found(), "{err:?}");
    assert!(
        err.to_string().starts_with("cluster `test`: not found"),
        "{err}"
    );

    b.apply(&n, &manifest(&n, Some("berth")), false, true)
        .await
        .expect("namespace");
    // A dry-run create comes back without a resourceVersion and stores nothing.
    let dry = b
        .apply(&id, &manifest(&id, Some("berth")), true, true)
        .await
        .expect("dry run");
    assert_eq!(dry.pointer("/metadata/resourceVersion"), None);
    assert_eq!(b.get(&id).await.expect("get"), None);

    let live = b
        .apply(&id, &manifest(&id, Some("berth")), false, true)
        .await
        .expect("apply");
    assert_eq!(live["apiVersion"], "v1");
    assert_eq!(live["kind"], "ConfigMap");
    let got = b.get(&id).await.expect("get").expect("exists");
    assert_eq!(got.pointer("/metadata/uid"), live.pointer("/metadata/uid"));

    // Another manager takes a field: without force, a conflict naming the field.
    let mut theirs = manifest(&id, Some("berth"));
    theirs["data"]["k"] = json!("edited");
    f.server
        .store()
        .apply(
            "ConfigMap",
            "tenant-a",
            "settings",
            theirs,
            "kubectl",
            true,
            false,
        )
        .expect("other manager");
    let err = b
        .apply(&id, &manifest(&id, Some("berth")), false, false)
        .await
        .expect_err("conflict");
    match &err {
        ClusterError::Conflict { fields, object, .. } => {
            assert_eq!(object, "ConfigMap/tenant-a/settings");
            assert!(fields.iter().any(|f| f.contains("data")), "{fields:?}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(!err.to_string().contains('\n'));
    b.apply(&id, &manifest(&id, Some("berth")), false, true)
        .await
        .expect("force");

    // Invalid: a bad name.
    let bad = cm("tenant-a", "Not_A_Name");
    let err = b
        .apply(&bad, &manifest(&bad, Some("berth")), false, true)
        .await
        .expect_err("invalid");
    assert!(matches!(err, ClusterError::Invalid { .. }), "{err:?}");

    // 503 is transient, for apply's retries.
    f.server
        .faults()
        .fail_matching("PATCH", "configmaps", 1, 503);
    let err = b
        .apply(&id, &manifest(&id, Some("berth")), false, true)
        .await
        .expect_err("503");
    assert!(err.is_transient(), "{err:?}");

    b.delete(&id).await.expect("delete");
    assert_eq!(b.get(&id).await.expect("get"), None);
    b.delete(&id).await.expect("deleting what is gone is fine");
}

/// Reads that fail transiently (a 503 or 500, a 429, a dropped connection) are retried with
/// backoff: discovery and every LIST page, so that one bad answer does not make a cluster
/// unreadable. A 403 is not retried (next test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_of_discovery_and_lists_are_retried() {
    let f = fixture().await;
    let a = ns("tenant-a");
    f.backend
        .apply(&a, &manifest(&a, Some("berth")), false, true)
        .await
        .expect("apply");
    let faults = f.server.faults();
    faults.fail_matching("GET", "/api/v1", 1, 503);
    faults.fail_matching("GET", "namespaces", 2, 500);
    faults.fail_matching("GET", "statefulsets", 1, 429);
    faults.drop_next(1);
    f.server.clear_log();
    let observed = observe::observe(
        &config(&[&f.cluster]),
        &desired("test", std::slice::from_ref(&a)),
        &backends(&[&f.backend]),
        &ObserveOptions::default(),
    )
    .await;
    let state = &observed.clusters["test"];
    assert_eq!(state.error, None, "{state:?}");
    assert!(state.owned.iter().any(|o| o.id == a), "{:?}", state.owned);
    let lists = f
        .server
        .request_log()
        .iter()
        .filter(|q| q.path.ends_with("/namespaces") && q.query.contains("labelSelector"))
        .count();
    assert!(
        lists >= 3,
        "the Namespace LIST was retried: {lists} requests"
    );
}

/// A GET of a name berth wants that keeps failing past its retries leaves that object
/// unknown (and its tenant unplanned), not the cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_that_keeps_failing_leaves_only_that_object_unknown() {
    let f = fixture().await;
    let (a, b) = (ns("tenant-a"), ns("tenant-b"));
    f.server
        .faults()
        .fail_matching("GET", "/api/v1/namespaces/tenant-a", 100, 503);
    let observed = observe::observe(
        &config(&[&f.cluster]),
        &desired("test", &[a.clone(), b]),
        &backends(&[&f.backend]),
        &ObserveOptions::default(),
    )
    .await;
    let state = &observed.clusters["test"];
    assert_eq!(state.error, None, "{state:?}");
    assert!(state.gaps.kinds.is_empty());
    assert_eq!(state.gaps.objects.len(), 1, "{:?}", state.gaps);
    assert_eq!(state.gaps.objects[0].0, a);
    assert!(
        state.gaps.objects[0].1.contains("503"),
        "{:?}",
        state.gaps.objects
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_list_leaves_only_that_kind_of_that_cluster_unknown() {
    let f = fixture().await;
    let embedded_dir = tempfile::tempdir().expect("tempdir");
    let local =
        Backend::Embedded(EmbeddedCluster::open("local", embedded_dir.path()).expect("embedded"));
    local
        .apply(
            &ns("tenant-l"),
            &manifest(&ns("tenant-l"), Some("berth")),
            false,
            true,
        )
        .await
        .expect("embedded apply");
    f.server
        .faults()
        .fail_matching("GET", "statefulsets", 1, 403);
    let local_cluster = Cluster {
        name: "local".into(),
        target: ClusterTarget::Embedded,
    };
    let observed = observe::observe(
        &config(&[&f.cluster, &local_cluster]),
        &desired("test", &[ns("tenant-a")]),
        &backends(&[&f.backend, &local]),
        &ObserveOptions::default(),
    )
    .await;
    // Only that kind is unknown: the cluster was read, the rest of it is known.
    let test = &observed.clusters["test"];
    assert_eq!(test.error, None);
    assert_eq!(
        test.gaps.kinds,
        [(
            KindRef::new("apps/v1", "StatefulSet"),
            "cluster `test`: forbidden: berth may not list statefulsets.apps (403); grant it the ClusterRole in deploy/rbac.yaml".to_string()
        )]
    );
    assert!(test.gaps.objects.is_empty());
    let local = &observed.clusters["local"];
    assert_eq!(local.error, None);
    assert_eq!(local.owned.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_names_cluster_and_context() {
    let f = fixture().await;
    let url = f.server.url();
    f.server.shutdown();
    let observed = observe::observe(
        &config(&[&f.cluster]),
        &desired("test", &[ns("tenant-a")]),
        &backends(&[&f.backend]),
        &ObserveOptions::default(),
    )
    .await;
    let line = observed.clusters["test"].error.clone().expect("error");
    assert_eq!(
        line,
        format!(
            "cluster `test`: cannot reach {url} (connection refused); check that kubeconfig context `{CONTEXT}` points at a running cluster"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_credentials_are_unauthorized() {
    let f = fixture().await;
    f.server.faults().fail_next(1, 401);
    let observed = observe::observe(
        &config(&[&f.cluster]),
        &desired("test", &[]),
        &backends(&[&f.backend]),
        &ObserveOptions::default(),
    )
    .await;
    assert_eq!(
        observed.clusters["test"].error.as_deref(),
        Some(
            "cluster `test`: the credentials of context `test-ctx` were rejected (401 Unauthorized); log in again or refresh the token"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_context_is_a_config_error_and_other_clusters_are_observed() {
    let f = fixture().await;
    let kubeconfig = f.dir.path().join("kubeconfig");
    let mut wrong = kube_cluster(&kubeconfig, "no-such-ctx");
    wrong.name = "wrong".into();
    let cfg = config(&[&f.cluster, &wrong]);
    let connections = observe::connect_all(&cfg, &settings(f.dir.path())).await;
    let err = connections["wrong"].as_ref().expect_err("no such context");
    assert!(matches!(err, ClusterError::Config { .. }), "{err:?}");
    let line = err.to_string();
    assert!(
        line.starts_with("cluster `wrong`: cannot use context `no-such-ctx`"),
        "{line}"
    );
    assert!(line.contains("kubectl config get-contexts"), "{line}");

    let observed = observe::observe_connections(
        &cfg,
        &desired("test", &[ns("tenant-a")]),
        &connections,
        &ObserveOptions::default(),
    )
    .await;
    assert_eq!(
        observed.clusters["wrong"].error.as_deref(),
        Some(line.as_str())
    );
    assert_eq!(observed.clusters["test"].error, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_edits_are_seen_as_unowned_objects_and_drift() {
    let kubectl = Path::new("/usr/bin/kubectl");
    if !kubectl.exists() {
        eprintln!("skipped: kubectl is not installed at /usr/bin/kubectl");
        return;
    }
    let f = fixture().await;
    // kubectl goes over TLS with the administrator's token (it sends none over plain HTTP).
    let kubeconfig = f.dir.path().join("kubectl.kubeconfig");
    std::fs::write(
        &kubeconfig,
        f.server.tls_kubeconfig(CONTEXT, f.server.admin_token()),
    )
    .unwrap();
    let n = ns("tenant-a");
    let owned = cm("tenant-a", "owned");
    for id in [&n, &owned] {
        f.backend
            .apply(id, &manifest(id, Some("berth")), false, true)
            .await
            .expect("apply");
    }
    let run = |args: &[&str], stdin: Option<&str>| {
        use std::io::Write as _;
        let mut cmd = std::process::Command::new(kubectl);
        cmd.arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl");
        if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
            input.write_all(text.as_bytes()).expect("stdin");
        }
        let out = child.wait_with_output().expect("kubectl output");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // Someone creates an object under a name berth wants, by hand.
    run(
        &["apply", "--server-side", "--validate=false", "-f", "-"],
        Some(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: handmade\n  namespace: tenant-a\n  labels:\n    app: handmade\ndata:\n  k: by-hand\n",
        ),
    );
    // And edits an object berth owns.
    run(
        &[
            "-n",
            "tenant-a",
            "patch",
            "configmap",
            "owned",
            "--type=merge",
            "-p",
            r#"{"data":{"k":"drifted"}}"#,
        ],
        None,
    );
    let handmade = cm("tenant-a", "handmade");
    let observed = observe::observe(
        &config(&[&f.cluster]),
        &desired("test", &[n, owned.clone(), handmade.clone()]),
        &backends(&[&f.backend]),
        &ObserveOptions::default(),
    )
    .await;
    let state = &observed.clusters["test"];
    assert_eq!(state.error, None);
    assert_eq!(state.unowned.len(), 1);
    assert_eq!(state.unowned[0].id, handmade);
    assert_eq!(state.unowned[0].managed_by, None);
    assert_eq!(
        state.unowned[0].manifest.pointer("/data/k"),
        Some(&json!("by-hand"))
    );
    let live = state
        .owned
        .iter()
        .find(|o| o.id == owned)
        .expect("owned object");
    assert_eq!(live.manifest().pointer("/data/k"), Some(&json!("drifted")));
}

/// Figures for docs: observe of a synthetic repository, embedded and over HTTP. Run with
/// `cargo test --release --test observe -- --ignored --nocapture observe_scale`
/// (`BERTH_SCALE_TENANTS`, default 10,000).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "scale figures, slow in debug builds"]
async fn observe_scale() {
    use std::time::Instant;
    let n: usize = std::env::var("BERTH_SCALE_TENANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    berth::synth::generate(&repo, n).expect("synth");
    let tree = berth::source::read_dir(&repo).expect("read");
    let cfg = berth::spec::load_config(&tree).config.expect("valid");
    let templates = berth::render::TemplateSet::new(&tree.template_texts()).expect("templates");
    let rendered = berth::render::render(&cfg, &templates).expect("render");
    let objects = rendered.objects.len();

    let local = EmbeddedCluster::open("local", &dir.path().join("state")).expect("open");
    let bodies: Vec<Value> = rendered
        .objects
        .iter()
        .map(|d| d.manifest.to_value())
        .collect();
    let t = Instant::now();
    for chunk in bodies.chunks(5_000) {
        local
            .store()
            .apply_all(chunk, "berth", true, false)
            .expect("seed");
    }
    eprintln!(
        "seeded {objects} objects for {n} tenants in {:?}",
        t.elapsed()
    );
    drop(bodies);

    let backend = Backend::Embedded(local.clone());
    eprintln!("before observe: {}", peak_memory());
    reset_peak_memory();
    let t = Instant::now();
    let observed = observe::observe(
        &cfg,
        &rendered,
        &backends(&[&backend]),
        &ObserveOptions::default(),
    )
    .await;
    let state = &observed.clusters["local"];
    assert_eq!(state.error, None);
    assert_eq!(state.owned.len(), objects);
    eprintln!(
        "embedded: observed {} objects in {:?} with {} requests",
        state.owned.len(),
        t.elapsed(),
        state.requests
    );
    eprintln!("embedded: {}", peak_memory());
    drop(observed);

    let server = ApiServer::start_background(local.store().clone()).expect("server");
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let mut http_cluster = kube_cluster(&kubeconfig, CONTEXT);
    http_cluster.name = "local".into();
    let http = cluster::connect(&http_cluster, &settings(dir.path()))
        .await
        .expect("connect");
    reset_peak_memory();
    let t = Instant::now();
    let observed = observe::observe(
        &cfg,
        &rendered,
        &backends(&[&http]),
        &ObserveOptions::default(),
    )
    .await;
    let state = &observed.clusters["local"];
    assert_eq!(state.error, None);
    assert_eq!(state.owned.len(), objects);
    eprintln!(
        "http: observed {} objects in {:?} with {} requests ({:?} by verb, discovery included)",
        state.owned.len(),
        t.elapsed(),
        state.requests,
        server.counts_by_verb()
    );
    eprintln!("http (server in the same process): {}", peak_memory());
}

/// Resets the peak resident set size of this process (Linux).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Resident memory now and at its peak since [`reset_peak_memory`] (Linux).
fn peak_memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Many new tenants (a first apply): the Namespaces berth wants are found with one LIST of
/// all Namespaces, not a GET each; one of them taken by someone else is still found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_new_namespaces_are_looked_up_with_one_list_not_a_get_each() {
    let f = fixture().await;
    let taken = ns("tenant-007");
    f.server
        .store()
        .apply_all(&[manifest(&taken, Some("Helm"))], "helm", true, false)
        .expect("unowned namespace");
    let mut wanted: Vec<ObjectRef> = (0..40).map(|i| ns(&format!("tenant-{i:03}"))).collect();
    wanted.extend((0..40).map(|i| cm(&format!("tenant-{i:03}"), "settings")));

    f.server.clear_log();
    let observed = observe::observe(
        &config(&[&f.cluster]),
        &desired("test", &wanted),
        &backends(&[&f.backend]),
        &ObserveOptions::default(),
    )
    .await;
    let state = &observed.clusters["test"];
    assert_eq!(state.error, None);
    assert!(state.owned.is_empty());
    let unowned: Vec<&ObjectRef> = state.unowned.iter().map(|u| &u.id).collect();
    assert_eq!(unowned, [&taken], "the taken name is found");
    assert_eq!(state.unowned[0].managed_by.as_deref(), Some("Helm"));

    let log = f.server.request_log();
    let namespace_requests: Vec<String> = log
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/namespaces"))
        .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
        .collect();
    // One LIST of every Namespace (no selector); then only the ConfigMap in the one existing
    // namespace needs a GET.
    let unselected_lists = namespace_requests
        .iter()
        .filter(|r| r.starts_with("GET /api/v1/namespaces?") && !r.contains("managed-by"))
        .count();
    assert_eq!(unselected_lists, 1, "{namespace_requests:#?}");
    let gets: Vec<&String> = namespace_requests
        .iter()
        .filter(|r| !r.contains('?') || r.ends_with('?'))
        .collect();
    assert_eq!(
        gets,
        ["GET /api/v1/namespaces/tenant-007/configmaps/settings?"],
        "{namespace_requests:#?}"
    );
}

/// A real server compacts its history every few minutes; a LIST whose continue token
/// predates the compaction gets 410 Expired. berth starts that LIST again from its first
/// page rather than retrying the dead token (or taking the inconsistent remainder).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continue_token_expired_by_compaction_restarts_the_list_from_the_first_page() {
    let f = fixture().await;
    let names: Vec<ObjectRef> = (0..5).map(|i| ns(&format!("tenant-{i}"))).collect();
    for n in &names {
        f.backend
            .apply(n, &manifest(n, Some("berth")), false, true)
            .await
            .expect("apply");
    }
    f.server.clear_log();
    // After the first page of Namespaces: someone writes, then the server compacts.
    f.server.after_request("/api/v1/namespaces", |store| {
        store
            .apply(
                "ConfigMap",
                "default",
                "elsewhere",
                serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "elsewhere", "namespace": "default"}}),
                "someone",
                false,
                false,
            )
            .unwrap();
        store.compact().unwrap();
    });
    let opts = ObserveOptions {
        page_size: 2,
        ..ObserveOptions::default()
    };
    let observed = observe::observe(
        &config(&[&f.cluster]),
        &desired("test", &names),
        &backends(&[&f.backend]),
        &opts,
    )
    .await;
    let state = &observed.clusters["test"];
    assert_eq!(state.error, None, "{state:?}");
    for n in &names {
        let found = state.owned.iter().filter(|o| o.id == *n).count();
        assert_eq!(found, 1, "{n} observed once, not missed or doubled");
    }
    let log = f.server.request_log();
    let expired = log.iter().filter(|q| q.status == 410).count();
    assert_eq!(expired, 1, "one 410: {log:?}");
    let first_pages = log
        .iter()
        .filter(|q| q.path.ends_with("/namespaces") && !q.query.contains("continue"))
        .count();
    assert_eq!(
        first_pages, 2,
        "the Namespace LIST started again once: {log:?}"
    );
}

/// A real apiserver that is throttling answers 429 with a plain-text body and
/// `Retry-After: 1` (its max-in-flight filter). berth waits at least that long before the
/// next attempt instead of its own shorter backoff, and then reads the cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_list_is_retried_after_the_servers_retry_after() {
    let f = fixture().await;
    let a = ns("tenant-a");
    f.backend
        .apply(&a, &manifest(&a, Some("berth")), false, true)
        .await
        .expect("apply");
    f.server
        .faults()
        .fail_matching("GET", "/api/v1/namespaces", 1, 429);
    let started = std::time::Instant::now();
    let observed = observe::observe(
        &config(&[&f.cluster]),
        &desired("test", std::slice::from_ref(&a)),
        &backends(&[&f.backend]),
        &ObserveOptions::default(),
    )
    .await;
    let waited = started.elapsed();
    let state = &observed.clusters["test"];
    assert_eq!(state.error, None, "{state:?}");
    assert!(state.owned.iter().any(|o| o.id == a));
    assert!(
        waited >= Duration::from_secs(1),
        "the retry waited for Retry-After: {waited:?}"
    );
    let throttled = f
        .server
        .request_log()
        .iter()
        .filter(|q| q.status == 429)
        .count();
    assert_eq!(throttled, 1);
}
