//! The controllers inside the emulator, driven through HTTP with the clock stepped by hand.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use kube_emulator::ApiServer;
use kube_store::ObjectStore;
use serde_json::{json, Value};

/// A server whose controllers only run when the test says so.
fn start() -> ApiServer {
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    server.controllers().pause();
    server
}

/// One request (one connection); the status code and the JSON body.
fn http(server: &ApiServer, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let (status, _, body) = exchange(server, method, path, body);
    (status, body)
}

/// One request (one connection); the status code, the head (status line and headers) and the
/// JSON body.
fn exchange(server: &ApiServer, method: &str, path: &str, body: &Value) -> (u16, String, Value) {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    // A PATCH naming a field manager is a server-side apply (JSON is YAML).
    let ct = match method {
        "PATCH" if path.contains("fieldManager=") => "application/apply-patch+yaml",
        "PATCH" => "application/merge-patch+json",
        _ => "application/json",
    };
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\nAccept: application/json\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n{text}",
        server.admin_token(),
        text.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body_text = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = rest;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&after[..n]);
            rest = &after[n + 2..];
        }
        out
    } else {
        rest.to_string()
    };
    (
        status,
        head.to_string(),
        serde_json::from_str(&body_text).unwrap_or(Value::Null),
    )
}

/// The raw head of an answer (status line and headers).
fn head(server: &ApiServer, method: &str, path: &str) -> String {
    let mut s = TcpStream::connect(server.addr()).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\nContent-Length: 0\r\n\r\n",
        server.admin_token()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    raw.split_once("\r\n\r\n").unwrap().0.to_string()
}

fn create(server: &ApiServer, path: &str, obj: Value) -> Value {
    let (code, body) = http(server, "POST", path, &obj);
    assert_eq!(code, 201, "{body}");
    body
}

fn namespace(server: &ApiServer, name: &str) {
    create(
        server,
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    );
}

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

fn settle(server: &ApiServer) {
    server.controllers().settle().unwrap();
}

#[test]
fn namespace_delete_terminates_then_contents_go_then_the_namespace() {
    let server = start();
    namespace(&server, "t");
    let (_, ns) = http(&server, "GET", "/api/v1/namespaces/t", &Value::Null);
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    create(&server, "/api/v1/namespaces/t/configmaps", configmap("a"));
    let mut held = configmap("held");
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    create(&server, "/api/v1/namespaces/t/configmaps", held);

    let (code, ns) = http(&server, "DELETE", "/api/v1/namespaces/t", &Value::Null);
    assert_eq!(code, 200);
    assert_eq!(ns["kind"], "Namespace");
    assert_eq!(ns["status"]["phase"], "Terminating");
    assert!(ns["metadata"]["deletionTimestamp"].is_string(), "{ns}");
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));

    settle(&server);
    // The plain config map is gone; the held one waits for its finalizer, and so does the
    // namespace, which says why.
    let (code, _) = http(
        &server,
        "GET",
        "/api/v1/namespaces/t/configmaps/a",
        &Value::Null,
    );
    assert_eq!(code, 404);
    let (_, held) = http(
        &server,
        "GET",
        "/api/v1/namespaces/t/configmaps/held",
        &Value::Null,
    );
    assert!(held["metadata"]["deletionTimestamp"].is_string(), "{held}");
    assert_eq!(held["metadata"]["deletionGracePeriodSeconds"], 0);
    let (_, ns) = http(&server, "GET", "/api/v1/namespaces/t", &Value::Null);
    let conditions = ns["status"]["conditions"].as_array().unwrap();
    let remaining = conditions
        .iter()
        .find(|c| c["type"] == "NamespaceContentRemaining")
        .unwrap();
    assert_eq!(remaining["status"], "True");
    assert_eq!(
        remaining["message"],
        "Some resources are remaining: configmaps. has 1 resource instances"
    );
    let fin = conditions
        .iter()
        .find(|c| c["type"] == "NamespaceFinalizersRemaining")
        .unwrap();
    assert_eq!(fin["message"], "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances");

    // A second DELETE while it terminates answers 200 with the namespace, unchanged.
    let (code, again) = http(&server, "DELETE", "/api/v1/namespaces/t", &Value::Null);
    assert_eq!(code, 200);
    assert_eq!(
        again["metadata"]["deletionTimestamp"],
        ns["metadata"]["deletionTimestamp"]
    );

    // Releasing the finalizer lets the config map, then the namespace, go.
    let (code, body) = http(
        &server,
        "PATCH",
        "/api/v1/namespaces/t/configmaps/held",
        &json!({"metadata": {"finalizers": null}}),
    );
    assert_eq!(code, 200, "{body}");
    let (code, _) = http(
        &server,
        "GET",
        "/api/v1/namespaces/t/configmaps/held",
        &Value::Null,
    );
    assert_eq!(code, 404);
    settle(&server);
    let (code, _) = http(&server, "GET", "/api/v1/namespaces/t", &Value::Null);
    assert_eq!(code, 404);
}

#[test]
fn create_into_a_terminating_namespace_is_forbidden_with_the_real_message() {
    let server = start();
    namespace(&server, "t");
    let mut held = configmap("held");
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    create(&server, "/api/v1/namespaces/t/configmaps", held);
    http(&server, "DELETE", "/api/v1/namespaces/t", &Value::Null);
    let (code, body) = http(
        &server,
        "POST",
        "/api/v1/namespaces/t/configmaps",
        &configmap("new"),
    );
    assert_eq!(code, 403);
    assert_eq!(body["reason"], "Forbidden");
    assert_eq!(
        body["message"],
        "configmaps \"new\" is forbidden: unable to create new content in namespace t because it is being terminated"
    );
    assert_eq!(
        body["details"]["causes"],
        json!([{"reason": "NamespaceTerminating", "message": "namespace t is being terminated", "field": "metadata.namespace"}])
    );
}

#[test]
fn create_into_a_missing_namespace_is_not_found() {
    let server = start();
    let (code, body) = http(
        &server,
        "POST",
        "/api/v1/namespaces/nowhere/configmaps",
        &configmap("a"),
    );
    assert_eq!(code, 404);
    assert_eq!(body["message"], "namespaces \"nowhere\" not found");
    assert_eq!(
        body["details"],
        json!({"name": "nowhere", "kind": "namespaces"})
    );
}

#[test]
fn the_default_namespace_may_not_be_deleted() {
    // Every cluster has it from the start.
    let server = start();
    let (code, body) = http(
        &server,
        "DELETE",
        "/api/v1/namespaces/default",
        &Value::Null,
    );
    assert_eq!(code, 403);
    assert_eq!(
        body["message"],
        "namespaces \"default\" is forbidden: this namespace may not be deleted"
    );
}

#[test]
fn no_new_finalizers_on_an_object_being_deleted() {
    let server = start();
    namespace(&server, "t");
    let mut held = configmap("held");
    held["metadata"]["finalizers"] = json!(["a.example/x"]);
    create(&server, "/api/v1/namespaces/t/configmaps", held);
    let (code, body) = http(
        &server,
        "DELETE",
        "/api/v1/namespaces/t/configmaps/held",
        &Value::Null,
    );
    assert_eq!(code, 200);
    assert_eq!(
        body["kind"], "ConfigMap",
        "pending deletion answers with the object: {body}"
    );
    let (code, body) = http(
        &server,
        "PATCH",
        "/api/v1/namespaces/t/configmaps/held",
        &json!({"metadata": {"finalizers": ["a.example/x", "b.example/y"]}}),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["details"]["causes"][0]["message"],
        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"b.example/y\"}"
    );
}

fn owned_configmap(name: &str, owner: &Value, block: bool) -> Value {
    let mut cm = configmap(name);
    cm["metadata"]["ownerReferences"] = json!([{
        "apiVersion": "v1", "kind": "ConfigMap",
        "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
        "blockOwnerDeletion": block,
    }]);
    cm
}

