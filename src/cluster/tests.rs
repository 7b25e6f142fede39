use serde_json::{json, Value};

use super::*;

fn cm_id(ns: &str, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some(ns.into()),
        name: name.into(),
    }
}

fn ns_id(name: &str) -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: None,
        name: name.into(),
    }
}

fn manifest(id: &ObjectRef, owned: bool) -> Value {
    let mut m = json!({
        "apiVersion": id.api_version,
        "kind": id.kind,
        "metadata": {"name": id.name, "labels": {"berth.io/tenant": "a"}},
    });
    if let Some(ns) = &id.namespace {
        m["metadata"]["namespace"] = json!(ns);
    }
    if owned {
        m["metadata"]["labels"][MANAGED_BY_LABEL] = json!(MANAGED_BY_VALUE);
    }
    if id.kind == "ConfigMap" {
        m["data"] = json!({"k": "v"});
    }
    m
}

fn embedded_cluster(dir: &Path) -> model::Cluster {
    let _ = dir;
    model::Cluster {
        name: "local".into(),
        target: ClusterTarget::Embedded,
    }
}

async fn seed(b: &Backend) {
    let ns = ns_id("tenant-a");
    b.apply(&ns, &manifest(&ns, true), false, true)
        .await
        .expect("namespace");
    for i in 0..5 {
        let id = cm_id("tenant-a", &format!("cm-{i}"));
        b.apply(&id, &manifest(&id, true), false, true)
            .await
            .expect("configmap");
    }
    let id = cm_id("tenant-a", "not-ours");
    b.apply(&id, &manifest(&id, false), false, true)
        .await
        .expect("unowned configmap");
}

#[tokio::test]
async fn embedded_lists_owned_objects_by_label_in_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = ClusterSettings::new(dir.path().to_path_buf());
    let b = connect(&embedded_cluster(dir.path()), &settings)
        .await
        .expect("connect");
    seed(&b).await;
    let kinds = KindRef::managed();
    let (objects, requests) = b.list_owned(&kinds, 2).await.expect("list");
    let names: Vec<String> = objects.iter().map(|o| o.id.to_string()).collect();
    assert_eq!(
        names,
        [
            "ConfigMap/tenant-a/cm-0",
            "ConfigMap/tenant-a/cm-1",
            "ConfigMap/tenant-a/cm-2",
            "ConfigMap/tenant-a/cm-3",
            "ConfigMap/tenant-a/cm-4",
            "Namespace/tenant-a",
        ]
    );
    // 5 ConfigMaps in pages of 2 = 3 pages; one page for each of the other 12 kinds.
    assert_eq!(requests, 3 + 12);
    let (_, requests) = b.list_owned(&kinds, 0).await.expect("list");
    assert_eq!(requests, 13, "page size 0 means the default");
}

#[tokio::test]
async fn embedded_get_apply_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = ClusterSettings::new(dir.path().to_path_buf());
    let b = connect(&embedded_cluster(dir.path()), &settings)
        .await
        .expect("connect");
    seed(&b).await;
    let id = cm_id("tenant-a", "cm-0");
    let live = b.get(&id).await.expect("get").expect("exists");
    assert_eq!(live.pointer("/data/k"), Some(&json!("v")));
    assert_eq!(
        live.pointer("/metadata/managedFields/0/manager"),
        Some(&json!("berth"))
    );
    assert_eq!(b.get(&cm_id("tenant-a", "nope")).await.expect("get"), None);
    assert_eq!(b.get(&cm_id("no-such-ns", "x")).await.expect("get"), None);

    // Dry run: the answer shows the change, the store does not.
    let mut changed = manifest(&id, true);
    changed["data"]["k"] = json!("w");
    let dry = b.apply(&id, &changed, true, true).await.expect("dry run");
    assert_eq!(dry.pointer("/data/k"), Some(&json!("w")));
    let live = b.get(&id).await.expect("get").expect("exists");
    assert_eq!(live.pointer("/data/k"), Some(&json!("v")));

    b.delete(&id).await.expect("delete");
    assert_eq!(b.get(&id).await.expect("get"), None);
    b.delete(&id)
        .await
        .expect("deleting a missing object is fine");

    // A namespaced object in a missing namespace is refused with a one-line error.
    let orphan = cm_id("missing", "x");
    let err = b
        .apply(&orphan, &manifest(&orphan, true), false, true)
        .await
        .expect_err("missing namespace");
    assert!(err.to_string().starts_with("cluster `local`"), "{err}");
    assert!(!err.to_string().contains('\n'));
}

