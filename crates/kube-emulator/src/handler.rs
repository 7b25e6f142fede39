//! Request routing and the handlers of each verb.

use std::cell::RefCell;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use super::controllers::namespace as lifecycle;
use super::{admission, gojson, metrics, openapi, patch, protobuf, schema, validation, Shared};
use kube_store::{
    groups, kind_by_plural, kinds, DeleteOptions, KindInfo, LabelSelector, ListPage, Propagation,
    StoreError,
};

const MAX_BODY: usize = 64 * 1024 * 1024;

pub(crate) fn json_response(code: u16, body: &Value) -> Response {
    let bytes = gojson::to_vec(body);
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An object of a served kind, shaped as the Go structs write it.
fn object_response(info: &KindInfo, code: u16, mut obj: Value) -> Response {
    if let Some(def) = schema::definition_name(info) {
        gojson::shape(def, &mut obj);
    }
    json_response(code, &obj)
}

fn refusal_response(r: &validation::Refusal) -> Response {
    json_response(r.code, &r.status)
}

/// Adds one `Warning` header per warning.
fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        if let Ok(v) = HeaderValue::from_str(&validation::warning_header(w)) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        410 => "Expired",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    }
}

pub(crate) fn status_body(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
}

fn status_response(code: u16, message: &str) -> Response {
    json_response(code, &status_body(code, reason_for(code), message))
}

fn error_response(e: &StoreError) -> Response {
    json_response(e.code(), &e.to_status())
}

fn not_found() -> Response {
    status_response(404, "the server could not find the requested resource")
}

/// The answer to an injected failure.
pub(crate) fn fault_response(code: u16) -> Response {
    if code == 429 {
        // The max-in-flight and priority-and-fairness filters answer before any handler,
        // with `http.Error`: a plain-text body and `Retry-After: 1`, no Status
        // (`staging/src/k8s.io/apiserver/pkg/server/filters/maxinflight.go`, `tooManyRequests`).
        let mut resp = Response::new(Body::from("Too many requests, please try again later.\n"));
        *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return resp;
    }
    let message = match code {
        500 => "Internal error occurred: injected fault".to_string(),
        // An injected 403 stands for the authorizer's refusal, and reads like one.
        403 => "injected fault: User \"injected\" cannot perform this request".to_string(),
        _ => format!("injected fault ({code})"),
    };
    json_response(code, &status_body(code, reason_for(code), &message))
}