fn exists(server: &ApiServer, path: &str) -> bool {
    http(server, "GET", path, &Value::Null).0 == 200
}

#[test]
fn background_deletion_removes_the_owner_now_and_dependents_after() {
    let server = start();
    namespace(&server, "t");
    let owner = create(
        &server,
        "/api/v1/namespaces/t/configmaps",
        configmap("owner"),
    );
    create(
        &server,
        "/api/v1/namespaces/t/configmaps",
        owned_configmap("dep", &owner, false),
    );
    let (code, body) = http(
        &server,
        "DELETE",
        "/api/v1/namespaces/t/configmaps/owner",
        &json!({"propagationPolicy": "Background"}),
    );
    assert_eq!((code, body["kind"].as_str()), (200, Some("Status")));
    assert!(!exists(&server, "/api/v1/namespaces/t/configmaps/owner"));
    assert!(exists(&server, "/api/v1/namespaces/t/configmaps/dep"));
    settle(&server);
    assert!(!exists(&server, "/api/v1/namespaces/t/configmaps/dep"));
}

#[test]
fn foreground_deletion_keeps_the_owner_until_blocking_dependents_are_gone() {
    let server = start();
    namespace(&server, "t");
    let owner = create(
        &server,
        "/api/v1/namespaces/t/configmaps",
        configmap("owner"),
    );
    let mut dep = owned_configmap("dep", &owner, true);
    dep["metadata"]["finalizers"] = json!(["example.com/hold"]);
    create(&server, "/api/v1/namespaces/t/configmaps", dep);
    let (code, body) = http(
        &server,
        "DELETE",
        "/api/v1/namespaces/t/configmaps/owner",
        &json!({"propagationPolicy": "Foreground"}),
    );
    assert_eq!(code, 200);
    assert_eq!(
        body["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    assert!(body["metadata"]["deletionTimestamp"].is_string());
    settle(&server);
    let (_, dep) = http(
        &server,
        "GET",
        "/api/v1/namespaces/t/configmaps/dep",
        &Value::Null,
    );
    assert!(
        dep["metadata"]["deletionTimestamp"].is_string(),
        "the dependent is being deleted: {dep}"
    );
    assert!(
        exists(&server, "/api/v1/namespaces/t/configmaps/owner"),
        "the owner waits for its blocking dependent"
    );
    http(
        &server,
        "PATCH",
        "/api/v1/namespaces/t/configmaps/dep",
        &json!({"metadata": {"finalizers": null}}),
    );
    settle(&server);
    assert!(!exists(&server, "/api/v1/namespaces/t/configmaps/dep"));
    assert!(!exists(&server, "/api/v1/namespaces/t/configmaps/owner"));
}

#[test]
fn orphan_deletion_strips_the_owner_reference_and_keeps_dependents() {
    let server = start();
    namespace(&server, "t");
    let owner = create(
        &server,
        "/api/v1/namespaces/t/configmaps",
        configmap("owner"),
    );
    create(
        &server,
        "/api/v1/namespaces/t/configmaps",
        owned_configmap("dep", &owner, true),
    );
    let (code, body) = http(
        &server,
        "DELETE",
        "/api/v1/namespaces/t/configmaps/owner",
        &json!({"propagationPolicy": "Orphan"}),
    );
    assert_eq!(code, 200);
    assert_eq!(body["metadata"]["finalizers"], json!(["orphan"]));
    settle(&server);
    assert!(!exists(&server, "/api/v1/namespaces/t/configmaps/owner"));
    let (code, dep) = http(
        &server,
        "GET",
        "/api/v1/namespaces/t/configmaps/dep",
        &Value::Null,
    );
    assert_eq!(code, 200);
    assert!(dep["metadata"].get("ownerReferences").is_none(), "{dep}");
}

fn statefulset(replicas: i64, policy: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "replicas": replicas,
            "serviceName": "db",
            "podManagementPolicy": policy,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "pg", "image": "postgres:17"}]}
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
            }]
        }
    })
}

