//! The test API server, driven by the real `kubectl` and by plain HTTP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kube_emulator::ApiServer;
use kube_store::ObjectStore;
use serde_json::{json, Value};

fn start() -> ApiServer {
    ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap()
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 client: one request per connection.
fn http(
    server: &ApiServer,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect(server.addr())?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {}\r\nAccept: application/json\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        server.addr(),
        server.admin_token(),
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("no answer: {text:?}"),
        )
    })?;
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
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
    let body = serde_json::from_str(&body_text).unwrap_or(Value::String(body_text));
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn get(server: &ApiServer, path: &str) -> Reply {
    http(server, "GET", path, "application/json", "").unwrap()
}

fn apply(server: &ApiServer, path: &str, query: &str, body: &Value) -> Reply {
    http(
        server,
        "PATCH",
        &format!("{path}?{query}"),
        "application/apply-patch+yaml",
        &body.to_string(),
    )
    .unwrap()
}

fn create_ns(server: &ApiServer, ns: &str) {
    let r = apply(
        server,
        &format!("/api/v1/namespaces/{ns}"),
        "fieldManager=test",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    );
    assert!(r.status == 201 || r.status == 200, "{}", r.body);
}

fn kubectl(server: &ApiServer, args: &[&str]) -> std::process::Output {
    // A discovery cache per server, so that every test exercises discovery.
    let cache = std::env::temp_dir().join(format!(
        "berth-kubectl-cache-{}-{}",
        std::process::id(),
        server.addr().port()
    ));
    // Over TLS: kubectl sends no token to a plain-HTTP server.
    let out = Command::new("kubectl")
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
        .expect("kubectl runs");
    out
}

