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
        for verb in ["get", "list", "patch", "delete"] {
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