fn pod_names(server: &ApiServer) -> Vec<String> {
    let (_, list) = http(server, "GET", "/api/v1/namespaces/t/pods", &Value::Null);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn statefulset_ordered_ready_comes_up_one_by_one() {
    let server = start();
    server
        .controllers()
        .set_pod_ready_delay(Duration::from_secs(10));
    namespace(&server, "t");
    create(
        &server,
        "/apis/apps/v1/namespaces/t/statefulsets",
        statefulset(3, "OrderedReady"),
    );
    settle(&server);
    assert_eq!(pod_names(&server), ["db-0"]);
    server.controllers().advance(Duration::from_secs(10));
    settle(&server);
    assert_eq!(pod_names(&server), ["db-0", "db-1"]);
    server.controllers().advance(Duration::from_secs(10));
    settle(&server);
    assert_eq!(pod_names(&server), ["db-0", "db-1", "db-2"]);
    server.controllers().advance(Duration::from_secs(10));
    settle(&server);

    let (_, pod) = http(
        &server,
        "GET",
        "/api/v1/namespaces/t/pods/db-1",
        &Value::Null,
    );
    let labels = &pod["metadata"]["labels"];
    assert_eq!(labels["app"], "db");
    assert_eq!(labels["apps.kubernetes.io/pod-index"], "1");
    assert_eq!(labels["statefulset.kubernetes.io/pod-name"], "db-1");
    assert!(labels["controller-revision-hash"]
        .as_str()
        .unwrap()
        .starts_with("db-"));
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");
    assert_eq!(
        pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "data-db-1"
    );
    let (_, pvc) = http(
        &server,
        "GET",
        "/api/v1/namespaces/t/persistentvolumeclaims/data-db-1",
        &Value::Null,
    );
    assert_eq!(pvc["status"]["phase"], "Bound");
    assert_eq!(pvc["status"]["capacity"]["storage"], "1Gi");

    let (_, sts) = http(
        &server,
        "GET",
        "/apis/apps/v1/namespaces/t/statefulsets/db",
        &Value::Null,
    );
    let st = &sts["status"];
    assert_eq!(
        (
            st["replicas"].as_i64(),
            st["readyReplicas"].as_i64(),
            st["availableReplicas"].as_i64()
        ),
        (Some(3), Some(3), Some(3))
    );
    assert_eq!(st["observedGeneration"], 1);
    assert_eq!(st["currentRevision"], st["updateRevision"]);
    assert_eq!(st["collisionCount"], 0);
}

#[test]
fn statefulset_parallel_creates_all_pods_at_once() {
    let server = start();
    server
        .controllers()
        .set_pod_ready_delay(Duration::from_secs(10));
    namespace(&server, "t");
    create(
        &server,
        "/apis/apps/v1/namespaces/t/statefulsets",
        statefulset(3, "Parallel"),
    );
    settle(&server);
    assert_eq!(pod_names(&server), ["db-0", "db-1", "db-2"]);
}

#[test]
fn statefulset_scales_down_from_the_highest_ordinal_and_keeps_claims_by_default() {
    let server = start();
    namespace(&server, "t");
    create(
        &server,
        "/apis/apps/v1/namespaces/t/statefulsets",
        statefulset(3, "OrderedReady"),
    );
    settle(&server);
    http(
        &server,
        "PATCH",
        "/apis/apps/v1/namespaces/t/statefulsets/db",
        &json!({"spec": {"replicas": 1}}),
    );
    server.controllers().step().unwrap();
    assert_eq!(
        pod_names(&server),
        ["db-0", "db-1"],
        "one pod at a time, the highest first"
    );
    settle(&server);
    assert_eq!(pod_names(&server), ["db-0"]);
    assert!(
        exists(
            &server,
            "/api/v1/namespaces/t/persistentvolumeclaims/data-db-2"
        ),
        "Retain keeps the claim"
    );
}

#[test]
fn statefulset_claims_go_with_it_when_deleted_with_retention_delete() {
    let server = start();
    namespace(&server, "t");
    let mut sts = statefulset(2, "Parallel");
    sts["spec"]["persistentVolumeClaimRetentionPolicy"] =
        json!({"whenDeleted": "Delete", "whenScaled": "Retain"});
    create(&server, "/apis/apps/v1/namespaces/t/statefulsets", sts);
    settle(&server);
    http(
        &server,
        "DELETE",
        "/apis/apps/v1/namespaces/t/statefulsets/db",
        &Value::Null,
    );
    settle(&server);
    assert!(pod_names(&server).is_empty());
    assert!(!exists(
        &server,
        "/api/v1/namespaces/t/persistentvolumeclaims/data-db-0"
    ));
}

#[test]
fn statefulset_rolling_update_replaces_pods_from_the_highest_ordinal() {
    let server = start();
    namespace(&server, "t");
    create(
        &server,
        "/apis/apps/v1/namespaces/t/statefulsets",
        statefulset(3, "OrderedReady"),
    );
    settle(&server);
    let rev = |server: &ApiServer, pod: &str| {
        let (_, p) = http(
            server,
            "GET",
            &format!("/api/v1/namespaces/t/pods/{pod}"),
            &Value::Null,
        );
        p["metadata"]["labels"]["controller-revision-hash"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let old = rev(&server, "db-0");
    http(
        &server,
        "PATCH",
        "/apis/apps/v1/namespaces/t/statefulsets/db",
        &json!({"spec": {"template": {"spec": {"containers": [{"name": "pg", "image": "postgres:18"}]}}}}),
    );
    server.controllers().step().unwrap();
    assert!(
        !exists(&server, "/api/v1/namespaces/t/pods/db-2"),
        "db-2 goes first"
    );
    assert!(exists(&server, "/api/v1/namespaces/t/pods/db-1"));
    settle(&server);
    let new = rev(&server, "db-0");
    assert_ne!(old, new);
    assert_eq!(rev(&server, "db-2"), new);
    let (_, sts) = http(
        &server,
        "GET",
        "/apis/apps/v1/namespaces/t/statefulsets/db",
        &Value::Null,
    );
    assert_eq!(sts["status"]["currentRevision"], new);
    assert_eq!(sts["status"]["updatedReplicas"], 3);
    assert_eq!(sts["status"]["observedGeneration"], 2);
}

/// Deleted with `propagationPolicy: Orphan`, a StatefulSet leaves its pods running without an
/// owner; created again with a different claim template, it adopts them (same pods, same
/// uids, not restarted: the pod template and so the revision are unchanged).
#[test]
fn statefulset_created_again_adopts_the_pods_its_orphaned_predecessor_left() {
    let server = start();
    namespace(&server, "t");
    let sts = statefulset(2, "Parallel");
    create(
        &server,
        "/apis/apps/v1/namespaces/t/statefulsets",
        sts.clone(),
    );
    settle(&server);
    let pod = |server: &ApiServer, name: &str| {
        http(
            server,
            "GET",
            &format!("/api/v1/namespaces/t/pods/{name}"),
            &Value::Null,
        )
        .1
    };
    let before = pod(&server, "db-1");
    let (code, _) = http(
        &server,
        "DELETE",
        "/apis/apps/v1/namespaces/t/statefulsets/db",
        &json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan"}),
    );
    assert_eq!(code, 200);
    settle(&server);
    assert!(!exists(
        &server,
        "/apis/apps/v1/namespaces/t/statefulsets/db"
    ));
    let orphan = pod(&server, "db-1");
    assert_eq!(orphan["metadata"]["uid"], before["metadata"]["uid"]);
    assert!(
        orphan["metadata"].get("ownerReferences").is_none()
            || orphan["metadata"]["ownerReferences"] == json!([]),
        "{orphan}"
    );

    let mut again = sts;
    again["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] =
        json!("2Gi");
    create(&server, "/apis/apps/v1/namespaces/t/statefulsets", again);
    settle(&server);
    let (_, set) = http(
        &server,
        "GET",
        "/apis/apps/v1/namespaces/t/statefulsets/db",
        &Value::Null,
    );
    let adopted = pod(&server, "db-1");
    assert_eq!(
        adopted["metadata"]["uid"], before["metadata"]["uid"],
        "recreated"
    );
    assert_eq!(
        adopted["metadata"]["ownerReferences"][0]["uid"], set["metadata"]["uid"],
        "{adopted}"
    );
    assert_eq!(set["status"]["readyReplicas"], 2, "{set}");
    assert_eq!(set["status"]["updatedReplicas"], 2, "{set}");
}

#[test]
fn statefulset_releases_a_pod_that_stops_matching_and_adopts_by_match_expressions() {
    let server = start();
    namespace(&server, "t");
    let mut sts = statefulset(2, "Parallel");
    sts["spec"]["selector"] = json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["db", "db-canary"]}]});
    create(&server, "/apis/apps/v1/namespaces/t/statefulsets", sts);
    settle(&server);
    let store = server.store();
    let set_uid = store.get("StatefulSet", "t", "db").unwrap()["metadata"]["uid"].clone();
    let owners =
        |name: &str| store.get("Pod", "t", name).unwrap()["metadata"]["ownerReferences"].clone();
    assert_eq!(owners("db-1")[0]["uid"], set_uid);

    // Relabelled out of the selector: released, as `ClaimObject` releases it.
    store
        .merge_patch(
            "Pod",
            "t",
            "db-1",
            &json!({"metadata": {"labels": {"app": "debug"}}}),
            "test",
            false,
        )
        .unwrap();
    settle(&server);
    let released = owners("db-1");
    assert!(
        released.is_null() || released == json!([]),
        "still owned: {released}"
    );
    assert_eq!(owners("db-0")[0]["uid"], set_uid, "the matching pod stays");

    // An orphan the expression selects is adopted.
    store
        .create(
            "Pod",
            "t",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray", "labels": {"app": "db-canary"}}, "spec": {"containers": [{"name": "pg", "image": "postgres:17"}]}}),
            "test",
            false,
        )
        .unwrap();
    settle(&server);
    assert_eq!(owners("stray")[0]["uid"], set_uid, "{}", owners("stray"));
    assert_eq!(owners("stray")[0]["controller"], true);
}

fn controller_revisions(server: &ApiServer) -> Vec<(String, i64)> {
    let (code, list) = http(
        server,
        "GET",
        "/apis/apps/v1/namespaces/t/controllerrevisions",
        &Value::Null,
    );
    assert_eq!(code, 200, "{list}");
    let mut revs: Vec<(String, i64)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["metadata"]["name"].as_str().unwrap().to_string(),
                r["revision"].as_i64().unwrap(),
            )
        })
        .collect();
    revs.sort_by_key(|(_, n)| *n);
    revs
}