fn kubectl_ok(server: &ApiServer, args: &[&str]) -> String {
    let out = kubectl(server, args);
    assert!(
        out.status.success(),
        "kubectl {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
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

const MANIFEST: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: tenant-a
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: tenant-a
  labels:
    app: db
spec:
  serviceName: SERVICE
  replicas: 2
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
          ports:
            - containerPort: 5432
          resources:
            requests:
              cpu: 1000m
              memory: 2048Mi
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: [ReadWriteOnce]
        resources:
          requests:
            storage: 10240Mi
---
apiVersion: v1
kind: Service
metadata:
  name: db
  namespace: tenant-a
spec:
  selector:
    app: db
  ports:
    - port: 5432
"#;

#[test]
fn kubectl_get_apply_and_delete() {
    if !have_kubectl() {
        return;
    }
    let server = start();
    let port = server.addr().port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.yaml");
    std::fs::write(&file, MANIFEST.replace("SERVICE", "db")).unwrap();
    let file = file.to_str().unwrap();

    // A new cluster has its system namespaces and nothing else.
    let out = kubectl_ok(&server, &["get", "ns", "-o", "name"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "namespace/default",
            "namespace/kube-node-lease",
            "namespace/kube-public",
            "namespace/kube-system"
        ],
        "{out}"
    );

    let out = kubectl_ok(
        &server,
        &["apply", "--server-side", "--validate=false", "-f", file],
    );
    assert!(
        out.contains("namespace/tenant-a serverside-applied"),
        "{out}"
    );
    assert!(
        out.contains("statefulset.apps/db serverside-applied"),
        "{out}"
    );
    assert!(out.contains("service/db serverside-applied"), "{out}");
    assert!(server.count_matching("PATCH", "/statefulsets/db") == 1);

    let out = kubectl_ok(&server, &["get", "ns"]);
    assert!(out.contains("tenant-a"), "{out}");

    let sts: Value = serde_json::from_str(&kubectl_ok(
        &server,
        &[
            "get",
            "sts",
            "db",
            "-n",
            "tenant-a",
            "-o",
            "json",
            "--show-managed-fields",
        ],
    ))
    .unwrap();
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "1", "memory": "2Gi"})
    );
    assert_eq!(sts["spec"]["updateStrategy"]["type"], "RollingUpdate");
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
        "10Gi"
    );
    assert_eq!(sts["metadata"]["managedFields"][0]["manager"], "kubectl");

    let svc: Value = serde_json::from_str(&kubectl_ok(
        &server,
        &["get", "svc", "-n", "tenant-a", "-o", "json"],
    ))
    .unwrap();
    assert!(
        svc["items"][0]["spec"]["clusterIP"]
            .as_str()
            .unwrap()
            .starts_with("10.96."),
        "{svc}"
    );

    let list = kubectl_ok(
        &server,
        &[
            "get",
            "statefulsets",
            "--all-namespaces",
            "-l",
            "app=db",
            "-o",
            "name",
        ],
    );
    assert_eq!(list.trim(), "statefulset.apps/db");

    // Applying the same file again changes nothing.
    let rv = server.store().resource_version().unwrap();
    kubectl_ok(
        &server,
        &["apply", "--server-side", "--validate=false", "-f", file],
    );
    assert_eq!(server.store().resource_version().unwrap(), rv);

    // An immutable field: the 422 message comes through.
    std::fs::write(
        dir.path().join("objects.yaml"),
        MANIFEST.replace("SERVICE", "other"),
    )
    .unwrap();
    let out = kubectl(
        &server,
        &["apply", "--server-side", "--validate=false", "-f", file],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("The StatefulSet \"db\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than"),
        "{err}"
    );

    // Scale via a merge patch from kubectl, then a conflicting apply.
    kubectl_ok(
        &server,
        &[
            "patch",
            "sts",
            "db",
            "-n",
            "tenant-a",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"replicas":5}}"#,
        ],
    );
    std::fs::write(
        dir.path().join("objects.yaml"),
        MANIFEST.replace("SERVICE", "db"),
    )
    .unwrap();
    let out = kubectl(
        &server,
        &["apply", "--server-side", "--validate=false", "-f", file],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("conflict") && err.contains(".spec.replicas"),
        "{err}"
    );
    kubectl_ok(
        &server,
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--validate=false",
            "-f",
            file,
        ],
    );
    assert_eq!(
        server.store().get("StatefulSet", "tenant-a", "db").unwrap()["spec"]["replicas"],
        2
    );

    // Imperative commands: POST create from a file, strategic merge patch (label),
    // client-side apply. (Generators such as `create configmap NAME` send protobuf: see
    // kubectl_protobuf.rs.)
    let cm_file = dir.path().join("cm.yaml");
    std::fs::write(&cm_file, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: tenant-a\ndata:\n  a: b\n").unwrap();
    kubectl_ok(
        &server,
        &[
            "create",
            "--validate=false",
            "-f",
            cm_file.to_str().unwrap(),
        ],
    );
    kubectl_ok(
        &server,
        &["label", "configmap", "settings", "-n", "tenant-a", "team=x"],
    );
    let cmap = server
        .store()
        .get("ConfigMap", "tenant-a", "settings")
        .unwrap();
    assert_eq!(cmap["data"]["a"], "b");
    assert_eq!(cmap["metadata"]["labels"]["team"], "x");
    let out = kubectl(
        &server,
        &[
            "create",
            "--validate=false",
            "-f",
            cm_file.to_str().unwrap(),
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    std::fs::write(&cm_file, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: client-side\n  namespace: tenant-a\ndata:\n  x: \"1\"\n").unwrap();
    kubectl_ok(
        &server,
        &["apply", "--validate=false", "-f", cm_file.to_str().unwrap()],
    );
    std::fs::write(&cm_file, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: client-side\n  namespace: tenant-a\ndata:\n  x: \"2\"\n").unwrap();
    kubectl_ok(
        &server,
        &["apply", "--validate=false", "-f", cm_file.to_str().unwrap()],
    );
    let cmap = server
        .store()
        .get("ConfigMap", "tenant-a", "client-side")
        .unwrap();
    assert_eq!(cmap["data"]["x"], "2");
    assert!(cmap["metadata"]["annotations"]
        .as_object()
        .unwrap()
        .keys()
        .all(|k| !k.starts_with('$')));

    let out = kubectl_ok(&server, &["delete", "ns", "tenant-a"]);
    assert!(out.contains("namespace \"tenant-a\" deleted"), "{out}");
    let out = kubectl(&server, &["get", "sts", "db", "-n", "tenant-a"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NotFound")
            || String::from_utf8_lossy(&out.stderr).contains("not found")
    );
    server.shutdown();
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("berth-kubectl-cache-{}-{port}", std::process::id())),
    );
}

fn cm(ns: &str, name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "labels": labels}, "data": {"k": "v"}})
}

