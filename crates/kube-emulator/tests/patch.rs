//! Strategic merge patches and JSON patches, from the real `kubectl` and over plain HTTP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use kube_emulator::ApiServer;
use kube_store::ObjectStore;
use serde_json::{json, Value};

fn start() -> ApiServer {
    ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap()
}

struct Reply {
    status: u16,
    body: Value,
}

/// One request per connection, as the administrator.
fn http(server: &ApiServer, method: &str, path: &str, content_type: &str, body: &str) -> Reply {
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {}\r\nAccept: application/json\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        server.addr(),
        server.admin_token(),
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").expect("an answer");
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body_text = if chunked {
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
    Reply {
        status,
        body: serde_json::from_str(&body_text).unwrap_or(Value::String(body_text)),
    }
}

fn kubectl(server: &ApiServer, args: &[&str]) -> Output {
    let cache = std::env::temp_dir().join(format!(
        "berth-kubectl-cache-{}-{}",
        std::process::id(),
        server.addr().port()
    ));
    Command::new("kubectl")
        .arg("--server")
        .arg(server.https_url())
        .arg("--insecure-skip-tls-verify")
        .arg("--cache-dir")
        .arg(&cache)
        .arg("--token")
        .arg(server.admin_token())
        .args(args)
        .env("KUBECONFIG", "/dev/null")
        .output()
        .expect("kubectl runs")
}

fn kubectl_ok(server: &ApiServer, args: &[&str]) -> Output {
    let out = kubectl(server, args);
    assert!(
        out.status.success(),
        "kubectl {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn have_kubectl() -> bool {
    let found = Path::new("/usr/bin/kubectl").exists()
        || Command::new("kubectl")
            .arg("version")
            .arg("--client")
            .output()
            .is_ok();
    if !found {
        eprintln!("kubectl not installed: skipping");
    }
    found
}

fn apply_file(server: &ApiServer, dir: &Path, name: &str, manifest: &str) -> Output {
    let file = dir.join(name);
    std::fs::write(&file, manifest).unwrap();
    kubectl_ok(server, &["apply", "-v=8", "-f", file.to_str().unwrap()])
}

const STATEFULSET: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: t
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: t
spec:
  serviceName: db
  replicas: 1
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
        - name: postgres
          image: postgres:16
          env:
            - name: PGDATA
              value: /data
"#;

fn containers(server: &ApiServer) -> Value {
    server.store().get("StatefulSet", "t", "db").unwrap()["spec"]["template"]["spec"]["containers"]
        .clone()
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

#[test]
fn kubectl_strategic_patch_merges_containers_by_name() {
    if !have_kubectl() {
        return;
    }
    let server = start();
    let dir = tempfile::tempdir().unwrap();
    apply_file(&server, dir.path(), "sts.yaml", STATEFULSET);

    // A container with a new name is added (before the live one, as the real merge orders
    // new items); the other is kept whole.
    kubectl_ok(
        &server,
        &[
            "patch",
            "statefulset",
            "db",
            "-n",
            "t",
            "--type",
            "strategic",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"exporter","image":"exporter:1"}]}}}}"#,
        ],
    );
    let c = containers(&server);
    assert_eq!(names(&c), ["exporter", "postgres"]);
    assert_eq!(c[1]["image"], "postgres:16");
    assert_eq!(c[1]["env"], json!([{"name": "PGDATA", "value": "/data"}]));

    // One with a known name is merged into it, its env merged by name too.
    kubectl_ok(
        &server,
        &[
            "patch",
            "statefulset",
            "db",
            "-n",
            "t",
            "--type",
            "strategic",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"postgres","image":"postgres:17","env":[{"name":"TZ","value":"UTC"}]}]}}}}"#,
        ],
    );
    let c = containers(&server);
    assert_eq!(names(&c), ["exporter", "postgres"]);
    assert_eq!(c[1]["image"], "postgres:17");
    assert_eq!(
        c[1]["env"],
        json!([{"name": "TZ", "value": "UTC"}, {"name": "PGDATA", "value": "/data"}])
    );

    // `$patch: delete` removes one by name.
    kubectl_ok(
        &server,
        &[
            "patch",
            "statefulset",
            "db",
            "-n",
            "t",
            "--type",
            "strategic",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"exporter","$patch":"delete"}]}}}}"#,
        ],
    );
    assert_eq!(names(&containers(&server)), ["postgres"]);

    // An item without its merge key: the real error, a 500 that is no API status.
    let out = kubectl(
        &server,
        &[
            "patch",
            "statefulset",
            "db",
            "-n",
            "t",
            "--type",
            "strategic",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"image":"nginx"}]}}}}"#,
        ],
    );
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "Error from server: map: map[image:nginx] does not contain declared merge key: name"
    );
    assert_eq!(names(&containers(&server)), ["postgres"]);
}