/// Query parameters, tolerating empty pairs (`?&limit=5`).
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Self {
        Query(
            form_urlencoded::parse(q.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true") | Some("1") | Some(""))
    }

    fn dry_run(&self) -> bool {
        self.0.iter().any(|(k, v)| k == "dryRun" && v == "All")
    }
}

/// A resource path: which kind, which namespace, which object, which subresource.
struct ResPath {
    info: &'static KindInfo,
    ns: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_resource_path(group: &str, version: &str, rest: &[&str]) -> Option<ResPath> {
    let kind = |plural: &str| kind_by_plural(group, plural).filter(|k| k.version == version);
    let owned = |s: &&str| s.to_string();
    match rest {
        ["namespaces", ns, plural, tail @ ..] if !matches!(*plural, "status" | "finalize") => {
            let info = kind(plural)?;
            if !info.namespaced || tail.len() > 2 {
                return None;
            }
            Some(ResPath {
                info,
                ns: Some(ns.to_string()),
                name: tail.first().map(owned),
                sub: tail.get(1).map(owned),
            })
        }
        [plural, tail @ ..] => {
            let info = kind(plural)?;
            if tail.len() > 2 || (info.namespaced && !tail.is_empty()) {
                return None;
            }
            Some(ResPath {
                info,
                ns: None,
                name: tail.first().map(owned),
                sub: tail.get(1).map(owned),
            })
        }
        [] => None,
    }
}

pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Authentication and authorization come first, as in kube-apiserver's filter chain.
    let store = &shared.store;
    let user = match super::auth::admit(
        store,
        &shared.tokens,
        &method,
        uri.path(),
        uri.query(),
        &headers,
    ) {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let query = Query::parse(uri.query());
    let mut headers = headers;
    let ct = content_type(&headers);
    if ct.contains("cbor") || (ct.contains("protobuf") && ct != protobuf::MEDIA_TYPE) {
        // CBOR is served only behind the alpha gate CBORServingAndStorage (off by default).
        return status_response(
            415,
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf",
        );
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return status_response(413, "the request body is too large or unreadable"),
    };
    // Protobuf bodies of creates, updates and deletes become the JSON the rest takes (patches
    // are never protobuf: their handler answers 415). An empty DELETE body is no DeleteOptions,
    // and other verbs' bodies are not read, as on a real server.
    let decodes = match method {
        Method::POST | Method::PUT => true,
        Method::DELETE => !body.is_empty(),
        _ => false,
    };
    let body = if ct == protobuf::MEDIA_TYPE && decodes {
        let endpoint = protobuf_endpoint(&method, &segments);
        let endpoint = endpoint
            .as_ref()
            .map(|(api_version, kind)| protobuf::Endpoint { api_version, kind });
        match protobuf::decode(&body, endpoint) {
            Ok(json) => {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                Bytes::from(serde_json::to_vec(&json).unwrap_or_default())
            }
            Err(e) => return status_response(e.code(), &e.to_string()),
        }
    } else {
        body
    };
    if let Some(resp) = super::auth::serve(
        store,
        &shared.tokens,
        &user,
        &method,
        uri.path(),
        &headers,
        uri.query(),
        &body,
    ) {
        return resp;
    }
    match segments.as_slice() {
        [] => json_response(
            200,
            &json!({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/openapi/v2", "/openapi/v3", "/version"]}),
        ),
        ["openapi", rest @ ..] if method == Method::GET => openapi_request(&headers, rest),
        ["version"] => json_response(200, &version()),
        ["healthz"] | ["livez"] | ["readyz"] => {
            let mut r = Response::new(Body::from("ok"));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            r
        }
        ["api"] if method == Method::GET => json_response(200, &api_versions(&shared)),
        ["apis"] if method == Method::GET => json_response(200, &api_group_list(&shared)),
        ["apis", "metrics.k8s.io"] if method == Method::GET && metrics_served(&shared) => {
            json_response(200, &metrics::api_group())
        }
        ["apis", "metrics.k8s.io", "v1beta1"]
            if method == Method::GET && metrics_served(&shared) =>
        {
            json_response(200, &metrics::resource_list())
        }
        ["apis", "metrics.k8s.io", "v1beta1", rest @ ..] if metrics_served(&shared) => {
            metrics_request(&shared, &method, &query, rest).await
        }
        ["api", "v1"] if method == Method::GET => json_response(200, &resource_list("", "v1")),
        ["apis", g, v] if method == Method::GET => {
            if groups().iter().any(|(gg, vv)| gg == g && vv == v) {
                json_response(200, &resource_list(g, v))
            } else {
                not_found()
            }
        }
        ["apis", g] if method == Method::GET => match groups().iter().find(|(gg, _)| gg == g) {
            Some((g, v)) => json_response(200, &api_group(g, v)),
            None => not_found(),
        },
        ["api", "v1", rest @ ..] => match parse_resource_path("", "v1", rest) {
            Some(p) => resource(&shared, &method, &headers, &query, p, body).await,
            None => not_found(),
        },
        ["apis", g, v, rest @ ..] => match parse_resource_path(g, v, rest) {
            Some(p) => resource(&shared, &method, &headers, &query, p, body).await,
            None => not_found(),
        },
        _ => not_found(),
    }
}

/// The kind a request's body must be (`scope.Kind`; `DeleteOptions` for a DELETE), for the
/// protobuf decoder's defaults and messages; `None` where the path names no known resource.
fn protobuf_endpoint(method: &Method, segments: &[&str]) -> Option<(String, String)> {
    if *method == Method::DELETE {
        return Some(("meta.k8s.io/v1".into(), "DeleteOptions".into()));
    }
    let p = match segments {
        ["api", "v1", rest @ ..] => parse_resource_path("", "v1", rest)?,
        ["apis", g, v, rest @ ..] => parse_resource_path(g, v, rest)?,
        _ => return None,
    };
    match (p.info.kind, p.sub.as_deref()) {
        (kind, None | Some("status")) => Some((p.info.api_version(), kind.to_string())),
        ("ServiceAccount", Some("token")) => {
            Some(("authentication.k8s.io/v1".into(), "TokenRequest".into()))
        }
        _ => None,
    }
}

fn version() -> Value {
    json!({
        "major": "1",
        "minor": "35",
        "emulationMajor": "1",
        "emulationMinor": "35",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "34",
        "gitVersion": "v1.35.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25.0",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

fn api_versions(shared: &Shared) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": shared.addr.to_string()}]
    })
}

fn api_group(g: &str, v: &str) -> Value {
    let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": [gv.clone()], "preferredVersion": gv})
}

fn api_group_list(shared: &Shared) -> Value {
    let mut groups: Vec<Value> = groups().into_iter().map(|(g, v)| api_group(g, v)).collect();
    groups.extend(super::auth::api_groups());
    if metrics_served(shared) {
        groups.push(metrics::api_group());
    }
    for group in &mut groups {
        if let Some(m) = group.as_object_mut() {
            m.shift_remove("kind");
            m.shift_remove("apiVersion");
        }
    }
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resource_list(group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for k in kinds()
        .iter()
        .filter(|k| k.group == group && k.version == version)
    {
        resources.push(json!({
            "name": k.plural,
            "singularName": k.singular,
            "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update"],
            "shortNames": k.short_names,
        }));
        if k.kind == "ServiceAccount" {
            resources.push(super::auth::token_subresource());
        }
        if k.has_status {
            resources.push(json!({
                "name": format!("{}/status", k.plural),
                "singularName": "",
                "namespaced": k.namespaced,
                "kind": k.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

/// The request body as JSON (or YAML when `yaml_ok`); the error is a 400 message.
fn parse_body(body: &Bytes, yaml_ok: bool) -> Result<Value, String> {
    if body.is_empty() {
        return Err("the request body is empty".into());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(v),
        Err(e) if !yaml_ok => Err(format!(
            "the body of the request was in an unknown format: {e}"
        )),
        Err(_) => {
            let text = std::str::from_utf8(body)
                .map_err(|_| "the request body is not UTF-8".to_string())?;
            serde_norway::from_str::<Value>(text).map_err(|e| format!("error decoding YAML: {e}"))
        }
    }
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn field_manager(query: &Query, headers: &HeaderMap, default: &str) -> String {
    if let Some(m) = query.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    // Like a real server: the user agent's program name.
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(128).collect())
        .unwrap_or_else(|| default.to_string())
}

fn list_body(info: &KindInfo, page: ListPage) -> Value {
    let mut meta = serde_json::Map::new();
    meta.insert("resourceVersion".into(), json!(page.resource_version));
    if let Some(c) = page.continue_token {
        meta.insert("continue".into(), json!(c));
    }
    let def = schema::definition_name(info);
    let items: Vec<Value> = page
        .items
        .into_iter()
        .map(|mut o| {
            if let Some(d) = def {
                gojson::shape(d, &mut o);
            }
            o
        })
        .collect();
    json!({
        "kind": format!("{}List", info.kind),
        "apiVersion": info.api_version(),
        "metadata": meta,
        "items": items,
    })
}

/// Whether the client asked for a `PartialObjectMetadataList` (`Accept:
/// application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`), as kube-rs'
/// `list_metadata` and `kubectl get -o name` do.
fn wants_metadata_list(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("as=PartialObjectMetadataList"))
}

/// Whether the client asked for a Table (`kubectl get`), and if so its `includeObject`.
fn wants_table<'q>(headers: &HeaderMap, query: &'q Query) -> Option<Option<&'q str>> {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(super::table::wanted)
        .then(|| query.get("includeObject"))
}

/// A LIST page as a `PartialObjectMetadataList`: each item only its metadata.
fn metadata_list_body(page: ListPage) -> Value {
    let mut meta = serde_json::Map::new();
    meta.insert("resourceVersion".into(), json!(page.resource_version));
    if let Some(c) = page.continue_token {
        meta.insert("continue".into(), json!(c));
    }
    let items: Vec<Value> = page
        .items
        .into_iter()
        .map(|o| {
            let mut metadata = o.get("metadata").cloned().unwrap_or_else(|| json!({}));
            gojson::shape(
                "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                &mut metadata,
            );
            json!({
                "apiVersion": "meta.k8s.io/v1",
                "kind": "PartialObjectMetadata",
                "metadata": metadata,
            })
        })
        .collect();
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "items": items,
    })
}

/// A write of an existing object, through the validating admission of updates where
/// [`admission::admits_updates`]: the write is first done as a dry run, so that the
/// registry's own validation answers before admission as on a real server; admission then
/// judges the stored object against the result, and only then is the write done (unless the
/// request is a dry run). `result` picks the written object out of what `write` returns.
fn admitted_update<T>(
    store: &kube_store::ObjectStore,
    info: &'static KindInfo,
    ns: &str,
    name: &str,
    dry_run: bool,
    write: impl Fn(bool) -> Result<T, StoreError>,
    result: impl Fn(&T) -> Option<&Value>,
) -> Result<Result<T, admission::Refusal>, StoreError> {
    if !admission::admits_updates(info) {
        return write(dry_run).map(Ok);
    }
    let Ok(old) = store.get(info.kind, ns, name) else {
        return write(dry_run).map(Ok);
    };
    let tried = write(true)?;
    if let Some(new) = result(&tried) {
        if let Err(refusal) = admission::admit_update(store, info, &old, new) {
            return Ok(Err(refusal));
        }
    }
    if dry_run {
        return Ok(Ok(tried));
    }
    write(false).map(Ok)
}

/// The answer to an admitted write.
fn admitted_response(
    info: &KindInfo,
    code: u16,
    result: Result<Result<Value, admission::Refusal>, StoreError>,
) -> Response {
    match result {
        Ok(Ok(o)) => object_response(info, code, o),
        Ok(Err((code, body))) => json_response(code, &body),
        Err(e) => error_response(&e),
    }
}

/// Blocking store calls run off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(StoreError::Internal {
            kind: String::new(),
            namespace: String::new(),
            name: String::new(),
            message: format!("internal error: {e}"),
        })
    })
}