#[test]
fn statefulset_records_each_template_as_a_controller_revision_and_keeps_the_history_limit() {
    let server = start();
    namespace(&server, "t");
    let mut sts = statefulset(1, "OrderedReady");
    sts["spec"]["revisionHistoryLimit"] = json!(2);
    let sts = create(&server, "/apis/apps/v1/namespaces/t/statefulsets", sts);
    settle(&server);
    let revs = controller_revisions(&server);
    assert_eq!(revs.len(), 1, "{revs:?}");
    let (first, number) = &revs[0];
    assert_eq!(*number, 1);
    assert!(first.starts_with("db-"), "{first}");
    let (_, rev) = http(
        &server,
        "GET",
        &format!("/apis/apps/v1/namespaces/t/controllerrevisions/{first}"),
        &Value::Null,
    );
    assert_eq!(rev["metadata"]["labels"]["app"], "db");
    assert_eq!(
        format!(
            "db-{}",
            rev["metadata"]["labels"]["controller.kubernetes.io/hash"]
                .as_str()
                .unwrap()
        ),
        *first
    );
    assert_eq!(
        rev["metadata"]["ownerReferences"],
        json!([{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": sts["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}])
    );
    assert_eq!(rev["data"]["spec"]["template"]["$patch"], "replace");
    assert_eq!(
        rev["data"]["spec"]["template"]["spec"]["containers"][0]["image"],
        "postgres:17"
    );
    let (_, pod) = http(
        &server,
        "GET",
        "/api/v1/namespaces/t/pods/db-0",
        &Value::Null,
    );
    assert_eq!(
        pod["metadata"]["labels"]["controller-revision-hash"],
        *first
    );
    let (_, got) = http(
        &server,
        "GET",
        "/apis/apps/v1/namespaces/t/statefulsets/db",
        &Value::Null,
    );
    assert_eq!(
        (
            got["status"]["currentRevision"].clone(),
            got["status"]["updateRevision"].clone()
        ),
        (json!(first), json!(first))
    );

    // Each new template is a new revision; going back to an old one renumbers it.
    let image = |server: &ApiServer, image: &str| {
        let (code, body) = http(
            server,
            "PATCH",
            "/apis/apps/v1/namespaces/t/statefulsets/db",
            &json!({"spec": {"template": {"spec": {"containers": [{"name": "pg", "image": image}]}}}}),
        );
        assert_eq!(code, 200, "{body}");
        settle(server);
    };
    image(&server, "postgres:18");
    let revs = controller_revisions(&server);
    assert_eq!(revs.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [1, 2]);
    let second = revs[1].0.clone();
    let (_, got) = http(
        &server,
        "GET",
        "/apis/apps/v1/namespaces/t/statefulsets/db",
        &Value::Null,
    );
    assert_eq!(got["status"]["updateRevision"], second.as_str());
    assert_eq!(got["status"]["currentRevision"], second.as_str());
    image(&server, "postgres:17");
    let revs = controller_revisions(&server);
    assert_eq!(revs, [(second.clone(), 2), (first.clone(), 3)]);

    // revisionHistoryLimit 2: past the current revision, two old ones are kept.
    image(&server, "postgres:19");
    image(&server, "postgres:20");
    let revs = controller_revisions(&server);
    assert_eq!(revs.len(), 3, "{revs:?}");
    assert_eq!(revs.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [3, 4, 5]);
    assert!(!revs.iter().any(|(n, _)| *n == second));

    // They go with the set.
    http(
        &server,
        "DELETE",
        "/apis/apps/v1/namespaces/t/statefulsets/db",
        &Value::Null,
    );
    settle(&server);
    assert!(controller_revisions(&server).is_empty());
}

#[test]
fn pvc_shrink_is_refused() {
    let server = start();
    namespace(&server, "t");
    create(
        &server,
        "/api/v1/namespaces/t/persistentvolumeclaims",
        json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}
        }),
    );
    settle(&server);
    let (code, body) = http(
        &server,
        "PATCH",
        "/api/v1/namespaces/t/persistentvolumeclaims/data",
        &json!({"spec": {"resources": {"requests": {"storage": "1Gi"}}}}),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["details"]["causes"],
        json!([{
            "reason": "FieldValueForbidden",
            "message": "Forbidden: field can not be less than previous value",
            "field": "spec.resources.requests.storage"
        }])
    );
}

fn claim(name: &str, class: Option<&str>, storage: &str) -> Value {
    let mut c = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}
    });
    if let Some(class) = class {
        c["spec"]["storageClassName"] = json!(class);
    }
    c
}

fn storage_class(name: &str, expandable: Option<bool>, default: bool) -> Value {
    let mut c = json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": name}, "provisioner": "example.com/disks"
    });
    if let Some(e) = expandable {
        c["allowVolumeExpansion"] = json!(e);
    }
    if default {
        c["metadata"]["annotations"] =
            json!({"storageclass.kubernetes.io/is-default-class": "true"});
    }
    c
}

fn grow(server: &ApiServer, claim: &str, storage: &str) -> (u16, Value) {
    http(
        server,
        "PATCH",
        &format!("/api/v1/namespaces/t/persistentvolumeclaims/{claim}"),
        &json!({"spec": {"resources": {"requests": {"storage": storage}}}}),
    )
}

#[test]
fn a_new_cluster_has_the_default_storage_class_standard_without_volume_expansion() {
    let server = start();
    let (code, class) = http(
        &server,
        "GET",
        "/apis/storage.k8s.io/v1/storageclasses/standard",
        &Value::Null,
    );
    assert_eq!(code, 200, "{class}");
    assert_eq!(
        class["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"],
        "true"
    );
    assert_eq!(class["provisioner"], "k8s.io/minikube-hostpath");
    assert_eq!(class["reclaimPolicy"], "Delete");
    assert_eq!(class["volumeBindingMode"], "Immediate");
    assert!(class.get("allowVolumeExpansion").is_none(), "{class}");
    let (_, list) = http(&server, "GET", "/apis/storage.k8s.io/v1", &Value::Null);
    let sc = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "storageclasses")
        .cloned()
        .unwrap();
    assert_eq!(
        (sc["namespaced"].clone(), sc["shortNames"].clone()),
        (json!(false), json!(["sc"]))
    );
}

#[test]
fn default_storage_class_fills_in_the_class_of_a_new_claim_without_one() {
    let server = start();
    namespace(&server, "t");
    let c = create(
        &server,
        "/api/v1/namespaces/t/persistentvolumeclaims",
        claim("a", None, "1Gi"),
    );
    assert_eq!(c["spec"]["storageClassName"], "standard");
    // An empty class asks for none, and a named one is kept.
    let c = create(
        &server,
        "/api/v1/namespaces/t/persistentvolumeclaims",
        claim("b", Some(""), "1Gi"),
    );
    assert_eq!(c["spec"]["storageClassName"], "");
    let c = create(
        &server,
        "/api/v1/namespaces/t/persistentvolumeclaims",
        claim("c", Some("fast"), "1Gi"),
    );
    assert_eq!(c["spec"]["storageClassName"], "fast");
    // Of two defaults the newest, then the first by name: `aaa` either way.
    create(
        &server,
        "/apis/storage.k8s.io/v1/storageclasses",
        storage_class("aaa", None, true),
    );
    let c = create(
        &server,
        "/api/v1/namespaces/t/persistentvolumeclaims",
        claim("d", None, "1Gi"),
    );
    assert_eq!(c["spec"]["storageClassName"], "aaa");
    // Without a default the claim has no class.
    for name in ["aaa", "standard"] {
        let (code, _) = http(
            &server,
            "DELETE",
            &format!("/apis/storage.k8s.io/v1/storageclasses/{name}"),
            &Value::Null,
        );
        assert_eq!(code, 200);
    }
    let c = create(
        &server,
        "/api/v1/namespaces/t/persistentvolumeclaims",
        claim("e", None, "1Gi"),
    );
    assert!(c["spec"].get("storageClassName").is_none(), "{c}");
    // The StatefulSet controller's claims are admitted alike.
    create(
        &server,
        "/apis/storage.k8s.io/v1/storageclasses",
        storage_class("ssd", None, true),
    );
    create(
        &server,
        "/apis/apps/v1/namespaces/t/statefulsets",
        statefulset(1, "OrderedReady"),
    );
    settle(&server);
    let (_, c) = http(
        &server,
        "GET",
        "/api/v1/namespaces/t/persistentvolumeclaims/data-db-0",
        &Value::Null,
    );
    assert_eq!(c["spec"]["storageClassName"], "ssd");
}