#[tokio::test]
async fn embedded_field_conflict_is_a_conflict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = ClusterSettings::new(dir.path().to_path_buf());
    let Backend::Embedded(e) = connect(&embedded_cluster(dir.path()), &settings)
        .await
        .expect("connect")
    else {
        panic!("embedded expected");
    };
    let b = Backend::Embedded(e.clone());
    seed(&b).await;
    let id = cm_id("tenant-a", "cm-1");
    let mut theirs = manifest(&id, true);
    theirs["data"]["k"] = json!("kubectl");
    e.store()
        .apply(
            "ConfigMap",
            "tenant-a",
            "cm-1",
            theirs,
            "kubectl",
            true,
            false,
        )
        .expect("other manager");
    let err = b
        .apply(&id, &manifest(&id, true), false, false)
        .await
        .expect_err("conflict without force");
    assert!(matches!(err, ClusterError::Conflict { .. }), "{err:?}");
    assert!(!err.is_transient());
    b.apply(&id, &manifest(&id, true), false, true)
        .await
        .expect("force takes the field");
}

#[tokio::test]
async fn embedded_state_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = ClusterSettings::new(dir.path().join("state"));
    let cluster = embedded_cluster(dir.path());
    let before = {
        let b = connect(&cluster, &settings).await.expect("connect");
        seed(&b).await;
        b.get(&cm_id("tenant-a", "cm-3"))
            .await
            .expect("get")
            .expect("exists")
    };
    assert!(dir.path().join("state/local.sqlite3").exists());
    let b = connect(&cluster, &settings).await.expect("reopen");
    let after = b
        .get(&cm_id("tenant-a", "cm-3"))
        .await
        .expect("get")
        .expect("still there");
    for p in ["/metadata/uid", "/metadata/resourceVersion"] {
        assert!(before.pointer(p).is_some(), "{p}");
        assert_eq!(before.pointer(p), after.pointer(p), "{p}");
    }
    let (objects, _) = b.list_owned(&KindRef::managed(), 500).await.expect("list");
    assert_eq!(objects.len(), 6);
}

#[tokio::test]
async fn state_dir_inside_the_config_repo_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    let mut settings = ClusterSettings::new(repo.join(".state"));
    settings.config_dir = Some(repo.clone());
    let err = connect(&embedded_cluster(dir.path()), &settings)
        .await
        .expect_err("refused");
    let line = err.to_string();
    assert!(line.contains("inside the config repository"), "{line}");
    assert!(line.contains("--state-dir"), "{line}");
    assert!(!repo.join(".state").exists(), "nothing was created");

    settings.state_dir = dir.path().join("elsewhere");
    connect(&embedded_cluster(dir.path()), &settings)
        .await
        .expect("outside the repo is fine");
    assert!(check_state_dir("x", &repo.join("a/../b"), &repo).is_err());
    assert!(check_state_dir("x", &dir.path().join("repo2"), &repo).is_ok());
}

#[test]
fn kind_list_adds_unknown_kinds_in_wave_order() {
    let extra = ObjectRef {
        api_version: "example.com/v1".into(),
        kind: "Widget".into(),
        namespace: None,
        name: "w".into(),
    };
    let kinds = KindRef::to_list([&ns_id("a"), &cm_id("a", "b"), &extra]);
    assert_eq!(kinds.len(), 14);
    assert_eq!(kinds[0], KindRef::new("v1", "Namespace"));
    assert_eq!(kinds[13], KindRef::new("example.com/v1", "Widget"));
    assert_eq!(kinds[13].group(), "example.com");
    assert_eq!(KindRef::new("v1", "Pod").group(), "");
    assert_eq!(KindRef::new("v1", "Pod").version(), "v1");
}