#[test]
fn discovery_documents() {
    let server = start();
    let v = get(&server, "/version");
    assert_eq!(v.body["gitVersion"], "v1.35.0");
    let api = get(&server, "/api");
    assert_eq!(api.body["kind"], "APIVersions");
    assert_eq!(api.body["versions"], json!(["v1"]));
    let apis = get(&server, "/apis");
    assert_eq!(apis.body["kind"], "APIGroupList");
    assert!(apis.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["name"] == "apps" && g["preferredVersion"]["groupVersion"] == "apps/v1"));
    let core = get(&server, "/api/v1");
    let ns = core.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "namespaces")
        .unwrap()
        .clone();
    assert_eq!(ns["namespaced"], false);
    assert_eq!(ns["kind"], "Namespace");
    assert_eq!(ns["shortNames"], json!(["ns"]));
    let apps = get(&server, "/apis/apps/v1");
    let sts = apps.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "statefulsets")
        .unwrap()
        .clone();
    assert_eq!(sts["singularName"], "statefulset");
    assert!(sts["verbs"].as_array().unwrap().contains(&json!("patch")));
    assert_eq!(get(&server, "/apis/nope/v1").status, 404);
    let openapi = get(&server, "/openapi/v2");
    assert_eq!(
        (openapi.status, openapi.body["swagger"].as_str()),
        (200, Some("2.0"))
    );
    let missing = get(&server, "/api/v1/widgets");
    assert_eq!(
        (
            missing.status,
            missing.body["reason"].as_str(),
            missing.body["code"].as_u64()
        ),
        (404, Some("NotFound"), Some(404))
    );
}

#[test]
fn list_pagination_over_many_objects() {
    let server = start();
    create_ns(&server, "a");
    create_ns(&server, "b");
    let objs: Vec<Value> = (0..1200)
        .map(|i| {
            cm(
                if i % 3 == 0 { "a" } else { "b" },
                &format!("c{i:05}"),
                json!({"group": (i % 4).to_string()}),
            )
        })
        .collect();
    server
        .store()
        .apply_all(&objs, "loader", false, false)
        .unwrap();

    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let r = get(
            &server,
            &format!("/api/v1/configmaps?&limit=100&continue={token}"),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["kind"], "ConfigMapList");
        assert_eq!(r.body["apiVersion"], "v1");
        assert!(r.body["metadata"]["resourceVersion"].is_string());
        for it in r.body["items"].as_array().unwrap() {
            assert_eq!(it["kind"], "ConfigMap");
            assert_eq!(it["apiVersion"], "v1");
            seen.push(format!(
                "{}/{}",
                it["metadata"]["namespace"].as_str().unwrap(),
                it["metadata"]["name"].as_str().unwrap()
            ));
        }
        pages += 1;
        // Objects added while paging never cause skips or duplicates.
        let extra = cm("a", &format!("zz-added-{pages}"), json!({}));
        assert!(
            apply(
                &server,
                &format!("/api/v1/namespaces/a/configmaps/zz-added-{pages}"),
                "fieldManager=t",
                &extra
            )
            .status
                < 300
        );
        match r.body["metadata"]["continue"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_string(),
            _ => break,
        }
    }
    assert!(pages >= 12);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no duplicates");
    assert!(
        seen.iter().filter(|s| s.contains("/c")).count() == 1200,
        "no skips"
    );

    // One namespace, and a label selector.
    let r = get(
        &server,
        "/api/v1/namespaces/a/configmaps?labelSelector=group%3D1",
    );
    let items = r.body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items
        .iter()
        .all(|i| i["metadata"]["namespace"] == "a" && i["metadata"]["labels"]["group"] == "1"));
    let r = get(
        &server,
        "/api/v1/configmaps?labelSelector=group+in+(1,2),group!=2",
    );
    assert_eq!(r.body["items"].as_array().unwrap().len(), 300);
    let r = get(&server, "/api/v1/configmaps?labelSelector=group+in+(1");
    assert_eq!(
        (r.status, r.body["reason"].as_str()),
        (400, Some("BadRequest"))
    );
    let r = get(&server, "/api/v1/configmaps?continue=bogus!");
    assert_eq!(r.status, 400);
    let r = get(
        &server,
        "/api/v1/namespaces/a/configmaps?fieldSelector=metadata.name%3Dc00003",
    );
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    // Empty lists still carry items.
    let r = get(&server, "/apis/apps/v1/statefulsets");
    assert_eq!(r.body["items"], json!([]));
}