#[test]
fn growing_a_bound_claim_needs_a_storage_class_that_allows_volume_expansion() {
    let server = start();
    namespace(&server, "t");
    create(
        &server,
        "/apis/storage.k8s.io/v1/storageclasses",
        storage_class("grows", Some(true), false),
    );
    create(
        &server,
        "/apis/storage.k8s.io/v1/storageclasses",
        storage_class("fixed", Some(false), false),
    );
    for (name, class) in [
        ("std", None),
        ("fixed", Some("fixed")),
        ("gone", Some("missing")),
        ("grows", Some("grows")),
    ] {
        create(
            &server,
            "/api/v1/namespaces/t/persistentvolumeclaims",
            claim(name, class, "1Gi"),
        );
    }
    settle(&server);
    for name in ["std", "fixed", "gone"] {
        let (code, body) = grow(&server, name, "2Gi");
        assert_eq!(code, 403, "{body}");
        assert_eq!(
            body,
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("persistentvolumeclaims \"{name}\" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"),
                "reason": "Forbidden",
                "details": {"name": name, "group": "", "kind": "persistentvolumeclaims"},
                "code": 403
            })
        );
    }
    let (_, c) = http(
        &server,
        "GET",
        "/api/v1/namespaces/t/persistentvolumeclaims/std",
        &Value::Null,
    );
    assert_eq!(c["spec"]["resources"]["requests"]["storage"], "1Gi");
    // A dry run is admitted too; the same size, or labels, are no growth.
    let (code, _) = http(
        &server,
        "PATCH",
        "/api/v1/namespaces/t/persistentvolumeclaims/std?dryRun=All",
        &json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}}),
    );
    assert_eq!(code, 403);
    let (code, body) = grow(&server, "std", "1024Mi");
    assert_eq!(code, 200, "{body}");
    // Server-side apply and PUT are admitted like a merge patch.
    let (code, body) = http(
        &server,
        "PATCH",
        "/api/v1/namespaces/t/persistentvolumeclaims/fixed?fieldManager=berth&force=true",
        &claim("fixed", Some("fixed"), "3Gi"),
    );
    assert_eq!(code, 403, "{body}");
    let (_, mut c) = http(
        &server,
        "GET",
        "/api/v1/namespaces/t/persistentvolumeclaims/fixed",
        &Value::Null,
    );
    c["spec"]["resources"]["requests"]["storage"] = json!("3Gi");
    let (code, body) = http(
        &server,
        "PUT",
        "/api/v1/namespaces/t/persistentvolumeclaims/fixed",
        &c,
    );
    assert_eq!(code, 403, "{body}");
    // A class that allows it: the claim grows.
    let (code, body) = grow(&server, "grows", "2Gi");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["spec"]["resources"]["requests"]["storage"], "2Gi");
}

#[test]
fn changing_the_size_of_an_unbound_claim_is_invalid() {
    let server = start();
    namespace(&server, "t");
    create(
        &server,
        "/apis/storage.k8s.io/v1/storageclasses",
        storage_class("grows", Some(true), false),
    );
    create(
        &server,
        "/api/v1/namespaces/t/persistentvolumeclaims",
        claim("data", Some("grows"), "1Gi"),
    );
    let (code, body) = grow(&server, "data", "2Gi");
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["message"],
        "PersistentVolumeClaim \"data\" is invalid: spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
    );
}

#[test]
fn storage_class_provisioner_parameters_and_policies_are_immutable() {
    let server = start();
    create(
        &server,
        "/apis/storage.k8s.io/v1/storageclasses",
        storage_class("fast", None, false),
    );
    let (code, body) = http(
        &server,
        "PATCH",
        "/apis/storage.k8s.io/v1/storageclasses/fast",
        &json!({"provisioner": "other.example.com", "parameters": {"type": "ssd"}, "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"}),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["message"],
        "StorageClass.storage.k8s.io \"fast\" is invalid: [parameters: Forbidden: updates to parameters are forbidden., provisioner: Forbidden: updates to provisioner are forbidden., reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden., volumeBindingMode: Invalid value: \"WaitForFirstConsumer\": field is immutable]"
    );
    // allowVolumeExpansion may change.
    let (code, body) = http(
        &server,
        "PATCH",
        "/apis/storage.k8s.io/v1/storageclasses/fast",
        &json!({"allowVolumeExpansion": true}),
    );
    assert_eq!(code, 200, "{body}");
    let (code, body) = http(
        &server,
        "POST",
        "/apis/storage.k8s.io/v1/storageclasses",
        &json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "none"}}),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["message"],
        "StorageClass.storage.k8s.io \"none\" is invalid: provisioner: Required value"
    );
}

#[test]
fn controllers_run_by_themselves_when_not_paused() {
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    namespace(&server, "t");
    create(&server, "/api/v1/namespaces/t/configmaps", configmap("a"));
    http(&server, "DELETE", "/api/v1/namespaces/t", &Value::Null);
    for _ in 0..200 {
        if !exists(&server, "/api/v1/namespaces/t") {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the namespace was not deleted within 2 s");
}

fn job(backoff_limit: i64) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "migrate"},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "busybox"}]}}
        }
    })
}

fn job_pods(server: &ApiServer) -> Vec<Value> {
    let (_, list) = http(
        server,
        "GET",
        "/api/v1/namespaces/t/pods?labelSelector=job-name%3Dmigrate",
        &Value::Null,
    );
    list["items"].as_array().unwrap().clone()
}

