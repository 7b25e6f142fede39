//! `deploy/`: the manifests that run the daemon in a cluster build with kustomize, pass the
//! official Kubernetes schemas, and grant exactly what berth needs.

mod support;

use std::path::Path;
use std::process::Command;

use berth::cluster::KindRef;
use serde_json::Value;

fn built() -> (String, Vec<Value>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("kubectl")
        .args(["kustomize"])
        .arg(root.join("deploy"))
        .output()
        .expect("kubectl is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    let docs = yaml
        .split("\n---\n")
        .map(|d| serde_norway::from_str::<Value>(d).unwrap())
        .collect();
    (yaml, docs)
}

#[test]
fn deploy_manifests_pass_official_kubernetes_schemas() {
    let (yaml, docs) = built();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &yaml).unwrap();
    let out = Command::new(support::kubernetes_validate())
        .args(["--strict", "-k", "1.35.0"])
        .arg(file.path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kubernetes-validate failed:\n{text}");
    assert_eq!(text.matches("passed").count(), docs.len(), "{text}");
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
    ] {
        assert!(kinds.contains(&kind), "no {kind} in deploy/: {kinds:?}");
    }
}

/// `networkpolicies.networking.k8s.io`-style resource name of a kind.
fn plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    match lower.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{lower}s"),
    }
}

fn grants(rules: &[Value], group: &str, resource: &str, verb: &str) -> bool {
    let has = |v: &Value, x: &str| {
        v.as_array()
            .is_some_and(|a| a.iter().any(|e| e == x || e == "*"))
    };
    rules.iter().any(|r| {
        has(&r["apiGroups"], group)
            && has(&r["resources"], resource)
            && has(&r["verbs"], verb)
            && r.get("resourceNames").is_none()
    })
}

#[test]
fn cluster_role_grants_every_managed_kind_and_nothing_wild() {
    let (_, docs) = built();
    let role = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .expect("a ClusterRole");
    let rules = role["rules"].as_array().unwrap();
    for k in KindRef::managed() {
        let resource = plural(&k.kind);
        // `create` too: a server-side apply that creates an object is authorized as create.
        for verb in ["get", "list", "create", "patch", "delete"] {
            assert!(
                grants(rules, k.group(), &resource, verb),
                "deploy/rbac.yaml does not grant {verb} on {resource} in group `{}`",
                k.group()
            );
        }
    }
    for r in rules {
        for field in ["apiGroups", "resources", "verbs"] {
            assert!(
                !r[field].as_array().into_iter().flatten().any(|v| v == "*"),
                "wildcard in {r}"
            );
        }
    }
    // Members are bound to the built-in roles, and only those may be bound.
    let bind = rules
        .iter()
        .find(|r| r["verbs"].as_array().unwrap().iter().any(|v| v == "bind"))
        .expect("a bind rule");
    assert_eq!(
        bind["resourceNames"],
        serde_json::json!(["admin", "edit", "view"])
    );
    // The dashboard reads pod usage from the metrics API, and nothing else of it.
    for verb in ["get", "list"] {
        assert!(
            grants(rules, "metrics.k8s.io", "pods", verb),
            "{verb} PodMetrics"
        );
    }
    assert!(!grants(rules, "metrics.k8s.io", "nodes", "list"));
    // Leases only in the daemon's namespace.
    assert!(!grants(rules, "coordination.k8s.io", "leases", "patch"));
    let lease_role = docs.iter().find(|d| d["kind"] == "Role").unwrap();
    assert_eq!(lease_role["metadata"]["namespace"], "berth-system");
}

/// A kubeconfig for `server` as the bearer of `token`, under context [`support::CONTEXT`].
fn kubeconfig_with_token(server: &kube_emulator::ApiServer, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: emulator\n  cluster:\n    server: {}\n    insecure-skip-tls-verify: true\nusers:\n- name: berth\n  user:\n    token: {token}\ncontexts:\n- name: {ctx}\n  context:\n    cluster: emulator\n    user: berth\ncurrent-context: {ctx}\n",
        server.https_url(),
        ctx = support::CONTEXT
    )
}