#[test]
fn kubectl_json_patch_adds_replaces_removes_and_a_failing_test_changes_nothing() {
    if !have_kubectl() {
        return;
    }
    let server = start();
    kubectl_ok(&server, &["create", "namespace", "t"]);
    let r = http(
        &server,
        "POST",
        "/api/v1/namespaces/t/configmaps",
        "application/json",
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"a": "1", "gone": "x"}})
        .to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);

    kubectl_ok(
        &server,
        &[
            "patch",
            "configmap",
            "c",
            "-n",
            "t",
            "--type",
            "json",
            "-p",
            r#"[{"op":"test","path":"/data/a","value":"1"},{"op":"add","path":"/data/b","value":"2"},{"op":"replace","path":"/data/a","value":"3"},{"op":"remove","path":"/data/gone"}]"#,
        ],
    );
    let cm = server.store().get("ConfigMap", "t", "c").unwrap();
    assert_eq!(cm["data"], json!({"a": "3", "b": "2"}));

    // A failed test fails the whole patch, with the handler's generic 422.
    let out = kubectl(
        &server,
        &[
            "patch",
            "configmap",
            "c",
            "-n",
            "t",
            "--type",
            "json",
            "-p",
            r#"[{"op":"replace","path":"/data/b","value":"changed"},{"op":"test","path":"/data/a","value":"1"}]"#,
        ],
    );
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "The request is invalid: the server rejected our request due to an error in our request"
    );
    let after = server.store().get("ConfigMap", "t", "c").unwrap();
    assert_eq!(after["data"], json!({"a": "3", "b": "2"}));
    assert_eq!(
        after["metadata"]["resourceVersion"],
        cm["metadata"]["resourceVersion"]
    );

    // Over HTTP: the Status, and a body that is no list of operations.
    let path = "/api/v1/namespaces/t/configmaps/c";
    let r = http(
        &server,
        "PATCH",
        path,
        "application/json-patch+json",
        r#"[{"op":"remove","path":"/data/nothing"}]"#,
    );
    assert_eq!(
        r.body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the server rejected our request due to an error in our request",
            "reason": "Invalid", "details": {}, "code": 422})
    );
    let r = http(
        &server,
        "PATCH",
        &format!("{path}?fieldValidation=Strict"),
        "application/json-patch+json",
        r#"{"op":"add"}"#,
    );
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (
            400,
            Some("error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp")
        )
    );
    // An unknown field the patch adds is refused with Strict, as the patched object.
    let r = http(
        &server,
        "PATCH",
        &format!("{path}?fieldValidation=Strict"),
        "application/json-patch+json",
        r#"[{"op":"add","path":"/spec","value":{"x":1}}]"#,
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let message = r.body["message"].as_str().unwrap();
    assert!(
        message.starts_with(" \"\" is invalid: patch: Invalid value: \"{\\\"apiVersion\\\":\\\"v1\\\",\\\"data\\\":"),
        "{message}"
    );
    assert!(
        message.ends_with("\": strict decoding error: unknown field \"spec\""),
        "{message}"
    );
}

const DEPLOYMENT_V1: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: t
  finalizers: [example.com/a, example.com/b]
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: app
          image: app:1
        - name: sidecar
          image: sidecar:1
"#;

const DEPLOYMENT_V2: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: t
  finalizers: [example.com/b]
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  strategy:
    type: Recreate
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: app
          image: app:2
          env:
            - name: MODE
              value: fast
"#;