fn condition_types(job: &Value) -> Vec<String> {
    job["status"]["conditions"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| c["type"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn job_pod_success_gives_success_criteria_met_then_complete() {
    let server = start();
    namespace(&server, "t");
    create(&server, "/apis/batch/v1/namespaces/t/jobs", job(6));
    settle(&server);
    let pods = job_pods(&server);
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    assert_eq!(
        pod["metadata"]["finalizers"],
        json!(["batch.kubernetes.io/job-tracking"])
    );
    assert_eq!(
        pod["metadata"]["labels"]["batch.kubernetes.io/job-name"],
        "migrate"
    );
    let name = pod["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("migrate-"), "{name}");
    let (_, j) = http(
        &server,
        "GET",
        "/apis/batch/v1/namespaces/t/jobs/migrate",
        &Value::Null,
    );
    assert_eq!(j["status"]["active"], 1);
    assert_eq!(j["status"]["ready"], 1);

    server.controllers().finish_pod("t", name, true).unwrap();
    settle(&server);
    let (_, j) = http(
        &server,
        "GET",
        "/apis/batch/v1/namespaces/t/jobs/migrate",
        &Value::Null,
    );
    assert_eq!(condition_types(&j), ["SuccessCriteriaMet", "Complete"]);
    assert_eq!(j["status"]["succeeded"], 1);
    assert!(j["status"].get("active").is_none());
    assert!(j["status"]["completionTime"].is_string());
    let (_, p) = http(
        &server,
        "GET",
        &format!("/api/v1/namespaces/t/pods/{name}"),
        &Value::Null,
    );
    assert!(
        p["metadata"].get("finalizers").is_none(),
        "the tracking finalizer goes once counted: {p}"
    );
}

#[test]
fn job_pod_failure_past_the_backoff_limit_gives_the_failed_condition() {
    let server = start();
    namespace(&server, "t");
    create(&server, "/apis/batch/v1/namespaces/t/jobs", job(1));
    settle(&server);
    let first = job_pods(&server)[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    server.controllers().finish_pod("t", &first, false).unwrap();
    settle(&server);
    // Within the backoff (10 s), no replacement.
    assert_eq!(job_pods(&server).len(), 1);
    server.controllers().advance(Duration::from_secs(10));
    settle(&server);
    let pods = job_pods(&server);
    assert_eq!(pods.len(), 2, "a replacement after the backoff");
    let second = pods
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap())
        .find(|n| *n != first)
        .unwrap()
        .to_string();
    server
        .controllers()
        .finish_pod("t", &second, false)
        .unwrap();
    settle(&server);
    let (_, j) = http(
        &server,
        "GET",
        "/apis/batch/v1/namespaces/t/jobs/migrate",
        &Value::Null,
    );
    assert_eq!(condition_types(&j), ["FailureTarget", "Failed"]);
    let failed = &j["status"]["conditions"][1];
    assert_eq!(failed["reason"], "BackoffLimitExceeded");
    assert_eq!(
        failed["message"],
        "Job has reached the specified backoff limit"
    );
    assert_eq!(j["status"]["failed"], 2);
}

#[test]
fn deleting_a_job_without_a_policy_orphans_its_pods() {
    let server = start();
    namespace(&server, "t");
    create(&server, "/apis/batch/v1/namespaces/t/jobs", job(6));
    settle(&server);
    let (code, body) = http(
        &server,
        "DELETE",
        "/apis/batch/v1/namespaces/t/jobs/migrate",
        &Value::Null,
    );
    assert_eq!(code, 200);
    assert_eq!(
        body["metadata"]["finalizers"],
        json!(["orphan"]),
        "batch/v1 Jobs orphan by default"
    );
    settle(&server);
    assert!(!exists(&server, "/apis/batch/v1/namespaces/t/jobs/migrate"));
    let pods = job_pods(&server);
    assert_eq!(pods.len(), 1);
    assert!(pods[0]["metadata"].get("ownerReferences").is_none());
}

#[test]
fn cronjob_runs_its_schedule_at_the_wall_clock_of_its_time_zone() {
    let server = start();
    namespace(&server, "t");
    let cronjob = |name: &str, tz: &str| {
        json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {
                "schedule": "0 * * * *",
                "timeZone": tz,
                "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "b", "image": "busybox"}]}}}}
            }
        })
    };
    // An unknown zone is refused as `validateTimeZone` refuses it.
    let (code, body) = http(
        &server,
        "POST",
        "/apis/batch/v1/namespaces/t/cronjobs",
        &cronjob("backup", "Asia/Atlantis"),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["message"],
        "CronJob.batch \"backup\" is invalid: spec.timeZone: Invalid value: \"Asia/Atlantis\": unknown time zone Asia/Atlantis"
    );
    // India is UTC+05:30, so its top of the hour is half past in UTC.
    create(
        &server,
        "/apis/batch/v1/namespaces/t/cronjobs",
        cronjob("backup", "Asia/Kolkata"),
    );
    settle(&server);
    server.controllers().advance(Duration::from_secs(3600));
    settle(&server);
    let (_, jobs) = http(
        &server,
        "GET",
        "/apis/batch/v1/namespaces/t/jobs",
        &Value::Null,
    );
    let jobs = jobs["items"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "one run in an hour: {jobs:?}");
    let scheduled = jobs[0]["metadata"]["annotations"]
        ["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        .as_str()
        .unwrap();
    assert!(scheduled.ends_with(":30:00Z"), "{scheduled}");
}

#[test]
fn cronjob_creates_jobs_at_the_clock_and_records_schedule_and_success() {
    let server = start();
    namespace(&server, "t");
    create(
        &server,
        "/apis/batch/v1/namespaces/t/cronjobs",
        json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "backup"},
            "spec": {
                "schedule": "*/5 * * * *",
                "jobTemplate": {"metadata": {"labels": {"app": "backup"}}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "b", "image": "busybox"}]}}}}
            }
        }),
    );
    settle(&server);
    let jobs = |server: &ApiServer| {
        let (_, l) = http(
            server,
            "GET",
            "/apis/batch/v1/namespaces/t/jobs",
            &Value::Null,
        );
        l["items"].as_array().unwrap().clone()
    };
    assert!(
        jobs(&server).is_empty(),
        "nothing before the first scheduled time"
    );
    server.controllers().advance(Duration::from_secs(300));
    settle(&server);
    let list = jobs(&server);
    assert_eq!(list.len(), 1);
    let job = &list[0];
    let scheduled = job["metadata"]["annotations"]
        ["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        scheduled.ends_with(":00Z") && scheduled[14..16].parse::<u32>().unwrap() % 5 == 0,
        "{scheduled}"
    );
    let name = job["metadata"]["name"].as_str().unwrap();
    assert!(
        name.strip_prefix("backup-").unwrap().parse::<u64>().is_ok(),
        "NAME-<unix minutes>: {name}"
    );
    assert_eq!(job["metadata"]["labels"]["app"], "backup");
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    let (_, cj) = http(
        &server,
        "GET",
        "/apis/batch/v1/namespaces/t/cronjobs/backup",
        &Value::Null,
    );
    assert_eq!(cj["status"]["lastScheduleTime"], scheduled.as_str());
    assert_eq!(cj["status"]["active"][0]["name"], name);

    let (_, pods) = http(&server, "GET", "/api/v1/namespaces/t/pods", &Value::Null);
    let pod = pods["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    server.controllers().finish_pod("t", &pod, true).unwrap();
    settle(&server);
    let (_, cj) = http(
        &server,
        "GET",
        "/apis/batch/v1/namespaces/t/cronjobs/backup",
        &Value::Null,
    );
    assert!(cj["status"]["lastSuccessfulTime"].is_string(), "{cj}");
    assert!(cj["status"].get("active").is_none(), "{cj}");
}

#[test]
fn resource_quota_status_reports_hard_and_used_for_the_named_resources() {
    let server = start();
    namespace(&server, "t");
    create(
        &server,
        "/api/v1/namespaces/t/resourcequotas",
        json!({
            "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "tenant-quota"},
            "spec": {"hard": {"requests.cpu": "2", "requests.memory": "4Gi", "requests.storage": "10Gi", "pods": "5", "persistentvolumeclaims": "4"}}
        }),
    );
    let mut sts = statefulset(2, "Parallel");
    sts["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"requests": {"cpu": "500m", "memory": "1Gi"}});
    create(&server, "/apis/apps/v1/namespaces/t/statefulsets", sts);
    settle(&server);
    let (_, q) = http(
        &server,
        "GET",
        "/api/v1/namespaces/t/resourcequotas/tenant-quota",
        &Value::Null,
    );
    assert_eq!(q["status"]["hard"], q["spec"]["hard"]);
    assert_eq!(
        q["status"]["used"],
        json!({"requests.cpu": "1", "requests.memory": "2Gi", "requests.storage": "2Gi", "pods": "2", "persistentvolumeclaims": "2"})
    );
}

#[test]
fn deleting_a_job_without_a_policy_warns_that_pods_are_kept() {
    let server = start();
    namespace(&server, "t");
    create(&server, "/apis/batch/v1/namespaces/t/jobs", job(6));
    let h = head(
        &server,
        "DELETE",
        "/apis/batch/v1/namespaces/t/jobs/migrate",
    );
    assert!(
        h.to_ascii_lowercase().contains("warning: 299 - \"child pods are preserved by default when jobs are deleted; set propagationpolicy=background to remove them or set propagationpolicy=orphan to suppress this warning\""),
        "{h}"
    );
    create(&server, "/apis/batch/v1/namespaces/t/jobs", {
        let mut j = job(6);
        j["metadata"]["name"] = json!("other");
        j
    });
    let h = head(
        &server,
        "DELETE",
        "/apis/batch/v1/namespaces/t/jobs/other?propagationPolicy=Background",
    );
    assert!(!h.to_ascii_lowercase().contains("warning:"), "{h}");
}

#[test]
fn statefulset_recreates_a_pod_that_failed() {
    let server = start();
    namespace(&server, "t");
    create(
        &server,
        "/apis/apps/v1/namespaces/t/statefulsets",
        statefulset(1, "OrderedReady"),
    );
    settle(&server);
    let (_, before) = http(
        &server,
        "GET",
        "/api/v1/namespaces/t/pods/db-0",
        &Value::Null,
    );
    server.controllers().finish_pod("t", "db-0", false).unwrap();
    settle(&server);
    let (code, after) = http(
        &server,
        "GET",
        "/api/v1/namespaces/t/pods/db-0",
        &Value::Null,
    );
    assert_eq!(code, 200);
    assert_ne!(after["metadata"]["uid"], before["metadata"]["uid"]);
    assert_eq!(after["status"]["phase"], "Running");
}

#[test]
fn a_deleted_jobs_pods_let_go_of_the_tracking_finalizer_so_the_namespace_can_go() {
    let server = start();
    server.controllers().pause();
    namespace(&server, "t");
    create(&server, "/apis/batch/v1/namespaces/t/jobs", job(6));
    settle(&server);
    let pods = job_pods(&server);
    assert_eq!(pods.len(), 1);
    assert_eq!(
        pods[0]["metadata"]["finalizers"],
        json!(["batch.kubernetes.io/job-tracking"])
    );
    // Deleted without a policy: batch/v1 orphans the pod, which must not keep its finalizer.
    let (code, _) = http(
        &server,
        "DELETE",
        "/apis/batch/v1/namespaces/t/jobs/migrate",
        &Value::Null,
    );
    assert_eq!(code, 200);
    settle(&server);
    let pods = job_pods(&server);
    assert_eq!(pods.len(), 1, "orphaned, not deleted");
    assert!(
        pods[0]["metadata"].get("finalizers").is_none(),
        "{}",
        pods[0]
    );
    // And so the namespace finishes terminating.
    let (code, _) = http(&server, "DELETE", "/api/v1/namespaces/t", &Value::Null);
    assert_eq!(code, 200);
    settle(&server);
    let (code, _) = http(&server, "GET", "/api/v1/namespaces/t", &Value::Null);
    assert_eq!(code, 404);
}

// Admission: ResourceQuota, LimitRanger, PodSecurity.

fn pod(name: &str, resources: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "postgres:17", "resources": resources}]}
    })
}

