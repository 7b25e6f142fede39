//! Encoding and schema validation as a real API server does them, over plain HTTP and with
//! the real `kubectl`.

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
    text: String,
    body: Value,
}

impl Reply {
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// One request per connection; answers are never chunked by this server.
fn http(
    server: &ApiServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n",
        server.addr(),
        server.admin_token(),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    write!(s, "{head}\r\n{body}").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, text) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: serde_json::from_str(text).unwrap_or(Value::Null),
        text: text.to_string(),
    }
}

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn get(server: &ApiServer, path: &str) -> Reply {
    http(server, "GET", path, &[("Accept", "application/json")], "")
}

fn post(server: &ApiServer, path: &str, body: &Value) -> Reply {
    http(server, "POST", path, &[JSON], &body.to_string())
}

fn apply(server: &ApiServer, path: &str, query: &str, body: &Value) -> Reply {
    http(
        server,
        "PATCH",
        &format!("{path}?fieldManager=test{query}"),
        &[("Content-Type", "application/apply-patch+yaml")],
        &body.to_string(),
    )
}

fn namespace(server: &ApiServer, ns: &str) {
    let r = apply(
        server,
        &format!("/api/v1/namespaces/{ns}"),
        "",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
}

fn deployment(extra_spec: Value) -> Value {
    let mut d = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "a", "labels": {}},
        "spec": {
            "replicas": 0,
            "minReadySeconds": 0,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "automountServiceAccountToken": false,
                    "hostNetwork": false,
                    "containers": [{
                        "name": "web", "image": "nginx",
                        "ports": [{"containerPort": 80, "hostPort": 0}],
                        "volumeMounts": [{"name": "d", "mountPath": "/d", "readOnly": false}],
                    }],
                    "volumes": [{"name": "d", "emptyDir": {}}],
                },
            },
        },
    });
    if let (Some(spec), Value::Object(extra)) = (d["spec"].as_object_mut(), extra_spec) {
        spec.extend(extra);
    }
    d
}

fn assert_go_shaped(o: &Value) {
    let spec = &o["spec"];
    assert_eq!(spec["replicas"], 0, "a pointer keeps its zero: {o}");
    assert!(spec.get("minReadySeconds").is_none(), "{o}");
    assert!(o["metadata"].get("labels").is_none(), "{o}");
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"], false, "{o}");
    assert!(pod.get("hostNetwork").is_none(), "{o}");
    let c = &pod["containers"][0];
    assert!(c["ports"][0].get("hostPort").is_none(), "{o}");
    assert!(c["volumeMounts"][0].get("readOnly").is_none(), "{o}");
    assert_eq!(pod["volumes"][0]["emptyDir"], json!({}), "{o}");
}

#[test]
fn omitempty_fields_are_absent_in_apply_get_and_list_responses() {
    let server = start();
    namespace(&server, "a");
    let path = "/apis/apps/v1/namespaces/a/deployments/web";
    let r = apply(&server, path, "", &deployment(json!({})));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_go_shaped(&r.body);
    let r = get(&server, path);
    assert_eq!(r.status, 200);
    assert_go_shaped(&r.body);
    let r = get(&server, "/apis/apps/v1/namespaces/a/deployments");
    assert_go_shaped(&r.body["items"][0]);
}

#[test]
fn html_characters_are_escaped_as_go_escapes_them() {
    let server = start();
    namespace(&server, "a");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "a"},
        "data": {"page": "<b>a & b</b>\u{2028}"}});
    let r = post(&server, "/api/v1/namespaces/a/configmaps", &cm);
    assert_eq!(r.status, 201, "{}", r.text);
    let r = get(&server, "/api/v1/namespaces/a/configmaps/c");
    assert!(
        r.text
            .contains(r#""page":"\u003cb\u003ea \u0026 b\u003c/b\u003e\u2028""#),
        "{}",
        r.text
    );
    assert!(r.text.ends_with("}\n"), "json.Encoder ends with a newline");
    assert_eq!(r.body["data"]["page"], "<b>a & b</b>\u{2028}");
}

#[test]
fn server_side_apply_with_an_unknown_field_is_refused_whatever_field_validation_says() {
    let server = start();
    namespace(&server, "a");
    let path = "/apis/apps/v1/namespaces/a/deployments/web";
    for query in ["", "&fieldValidation=Ignore", "&fieldValidation=Warn"] {
        let r = apply(&server, path, query, &deployment(json!({"foo": 1})));
        assert_eq!(r.status, 500, "{}", r.text);
        assert_eq!(
            r.body["message"],
            "failed to create typed patch object (a/web; apps/v1, Kind=Deployment): .spec.foo: field not declared in schema"
        );
        assert!(r.body.get("reason").is_none(), "{}", r.text);
    }
    assert_eq!(get(&server, path).status, 404, "nothing was stored");
}