#[test]
fn errors_are_one_line_and_name_the_cluster() {
    let e = ClusterError::Forbidden {
        cluster: "prod-eu".into(),
        verb: "list".into(),
        resource: "statefulsets.apps".into(),
        message: "x".into(),
    };
    assert_eq!(
        e.to_string(),
        "cluster `prod-eu`: forbidden: berth may not list statefulsets.apps (403); grant it the ClusterRole in deploy/rbac.yaml"
    );
    let e = ClusterError::Unreachable {
        cluster: "prod-eu".into(),
        server: "https://1.2.3.4:6443".into(),
        reason: "connection refused".into(),
        check: "check that kubeconfig context `prod-eu-1` points at a running cluster".into(),
    };
    assert_eq!(
        e.to_string(),
        "cluster `prod-eu`: cannot reach https://1.2.3.4:6443 (connection refused); check that kubeconfig context `prod-eu-1` points at a running cluster"
    );
    assert!(e.is_transient());
    assert_eq!(e.cluster(), "prod-eu");
}

#[tokio::test]
async fn a_failing_cluster_backs_off_without_being_contacted_then_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = ClusterSettings::new(dir.path().to_path_buf());
    let cluster = embedded_cluster(dir.path());
    let mut cache = BackendCache::default();
    cache
        .connect(&cluster, &settings)
        .await
        .expect("a first connection");
    let why = format!(
        "cluster `{}`: cannot reach https://10.0.0.1 (connection refused); check it",
        cluster.name
    );
    cache.failed(&cluster.name, &why);
    let err = cache
        .connect(&cluster, &settings)
        .await
        .expect_err("backing off");
    match &err {
        ClusterError::BackingOff {
            failures,
            next_in,
            last,
            ..
        } => {
            assert_eq!(*failures, 1);
            assert!(
                *next_in <= BackendCache::BASE_BACKOFF.as_secs(),
                "{next_in}"
            );
            assert_eq!(
                last,
                "cannot reach https://10.0.0.1 (connection refused); check it"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_transient(), "not retried within the run");
    assert!(err.to_string().contains("not contacted"), "{err}");
    // A failure reported while it backs off does not lengthen the wait.
    cache.failed(&cluster.name, &why);
    assert!(matches!(
        cache.connect(&cluster, &settings).await,
        Err(ClusterError::BackingOff { failures: 1, .. })
    ));
    // Observed again: no more backoff.
    cache.succeeded(&cluster.name);
    cache
        .connect(&cluster, &settings)
        .await
        .expect("connected again");
}

#[test]
fn a_label_selector_object_reads_as_the_api_server_reads_it() {
    let sel = json!({
        "matchLabels": {"app": "db", "berth.io/tenant": "acme"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": "zone", "operator": "NotIn", "values": ["x"]},
            {"key": "ready", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    });
    assert_eq!(
        super::selector_text(&sel).as_deref(),
        Some("app=db,berth.io/tenant=acme,tier in (a,b),zone notin (x),ready,!legacy")
    );
    assert_eq!(super::selector_text(&json!({})).as_deref(), Some(""));
    // What the server refuses is never widened into a broader listing.
    for bad in [
        json!({"matchExpressions": [{"key": "k", "operator": "Gt", "values": ["1"]}]}),
        json!({"matchExpressions": [{"key": "k", "operator": "In", "values": []}]}),
        json!({"matchLabels": {"k": 1}}),
    ] {
        assert_eq!(super::selector_text(&bad), None, "{bad}");
    }
    // The store parses what it writes.
    let text = super::selector_text(&sel).unwrap();
    crate::store::LabelSelector::parse(&text).unwrap();
}