async fn resource(
    shared: &Arc<Shared>,
    method: &Method,
    headers: &HeaderMap,
    query: &Query,
    p: ResPath,
    body: Bytes,
) -> Response {
    let store = shared.store.clone();
    let info = p.info;
    let kind = info.kind;
    let ns = p.ns.clone().unwrap_or_default();
    let dry_run = query.dry_run();
    if query.flag("watch") && *method == Method::GET {
        return match watch_request(info, &p, query) {
            Ok(req) => super::watches::respond(shared.clone(), req),
            Err(m) => status_response(400, &m),
        };
    }
    match (&p.name, p.sub.as_deref()) {
        // Collections.
        (None, _) => match *method {
            Method::GET => {
                let selector = match LabelSelector::parse(query.get("labelSelector").unwrap_or(""))
                {
                    Ok(s) => s,
                    Err(e) => return status_response(400, &e.to_string()),
                };
                let limit = match query.get("limit").filter(|l| !l.is_empty()) {
                    None => None,
                    Some(l) => match l.parse::<usize>() {
                        Ok(n) => Some(n),
                        Err(_) => return status_response(400, &format!("invalid limit {l:?}")),
                    },
                };
                let field_filter = match parse_field_selector(query.get("fieldSelector")) {
                    Ok(f) => f,
                    Err(m) => return status_response(400, &m),
                };
                let token = query.get("continue").map(str::to_string);
                let list_ns = p.ns.clone();
                let result = blocking(move || {
                    store.list(kind, list_ns.as_deref(), &selector, limit, token.as_deref())
                })
                .await;
                match result {
                    Ok(mut page) => {
                        if !field_filter.is_empty() {
                            page.items
                                .retain(|o| field_filter.iter().all(|f| f.matches(o)));
                        }
                        if let Some(include) = wants_table(headers, query) {
                            let body = super::table::table(
                                info,
                                &page.items,
                                Some(&page.resource_version),
                                page.continue_token.as_deref(),
                                include,
                                shared.controllers.now_ms(),
                            );
                            json_response(200, &body)
                        } else if wants_metadata_list(headers) {
                            json_response(200, &metadata_list_body(page))
                        } else {
                            json_response(200, &list_body(info, page))
                        }
                    }
                    Err(e) => error_response(&e),
                }
            }
            Method::POST => {
                if info.namespaced && p.ns.is_none() {
                    return status_response(405, "the namespace must be given to create an object");
                }
                let mut obj = match parse_body(&body, true) {
                    Ok(v) => v,
                    Err(m) => return status_response(400, &m),
                };
                let accepted =
                    match validation::directive(query.get("fieldValidation"), "CreateOptions")
                        .and_then(|d| validation::check_body(info, &mut obj, d))
                    {
                        Ok(a) => a,
                        Err(r) => return refusal_response(&r),
                    };
                let manager = field_manager(query, headers, "unknown");
                let obj_name = ["/metadata/name", "/metadata/generateName"]
                    .iter()
                    .find_map(|p| {
                        obj.pointer(p)
                            .and_then(Value::as_str)
                            .filter(|n| !n.is_empty())
                    })
                    .unwrap_or("")
                    .to_string();
                if let Err((code, body)) = lifecycle::admit_create(&store, info, &ns, &obj_name) {
                    return json_response(code, &body);
                }
                let gate = shared.controllers.clone();
                let result = blocking(move || {
                    let _one_at_a_time = gate.admission().serialize();
                    let warnings = match admission::admit_create(&store, info, &ns, &mut obj) {
                        Ok(w) => w,
                        Err(refusal) => return Ok(Err(refusal)),
                    };
                    Ok(Ok((
                        store.create(kind, &ns, obj, &manager, dry_run),
                        warnings,
                    )))
                })
                .await;
                let (resp, mut warnings) = match result {
                    Ok(Ok((Ok(o), w))) => (object_response(info, 201, o), w),
                    Ok(Ok((Err(e), _))) => (error_response(&e), Vec::new()),
                    Ok(Err((code, body))) => (json_response(code, &body), Vec::new()),
                    Err(e) => (error_response(&e), Vec::new()),
                };
                warnings.splice(0..0, accepted.warnings);
                with_warnings(resp, &warnings)
            }
            Method::DELETE => {
                let selector = match LabelSelector::parse(query.get("labelSelector").unwrap_or(""))
                {
                    Ok(s) => s,
                    Err(e) => return status_response(400, &e.to_string()),
                };
                let list_ns = p.ns.clone();
                let opts = delete_options(shared, &body, query);
                let result = blocking(move || {
                    let page = store.list(kind, list_ns.as_deref(), &selector, None, None)?;
                    let mut deleted = Vec::new();
                    for o in &page.items {
                        let s = |ptr: &str| {
                            o.pointer(ptr)
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string()
                        };
                        let (ns, name) = (s("/metadata/namespace"), s("/metadata/name"));
                        if dry_run {
                            deleted.push(o.clone());
                            continue;
                        }
                        match store.delete_with(kind, &ns, &name, &opts) {
                            Ok((o, _)) => deleted.push(o),
                            Err(StoreError::NotFound { .. }) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(ListPage {
                        items: deleted,
                        resource_version: store.resource_version()?.to_string(),
                        continue_token: None,
                    })
                })
                .await;
                match result {
                    Ok(page) => json_response(200, &list_body(info, page)),
                    Err(e) => error_response(&e),
                }
            }
            _ => status_response(
                405,
                &format!("method {method} is not allowed on a collection"),
            ),
        },
        // The object itself.
        (Some(name), None) => {
            let name = name.clone();
            match *method {
                Method::GET => match blocking(move || store.get(kind, &ns, &name)).await {
                    Ok(o) => match wants_table(headers, query) {
                        Some(include) => {
                            let mut o = o;
                            if let Some(def) = schema::definition_name(info) {
                                gojson::shape(def, &mut o);
                            }
                            let rv = o
                                .pointer("/metadata/resourceVersion")
                                .and_then(Value::as_str)
                                .map(str::to_string);
                            let body = super::table::table(
                                info,
                                &[o],
                                rv.as_deref(),
                                None,
                                include,
                                shared.controllers.now_ms(),
                            );
                            json_response(200, &body)
                        }
                        None => object_response(info, 200, o),
                    },
                    Err(e) => error_response(&e),
                },
                Method::PUT => {
                    let mut obj = match parse_body(&body, true) {
                        Ok(v) => v,
                        Err(m) => return status_response(400, &m),
                    };
                    let accepted =
                        match validation::directive(query.get("fieldValidation"), "UpdateOptions")
                            .and_then(|d| validation::check_body(info, &mut obj, d))
                        {
                            Ok(a) => a,
                            Err(r) => return refusal_response(&r),
                        };
                    let manager = field_manager(query, headers, "unknown");
                    let result = blocking(move || {
                        admitted_update(
                            &store,
                            info,
                            &ns,
                            &name,
                            dry_run,
                            |dry| store.update(kind, &ns, &name, obj.clone(), &manager, dry),
                            |o| Some(o),
                        )
                    })
                    .await;
                    with_warnings(admitted_response(info, 200, result), &accepted.warnings)
                }
                Method::PATCH => {
                    let ct = content_type(headers);
                    match ct.as_str() {
                        "application/apply-patch+yaml" | "application/apply-patch+json" => {
                            let patch = match parse_body(&body, true) {
                                Ok(v) => v,
                                Err(m) => return status_response(400, &m),
                            };
                            let Some(manager) = query
                                .get("fieldManager")
                                .filter(|m| !m.is_empty())
                                .map(str::to_string)
                            else {
                                return status_response(400, "PATCH of type application/apply-patch+yaml requires fieldManager");
                            };
                            if let Err(r) =
                                validation::directive(query.get("fieldValidation"), "PatchOptions")
                                    .and_then(|_| validation::check_apply(info, &patch))
                            {
                                return refusal_response(&r);
                            }
                            let force = query.flag("force");
                            let creating = store.get(kind, &ns, &name).is_err();
                            if creating {
                                if let Err((code, body)) =
                                    lifecycle::admit_create(&store, info, &ns, &name)
                                {
                                    return json_response(code, &body);
                                }
                            }
                            let mut patch = patch;
                            let gate = shared.controllers.clone();
                            let result = blocking(move || {
                                let _one_at_a_time = gate.admission().serialize();
                                // An apply that creates is admitted as a create of the applied
                                // object; LimitRanger's defaults join the patch.
                                let mut warnings = Vec::new();
                                if creating {
                                    let mut obj = patch.clone();
                                    if let Some(m) =
                                        obj.get_mut("metadata").and_then(Value::as_object_mut)
                                    {
                                        m.insert("name".into(), json!(name));
                                    }
                                    let admitted = admission::mutate(&store, info, &ns, &mut patch)
                                        .and_then(|()| {
                                            admission::mutate(&store, info, &ns, &mut obj)
                                        })
                                        .and_then(|()| {
                                            admission::validate(&store, info, &ns, &obj)
                                        });
                                    match admitted {
                                        Ok(w) => warnings = w,
                                        Err(refusal) => return Ok(Err(refusal)),
                                    }
                                }
                                let write = |dry| {
                                    store.apply(
                                        kind,
                                        &ns,
                                        &name,
                                        patch.clone(),
                                        &manager,
                                        force,
                                        dry,
                                    )
                                };
                                let applied = if creating {
                                    write(dry_run).map(Ok)
                                } else {
                                    admitted_update(
                                        &store,
                                        info,
                                        &ns,
                                        &name,
                                        dry_run,
                                        write,
                                        |(o, created)| (!created).then_some(o),
                                    )
                                };
                                Ok(match applied {
                                    Ok(Ok(done)) => Ok((Ok(done), warnings)),
                                    Ok(Err(refusal)) => Err(refusal),
                                    Err(e) => Ok((Err(e), warnings)),
                                })
                            })
                            .await;
                            match result {
                                Ok(Ok((Ok((o, created)), w))) => with_warnings(
                                    object_response(info, if created { 201 } else { 200 }, o),
                                    &w,
                                ),
                                Ok(Ok((Err(e), _))) => error_response(&e),
                                Ok(Err((code, body))) => json_response(code, &body),
                                Err(e) => error_response(&e),
                            }
                        }
                        other => {
                            let (patch, directive) = match read_patch(info, other, query, &body) {
                                Ok(p) => p,
                                Err(resp) => return *resp,
                            };
                            let manager = field_manager(query, headers, "unknown");
                            let result = blocking(move || {
                                let refused = RefCell::new(None);
                                let warnings = RefCell::new(Vec::new());
                                // The patch is applied to the stored object inside the store's
                                // transaction, as GuaranteedUpdate applies it to the current one.
                                let write = |dry| {
                                    store.patch_with(kind, &ns, &name, &manager, dry, |current| {
                                        match checked_patch(info, &patch, current, directive) {
                                            Ok((patched, accepted)) => {
                                                *warnings.borrow_mut() = accepted.warnings;
                                                Ok(patched)
                                            }
                                            Err(r) => {
                                                *refused.borrow_mut() = Some(r);
                                                Err(patch_refused())
                                            }
                                        }
                                    })
                                };
                                let done = admitted_update(
                                    &store,
                                    info,
                                    &ns,
                                    &name,
                                    dry_run,
                                    write,
                                    |o| Some(o),
                                );
                                Ok((done, refused.into_inner(), warnings.into_inner()))
                            })
                            .await;
                            match result {
                                Ok((_, Some(r), _)) => refusal_response(&r),
                                Ok((done, None, warnings)) => {
                                    with_warnings(admitted_response(info, 200, done), &warnings)
                                }
                                Err(e) => error_response(&e),
                            }
                        }
                    }
                }
                Method::DELETE => {
                    if let Err((code, body)) = lifecycle::admit_delete(info, &name) {
                        return json_response(code, &body);
                    }
                    let opts = delete_options(shared, &body, query);
                    let warn = lifecycle::job_delete_warning(info, &opts);
                    let result = blocking(move || store.delete_with(kind, &ns, &name, &opts)).await;
                    let mut resp = match result {
                        Ok((o, gone)) => {
                            let body = delete_success(info, &o, gone);
                            if body["kind"] == "Status" {
                                json_response(200, &body)
                            } else {
                                // The object, still there while it terminates, as Go encodes it.
                                object_response(info, 200, body)
                            }
                        }
                        Err(e) => error_response(&e),
                    };
                    if let Some(w) = warn {
                        resp.headers_mut().insert("warning", w);
                    }
                    resp
                }
                _ => status_response(405, &format!("method {method} is not allowed on an object")),
            }
        }
        (Some(name), Some("finalize")) if kind == "Namespace" && *method == Method::PUT => {
            let obj = match parse_body(&body, true) {
                Ok(v) => v,
                Err(m) => return status_response(400, &m),
            };
            let list: Vec<String> = obj
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let name = name.clone();
            match blocking(move || store.finalize_namespace(&name, &list)).await {
                Ok(o) => json_response(200, &o),
                Err(e) => error_response(&e),
            }
        }
        (Some(name), Some("status")) if info.has_status => {
            let name = name.clone();
            match *method {
                Method::GET => match blocking(move || store.get(kind, &ns, &name)).await {
                    Ok(o) => object_response(info, 200, o),
                    Err(e) => error_response(&e),
                },
                Method::PUT | Method::PATCH => {
                    let is_put = *method == Method::PUT;
                    let ct = content_type(headers);
                    // A PUT carries the object; a PATCH one of the patch types (an apply patch
                    // is merged into the status like a merge patch).
                    let patch = if is_put || ct.starts_with("application/apply-patch") {
                        match parse_body(&body, true) {
                            Ok(v) => patch::Patch {
                                kind: validation::PatchType::Merge,
                                body: v,
                            },
                            Err(m) => return status_response(400, &m),
                        }
                    } else {
                        match read_patch(info, &ct, query, &body) {
                            Ok((p, _)) => p,
                            Err(resp) => return *resp,
                        }
                    };
                    let result = blocking(move || {
                        let current = store.get(kind, &ns, &name)?;
                        let status = if is_put {
                            let rv = patch
                                .body
                                .pointer("/metadata/resourceVersion")
                                .and_then(Value::as_str)
                                .filter(|s| !s.is_empty());
                            if rv.is_some()
                                && rv
                                    != current
                                        .pointer("/metadata/resourceVersion")
                                        .and_then(Value::as_str)
                            {
                                // Let the store word the conflict.
                                return store
                                    .update(kind, &ns, &name, patch.body, "status", dry_run)
                                    .map(Ok);
                            }
                            patch.body.get("status").cloned().unwrap_or(Value::Null)
                        } else {
                            match patch::apply(info, &patch, &current) {
                                Ok(mut patched) => {
                                    patch::drop_null_members(&mut patched);
                                    patched.get("status").cloned().unwrap_or(Value::Null)
                                }
                                Err(r) => return Ok(Err(r)),
                            }
                        };
                        if dry_run {
                            let mut o = current;
                            o["status"] = status;
                            return Ok(Ok(o));
                        }
                        store.set_status(kind, &ns, &name, status).map(Ok)
                    })
                    .await;
                    match result {
                        Ok(Ok(o)) => object_response(info, 200, o),
                        Ok(Err(r)) => refusal_response(&r),
                        Err(e) => error_response(&e),
                    }
                }
                _ => status_response(405, &format!("method {method} is not allowed on status")),
            }
        }
        _ => not_found(),
    }
}

/// A merge, strategic merge or JSON patch applied to the stored object `current`, and the
/// patched object checked as decoding it into the Go struct checks it (unknown fields
/// dropped, warned about or refused as `fieldValidation` says).
fn checked_patch(
    info: &'static KindInfo,
    patch: &patch::Patch,
    current: &Value,
    directive: validation::Directive,
) -> Result<(Value, validation::Accepted), validation::Refusal> {
    let mut patched = patch::apply(info, patch, current)?;
    let accepted = validation::check_patched(info, &mut patched, patch, directive)?;
    patch::drop_null_members(&mut patched);
    Ok((patched, accepted))
}

/// Stands for a refused patch inside the store's transaction, which it ends with nothing
/// written; the refusal itself is answered.
fn patch_refused() -> StoreError {
    StoreError::BadRequest {
        kind: String::new(),
        namespace: String::new(),
        name: String::new(),
        message: "patch refused".into(),
    }
}

/// 415 for a patch type the resource does not take (`negotiation.NewUnsupportedMediaTypeError`
/// with the handler's list).
fn unsupported_patch_type(info: &KindInfo) -> Response {
    status_response(
        415,
        &format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            patch::accepted_media_types(info)
        ),
    )
}

/// `/openapi/v2`, `/openapi/v3` and `/openapi/v3/<group-version>`.
fn openapi_request(headers: &HeaderMap, rest: &[&str]) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let doc = match rest {
        ["v2"] => Some(openapi::v2().clone()),
        ["v3"] => Some(openapi::v3_discovery()),
        ["v3", gv @ ..] => openapi::v3(&gv.join("/")).cloned(),
        _ => None,
    };
    let Some(doc) = doc else {
        return not_found();
    };
    if !openapi::accepts_json(accept) {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_ACCEPTABLE;
        return r;
    }
    let mut r = json_response(200, &doc);
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    r
}