#[test]
fn strict_create_refuses_unknown_fields() {
    let server = start();
    namespace(&server, "a");
    let r = post(
        &server,
        "/apis/apps/v1/namespaces/a/deployments?fieldValidation=Strict",
        &deployment(json!({"foo": 1})),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["reason"], "BadRequest");
    assert_eq!(
        r.body["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.foo\""
    );
}

#[test]
fn warn_is_the_default_and_accepts_with_a_warning_and_drops_the_field() {
    let server = start();
    namespace(&server, "a");
    for query in ["", "?fieldValidation=Warn"] {
        let r = post(
            &server,
            &format!("/apis/apps/v1/namespaces/a/deployments{query}"),
            &deployment(json!({"foo": 1})),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.all("Warning"), [r#"299 - "unknown field \"spec.foo\"""#]);
        assert!(r.body["spec"].get("foo").is_none());
        let stored = get(&server, "/apis/apps/v1/namespaces/a/deployments/web");
        assert!(stored.body["spec"].get("foo").is_none(), "{}", stored.text);
        let r = http(
            &server,
            "DELETE",
            "/apis/apps/v1/namespaces/a/deployments/web",
            &[],
            "",
        );
        assert_eq!(r.status, 200);
    }
}

#[test]
fn ignore_drops_unknown_fields_silently() {
    let server = start();
    namespace(&server, "a");
    let r = post(
        &server,
        "/apis/apps/v1/namespaces/a/deployments?fieldValidation=Ignore",
        &deployment(json!({"foo": 1})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.all("Warning").is_empty());
    assert!(r.body["spec"].get("foo").is_none());
    // A merge patch with an unknown field under Strict is refused on the field `patch`.
    let r = http(
        &server,
        "PATCH",
        "/apis/apps/v1/namespaces/a/deployments/web?fieldValidation=Strict",
        &[("Content-Type", "application/merge-patch+json")],
        r#"{"spec":{"bar":1}}"#,
    );
    assert_eq!(r.status, 422, "{}", r.text);
    let message = r.body["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            " \"\" is invalid: patch: Invalid value: \"{\\\"apiVersion\\\":\\\"apps/v1\\\""
        ),
        "{message}"
    );
    assert!(
        message.ends_with("\": strict decoding error: unknown field \"spec.bar\""),
        "{message}"
    );
    assert_eq!(r.body["details"]["causes"][0]["field"], "patch");
}

#[test]
fn a_wrong_type_is_refused_as_each_request_kind_refuses_it() {
    let server = start();
    namespace(&server, "a");
    let bad = deployment(json!({"replicas": "3"}));
    let r = post(&server, "/apis/apps/v1/namespaces/a/deployments", &bad);
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.body["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
    );
    let path = "/apis/apps/v1/namespaces/a/deployments/web";
    let r = apply(&server, path, "", &bad);
    assert_eq!(r.status, 500, "{}", r.text);
    assert_eq!(
        r.body["message"],
        "failed to create typed patch object (a/web; apps/v1, Kind=Deployment): .spec.replicas: expected numeric (int or float), got string"
    );
    assert_eq!(apply(&server, path, "", &deployment(json!({}))).status, 201);
    let r = http(
        &server,
        "PATCH",
        path,
        &[("Content-Type", "application/merge-patch+json")],
        r#"{"spec":{"replicas":"3"}}"#,
    );
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.body["message"]
        .as_str()
        .unwrap()
        .ends_with("\": json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"));
}

#[test]
fn openapi_documents_are_served_as_json_and_protobuf_only_clients_get_406() {
    let server = start();
    let v2 = get(&server, "/openapi/v2");
    assert_eq!(v2.status, 200);
    assert!(v2.body["definitions"]
        .get("io.k8s.api.apps.v1.StatefulSet")
        .is_some());
    let pb = http(
        &server,
        "GET",
        "/openapi/v2",
        &[(
            "Accept",
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        )],
        "",
    );
    assert_eq!(pb.status, 406);
    let discovery = get(&server, "/openapi/v3");
    let url = discovery.body["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    let doc = get(&server, &url);
    assert_eq!(doc.status, 200);
    assert!(doc.body["components"]["schemas"]
        .get("io.k8s.api.apps.v1.Deployment")
        .is_some());
    assert_eq!(get(&server, "/openapi/v3/apis/nope/v1").status, 404);
}

fn kubectl(server: &ApiServer, dir: &Path, args: &[&str]) -> (bool, String) {
    // Over TLS: kubectl sends no token to a plain-HTTP server.
    let out = Command::new("kubectl")
        .arg("--server")
        .arg(server.https_url())
        .arg("--insecure-skip-tls-verify")
        .arg("--token")
        .arg(server.admin_token())
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(args)
        .env("KUBECONFIG", "/dev/null")
        .output()
        .expect("kubectl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn have_kubectl() -> bool {
    let found = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok();
    if !found {
        eprintln!("kubectl not installed: skipping");
    }
    found
}

const BAD_MANIFEST: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: t
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: t
spec:
  foo: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
        imagee: nginx
"#;

#[test]
fn kubectl_apply_validation_is_left_to_the_server_as_on_a_real_cluster() {
    if !have_kubectl() {
        return;
    }
    let server = start();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("bad.yaml");
    std::fs::write(&manifest, BAD_MANIFEST).unwrap();
    let file = manifest.to_str().unwrap();

    let (ok, out) = kubectl(
        &server,
        dir.path(),
        &["apply", "--validate=strict", "-f", file],
    );
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("Error from server (BadRequest): error when creating \"{file}\": Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.foo\", unknown field \"spec.template.spec.containers[0].imagee\"")), "{out}");

    let (ok, out) = kubectl(
        &server,
        dir.path(),
        &["apply", "--validate=warn", "-f", file],
    );
    assert!(ok, "{out}");
    assert!(out.contains("Warning: unknown field \"spec.foo\""), "{out}");
    assert!(
        out.contains("Warning: unknown field \"spec.template.spec.containers[0].imagee\""),
        "{out}"
    );
    assert!(out.contains("deployment.apps/web created"), "{out}");

    let (ok, out) = kubectl(&server, dir.path(), &["apply", "--server-side", "-f", file]);
    assert!(!ok, "{out}");
    assert!(out.contains("Error from server: failed to create typed patch object (t/web; apps/v1, Kind=Deployment): .spec.foo: field not declared in schema"), "{out}");
}