#[test]
fn status_bodies_dry_run_and_resource_versions() {
    let server = start();
    create_ns(&server, "t");
    let path = "/api/v1/namespaces/t/configmaps/c";

    let r = get(&server, path);
    assert_eq!(r.status, 404);
    assert_eq!(r.body["kind"], "Status");
    assert_eq!(r.body["reason"], "NotFound");
    assert_eq!(r.body["code"], 404);
    assert_eq!(r.body["message"], "configmaps \"c\" not found");
    assert_eq!(r.body["details"]["name"], "c");

    // Dry-run create: no resourceVersion, nothing stored.
    let r = apply(
        &server,
        path,
        "&fieldManager=berth&force=true&dryRun=All",
        &cm("t", "c", json!({})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        r.body["metadata"].get("resourceVersion").is_none(),
        "{}",
        r.body
    );
    assert_eq!(get(&server, path).status, 404);

    // Create, then a no-op apply keeps the resource version.
    let r = apply(
        &server,
        path,
        "fieldManager=berth&force=true",
        &cm("t", "c", json!({"a": "1"})),
    );
    assert_eq!(r.status, 201);
    let rv = r.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let r = apply(
        &server,
        path,
        "fieldManager=berth&force=true",
        &cm("t", "c", json!({"a": "1"})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body["metadata"]["resourceVersion"], rv.as_str());
    // YAML bodies are accepted too.
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    a: \"1\"\ndata:\n  k: v\n";
    let r = http(
        &server,
        "PATCH",
        &format!("{path}?fieldManager=berth"),
        "application/apply-patch+yaml",
        yaml,
    )
    .unwrap();
    assert_eq!(
        (r.status, r.body["metadata"]["resourceVersion"].as_str()),
        (200, Some(rv.as_str()))
    );

    // Conflicting apply: 409 Conflict with causes.
    let r = apply(
        &server,
        path,
        "fieldManager=other",
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "changed"}}),
    );
    assert_eq!(r.status, 409);
    assert_eq!(r.body["reason"], "Conflict");
    assert_eq!(r.body["code"], 409);
    assert_eq!(r.body["details"]["causes"][0]["field"], ".data.k");

    // Invalid: 422 with causes.
    let r = apply(
        &server,
        "/api/v1/namespaces/t/configmaps/Bad",
        "fieldManager=berth",
        &cm("t", "Bad", json!({})),
    );
    assert_eq!(
        (r.status, r.body["reason"].as_str(), r.body["code"].as_u64()),
        (422, Some("Invalid"), Some(422))
    );
    assert_eq!(r.body["details"]["causes"][0]["field"], "metadata.name");

    // Malformed bodies and unsupported patch types are refused, not crashed on.
    let r = http(
        &server,
        "PATCH",
        &format!("{path}?fieldManager=x"),
        "application/apply-patch+yaml",
        "{not: [valid",
    )
    .unwrap();
    assert_eq!(
        (r.status, r.body["reason"].as_str()),
        (400, Some("BadRequest"))
    );
    let r = http(&server, "PATCH", path, "application/json-patch+json", "[]").unwrap();
    assert_eq!(r.status, 200, "an empty JSON patch changes nothing");
    let r = http(&server, "PATCH", path, "application/xml", "<a/>").unwrap();
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (415, Some("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"))
    );
    let r = http(&server, "PATCH", path, "application/apply-patch+yaml", "{}").unwrap();
    assert_eq!(r.status, 400, "fieldManager is required");

    // POST: 409 AlreadyExists; PUT with a stale resourceVersion: 409 Conflict.
    let r = http(
        &server,
        "POST",
        "/api/v1/namespaces/t/configmaps",
        "application/json",
        &cm("t", "c", json!({})).to_string(),
    )
    .unwrap();
    assert_eq!(
        (r.status, r.body["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );
    let mut stale = get(&server, path).body;
    stale["metadata"]["resourceVersion"] = json!("1");
    let r = http(&server, "PUT", path, "application/json", &stale.to_string()).unwrap();
    assert_eq!(
        (r.status, r.body["reason"].as_str()),
        (409, Some("Conflict"))
    );
    assert!(r.body["message"]
        .as_str()
        .unwrap()
        .contains("the object has been modified"));

    // Status subresource.
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "serviceName": "db", "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}});
    assert_eq!(
        apply(
            &server,
            "/apis/apps/v1/namespaces/t/statefulsets/db",
            "fieldManager=berth",
            &sts
        )
        .status,
        201
    );
    let r = http(
        &server,
        "PATCH",
        "/apis/apps/v1/namespaces/t/statefulsets/db/status",
        "application/merge-patch+json",
        r#"{"status":{"readyReplicas":1}}"#,
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"]["readyReplicas"], 1);
    assert_eq!(r.body["metadata"]["generation"], 1);

    // DELETE answers a Status; a second DELETE is a 404. (Foreground would answer with the
    // object, marked for deletion: see tests/controllers.rs.)
    let r = http(
        &server,
        "DELETE",
        path,
        "application/json",
        r#"{"propagationPolicy":"Background"}"#,
    )
    .unwrap();
    assert_eq!(
        (r.status, r.body["kind"].as_str(), r.body["status"].as_str()),
        (200, Some("Status"), Some("Success"))
    );
    let r = http(&server, "DELETE", path, "application/json", "").unwrap();
    assert_eq!(r.status, 404);
}

#[test]
fn fault_injection() {
    let server = start();
    server.faults().fail_next(2, 500);
    let r = get(&server, "/api/v1/namespaces");
    assert_eq!(
        (r.status, r.body["reason"].as_str(), r.body["code"].as_u64()),
        (500, Some("InternalError"), Some(500))
    );
    assert_eq!(get(&server, "/api/v1/namespaces").status, 500);
    assert_eq!(get(&server, "/api/v1/namespaces").status, 200);

    // Throttling answers as the max-in-flight filter does: plain text and Retry-After.
    server.faults().fail_next(1, 429);
    let r = get(&server, "/api/v1/namespaces");
    assert_eq!(
        (r.status, r.body.as_str()),
        (429, Some("Too many requests, please try again later.\n"))
    );
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("retry-after"), Some("1"));

    server.faults().drop_next(1);
    assert!(
        http(&server, "GET", "/api/v1/namespaces", "application/json", "").is_err(),
        "connection dropped"
    );
    assert_eq!(get(&server, "/api/v1/namespaces").status, 200);

    server
        .faults()
        .fail_matching("PATCH", "/configmaps/", 1, 503);
    create_ns(&server, "t");
    let r = apply(
        &server,
        "/api/v1/namespaces/t/configmaps/c",
        "fieldManager=x",
        &cm("t", "c", json!({})),
    );
    assert_eq!(r.status, 503);
    let r = apply(
        &server,
        "/api/v1/namespaces/t/configmaps/c",
        "fieldManager=x",
        &cm("t", "c", json!({})),
    );
    assert_eq!(r.status, 201);

    server.faults().set_latency(Duration::from_millis(150));
    let start = std::time::Instant::now();
    assert_eq!(get(&server, "/version").status, 200);
    assert!(start.elapsed() >= Duration::from_millis(150));
    server.faults().clear();

    let log = server.request_log();
    assert!(
        log.iter().any(|r| r.status == 0),
        "dropped requests are logged with status 0"
    );
    assert_eq!(log.iter().filter(|r| r.status == 500).count(), 2);
    assert_eq!(server.count("PATCH"), 3);
    assert_eq!(server.count_matching("PATCH", "/configmaps/c"), 2);
    assert!(server.counts_by_verb()["GET"] >= 6);
    server.clear_log();
    assert!(server.request_log().is_empty());
}

#[test]
fn serve_on_a_callers_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = kube_emulator::serve(
            ObjectStore::in_memory().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let addr = server.addr();
        let body = tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            write!(
                s,
                "GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        })
        .await
        .unwrap();
        assert!(body.contains("v1.35.0"), "{body}");
        assert!(server.url().starts_with("http://127.0.0.1:"));
        server.shutdown();
    });
}

/// The metrics API as metrics-server serves it: discovery, the PodMetrics list in its wire
/// format (to the real `kubectl`, raw and through `kubectl top pod`), label selectors, and its
/// absence when switched off.
#[test]
fn metrics_api_answers_kubectl_like_metrics_server() {
    let server = start();
    create_ns(&server, "tenant-a");
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "db-0", "namespace": "tenant-a", "labels": {"app": "db"}},
        "spec": {"containers": [{"name": "postgres", "image": "postgres:16"}]}});
    let r = apply(
        &server,
        "/api/v1/namespaces/tenant-a/pods/db-0",
        "fieldManager=test",
        &pod,
    );
    assert!(r.status == 201, "{}", r.body);
    server.set_pod_metrics(
        "tenant-a",
        "db-0",
        &[
            ("postgres", "250000000n", "1048576Ki"),
            ("exporter", "4014829n", "13496Ki"),
        ],
    );
    server.set_pod_metrics("tenant-b", "x-0", &[("x", "1", "1Gi")]);

    let apis = get(&server, "/apis");
    assert!(apis.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["name"] == "metrics.k8s.io"
            && g["preferredVersion"]["groupVersion"] == "metrics.k8s.io/v1beta1"));
    let list = get(&server, "/apis/metrics.k8s.io/v1beta1");
    assert_eq!(list.body["resources"][1]["kind"], "PodMetrics");

    let all = get(&server, "/apis/metrics.k8s.io/v1beta1/pods");
    assert_eq!(all.body["kind"], "PodMetricsList");
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2);
    let db = &all.body["items"][0];
    assert_eq!(db["metadata"]["name"], "db-0");
    assert_eq!(db["metadata"]["labels"]["app"], "db", "the pod's labels");
    assert_eq!(db["window"], "15s");
    assert!(db["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(db["containers"][0]["usage"]["cpu"], "250000000n");
    assert_eq!(db["containers"][1]["usage"]["memory"], "13496Ki");
    let selected = get(
        &server,
        "/apis/metrics.k8s.io/v1beta1/namespaces/tenant-a/pods?labelSelector=app%3Ddb",
    );
    assert_eq!(selected.body["items"].as_array().unwrap().len(), 1);
    let one = get(
        &server,
        "/apis/metrics.k8s.io/v1beta1/namespaces/tenant-a/pods/db-0",
    );
    assert_eq!(one.body["kind"], "PodMetrics");
    let missing = get(
        &server,
        "/apis/metrics.k8s.io/v1beta1/namespaces/tenant-a/pods/db-9",
    );
    assert_eq!(
        (missing.status, missing.body["reason"].as_str()),
        (404, Some("NotFound"))
    );

    if have_kubectl() {
        let raw = kubectl_ok(
            &server,
            &["get", "--raw", "/apis/metrics.k8s.io/v1beta1/pods"],
        );
        let v: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(v["kind"], "PodMetricsList");
        assert_eq!(v["items"][1]["metadata"]["namespace"], "tenant-b");
        // 0.254... cores and 1 GiB + 13 MiB, as kubectl rounds them (millicores up).
        let top = kubectl_ok(&server, &["top", "pod", "-n", "tenant-a"]);
        eprintln!("kubectl top pod -n tenant-a:\n{top}");
        let line = top.lines().find(|l| l.starts_with("db-0")).expect(&top);
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols, ["db-0", "255m", "1037Mi"], "{top}");
        let containers = kubectl_ok(
            &server,
            &["top", "pod", "db-0", "-n", "tenant-a", "--containers"],
        );
        assert!(
            containers
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>()
                    == ["db-0", "exporter", "5m", "13Mi"]),
            "{containers}"
        );
    }

    server.set_metrics_api(false);
    assert!(!get(&server, "/apis").body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["name"] == "metrics.k8s.io"));
    assert_eq!(get(&server, "/apis/metrics.k8s.io/v1beta1").status, 404);
    assert_eq!(
        get(&server, "/apis/metrics.k8s.io/v1beta1/pods").status,
        404
    );
    if have_kubectl() {
        let out = kubectl(&server, &["top", "pod", "-n", "tenant-a"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains("Metrics API not available"), "{err}");
    }
}