fn metrics_served(shared: &Shared) -> bool {
    shared.metrics.lock().map(|m| m.served).unwrap_or(false)
}

/// The metrics API: `nodes` (always empty), `pods` across namespaces, `namespaces/NS/pods`
/// and `namespaces/NS/pods/NAME`; GET only, like metrics-server.
async fn metrics_request(
    shared: &Arc<Shared>,
    method: &Method,
    query: &Query,
    rest: &[&str],
) -> Response {
    if *method != Method::GET {
        return status_response(
            405,
            &format!("the server does not allow this method on the requested resource ({method})"),
        );
    }
    if query.flag("watch") {
        return status_response(405, "watch is not supported by the metrics API");
    }
    let (ns, name) = match rest {
        ["nodes"] => return json_response(200, &metrics::node_metrics_list()),
        ["nodes", name] => {
            return status_response(
                404,
                &format!("nodemetrics.metrics.k8s.io \"{name}\" not found"),
            )
        }
        ["pods"] => (None, None),
        ["namespaces", ns, "pods"] => (Some(ns.to_string()), None),
        ["namespaces", ns, "pods", name] => (Some(ns.to_string()), Some(name.to_string())),
        _ => return not_found(),
    };
    let selector = match LabelSelector::parse(query.get("labelSelector").unwrap_or("")) {
        Ok(s) => s,
        Err(e) => return status_response(400, &e.to_string()),
    };
    let field_filter = match parse_field_selector(query.get("fieldSelector")) {
        Ok(f) => f,
        Err(m) => return status_response(400, &m),
    };
    let figures: Vec<((String, String), metrics::PodFigures)> = match shared.metrics.lock() {
        Ok(m) => m
            .pods
            .iter()
            .filter(|((n, p), _)| {
                ns.as_deref().is_none_or(|x| x == n) && name.as_deref().is_none_or(|x| x == p)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Err(_) => Vec::new(),
    };
    // The pods' labels, as metrics-server copies them.
    let store = shared.store.clone();
    let items = blocking(move || {
        Ok(figures
            .into_iter()
            .map(|((ns, pod), f)| {
                let labels = store
                    .get("Pod", &ns, &pod)
                    .ok()
                    .and_then(|p| p.pointer("/metadata/labels").cloned());
                metrics::pod_metrics(&ns, &pod, &f, labels)
            })
            .collect::<Vec<Value>>())
    })
    .await
    .unwrap_or_default();
    let items: Vec<Value> = items
        .into_iter()
        .filter(|o| selector.matches_object(o) && field_filter.iter().all(|f| f.matches(o)))
        .collect();
    match name {
        Some(name) => match items.into_iter().next() {
            Some(mut o) => {
                let mut typed = serde_json::Map::new();
                typed.insert("kind".into(), json!("PodMetrics"));
                typed.insert(
                    "apiVersion".into(),
                    json!(format!("{}/{}", metrics::GROUP, metrics::VERSION)),
                );
                if let Some(m) = o.as_object_mut() {
                    typed.extend(std::mem::take(m));
                }
                json_response(200, &Value::Object(typed))
            }
            None => status_response(
                404,
                &format!("podmetrics.metrics.k8s.io \"{name}\" not found"),
            ),
        },
        None => json_response(200, &metrics::pod_metrics_list(items)),
    }
}

/// The patch of a PATCH request with content type `ct` (JSON, merge or strategic merge) and
/// its `fieldValidation` directive, or the answer refusing it: 415 for a type the kind does
/// not take, 422 for a bad directive, the patch type's own refusal of a body that does not
/// decode.
fn read_patch(
    info: &'static KindInfo,
    ct: &str,
    query: &Query,
    body: &Bytes,
) -> Result<(patch::Patch, validation::Directive), Box<Response>> {
    let Some(patch_type) = patch::patch_type(info, ct) else {
        return Err(Box::new(unsupported_patch_type(info)));
    };
    let refused = |r: validation::Refusal| Box::new(refusal_response(&r));
    let directive =
        validation::directive(query.get("fieldValidation"), "PatchOptions").map_err(refused)?;
    let patch = patch::parse(patch_type, body, directive).map_err(refused)?;
    Ok((patch, directive))
}

/// `DeleteOptions` from the body or the query, timed by the controllers' clock.
fn delete_options(shared: &Shared, body: &Bytes, query: &Query) -> DeleteOptions {
    let propagation = match parse_body(body, false)
        .ok()
        .as_ref()
        .and_then(|b| b.get("propagationPolicy"))
        .and_then(Value::as_str)
        .or(query.get("propagationPolicy"))
    {
        Some("Foreground") => Some(Propagation::Foreground),
        Some("Orphan") => Some(Propagation::Orphan),
        Some("Background") => Some(Propagation::Background),
        _ => None,
    };
    DeleteOptions {
        propagation,
        now: shared.controllers.now_rfc3339(),
        dry_run: query.dry_run(),
    }
}

/// The answer to a DELETE: the namespace registry returns the namespace
/// (`ReturnDeletedObject`), other registries the object while it waits for finalizers and a
/// `Status` once it is gone.
fn delete_success(info: &KindInfo, obj: &Value, gone: bool) -> Value {
    if info.kind == "Namespace" || !gone {
        return obj.clone();
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": obj.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
            "group": info.group,
            "kind": info.plural,
            "uid": obj.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
        }
    })
}