#[test]
fn kubectl_apply_twice_patches_with_set_element_order_and_retain_keys() {
    if !have_kubectl() {
        return;
    }
    let server = start();
    let dir = tempfile::tempdir().unwrap();
    kubectl_ok(&server, &["create", "namespace", "t"]);
    apply_file(&server, dir.path(), "v1.yaml", DEPLOYMENT_V1);
    // The live object changed by someone else in between: apply keeps what it never set.
    kubectl_ok(
        &server,
        &["label", "deployment", "web", "-n", "t", "owner=ops"],
    );
    let out = apply_file(&server, dir.path(), "v2.yaml", DEPLOYMENT_V2);
    // kubectl logs the body it sends with its quotes escaped.
    let log = String::from_utf8_lossy(&out.stderr).replace('\\', "");
    assert!(
        log.contains("application/strategic-merge-patch+json"),
        "{log}"
    );
    for directive in [
        "$setElementOrder/containers",
        "$retainKeys",
        "$deleteFromPrimitiveList/finalizers",
        "\"$patch\":\"delete\"",
    ] {
        assert!(log.contains(directive), "{directive} not sent:\n{log}");
    }

    let d = server.store().get("Deployment", "t", "web").unwrap();
    assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
    let c = &d["spec"]["template"]["spec"]["containers"];
    assert_eq!(names(c), ["app"]);
    assert_eq!(c[0]["image"], "app:2");
    assert_eq!(c[0]["env"], json!([{"name": "MODE", "value": "fast"}]));
    assert_eq!(d["metadata"]["finalizers"], json!(["example.com/b"]));
    assert_eq!(d["metadata"]["labels"]["owner"], "ops");
    // Applying the same file again changes nothing.
    let rv = d["metadata"]["resourceVersion"].clone();
    apply_file(&server, dir.path(), "v2.yaml", DEPLOYMENT_V2);
    assert_eq!(
        server.store().get("Deployment", "t", "web").unwrap()["metadata"]["resourceVersion"],
        rv
    );
}

#[test]
fn status_patches_honour_the_patch_type() {
    let server = start();
    let r = http(
        &server,
        "POST",
        "/api/v1/namespaces",
        "application/json",
        r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"t"}}"#,
    );
    assert_eq!(r.status, 201);
    let r = http(
        &server,
        "POST",
        "/apis/apps/v1/namespaces/t/deployments",
        "application/json",
        &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}})
        .to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let status = "/apis/apps/v1/namespaces/t/deployments/web/status";
    let condition = |t: &str, s: &str| json!({"type": t, "status": s, "reason": "R"});
    let r = http(
        &server,
        "PATCH",
        status,
        "application/merge-patch+json",
        &json!({"status": {"conditions": [condition("Available", "True")]}}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Conditions merge by type in a strategic merge patch.
    let r = http(
        &server,
        "PATCH",
        status,
        "application/strategic-merge-patch+json",
        &json!({"status": {"conditions": [condition("Progressing", "True")]}}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let types: Vec<&str> = r.body["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["Progressing", "Available"]);
    // A JSON patch, and its failure.
    let r = http(
        &server,
        "PATCH",
        status,
        "application/json-patch+json",
        r#"[{"op":"replace","path":"/status/conditions/1/status","value":"False"}]"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"]["conditions"][1]["status"], "False");
    let r = http(
        &server,
        "PATCH",
        status,
        "application/json-patch+json",
        r#"[{"op":"test","path":"/status/conditions/1/status","value":"True"}]"#,
    );
    assert_eq!(r.status, 422);
    // A type the resource does not take.
    let r = http(&server, "PATCH", status, "text/plain", "x");
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (
            415,
            Some("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml")
        )
    );
}

#[test]
fn concurrent_json_patches_lose_no_write() {
    let server = start();
    let r = http(
        &server,
        "POST",
        "/api/v1/namespaces",
        "application/json",
        r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"t"}}"#,
    );
    assert_eq!(r.status, 201);
    let r = http(
        &server,
        "POST",
        "/api/v1/namespaces/t/configmaps",
        "application/json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"seed":"0"}}"#,
    );
    assert_eq!(r.status, 201);
    // Each patch adds a key of its own to what it reads inside the write: a lost update
    // would lose one.
    std::thread::scope(|s| {
        for t in 0..4 {
            let server = &server;
            s.spawn(move || {
                for i in 0..10 {
                    let r = http(
                        server,
                        "PATCH",
                        "/api/v1/namespaces/t/configmaps/c",
                        "application/json-patch+json",
                        &json!([{"op": "add", "path": format!("/data/k{t}-{i}"), "value": "v"}])
                            .to_string(),
                    );
                    assert_eq!(r.status, 200, "{}", r.body);
                    let r = http(
                        server,
                        "PATCH",
                        "/api/v1/namespaces/t/configmaps/c",
                        "application/strategic-merge-patch+json",
                        &json!({"metadata": {"labels": {format!("l{t}-{i}"): "v"}}}).to_string(),
                    );
                    assert_eq!(r.status, 200, "{}", r.body);
                }
            });
        }
    });
    let cm = server.store().get("ConfigMap", "t", "c").unwrap();
    assert_eq!(cm["data"].as_object().unwrap().len(), 41);
    assert_eq!(cm["metadata"]["labels"].as_object().unwrap().len(), 40);
}
