//! The test API server, driven by the real `kubectl` and by plain HTTP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth::apiserver::ApiServer;
use berth::store::ObjectStore;
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
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        server.addr(),
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
    Command::new("kubectl")
        .arg("--server")
        .arg(server.url())
        .args(args)
        .env("KUBECONFIG", "/dev/null")
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("kubectl runs")
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
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.yaml");
    std::fs::write(&file, MANIFEST.replace("SERVICE", "db")).unwrap();
    let file = file.to_str().unwrap();

    let out = kubectl_ok(&server, &["get", "ns"]);
    assert!(
        out.contains("No resources found") || out.is_empty(),
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

    let out = kubectl_ok(&server, &["delete", "ns", "tenant-a"]);
    assert!(out.contains("namespace \"tenant-a\" deleted"), "{out}");
    let out = kubectl(&server, &["get", "sts", "db", "-n", "tenant-a"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NotFound")
            || String::from_utf8_lossy(&out.stderr).contains("not found")
    );
    server.shutdown();
}