fn quota(server: &ApiServer, hard: Value) {
    create(
        server,
        "/api/v1/namespaces/t/resourcequotas",
        json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": {"hard": hard}}),
    );
}

#[test]
fn a_pod_beyond_the_quota_is_forbidden_with_exceeded_quota() {
    let server = start();
    namespace(&server, "t");
    quota(&server, json!({"requests.cpu": "1", "pods": "5"}));
    create(
        &server,
        "/api/v1/namespaces/t/pods",
        pod("a", json!({"requests": {"cpu": "600m"}})),
    );
    let (code, body) = http(
        &server,
        "POST",
        "/api/v1/namespaces/t/pods",
        &pod("b", json!({"requests": {"cpu": "500m"}})),
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["reason"], "Forbidden");
    assert_eq!(
        body["message"],
        "pods \"b\" is forbidden: exceeded quota: q, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1"
    );
    assert_eq!(
        body["details"],
        json!({"name": "b", "group": "", "kind": "pods"})
    );
    // What fits is admitted.
    create(
        &server,
        "/api/v1/namespaces/t/pods",
        pod("c", json!({"requests": {"cpu": "400m"}})),
    );
}

#[test]
fn a_pod_without_a_request_for_a_quota_resource_is_forbidden_with_must_specify() {
    let server = start();
    namespace(&server, "t");
    quota(
        &server,
        json!({"requests.cpu": "2", "limits.memory": "1Gi"}),
    );
    let (code, body) = http(
        &server,
        "POST",
        "/api/v1/namespaces/t/pods",
        &pod("p", json!({})),
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body["message"],
        "pods \"p\" is forbidden: failed quota: q: must specify limits.memory for: c; requests.cpu for: c"
    );
    // A limit alone is a request too (SetDefaults_Pod).
    create(
        &server,
        "/api/v1/namespaces/t/pods",
        pod("p", json!({"limits": {"cpu": "1", "memory": "512Mi"}})),
    );
}

#[test]
fn object_counts_of_a_quota_refuse_the_next_claim() {
    let server = start();
    namespace(&server, "t");
    quota(
        &server,
        json!({"persistentvolumeclaims": "1", "count/configmaps": "1"}),
    );
    let claim = |name: &str| {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    };
    create(
        &server,
        "/api/v1/namespaces/t/persistentvolumeclaims",
        claim("a"),
    );
    let (code, body) = http(
        &server,
        "POST",
        "/api/v1/namespaces/t/persistentvolumeclaims",
        &claim("b"),
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body["message"],
        "persistentvolumeclaims \"b\" is forbidden: exceeded quota: q, requested: persistentvolumeclaims=1, used: persistentvolumeclaims=1, limited: persistentvolumeclaims=1"
    );
    create(&server, "/api/v1/namespaces/t/configmaps", configmap("one"));
    let (code, body) = http(
        &server,
        "POST",
        "/api/v1/namespaces/t/configmaps",
        &configmap("two"),
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body["message"],
        "configmaps \"two\" is forbidden: exceeded quota: q, requested: count/configmaps=1, used: count/configmaps=1, limited: count/configmaps=1"
    );
}

#[test]
fn a_statefulset_whose_pods_exceed_the_quota_gets_no_pod_and_stays_short() {
    let server = start();
    namespace(&server, "t");
    quota(&server, json!({"pods": "1", "requests.memory": "1Gi"}));
    let mut sts = statefulset(2, "Parallel");
    sts["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"requests": {"memory": "512Mi"}});
    create(&server, "/apis/apps/v1/namespaces/t/statefulsets", sts);
    settle(&server);
    assert_eq!(pod_names(&server), vec!["db-0".to_string()]);
    let (_, got) = http(
        &server,
        "GET",
        "/apis/apps/v1/namespaces/t/statefulsets/db",
        &Value::Null,
    );
    assert_eq!(got["status"]["replicas"], 1, "{got}");
    // Without requests the quota's requests.memory refuses every pod.
    let mut bare = statefulset(1, "Parallel");
    bare["metadata"]["name"] = json!("bare");
    create(&server, "/apis/apps/v1/namespaces/t/statefulsets", bare);
    settle(&server);
    assert_eq!(pod_names(&server), vec!["db-0".to_string()]);
}

fn limit_range(server: &ApiServer, limits: Value) {
    create(
        server,
        "/api/v1/namespaces/t/limitranges",
        json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"}, "spec": {"limits": limits}}),
    );
}

#[test]
fn limit_range_defaults_fill_in_container_requests_and_limits() {
    let server = start();
    namespace(&server, "t");
    limit_range(
        &server,
        json!([{"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"}, "defaultRequest": {"cpu": "100m"}}]),
    );
    let got = create(
        &server,
        "/api/v1/namespaces/t/pods",
        pod("p", json!({"limits": {"memory": "1Gi"}})),
    );
    let c = &got["spec"]["containers"][0];
    assert_eq!(
        c["resources"]["limits"],
        json!({"memory": "1Gi", "cpu": "500m"})
    );
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "100m", "memory": "1Gi"})
    );
    assert_eq!(
        got["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu request for container c; cpu limit for container c"
    );
}

#[test]
fn limit_range_min_max_and_ratio_refuse_with_the_real_messages() {
    let server = start();
    namespace(&server, "t");
    limit_range(
        &server,
        json!([{"type": "Container", "max": {"cpu": "1"}, "min": {"memory": "64Mi"}, "maxLimitRequestRatio": {"memory": "2"}}]),
    );
    let (code, body) = http(
        &server,
        "POST",
        "/api/v1/namespaces/t/pods",
        &pod(
            "p",
            json!({"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"memory": "128Mi"}}),
        ),
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body["message"],
        "pods \"p\" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, memory max limit to request ratio per Container is 2, but provided ratio is 8.000000]"
    );
    let (code, body) = http(
        &server,
        "POST",
        "/api/v1/namespaces/t/pods",
        &pod(
            "q",
            json!({"limits": {"cpu": "1", "memory": "64Mi"}, "requests": {"memory": "32Mi"}}),
        ),
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body["message"],
        "pods \"q\" is forbidden: minimum memory usage per Container is 64Mi, but request is 32Mi"
    );
}

fn labelled_namespace(server: &ApiServer, labels: Value) {
    create(
        server,
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t", "labels": labels}}),
    );
}

#[test]
fn pod_security_enforce_restricted_refuses_a_plain_pod_with_the_real_message() {
    let server = start();
    labelled_namespace(
        &server,
        json!({"pod-security.kubernetes.io/enforce": "restricted"}),
    );
    let (code, body) = http(
        &server,
        "POST",
        "/api/v1/namespaces/t/pods",
        &pod("x", json!({})),
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["reason"], "Forbidden");
    assert_eq!(
        body["message"],
        "pods \"x\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
    );
    // A pod that meets restricted is admitted.
    let mut ok = pod("y", json!({}));
    ok["spec"]["securityContext"] =
        json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}});
    ok["spec"]["containers"][0]["securityContext"] = json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}});
    create(&server, "/api/v1/namespaces/t/pods", ok);
}