/// Reads watch lines from a raw HTTP/1.1 chunked response until `want` lines or the timeout.
fn watch_lines(server: &ApiServer, path_and_query: &str, want: usize) -> Vec<Value> {
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path_and_query} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        token(server)
    )
    .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let mut lines = Vec::new();
    while lines.len() < want {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw).to_string();
        lines = text
            .lines()
            .filter(|l| l.starts_with('{'))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
    }
    lines
}

#[test]
fn watches_stream_changes_bookmarks_and_expire_after_compaction() {
    let server = start();
    server.set_bookmark_interval(Duration::from_millis(200));
    create_ns(&server, "w");
    let start_rv = server.store().resource_version().unwrap();
    apply(
        &server,
        "/api/v1/namespaces/w/configmaps/a",
        "fieldManager=test",
        &cm("w", "a", json!({"app": "db"})),
    );
    // From a resource version: the changes after it.
    let path = format!(
        "/api/v1/namespaces/w/configmaps?watch=true&resourceVersion={start_rv}&timeoutSeconds=1"
    );
    let lines = watch_lines(&server, &path, 1);
    assert_eq!(lines[0]["type"], "ADDED", "{lines:?}");
    assert_eq!(lines[0]["object"]["metadata"]["name"], "a");

    // Without one: the current state as ADDED, then what happens next, with bookmarks.
    let server2 = server.store().clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        server2
            .apply(
                "ConfigMap",
                "w",
                "a",
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "w", "labels": {"app": "web"}}}),
                "test",
                false,
                false,
            )
            .unwrap();
    });
    let lines = watch_lines(
        &server,
        "/api/v1/namespaces/w/configmaps?watch=1&labelSelector=app%3Ddb&allowWatchBookmarks=true&timeoutSeconds=2",
        3,
    );
    writer.join().unwrap();
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types[0], "ADDED", "{lines:?}");
    assert!(types.contains(&"BOOKMARK"), "{types:?}");
    // The relabelled object left the selection: DELETED, as the watch cache sends it.
    assert!(types.contains(&"DELETED"), "{types:?}");
    let bookmark = lines.iter().find(|l| l["type"] == "BOOKMARK").unwrap();
    assert_eq!(bookmark["object"]["kind"], "ConfigMap");
    assert!(bookmark["object"]["metadata"]["resourceVersion"].is_string());

    // After a compaction, an old resource version is 410 Expired as an ERROR event.
    server.compact();
    let lines = watch_lines(&server, &path, 1);
    assert_eq!(lines[0]["type"], "ERROR", "{lines:?}");
    assert_eq!(lines[0]["object"]["code"], 410);
    assert_eq!(lines[0]["object"]["reason"], "Expired");
    assert!(lines[0]["object"]["message"]
        .as_str()
        .unwrap()
        .starts_with(&format!("too old resource version: {start_rv} (")));
}

