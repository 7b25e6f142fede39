//! `/openapi/v2` and `/openapi/v3`, built from the embedded definitions: the paths of every
//! served kind with the operations a real server lists (each PATCH carries the
//! `fieldValidation` parameter and `x-kubernetes-group-version-kind`, which kubectl reads to
//! leave validation to the server), and the schemas.
//!
//! As kube-openapi's handlers (`k8s.io/kube-openapi/pkg/handler`, `handler3`) do, the
//! documents are served as JSON when the client accepts it, and a client that accepts only
//! the protobuf encoding (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`) gets
//! 406 Not Acceptable, since the emulator does not encode protobuf.

use std::sync::LazyLock;

use serde_json::{json, Map, Value};

use kube_store::{kinds, KindInfo};

use crate::schema;

const TITLE: &str = "Kubernetes";
const VERSION: &str = "v1.35.0";

/// The operation id prefix of a group: `CoreV1`, `AppsV1`, `RbacAuthorizationV1`.
fn group_id(info: &KindInfo) -> String {
    let group = if info.group.is_empty() {
        "core"
    } else {
        info.group.trim_end_matches(".k8s.io")
    };
    let mut out = String::new();
    for part in group.split('.') {
        let mut c = part.chars();
        if let Some(f) = c.next() {
            out.extend(f.to_uppercase());
            out.push_str(c.as_str());
        }
    }
    let mut v = info.version.chars();
    if let Some(f) = v.next() {
        out.extend(f.to_uppercase());
        out.push_str(v.as_str());
    }
    out
}

fn gv_path(info: &KindInfo) -> String {
    if info.group.is_empty() {
        format!("api/{}", info.version)
    } else {
        format!("apis/{}/{}", info.group, info.version)
    }
}

/// The query parameters of an operation, by verb.
fn query_params(verb: &str) -> &'static [&'static str] {
    match verb {
        "post" | "put" => &["dryRun", "fieldManager", "fieldValidation"],
        "patch" => &["dryRun", "fieldManager", "fieldValidation", "force"],
        "delete" => &["dryRun", "gracePeriodSeconds", "propagationPolicy"],
        "list" => &[
            "continue",
            "fieldSelector",
            "labelSelector",
            "limit",
            "resourceVersion",
            "watch",
        ],
        _ => &[],
    }
}

const PATCH_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

enum Flavor {
    V2,
    V3,
}

fn schema_ref(flavor: &Flavor, def: &str) -> Value {
    match flavor {
        Flavor::V2 => json!({"$ref": format!("#/definitions/{def}")}),
        Flavor::V3 => json!({"$ref": format!("#/components/schemas/{def}")}),
    }
}

fn parameter(flavor: &Flavor, name: &str, r#in: &str, ty: &str) -> Value {
    let mut p = json!({"name": name, "in": r#in, "uniqueItems": true});
    match flavor {
        Flavor::V2 => p["type"] = json!(ty),
        Flavor::V3 => p["schema"] = json!({"type": ty}),
    }
    if r#in == "path" {
        p["required"] = json!(true);
    }
    p
}

fn param_type(name: &str) -> &'static str {
    match name {
        "force" | "watch" => "boolean",
        "limit" | "gracePeriodSeconds" => "integer",
        _ => "string",
    }
}