/// The parameters of a watch (`?watch=true`), refused as the real server refuses bad ones.
fn watch_request(
    info: &'static KindInfo,
    p: &ResPath,
    query: &Query,
) -> Result<super::watches::WatchRequest, String> {
    let selector = LabelSelector::parse(query.get("labelSelector").unwrap_or(""))
        .map_err(|e| e.to_string())?;
    let mut fields = parse_field_selector(query.get("fieldSelector"))?;
    if let Some(name) = &p.name {
        // A watch of one object is a watch of its collection with `metadata.name=NAME`.
        fields.push(FieldRequirement {
            pointer: "/metadata/name".into(),
            value: name.clone(),
            equal: true,
        });
    }
    let resource_version = match query.get("resourceVersion").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| format!("invalid resource version: {v}"))?,
        ),
    };
    let timeout = match query.get("timeoutSeconds").filter(|v| !v.is_empty()) {
        None => std::time::Duration::from_secs(1800),
        Some(v) => std::time::Duration::from_secs(
            v.parse::<u64>()
                .map_err(|_| format!("invalid timeoutSeconds: {v}"))?,
        ),
    };
    Ok(super::watches::WatchRequest {
        info,
        ns: p.ns.clone(),
        selector,
        fields: Box::new(move |o| fields.iter().all(|f| f.matches(o))),
        resource_version,
        bookmarks: query.flag("allowWatchBookmarks"),
        send_initial_events: query.flag("sendInitialEvents"),
        timeout,
    })
}