#[test]
fn kubectl_get_watch_sees_a_change() {
    if !have_kubectl() {
        return;
    }
    let server = start();
    create_ns(&server, "kw");
    apply(
        &server,
        "/api/v1/namespaces/kw/configmaps/a",
        "fieldManager=test",
        &cm("kw", "a", json!({})),
    );
    let store = server.store().clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        store
            .delete("ConfigMap", "kw", "a", kube_store::Propagation::Background)
            .unwrap();
    });
    let out = kubectl(
        &server,
        &[
            "get",
            "configmaps",
            "-n",
            "kw",
            "--watch",
            "--output-watch-events",
            "--request-timeout=4s",
            "-o",
            "json",
        ],
    );
    writer.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(r#""type":"ADDED""#),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(r#""type":"DELETED""#), "{text}");
}

/// The administrator's bearer token, as the server's kubeconfig carries it.
fn token(server: &ApiServer) -> String {
    let kc = server.kubeconfig("x");
    kc.lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .expect("the kubeconfig has a token")
        .to_string()
}

#[test]
fn a_continue_token_from_before_a_compaction_is_410_expired_with_an_inconsistent_token() {
    let server = start();
    create_ns(&server, "p");
    for name in ["a", "b", "c"] {
        apply(
            &server,
            &format!("/api/v1/namespaces/p/configmaps/{name}"),
            "fieldManager=test",
            &cm("p", name, json!({})),
        );
    }
    let first = get(&server, "/api/v1/namespaces/p/configmaps?limit=1");
    let token = first.body["metadata"]["continue"]
        .as_str()
        .unwrap()
        .to_string();
    apply(
        &server,
        "/api/v1/namespaces/p/configmaps/d",
        "fieldManager=test",
        &cm("p", "d", json!({})),
    );
    server.compact();
    let gone = get(
        &server,
        &format!("/api/v1/namespaces/p/configmaps?limit=1&continue={token}"),
    );
    assert_eq!(gone.status, 410, "{}", gone.body);
    assert_eq!(gone.body["reason"], "Expired");
    assert_eq!(gone.body["message"], kube_store::INCONSISTENT_CONTINUE);
    let inconsistent = gone.body["metadata"]["continue"].as_str().unwrap();
    let rest = get(
        &server,
        &format!("/api/v1/namespaces/p/configmaps?continue={inconsistent}"),
    );
    assert_eq!(rest.status, 200, "{}", rest.body);
    let names: Vec<&str> = rest.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b", "c", "d"], "the remainder at the latest state");
}