fn kubectl_as(kubeconfig: &Path, args: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("kubectl is installed")
}

/// An emulator with deploy/ applied by an administrator, and a copy of the examples whose
/// kubeconfig holds a token of berth's ServiceAccount taken with `kubectl create token`.
/// Returns the server, the examples' directory and the administrator's kubeconfig.
fn deployed() -> (
    kube_emulator::ApiServer,
    tempfile::TempDir,
    std::path::PathBuf,
) {
    use kube_emulator::ApiServer;
    let server =
        ApiServer::start_background(berth::store::ObjectStore::in_memory().unwrap()).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The ServiceAccount's kubeconfig is written once its token exists.
    let dir = support::examples_with_kubeconfig("");
    // Over TLS: kubectl sends a token only to an HTTPS server.
    let admin = dir.path().join("admin.kubeconfig");
    std::fs::write(
        &admin,
        server.tls_kubeconfig(support::CONTEXT, server.admin_token()),
    )
    .unwrap();
    let out = kubectl_as(
        &admin,
        &["apply", "-k", root.join("deploy").to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "kubectl apply -k deploy/: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kubectl_as(&admin, &["create", "token", "berth", "-n", "berth-system"]);
    assert!(
        out.status.success(),
        "kubectl create token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(!token.is_empty());
    std::fs::write(
        dir.path().join("kubeconfig"),
        kubeconfig_with_token(&server, &token),
    )
    .unwrap();
    (server, dir, admin)
}

/// berth as deploy/ runs it: an administrator applies deploy/ to the emulator (which
/// authorizes every request with RBAC), takes a token for berth's ServiceAccount with
/// `kubectl create token`, and berth plans, applies, plans again (No changes), and reads
/// drift, status and a tenant as that ServiceAccount, never as the administrator.
#[test]
fn berth_runs_as_its_service_account_with_the_shipped_rbac() {
    let (_server, dir, _admin) = deployed();
    let sa = dir.path().join("kubeconfig");
    // The ServiceAccount is not an administrator.
    let out = kubectl_as(&sa, &["auth", "can-i", "create", "clusterroles"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no");
    let out = kubectl_as(&sa, &["get", "nodes"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "User \"system:serviceaccount:berth-system:berth\" cannot list resource \"nodes\""
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let repo = dir.path().join("repo");
    let repo = repo.to_str().unwrap();
    let run = support::berth(&["apply", "--auto-approve", repo], dir.path());
    assert_eq!(
        run.code, 0,
        "apply as berth: {}\n{}",
        run.stdout, run.stderr
    );
    let run = support::berth(&["plan", "--detailed-exitcode", repo], dir.path());
    assert_eq!(
        run.code, 0,
        "plan after apply: {}\n{}",
        run.stdout, run.stderr
    );
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
    for args in [
        vec!["drift", repo],
        vec!["status", repo],
        vec!["show", "tenant", "acme", repo],
    ] {
        let run = support::berth(&args, dir.path());
        assert!(
            run.code == 0 || run.code == 2,
            "berth {args:?} as berth: {}\n{}",
            run.stdout,
            run.stderr
        );
        assert!(
            !run.stdout.contains("forbidden") && !run.stderr.contains("forbidden"),
            "berth {args:?}: {}\n{}",
            run.stdout,
            run.stderr
        );
    }
}

/// The ClusterRole of deploy/ without `jobs`: berth may not list Jobs. Only acme has one (its
/// restore): apply leaves acme out, says why, applies globex and initech, exits 1, and never
/// says "No changes"; once the role is whole again, the next apply completes acme.
#[test]
fn without_access_to_secrets_the_rest_is_applied_and_the_gap_is_reported_once() {
    let (_server, dir, admin) = deployed();
    let out = kubectl_as(&admin, &["get", "clusterrole", "berth", "-o", "json"]);
    assert!(out.status.success());
    let mut role: Value = serde_json::from_slice(&out.stdout).unwrap();
    for rule in role["rules"].as_array_mut().unwrap() {
        if let Some(resources) = rule["resources"].as_array_mut() {
            resources.retain(|r| r != "secrets");
        }
    }
    role["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    let file = dir.path().join("role.json");
    std::fs::write(&file, role.to_string()).unwrap();
    let out = kubectl_as(&admin, &["replace", "-f", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let repo = dir.path().join("repo");
    let repo = repo.to_str().unwrap();
    // Everything is applied; the Secrets berth could not list are reported once, and the
    // run does not claim what it could not see.
    let run = support::berth(&["apply", "--auto-approve", repo], dir.path());
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Resources: 40 added"), "{}", run.stdout);
    assert_eq!(
        run.stderr
            .matches("Secret.v1 on cluster `local` could not be listed")
            .count(),
        1,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("error: 1 kind could not be listed; the rest is applied"),
        "{}",
        run.stderr
    );
    let plan = support::berth(&["plan", repo], dir.path());
    assert_eq!(plan.code, 1, "{}\n{}", plan.stdout, plan.stderr);
    assert!(!plan.stdout.contains("No changes"), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("1 kind could not be listed (see above)"),
        "{}",
        plan.stdout
    );
    // acme's credentials Secret is missing, but unlisted Secrets prove nothing either way.
    assert!(
        !plan.stdout.contains("does not exist in namespace"),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_kind_berth_may_not_list_leaves_out_only_the_tenants_that_have_it() {
    let (_server, dir, admin) = deployed();
    let out = kubectl_as(&admin, &["get", "clusterrole", "berth", "-o", "json"]);
    assert!(out.status.success());
    let whole: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut role = whole.clone();
    for rule in role["rules"].as_array_mut().unwrap() {
        if let Some(resources) = rule["resources"].as_array_mut() {
            resources.retain(|r| r != "jobs");
        }
    }
    let replace = |role: &Value| {
        // Without a resourceVersion: an unconditional update.
        let mut role = role.clone();
        role["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("resourceVersion");
        let file = dir.path().join("role.json");
        std::fs::write(&file, role.to_string()).unwrap();
        let out = kubectl_as(&admin, &["replace", "-f", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    replace(&role);

    let repo = dir.path().join("repo");
    let repo = repo.to_str().unwrap();
    let run = support::berth(&["apply", "--auto-approve", repo], dir.path());
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        !all.contains("No changes") && !all.contains("match"),
        "{all}"
    );
    assert!(
        run.stdout.contains("Not observed (not planned):\n  ! tenant acme on cluster local: Job.batch/v1 could not be listed (see below)\n  ! Job.batch/v1 on cluster local could not be listed: cluster `local`: forbidden: berth may not list jobs.batch (403)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("forbidden: berth may not list jobs.batch (403); grant it the ClusterRole"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("error: 1 tenant could not be planned; the rest is applied"),
        "{}",
        run.stderr
    );
    // globex and initech are there; nothing of acme is.
    let namespaces = kubectl_as(
        &admin,
        &[
            "get",
            "namespaces",
            "-l",
            "app.kubernetes.io/managed-by=berth",
            "-o",
            "name",
        ],
    );
    let namespaces = String::from_utf8_lossy(&namespaces.stdout).into_owned();
    assert_eq!(
        namespaces.lines().collect::<Vec<_>>(),
        ["namespace/tenant-globex", "namespace/tenant-initech"],
        "{namespaces}"
    );
    // A plan as JSON says it is partial and which tenant is unknown.
    let json = support::berth(&["plan", "-o", "json", repo], dir.path());
    assert_eq!(json.code, 1);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["partial"], true);
    assert_eq!(doc["matches"], false);
    assert_eq!(doc["unobserved"][0]["tenant"], "acme");
    assert_eq!(doc["unlisted"][0]["kind"], "Job.batch/v1");
    // status says acme was not observed.
    let status = support::berth(&["status", repo], dir.path());
    assert!(status.stdout.contains("not observed"), "{}", status.stdout);

    // The role whole again: the next apply completes acme, and the plan after it matches.
    replace(&whole);
    let run = support::berth(&["apply", "--auto-approve", repo], dir.path());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let run = support::berth(&["plan", "--detailed-exitcode", repo], dir.path());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("No changes. The clusters match"),
        "{}",
        run.stdout
    );
}

/// The daemon as deploy/ runs it: as berth's ServiceAccount, with leader election in
/// `berth-system` (deploy/config.yaml). It takes the Lease, applies the examples, and its log
/// has no refusal.
#[test]
fn the_daemon_runs_as_its_service_account_and_holds_its_lease() {
    let (_server, dir, admin) = deployed();
    let repo = dir.path().join("repo");
    let state = dir.path().join("state");
    let d = support::Daemon::on_dir(
        &repo,
        &state,
        dir.path(),
        "1h",
        &[
            "--leader-elect",
            "--lease-cluster",
            "local",
            "--lease-namespace",
            "berth-system",
            "--identity",
            "berth-0",
        ],
    );
    let sync = d.wait(60, "the first sync", || {
        let s = d.status()["last_sync"].clone();
        (s["result"] == "applied").then_some(s)
    });
    assert_eq!(sync["added"], 40, "{sync}");
    let out = kubectl_as(
        &admin,
        &[
            "get",
            "lease",
            "berth",
            "-n",
            "berth-system",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "berth-0",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(d.status()["leader"], true);
    let log = d.log();
    assert!(!log.to_lowercase().contains("forbidden"), "{log}");
}

/// A tenant's database storage grows from 100Gi to 200Gi, applied as berth's ServiceAccount.
/// The plan says which volumes grow and that the StatefulSet is recreated around its running
/// pods. Where the StorageClass does not allow expansion, the apply stops at the first claim
/// and nothing else changes; once it does, every claim grows in place, the StatefulSet is
/// recreated (deleted with `propagationPolicy: Orphan`), the pods keep running (same uids),
/// and the next plan says No changes. A shrink is refused, even with --allow-replace.
#[test]
fn a_storage_growth_resizes_the_volumes_in_place_and_keeps_the_pods() {
    let (server, dir, admin) = deployed();
    let repo = dir.path().join("repo");
    let r = repo.to_str().unwrap();
    let run = support::berth(&["apply", "--auto-approve", "--wait", r], dir.path());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let store = server.store();
    let uid = |kind: &str, name: &str| {
        store.get(kind, "tenant-acme", name).unwrap()["metadata"]["uid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let size = |claim: &str| {
        store
            .get("PersistentVolumeClaim", "tenant-acme", claim)
            .unwrap()["spec"]["resources"]["requests"]["storage"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let set_before = uid("StatefulSet", "db");
    let pods_before: Vec<String> = (0..5).map(|i| uid("Pod", &format!("db-{i}"))).collect();
    assert_eq!(size("data-db-4"), "100Gi");

    let acme = repo.join("tenants/acme.toml");
    let text = std::fs::read_to_string(&acme).unwrap();
    std::fs::write(
        &acme,
        text.replace("storage = \"100Gi\"", "storage = \"200Gi\""),
    )
    .unwrap();
    let plan = support::berth(&["plan", r], dir.path());
    assert!(
        plan.stdout.contains(
            "# forces replacement: spec.volumeClaimTemplates is immutable: data-db-0 … \
             data-db-4 grow from 100Gi to 200Gi in place"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("# blocked: growing the volumes of StatefulSet/tenant-acme/db recreates the StatefulSet (its pods keep running, its volumes stay); pass --allow-replace"),
        "{}",
        plan.stdout
    );

    // The default StorageClass `standard` does not allow expansion.
    let grow = ["apply", "--auto-approve", "--allow-replace", "--wait", r];
    let refused = support::berth(&grow, dir.path());
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    let all = format!("{}{}", refused.stdout, refused.stderr);
    assert!(
        all.contains("cannot grow PersistentVolumeClaim/tenant-acme/data-db-")
            && all.contains("the storageclass that provisions the pvc must support resize"),
        "{all}"
    );
    assert_eq!(
        uid("StatefulSet", "db"),
        set_before,
        "the StatefulSet was touched"
    );
    assert_eq!(size("data-db-4"), "100Gi");

    let out = kubectl_as(
        &admin,
        &[
            "patch",
            "storageclass",
            "standard",
            "-p",
            r#"{"allowVolumeExpansion": true}"#,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let grown = support::berth(&grow, dir.path());
    assert_eq!(grown.code, 0, "{}\n{}", grown.stdout, grown.stderr);
    for i in 0..5 {
        assert_eq!(size(&format!("data-db-{i}")), "200Gi", "data-db-{i}");
    }
    // The resize is written by a field manager of its own, not berth's bookkeeping one.
    let claim = store
        .get("PersistentVolumeClaim", "tenant-acme", "data-db-0")
        .unwrap();
    let managers: Vec<&str> = claim["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"berth-resize"), "{managers:?}");
    assert!(!managers.contains(&"berth-records"), "{managers:?}");
    assert_ne!(uid("StatefulSet", "db"), set_before, "not recreated");
    let pods_after: Vec<String> = (0..5).map(|i| uid("Pod", &format!("db-{i}"))).collect();
    assert_eq!(pods_after, pods_before, "the pods were restarted");
    let set = store.get("StatefulSet", "tenant-acme", "db").unwrap();
    assert_eq!(set["status"]["readyReplicas"], 5, "{set}");
    let again = support::berth(&["plan", "--detailed-exitcode", r], dir.path());
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // Back to 150Gi: a volume cannot shrink, whatever the permission.
    let text = std::fs::read_to_string(&acme).unwrap();
    std::fs::write(
        &acme,
        text.replace("storage = \"200Gi\"", "storage = \"150Gi\""),
    )
    .unwrap();
    let shrink = support::berth(&grow, dir.path());
    assert!(
        shrink.stdout.contains(
            "# blocked: data-db-0 … data-db-4 would stay 200Gi: Kubernetes refuses a smaller \
             request than a claim has"
        ),
        "{}\n{}",
        shrink.stdout,
        shrink.stderr
    );
    assert_eq!(size("data-db-0"), "200Gi");
    assert_eq!(uid("Pod", "db-0"), pods_before[0]);
}

/// A tenant's database moves to another StorageClass: the plan says that the existing claims
/// keep theirs and only new replicas' volumes would get the new one, and blocks it; with
/// --allow-replace the StatefulSet is recreated (its pods deleted and created again, as the
/// plan says), the claims stay on their class, and the next plan says No changes.
#[test]
fn a_storage_class_change_keeps_the_existing_volumes_on_their_class() {
    let (server, dir, _admin) = deployed();
    let repo = dir.path().join("repo");
    let r = repo.to_str().unwrap();
    let run = support::berth(&["apply", "--auto-approve", "--wait", r], dir.path());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let store = server.store();
    let get = |kind: &str, name: &str| store.get(kind, "tenant-globex", name).unwrap();
    let pod_before = get("Pod", "db-0")["metadata"]["uid"].clone();

    let globex = repo.join("tenants/globex.toml");
    let text = std::fs::read_to_string(&globex).unwrap();
    assert!(text.contains("[database]"), "{text}");
    std::fs::write(
        &globex,
        text.replace("[database]\n", "[database]\nstorage_class = \"fast\"\n"),
    )
    .unwrap();
    let plan = support::berth(&["plan", r], dir.path());
    assert!(
        plan.stdout.contains(
            "# forces replacement: spec.volumeClaimTemplates is immutable: data-db-0, data-db-1, \
             data-db-2 keep StorageClass `standard` (a claim's class cannot change); only \
             volumes of new replicas would get StorageClass `fast`"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(
            "# blocked: move the data to volumes of the new class, or pass --allow-replace"
        ),
        "{}",
        plan.stdout
    );
    let run = support::berth(
        &["apply", "--auto-approve", "--allow-replace", "--wait", r],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_ne!(
        get("Pod", "db-0")["metadata"]["uid"],
        pod_before,
        "the pods go with the old StatefulSet"
    );
    for i in 0..3 {
        let claim = get("PersistentVolumeClaim", &format!("data-db-{i}"));
        assert_eq!(claim["spec"]["storageClassName"], "standard", "{claim}");
    }
    let sts = get("StatefulSet", "db");
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"], "fast",
        "{sts}"
    );
    let again = support::berth(&["plan", "--detailed-exitcode", r], dir.path());
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
}