/// `metadata.name=x`, `metadata.namespace!=y` and the like.
struct FieldRequirement {
    pointer: String,
    value: String,
    equal: bool,
}

impl FieldRequirement {
    fn matches(&self, obj: &Value) -> bool {
        let actual = obj
            .pointer(&self.pointer)
            .and_then(Value::as_str)
            .unwrap_or("");
        (actual == self.value) == self.equal
    }
}

fn parse_field_selector(s: Option<&str>) -> Result<Vec<FieldRequirement>, String> {
    let mut out = Vec::new();
    for part in s.unwrap_or("").split(',').filter(|p| !p.trim().is_empty()) {
        let (field, value, equal) = if let Some((f, v)) = part.split_once("!=") {
            (f, v, false)
        } else if let Some((f, v)) = part.split_once("==") {
            (f, v, true)
        } else if let Some((f, v)) = part.split_once('=') {
            (f, v, true)
        } else {
            return Err(format!("invalid field selector {part:?}"));
        };
        let pointer = match field.trim() {
            "metadata.name" => "/metadata/name",
            "metadata.namespace" => "/metadata/namespace",
            "status.phase" => "/status/phase",
            other => return Err(format!("field label not supported: {other}")),
        };
        out.push(FieldRequirement {
            pointer: pointer.to_string(),
            value: value.trim().to_string(),
            equal,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_tolerates_empty_pairs() {
        let q = Query::parse(Some("&labelSelector=app%3Ddb%2Ctier+in+(a)&&limit=5&force"));
        assert_eq!(q.get("labelSelector"), Some("app=db,tier in (a)"));
        assert_eq!(q.get("limit"), Some("5"));
        assert!(q.flag("force"));
        assert_eq!(Query::parse(Some("bad=%zz%4")).get("bad"), Some("%zz%4"));
    }

    #[test]
    fn resource_paths() {
        let p = parse_resource_path(
            "apps",
            "v1",
            &["namespaces", "a", "statefulsets", "db", "status"],
        )
        .unwrap();
        assert_eq!(
            (
                p.info.kind,
                p.ns.as_deref(),
                p.name.as_deref(),
                p.sub.as_deref()
            ),
            ("StatefulSet", Some("a"), Some("db"), Some("status"))
        );
        let p = parse_resource_path("", "v1", &["namespaces", "a"]).unwrap();
        assert_eq!((p.info.kind, p.name.as_deref()), ("Namespace", Some("a")));
        let p = parse_resource_path("", "v1", &["namespaces", "a", "status"]).unwrap();
        assert_eq!(
            (p.info.kind, p.sub.as_deref()),
            ("Namespace", Some("status"))
        );
        let p = parse_resource_path("apps", "v1", &["statefulsets"]).unwrap();
        assert!(p.ns.is_none() && p.name.is_none());
        assert!(parse_resource_path("apps", "v1", &["statefulsets", "x"]).is_none());
        assert!(parse_resource_path("apps", "v2", &["statefulsets"]).is_none());
        assert!(parse_resource_path("", "v1", &["widgets"]).is_none());
        assert!(parse_resource_path("", "v1", &["namespaces", "a", "widgets"]).is_none());
    }
}