#[test]
fn pod_security_enforce_baseline_refuses_privileged_host_namespaces_ports_and_paths() {
    let server = start();
    labelled_namespace(
        &server,
        json!({"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/enforce-version": "v1.35"}),
    );
    let mut bad = pod("x", json!({}));
    bad["spec"]["hostNetwork"] = json!(true);
    bad["spec"]["volumes"] = json!([{"name": "h", "hostPath": {"path": "/var"}}]);
    bad["spec"]["containers"][0]["ports"] = json!([{"containerPort": 5432, "hostPort": 5432}]);
    bad["spec"]["containers"][0]["securityContext"] =
        json!({"privileged": true, "capabilities": {"add": ["SYS_ADMIN"]}});
    let (code, body) = http(&server, "POST", "/api/v1/namespaces/t/pods", &bad);
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body["message"],
        "pods \"x\" is forbidden: violates PodSecurity \"baseline:v1.35\": host namespaces (hostNetwork), hostPort (container \"c\" uses hostPort 5432), privileged (container \"c\" must not set securityContext.privileged=true), non-default capabilities (container \"c\" must not include \"SYS_ADMIN\" in securityContext.capabilities.add), hostPath volumes (volume \"h\")"
    );
}

#[test]
fn pod_security_warn_answers_with_a_warning_header_and_admits() {
    let server = start();
    labelled_namespace(
        &server,
        json!({"pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/enforce": "baseline"}),
    );
    let (code, head, body) = exchange(
        &server,
        "POST",
        "/api/v1/namespaces/t/pods",
        &pod("x", json!({})),
    );
    assert_eq!(code, 201, "{body}");
    assert!(
        head.contains("warning: 299 - \"would violate PodSecurity \\\"restricted:latest\\\": allowPrivilegeEscalation != false (container \\\"c\\\" must set securityContext.allowPrivilegeEscalation=false)"),
        "{head}"
    );
}

#[test]
fn pod_security_only_warns_for_a_statefulset_template_and_its_pods_are_refused() {
    let server = start();
    labelled_namespace(
        &server,
        json!({"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted"}),
    );
    let (code, head, body) = exchange(
        &server,
        "POST",
        "/apis/apps/v1/namespaces/t/statefulsets",
        &statefulset(1, "OrderedReady"),
    );
    assert_eq!(code, 201, "{body}");
    assert!(
        head.contains("would violate PodSecurity \\\"restricted:latest\\\": allowPrivilegeEscalation != false (container \\\"pg\\\""),
        "{head}"
    );
    settle(&server);
    assert!(pod_names(&server).is_empty());
}

#[test]
fn limit_range_claim_limits_refuse_a_claim_beyond_max_storage() {
    let server = start();
    namespace(&server, "t");
    limit_range(
        &server,
        json!([{"type": "PersistentVolumeClaim", "max": {"storage": "2Gi"}, "min": {"storage": "1Gi"}}]),
    );
    let claim = |name: &str, size: &str| {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}})
    };
    let (code, body) = http(
        &server,
        "POST",
        "/api/v1/namespaces/t/persistentvolumeclaims",
        &claim("big", "5Gi"),
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body["message"],
        "persistentvolumeclaims \"big\" is forbidden: maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi"
    );
    let (code, body) = http(
        &server,
        "POST",
        "/api/v1/namespaces/t/persistentvolumeclaims",
        &claim("small", "512Mi"),
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body["message"],
        "persistentvolumeclaims \"small\" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 512Mi"
    );
    create(
        &server,
        "/api/v1/namespaces/t/persistentvolumeclaims",
        claim("ok", "2Gi"),
    );
}

#[test]
fn limit_range_pod_limits_check_the_pods_total() {
    let server = start();
    namespace(&server, "t");
    limit_range(&server, json!([{"type": "Pod", "max": {"memory": "1Gi"}}]));
    let mut p = pod("p", json!({"limits": {"memory": "768Mi"}}));
    p["spec"]["containers"].as_array_mut().unwrap().push(
        json!({"name": "d", "image": "busybox:1.36", "resources": {"limits": {"memory": "512Mi"}}}),
    );
    let (code, body) = http(&server, "POST", "/api/v1/namespaces/t/pods", &p);
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body["message"],
        "pods \"p\" is forbidden: maximum memory usage per Pod is 1Gi, but limit is 1280Mi"
    );
}

#[test]
fn a_namespace_with_an_invalid_pod_security_label_is_invalid() {
    let server = start();
    let (code, body) = http(
        &server,
        "POST",
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t", "labels": {
            "pod-security.kubernetes.io/enforce": "strict",
            "pod-security.kubernetes.io/warn-version": "1.35",
        }}}),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["reason"], "Invalid");
    assert_eq!(
        body["message"],
        "Namespace \"t\" is invalid: [metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"strict\": must be one of privileged, baseline, restricted, metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: \"1.35\": must be \"latest\" or \"v1.x\"]"
    );
    assert_eq!(
        body["details"]["causes"][0],
        json!({"reason": "FieldValueInvalid", "message": "Invalid value: \"strict\": must be one of privileged, baseline, restricted", "field": "metadata.labels[pod-security.kubernetes.io/enforce]"})
    );
}

#[test]
fn a_cronjobs_job_beyond_a_count_quota_is_not_created_and_the_schedule_is_not_recorded() {
    let server = start();
    namespace(&server, "t");
    quota(&server, json!({"count/jobs.batch": "0"}));
    create(
        &server,
        "/apis/batch/v1/namespaces/t/cronjobs",
        json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "backup"},
            "spec": {
                "schedule": "*/5 * * * *",
                "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "b", "image": "busybox:1.36"}]}}}}
            }
        }),
    );
    settle(&server);
    server.controllers().advance(Duration::from_secs(300));
    settle(&server);
    let (_, jobs) = http(
        &server,
        "GET",
        "/apis/batch/v1/namespaces/t/jobs",
        &Value::Null,
    );
    assert_eq!(jobs["items"], json!([]));
    let (_, cj) = http(
        &server,
        "GET",
        "/apis/batch/v1/namespaces/t/cronjobs/backup",
        &Value::Null,
    );
    assert!(cj.pointer("/status/lastScheduleTime").is_none(), "{cj}");
}

#[test]
fn a_jobs_pod_refused_by_the_quota_is_not_created() {
    let server = start();
    namespace(&server, "t");
    quota(&server, json!({"requests.cpu": "1"}));
    create(&server, "/apis/batch/v1/namespaces/t/jobs", job(0));
    settle(&server);
    assert!(job_pods(&server).is_empty());
}

#[test]
fn a_server_side_apply_that_creates_a_pod_is_admitted_like_a_create() {
    let server = start();
    namespace(&server, "t");
    limit_range(
        &server,
        json!([{"type": "Container", "defaultRequest": {"cpu": "300m"}}]),
    );
    quota(&server, json!({"requests.cpu": "500m"}));
    let path = "/api/v1/namespaces/t/pods/a?fieldManager=berth";
    let (code, body) = http(&server, "PATCH", path, &pod("a", json!({})));
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        body["spec"]["containers"][0]["resources"]["requests"],
        json!({"cpu": "300m"})
    );
    let path = "/api/v1/namespaces/t/pods/b?fieldManager=berth";
    let (code, body) = http(&server, "PATCH", path, &pod("b", json!({})));
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body["message"],
        "pods \"b\" is forbidden: exceeded quota: q, requested: requests.cpu=300m, used: requests.cpu=300m, limited: requests.cpu=500m"
    );
}