/// The lines of `kubectl get` output, each with its columns separated by one space.
fn columns(out: &str) -> Vec<String> {
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// `kubectl get` asks for a Table and prints the server's columns, as the real printers give
/// them.
#[test]
fn kubectl_get_prints_the_columns_of_the_servers_tables() {
    if !have_kubectl() {
        return;
    }
    let server = start();
    server.controllers().pause();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.yaml");
    std::fs::write(&file, MANIFEST.replace("SERVICE", "db")).unwrap();
    let file = file.to_str().unwrap();
    kubectl_ok(&server, &["apply", "--server-side", "-f", file]);
    kubectl_ok(
        &server,
        &[
            "create",
            "configmap",
            "cfg",
            "-n",
            "tenant-a",
            "--from-literal=a=b",
        ],
    );
    server.controllers().settle().unwrap();
    let get = |args: &[&str]| {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        let out = columns(&kubectl_ok(&server, &all));
        // The age is the last column of these rows: drop it.
        out.into_iter()
            .map(|l| match l.rsplit_once(' ') {
                Some((rest, last)) if last.ends_with('s') && last != "AGE" => rest.to_string(),
                _ => l,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        get(&["statefulsets", "-n", "tenant-a"]),
        ["NAME READY AGE", "db 2/2"]
    );
    let wide = columns(&kubectl_ok(
        &server,
        &["get", "sts", "-n", "tenant-a", "-o", "wide"],
    ));
    assert_eq!(wide[0], "NAME READY AGE CONTAINERS IMAGES");
    assert!(wide[1].ends_with(" postgres postgres:16"), "{wide:?}");
    assert_eq!(
        get(&["pods", "-n", "tenant-a"]),
        [
            "NAME READY STATUS RESTARTS AGE",
            "db-0 1/1 Running 0",
            "db-1 1/1 Running 0"
        ]
    );
    assert_eq!(
        get(&["pvc", "-n", "tenant-a"]),
        [
            "NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE",
            "data-db-0 Bound standard <unset>",
            "data-db-1 Bound standard <unset>"
        ]
    );
    assert_eq!(
        get(&["storageclasses"]),
        [
            "NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE",
            "standard (default) k8s.io/minikube-hostpath Delete Immediate false"
        ]
    );
    assert_eq!(
        get(&["ns", "tenant-a"]),
        ["NAME STATUS AGE", "tenant-a Active"]
    );
    let svc = get(&["svc", "-n", "tenant-a"]);
    assert_eq!(svc[0], "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE");
    assert!(
        svc[1].starts_with("db ClusterIP 10.") && svc[1].ends_with(" <none> 5432/TCP"),
        "{svc:?}"
    );
    assert_eq!(
        get(&["configmaps", "cfg", "-n", "tenant-a"]),
        ["NAME DATA AGE", "cfg 1"]
    );
    let revs = get(&["controllerrevisions", "-n", "tenant-a"]);
    assert_eq!(revs[0], "NAME CONTROLLER REVISION AGE");
    assert!(
        revs[1].starts_with("db-") && revs[1].ends_with(" statefulset.apps/db 1"),
        "{revs:?}"
    );
    kubectl_ok(
        &server,
        &["create", "serviceaccount", "app", "-n", "tenant-a"],
    );
    assert_eq!(
        get(&["serviceaccounts", "-n", "tenant-a"]),
        ["NAME SECRETS AGE", "app 0"]
    );
}