#[allow(clippy::too_many_arguments)]
fn operation(
    flavor: &Flavor,
    info: &KindInfo,
    def: &str,
    verb: &str,
    action: &str,
    id: &str,
    body: Option<&[&str]>,
    response: &str,
) -> Value {
    let mut op = Map::new();
    op.insert("operationId".into(), json!(id));
    let params: Vec<Value> = query_params(if action == "list" { "list" } else { verb })
        .iter()
        .map(|n| parameter(flavor, n, "query", param_type(n)))
        .collect();
    let mut params = params;
    match (flavor, body) {
        (Flavor::V2, Some(types)) => {
            params.insert(
                0,
                json!({"name": "body", "in": "body", "required": true, "schema": schema_ref(flavor, def)}),
            );
            op.insert("consumes".into(), json!(types));
        }
        (Flavor::V3, Some(types)) => {
            let content: Map<String, Value> = types
                .iter()
                .map(|t| (t.to_string(), json!({"schema": schema_ref(flavor, def)})))
                .collect();
            op.insert(
                "requestBody".into(),
                json!({"content": content, "required": true}),
            );
        }
        _ => {}
    }
    op.insert("parameters".into(), Value::Array(params));
    let ok = match flavor {
        Flavor::V2 => json!({"description": "OK", "schema": schema_ref(flavor, response)}),
        Flavor::V3 => json!({"description": "OK", "content": {
            "application/json": {"schema": schema_ref(flavor, response)},
            "application/yaml": {"schema": schema_ref(flavor, response)},
        }}),
    };
    op.insert("responses".into(), json!({"200": ok}));
    op.insert("x-kubernetes-action".into(), json!(action));
    op.insert(
        "x-kubernetes-group-version-kind".into(),
        json!({"group": info.group, "version": info.version, "kind": info.kind}),
    );
    Value::Object(op)
}

/// The paths of one kind.
fn kind_paths(flavor: &Flavor, info: &KindInfo, paths: &mut Map<String, Value>) {
    let Some(def) = schema::definition_name(info) else {
        return;
    };
    let gv = gv_path(info);
    let g = group_id(info);
    let scope = if info.namespaced { "Namespaced" } else { "" };
    let kind = info.kind;
    let collection = if info.namespaced {
        format!("/{gv}/namespaces/{{namespace}}/{}", info.plural)
    } else {
        format!("/{gv}/{}", info.plural)
    };
    let status = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
    let path_params = |named: bool| {
        let mut p = Vec::new();
        if named {
            p.push(parameter(flavor, "name", "path", "string"));
        }
        if info.namespaced {
            p.push(parameter(flavor, "namespace", "path", "string"));
        }
        p.push(parameter(flavor, "pretty", "query", "string"));
        Value::Array(p)
    };
    let json_body: &[&str] = &["application/json", "application/yaml"];
    paths.insert(
        collection.clone(),
        json!({
            "get": operation(flavor, info, def, "get", "list", &format!("list{g}{scope}{kind}"), None, def),
            "post": operation(flavor, info, def, "post", "post", &format!("create{g}{scope}{kind}"), Some(json_body), def),
            "delete": operation(flavor, info, def, "delete", "deletecollection", &format!("deletecollection{g}{scope}{kind}"), None, status),
            "parameters": path_params(false),
        }),
    );
    let object = format!("{collection}/{{name}}");
    paths.insert(
        object.clone(),
        json!({
            "get": operation(flavor, info, def, "get", "get", &format!("read{g}{scope}{kind}"), None, def),
            "put": operation(flavor, info, def, "put", "put", &format!("replace{g}{scope}{kind}"), Some(json_body), def),
            "patch": operation(flavor, info, def, "patch", "patch", &format!("patch{g}{scope}{kind}"), Some(PATCH_TYPES), def),
            "delete": operation(flavor, info, def, "delete", "delete", &format!("delete{g}{scope}{kind}"), None, status),
            "parameters": path_params(true),
        }),
    );
    if info.has_status {
        paths.insert(
            format!("{object}/status"),
            json!({
                "get": operation(flavor, info, def, "get", "get", &format!("read{g}{scope}{kind}Status"), None, def),
                "put": operation(flavor, info, def, "put", "put", &format!("replace{g}{scope}{kind}Status"), Some(json_body), def),
                "patch": operation(flavor, info, def, "patch", "patch", &format!("patch{g}{scope}{kind}Status"), Some(PATCH_TYPES), def),
                "parameters": path_params(true),
            }),
        );
    }
}

