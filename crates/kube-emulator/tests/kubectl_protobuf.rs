//! The real `kubectl`'s typed commands send protobuf bodies
//! (`Content-Type: application/vnd.kubernetes.protobuf`); the emulator decodes them and stores
//! the objects, as a real API server does for built-in kinds.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use kube_emulator::ApiServer;
use kube_store::ObjectStore;
use serde_json::{json, Value};

struct Cluster {
    server: ApiServer,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

fn start() -> Cluster {
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    // Over TLS, so that kubectl sends the administrator's token.
    std::fs::write(
        &kubeconfig,
        server.tls_kubeconfig("emulator", server.admin_token()),
    )
    .unwrap();
    Cluster {
        server,
        dir,
        kubeconfig,
    }
}

impl Cluster {
    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .arg("--request-timeout=20s")
            .args(args)
            .env_remove("KUBECONFIG")
            .output()
            .expect("kubectl runs")
    }

    fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn get(&self, kind: &str, ns: &str, name: &str) -> Value {
        self.server
            .store()
            .get(kind, ns, name)
            .unwrap_or_else(|e| panic!("{kind} {ns}/{name} is not stored: {e}"))
    }
}

#[test]
fn kubectl_create_commands_in_protobuf_store_their_objects() {
    let c = start();
    assert_eq!(
        c.kubectl_ok(&["create", "namespace", "demo"]).trim(),
        "namespace/demo created"
    );
    let ns = c.get("Namespace", "", "demo");
    assert_eq!(ns["metadata"]["name"], "demo");
    assert!(ns["metadata"]["creationTimestamp"].is_string(), "{ns}");

    c.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "s",
        "--from-literal=password=hunter2",
        "-n",
        "demo",
    ]);
    let secret = c.get("Secret", "demo", "s");
    assert_eq!(secret["data"], json!({"password": "aHVudGVyMg=="}));

    c.kubectl_ok(&["create", "serviceaccount", "sa", "-n", "demo"]);
    c.get("ServiceAccount", "demo", "sa");

    c.kubectl_ok(&[
        "create",
        "configmap",
        "cm",
        "--from-literal=k=v",
        "-n",
        "demo",
    ]);
    assert_eq!(c.get("ConfigMap", "demo", "cm")["data"], json!({"k": "v"}));

    c.kubectl_ok(&[
        "create",
        "role",
        "reader",
        "--verb=get,list",
        "--resource=pods",
        "-n",
        "demo",
    ]);
    assert_eq!(
        c.get("Role", "demo", "reader")["rules"],
        json!([{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}])
    );

    c.kubectl_ok(&[
        "create",
        "rolebinding",
        "read",
        "--role=reader",
        "--serviceaccount=demo:sa",
        "-n",
        "demo",
    ]);
    let rb = c.get("RoleBinding", "demo", "read");
    assert_eq!(
        rb["subjects"],
        json!([{"kind": "ServiceAccount", "name": "sa", "namespace": "demo"}])
    );
    assert_eq!(
        rb["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"})
    );

    c.kubectl_ok(&[
        "create",
        "clusterrole",
        "secret-reader",
        "--verb=get",
        "--resource=secrets",
    ]);
    c.kubectl_ok(&[
        "create",
        "clusterrolebinding",
        "devs-read",
        "--clusterrole=secret-reader",
        "--group=devs",
    ]);
    assert_eq!(
        c.get("ClusterRoleBinding", "", "devs-read")["subjects"],
        json!([{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"}])
    );

    c.kubectl_ok(&[
        "create",
        "quota",
        "q",
        "--hard=cpu=1500m,pods=2",
        "-n",
        "demo",
    ]);
    assert_eq!(
        c.get("ResourceQuota", "demo", "q")["spec"]["hard"],
        json!({"cpu": "1500m", "pods": "2"})
    );

    c.kubectl_ok(&[
        "create",
        "pdb",
        "p",
        "--selector=app=db",
        "--min-available=50%",
        "-n",
        "demo",
    ]);
    assert_eq!(
        c.get("PodDisruptionBudget", "demo", "p")["spec"]["minAvailable"],
        "50%"
    );
}

#[test]
fn kubectl_create_with_server_dry_run_in_protobuf_stores_nothing() {
    let c = start();
    c.kubectl_ok(&["create", "namespace", "ghost", "--dry-run=server"]);
    assert!(c.server.store().get("Namespace", "", "ghost").is_err());
}

struct Reply {
    status: u16,
    content_type: String,
    body: Value,
}

/// One request over HTTP/1.1 with a bearer token from the server's kubeconfig.
fn http(c: &Cluster, method: &str, path: &str, content_type: &str, body: &[u8]) -> Reply {
    let kubeconfig = c.server.kubeconfig("emulator");
    let token = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap_or("");
    let mut s = TcpStream::connect(c.server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nAccept: application/vnd.kubernetes.protobuf,application/json\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        c.server.addr(),
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let body = serde_json::from_str(rest).unwrap_or(Value::String(rest.to_string()));
    Reply {
        status,
        content_type,
        body,
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `kubectl create namespace demo`, as kubectl v1.32 sends it.
const CREATE_NAMESPACE_DEMO: &str = "6b3873000a0f0a02763112094e616d657370616365121c0a140a0464656d6f12001a0022002a0032003800420012001a020a001a002200";

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

#[test]
fn a_protobuf_create_is_answered_in_json_when_accept_lists_protobuf_first() {
    let c = start();
    let r = http(
        &c,
        "POST",
        "/api/v1/namespaces",
        PROTOBUF,
        &hex(CREATE_NAMESPACE_DEMO),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(r.body["metadata"]["name"], "demo");
}

#[test]
fn a_protobuf_body_of_a_kind_without_a_description_is_unsupported_media_type() {
    let c = start();
    // k8s\0, typeMeta{apiVersion: v1, kind: Pod}, raw = Pod{metadata: {name: p}}.
    let body = hex(concat!(
        "6b387300",
        "0a09",
        "0a027631",
        "1203506f64",
        "1205",
        "0a030a0170"
    ));
    let r = http(
        &c,
        "POST",
        "/api/v1/namespaces/default/pods",
        PROTOBUF,
        &body,
    );
    assert_eq!(
        (r.status, r.body["reason"].as_str()),
        (415, Some("UnsupportedMediaType"))
    );
    assert_eq!(
        r.body["message"],
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"
    );
    assert!(c.server.store().get("Pod", "default", "p").is_err());
}

#[test]
fn a_malformed_protobuf_body_is_a_bad_request() {
    let c = start();
    let full = hex(CREATE_NAMESPACE_DEMO);
    let r = http(&c, "POST", "/api/v1/namespaces", PROTOBUF, &full[..40]);
    assert_eq!(
        (r.status, r.body["reason"].as_str()),
        (400, Some("BadRequest"))
    );
    assert_eq!(
        r.body["message"],
        // Cut inside the envelope: no kind is known yet, so the body is summarized in hex.
        "the object provided is unrecognized (must be of type Namespace): unexpected EOF (6b3873000a0f0a02763112094e616d657370616365121c0a140a0464656d ...)"
    );
    let r = http(
        &c,
        "POST",
        "/api/v1/namespaces",
        PROTOBUF,
        b"{\"kind\":\"Namespace\"}",
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["message"],
        "the object provided is unrecognized (must be of type Namespace): provided data does not appear to be a protobuf message, expected prefix [107 56 115 0] ({\"kind\":\"Namespace\"})"
    );
}

#[test]
fn cbor_and_protobuf_patches_stay_unsupported_media_types() {
    let c = start();
    let r = http(
        &c,
        "POST",
        "/api/v1/namespaces",
        "application/cbor",
        &[0xa0],
    );
    assert_eq!(r.status, 415);
    assert_eq!(
        r.body["message"],
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"
    );
    c.kubectl_ok(&["create", "namespace", "demo"]);
    let r = http(
        &c,
        "PATCH",
        "/api/v1/namespaces/demo",
        PROTOBUF,
        &hex(CREATE_NAMESPACE_DEMO),
    );
    assert_eq!(r.status, 415);
}

#[test]
fn a_protobuf_content_type_without_a_body_is_not_decoded_on_get_or_delete() {
    let c = start();
    c.kubectl_ok(&["create", "namespace", "demo"]);
    let r = http(&c, "GET", "/api/v1/namespaces/demo", PROTOBUF, b"");
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http(&c, "DELETE", "/api/v1/namespaces/demo", PROTOBUF, b"");
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn protobuf_delete_options_are_decoded() {
    let c = start();
    c.kubectl_ok(&["create", "namespace", "demo"]);
    c.kubectl_ok(&["create", "configmap", "cm", "-n", "demo"]);
    // k8s\0, typeMeta{v1, DeleteOptions}, raw = {propagationPolicy: Foreground}.
    let body = hex(concat!(
        "6b387300",
        "0a13",
        "0a027631",
        "120d44656c6574654f7074696f6e73",
        "120c",
        "220a466f726567726f756e64"
    ));
    let r = http(
        &c,
        "DELETE",
        "/api/v1/namespaces/demo/configmaps/cm",
        PROTOBUF,
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Foreground: held by the foregroundDeletion finalizer until the garbage collector has
    // seen to its dependents (none), then gone.
    assert_eq!(
        r.body["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"]),
        "{}",
        r.body
    );
    c.server.controllers().settle().unwrap();
    assert!(c.server.store().get("ConfigMap", "demo", "cm").is_err());
}