/// Definitions with `$ref`s pointing at `#/components/schemas/`.
fn v3_schemas() -> Value {
    let text = serde_json::to_string(schema::definitions()).unwrap_or_default();
    serde_json::from_str(&text.replace("#/definitions/", "#/components/schemas/"))
        .unwrap_or_default()
}

static V2: LazyLock<Value> = LazyLock::new(|| {
    let mut paths = Map::new();
    for info in kinds() {
        kind_paths(&Flavor::V2, info, &mut paths);
    }
    json!({
        "swagger": "2.0",
        "info": {"title": TITLE, "version": VERSION},
        "paths": paths,
        "definitions": schema::definitions(),
    })
});

/// The group-versions served, as `/openapi/v3` names them (`api/v1`, `apis/apps/v1`).
fn group_versions() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for info in kinds() {
        let gv = gv_path(info);
        if !out.contains(&gv) {
            out.push(gv);
        }
    }
    out
}

/// A content hash for `serverRelativeURL`, as the real server puts in `?hash=`.
fn hash(text: &str) -> String {
    // FNV-1a, 64 bits, twice with different offsets: stable across runs and builds.
    let fnv = |offset: u64| {
        text.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    format!(
        "{:016X}{:016X}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x8422_2325_cbf2_9ce4)
    )
}

static V3: LazyLock<Vec<(String, Value)>> = LazyLock::new(|| {
    let schemas = v3_schemas();
    group_versions()
        .into_iter()
        .map(|gv| {
            let mut paths = Map::new();
            for info in kinds().iter().filter(|k| gv_path(k) == gv) {
                kind_paths(&Flavor::V3, info, &mut paths);
            }
            let doc = json!({
                "openapi": "3.0.0",
                "info": {"title": TITLE, "version": VERSION},
                "paths": paths,
                "components": {"schemas": schemas.clone()},
            });
            (gv, doc)
        })
        .collect()
});

/// The OpenAPI v2 document.
pub(crate) fn v2() -> &'static Value {
    &V2
}

/// The OpenAPI v3 discovery document: each group-version with its `serverRelativeURL`.
pub(crate) fn v3_discovery() -> Value {
    let paths: Map<String, Value> = V3
        .iter()
        .map(|(gv, doc)| {
            let url = format!("/openapi/v3/{gv}?hash={}", hash(&doc.to_string()));
            (gv.clone(), json!({"serverRelativeURL": url}))
        })
        .collect();
    json!({"paths": paths})
}

/// The OpenAPI v3 document of a group-version (`apis/apps/v1`).
pub(crate) fn v3(gv: &str) -> Option<&'static Value> {
    V3.iter().find(|(g, _)| g == gv).map(|(_, d)| d)
}

/// Whether an `Accept` header admits JSON (`application/json`, `application/*`, `*/*`, or
/// no header at all).
pub(crate) fn accepts_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return true;
    };
    accept.split(',').any(|clause| {
        let media = clause.split(';').next().unwrap_or("").trim();
        matches!(media, "application/json" | "application/*" | "*/*")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_patch_operation_names_its_kind_and_takes_field_validation() {
        let doc = v3("apis/apps/v1").unwrap();
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "version": "v1", "kind": "StatefulSet"})
        );
        assert!(patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation"));
        assert!(patch["requestBody"]["content"]
            .get("application/strategic-merge-patch+json")
            .is_some());
        assert_eq!(patch["operationId"], "patchAppsV1NamespacedStatefulSet");
        let discovery = v3_discovery();
        let url = discovery["paths"]["api/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        assert!(url.starts_with("/openapi/v3/api/v1?hash="), "{url}");
        assert!(v2()["paths"]
            .get("/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}")
            .is_some());
        assert_eq!(
            group_id(kube_store::kind_by_name("Role").unwrap()),
            "RbacAuthorizationV1"
        );
    }

    #[test]
    fn json_is_served_only_to_clients_that_accept_it() {
        assert!(accepts_json(None));
        assert!(accepts_json(Some("application/json, */*")));
        assert!(!accepts_json(Some(
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
        )));
    }
}
