//! Authentication and the authorization filter, in kube-apiserver's order: bearer tokens
//! (`staging/src/k8s.io/apiserver/pkg/authentication/request/bearertoken/bearertoken.go`;
//! no `Authorization` header makes the anonymous user, an unknown token is 401), impersonation
//! (`pkg/endpoints/filters/impersonation.go`), then the request's attributes
//! (`pkg/endpoints/request/requestinfo.go`) authorized by RBAC ([`crate::rbac`]).
//!
//! Tokens are opaque random strings the server keeps in a map, not signed JWTs: the
//! administrator's (one per server, written into [`crate::ApiServer::kubeconfig`]) and those
//! the TokenRequest API issues for ServiceAccounts.

// The errors here are the HTTP answers themselves, returned once per request.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde_json::{json, Value};

use kube_store::{ObjectStore, StoreError};

use crate::handler::{json_response, status_body};
use crate::rbac::{self, Attributes, User, AUTHENTICATED, MASTERS, UNAUTHENTICATED};

/// The administrator's user name (kubeadm's `admin.conf` user).
pub(crate) const ADMIN_USER: &str = "kubernetes-admin";
/// Audience of issued tokens when the request names none (`--api-audiences` of a kubeadm
/// cluster).
const DEFAULT_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";

struct Issued {
    namespace: String,
    name: String,
    uid: String,
    expires: i64,
}

/// The tokens a server accepts.
pub(crate) struct Tokens {
    admin: String,
    issued: Mutex<HashMap<String, Issued>>,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// 40 random hex digits (not cryptographic: std's randomly keyed hasher).
fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::new();
    for salt in 0..3u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u64(salt);
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(40);
    out
}

impl Tokens {
    pub(crate) fn new() -> Tokens {
        Tokens {
            admin: format!("admin-{}", random_token()),
            issued: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn admin(&self) -> &str {
        &self.admin
    }

    /// A token for ServiceAccount `namespace/name` (of `uid`) valid for `seconds`; returns
    /// the token and its expiry (Unix seconds).
    pub(crate) fn issue(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        seconds: i64,
    ) -> (String, i64) {
        let token = format!("sa-{}", random_token());
        let expires = now_secs() + seconds;
        if let Ok(mut m) = self.issued.lock() {
            m.insert(
                token.clone(),
                Issued {
                    namespace: namespace.into(),
                    name: name.into(),
                    uid: uid.into(),
                    expires,
                },
            );
        }
        (token, expires)
    }
}

fn admin_user() -> User {
    User {
        name: ADMIN_USER.into(),
        groups: vec![MASTERS.into(), AUTHENTICATED.into()],
    }
}

fn anonymous() -> User {
    User {
        name: "system:anonymous".into(),
        groups: vec![UNAUTHENTICATED.into()],
    }
}

fn service_account_user(ns: &str, name: &str) -> User {
    User {
        name: format!("system:serviceaccount:{ns}:{name}"),
        groups: vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{ns}"),
            AUTHENTICATED.into(),
        ],
    }
}

/// `Unauthorized`, as the authentication filter answers.
fn unauthorized() -> Response {
    json_response(401, &status_body(401, "Unauthorized", "Unauthorized"))
}

/// The user of a request's bearer token: `Ok(None)` when there is none (anonymous),
/// `Err` when the token is not valid.
fn token_user(
    store: &ObjectStore,
    tokens: &Tokens,
    headers: &HeaderMap,
) -> Result<Option<User>, ()> {
    let Some(auth) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|a| !a.is_empty())
    else {
        return Ok(None);
    };
    let mut parts = auth.splitn(3, ' ');
    let scheme = parts.next().unwrap_or("");
    let token = parts.next().unwrap_or("");
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Ok(None);
    }
    if token == tokens.admin {
        return Ok(Some(admin_user()));
    }
    let issued = tokens.issued.lock().ok().and_then(|m| {
        m.get(token).map(|i| {
            (
                i.namespace.clone(),
                i.name.clone(),
                i.uid.clone(),
                i.expires,
            )
        })
    });
    let Some((ns, name, uid, expires)) = issued else {
        return Err(());
    };
    if expires <= now_secs() {
        return Err(());
    }
    // Like the service account token validator: the account must still exist, the same one.
    match store.get("ServiceAccount", &ns, &name) {
        Ok(sa) if sa.pointer("/metadata/uid").and_then(Value::as_str) == Some(uid.as_str()) => {
            Ok(Some(service_account_user(&ns, &name)))
        }
        _ => Err(()),
    }
}

/// Go's `strconv`-free bool of a query value as `DecodeParameters` reads `watch`.
fn truthy(v: &str) -> bool {
    !matches!(v.to_ascii_lowercase().as_str(), "false" | "0")
}

fn valid_path_segment(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('%')
}

/// `RequestInfoFactory.NewRequestInfo`: the attributes RBAC authorizes.
pub(crate) fn request_attributes(method: &Method, path: &str, query: Option<&str>) -> Attributes {
    let mut a = Attributes {
        verb: method.as_str().to_ascii_lowercase(),
        path: path.to_string(),
        ..Attributes::default()
    };
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if parts.len() < 3 || !matches!(parts[0], "api" | "apis") {
        return a;
    }
    let mut rest = &parts[1..];
    if parts[0] == "apis" {
        if rest.len() < 3 {
            return a;
        }
        a.group = rest[0].to_string();
        rest = &rest[1..];
    }
    a.resource_request = true;
    a.version = rest[0].to_string();
    rest = &rest[1..];
    if matches!(rest.first(), Some(&"watch") | Some(&"proxy")) {
        if rest.len() < 2 {
            return a;
        }
        a.verb = rest[0].to_string();
        rest = &rest[1..];
    } else {
        a.verb = match *method {
            Method::POST => "create",
            Method::GET | Method::HEAD => "get",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE => "delete",
            _ => "",
        }
        .to_string();
    }
    if rest.first() == Some(&"namespaces") && rest.len() > 1 {
        a.namespace = rest[1].to_string();
        if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
            rest = &rest[2..];
        }
    }
    if rest.len() >= 3 && a.verb != "proxy" {
        a.subresource = rest[2].to_string();
    }
    if rest.len() >= 2 {
        a.name = rest[1].to_string();
    }
    if let Some(r) = rest.first() {
        a.resource = r.to_string();
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    if a.name.is_empty() && a.verb == "get" {
        let watch = pairs
            .iter()
            .find(|(k, _)| k == "watch")
            .is_some_and(|(_, v)| truthy(v));
        a.verb = if watch { "watch" } else { "list" }.into();
        if let Some((_, fs)) = pairs.iter().find(|(k, _)| k == "fieldSelector") {
            for term in fs.split(',') {
                let exact = term
                    .split_once("==")
                    .or_else(|| term.split_once('=').filter(|(f, _)| !f.ends_with('!')));
                if let Some((field, value)) = exact {
                    if field.trim() == "metadata.name" && valid_path_segment(value.trim()) {
                        a.name = value.trim().to_string();
                    }
                }
            }
        }
    }
    if a.name.is_empty() && a.verb == "delete" {
        a.verb = "deletecollection".into();
    }
    a
}

/// `forbiddenMessage` of `responsewriters/errors.go`.
fn forbidden_message(user: &User, a: &Attributes) -> String {
    let u = rbac::go_quote(&user.name);
    if !a.resource_request {
        return format!(
            "User {u} cannot {} path {}",
            a.verb,
            rbac::go_quote(&a.path)
        );
    }
    let resource = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let base = format!(
        "User {u} cannot {} resource {} in API group {}",
        a.verb,
        rbac::go_quote(&resource),
        rbac::go_quote(&a.group)
    );
    if a.namespace.is_empty() {
        format!("{base} at the cluster scope")
    } else {
        format!("{base} in the namespace {}", rbac::go_quote(&a.namespace))
    }
}

/// `apierrors.NewForbidden(group/resource, name, err)`.
pub(crate) fn forbidden(group: &str, resource: &str, name: &str, err: &str) -> Response {
    let qualified = if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    };
    let message = if qualified.is_empty() {
        format!("forbidden: {err}")
    } else if name.is_empty() {
        format!("{qualified} is forbidden: {err}")
    } else {
        format!("{qualified} {} is forbidden: {err}", rbac::go_quote(name))
    };
    let mut body = status_body(403, "Forbidden", &message);
    let mut details = serde_json::Map::new();
    if !name.is_empty() {
        details.insert("name".into(), json!(name));
    }
    if !group.is_empty() {
        details.insert("group".into(), json!(group));
    }
    if !resource.is_empty() {
        details.insert("kind".into(), json!(resource));
    }
    body["details"] = Value::Object(details);
    json_response(403, &body)
}

/// `responsewriters.Forbidden`: the answer to a request the authorizer did not allow.
fn forbidden_request(user: &User, a: &Attributes, reason: &str) -> Response {
    let mut msg = forbidden_message(user, a);
    if !reason.is_empty() {
        msg = format!("{msg}: {reason}");
    }
    forbidden(&a.group, &a.resource, &a.name, &msg)
}

fn header_values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

/// The impersonation filter: the user the request acts as, each impersonated name authorized
/// (verb `impersonate` on `users`, `groups` or `serviceaccounts`).
fn impersonate(
    store: &ObjectStore,
    requestor: User,
    headers: &HeaderMap,
) -> Result<User, Response> {
    let user = headers
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let groups = header_values(headers, "impersonate-group");
    let uid = headers.get("impersonate-uid").is_some();
    let extra = headers
        .keys()
        .any(|k| k.as_str().starts_with("impersonate-extra-"));
    if user.is_empty() {
        if !groups.is_empty() || uid || extra {
            let what = if !groups.is_empty() {
                format!(
                    "groups {}",
                    rbac::go_quote_list(&groups.iter().map(|g| g.to_string()).collect::<Vec<_>>())
                )
            } else {
                "user extras or uid".to_string()
            };
            let msg =
                format!("Internal error occurred: requested {what} without impersonating a user");
            return Err(json_response(500, &status_body(500, "InternalError", &msg)));
        }
        return Ok(requestor);
    }
    let check = |a: Attributes| -> Result<(), Response> {
        let d = rbac::authorize(store, &requestor, &a);
        if d.allowed {
            Ok(())
        } else {
            Err(forbidden_request(&requestor, &a, &d.reason))
        }
    };
    let impersonate_attrs = |resource: &str, ns: &str, name: &str| Attributes {
        verb: "impersonate".into(),
        resource_request: true,
        resource: resource.into(),
        namespace: ns.into(),
        name: name.into(),
        ..Attributes::default()
    };
    let mut out_groups: Vec<String> = Vec::new();
    let sa = user
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty());
    match sa {
        Some((ns, name)) => {
            check(impersonate_attrs("serviceaccounts", ns, name))?;
            if groups.is_empty() {
                out_groups = vec![
                    "system:serviceaccounts".into(),
                    format!("system:serviceaccounts:{ns}"),
                ];
            }
        }
        None => check(impersonate_attrs("users", "", user))?,
    }
    for g in &groups {
        check(impersonate_attrs("groups", "", g))?;
        out_groups.push(g.to_string());
    }
    if user != "system:anonymous"
        && !out_groups
            .iter()
            .any(|g| g == AUTHENTICATED || g == UNAUTHENTICATED)
    {
        out_groups.push(AUTHENTICATED.into());
    }
    Ok(User {
        name: user.to_string(),
        groups: out_groups,
    })
}

/// Authentication, impersonation and authorization of a request, before any handler: the
/// user it acts as, or the 401/403 answer.
pub(crate) fn admit(
    store: &ObjectStore,
    tokens: &Tokens,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<User, Response> {
    let user = match token_user(store, tokens, headers) {
        Ok(Some(u)) => u,
        Ok(None) => anonymous(),
        Err(()) => return Err(unauthorized()),
    };
    let user = impersonate(store, user, headers)?;
    let a = request_attributes(method, path, query);
    let d = rbac::authorize(store, &user, &a);
    if d.allowed {
        Ok(user)
    } else {
        Err(forbidden_request(&user, &a, &d.reason))
    }
}

fn store_error(e: &StoreError) -> Response {
    json_response(e.code(), &e.to_status())
}

fn bad_request(msg: &str) -> Response {
    json_response(400, &status_body(400, "BadRequest", msg))
}

fn invalid(
    kind: &str,
    group: &str,
    name: &str,
    field: &str,
    value: &Value,
    detail: &str,
) -> Response {
    let message = format!(
        "{kind}.{group} {} is invalid: {field}: Invalid value: {value}: {detail}",
        rbac::go_quote(name)
    );
    let mut body = status_body(422, "Invalid", &message);
    body["details"] = json!({
        "name": name, "group": group, "kind": kind,
        "causes": [{"reason": "FieldValueInvalid", "message": format!("Invalid value: {value}: {detail}"), "field": field}],
    });
    json_response(422, &body)
}

fn parse_json(body: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|e| {
        bad_request(&format!(
            "the body of the request was in an unknown format: {e}"
        ))
    })
}

/// `POST /api/v1/namespaces/NS/serviceaccounts/SA/token` (`pkg/registry/core/serviceaccount/storage/token.go`).
fn token_request(
    store: &ObjectStore,
    tokens: &Tokens,
    ns: &str,
    sa: &str,
    body: &[u8],
) -> Response {
    let mut req = match parse_json(body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !req.is_object() {
        return bad_request("the body of the request is not a TokenRequest");
    }
    let seconds = match req.pointer("/spec/expirationSeconds") {
        None | Some(Value::Null) => 3600,
        Some(v) => match v.as_i64() {
            Some(s) => s,
            None => return bad_request("spec.expirationSeconds must be an integer"),
        },
    };
    if seconds < 600 {
        return invalid(
            "TokenRequest",
            "authentication.k8s.io",
            "",
            "spec.expirationSeconds",
            &json!(seconds),
            "may not specify a duration less than 10 minutes",
        );
    }
    if seconds > 1 << 32 {
        return invalid(
            "TokenRequest",
            "authentication.k8s.io",
            "",
            "spec.expirationSeconds",
            &json!(seconds),
            "may not specify a duration larger than 2^32 seconds",
        );
    }
    let account = match store.get("ServiceAccount", ns, sa) {
        Ok(a) => a,
        Err(e) => return store_error(&e),
    };
    if req
        .pointer("/spec/boundObjectRef")
        .is_some_and(|r| !r.is_null())
    {
        return bad_request("binding tokens to objects is not supported by this server");
    }
    let uid = account
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (token, expires) = tokens.issue(ns, sa, uid, seconds);
    let audiences = match req.pointer("/spec/audiences").and_then(Value::as_array) {
        Some(a) if !a.is_empty() => Value::Array(a.clone()),
        _ => json!([DEFAULT_AUDIENCE]),
    };
    req["apiVersion"] = json!("authentication.k8s.io/v1");
    req["kind"] = json!("TokenRequest");
    let meta = req
        .get("metadata")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    req["metadata"] = meta;
    req["metadata"]["name"] = json!(sa);
    req["metadata"]["namespace"] = json!(ns);
    if req["metadata"].get("creationTimestamp").is_none() {
        req["metadata"]["creationTimestamp"] = Value::Null;
    }
    if !req.get("spec").is_some_and(Value::is_object) {
        req["spec"] = json!({});
    }
    req["spec"]["audiences"] = audiences;
    req["spec"]["expirationSeconds"] = json!(seconds);
    req["spec"]["boundObjectRef"] = Value::Null;
    req["status"] = json!({
        "token": token,
        "expirationTimestamp": kube_store::format_rfc3339(expires),
    });
    json_response(201, &req)
}

/// The attributes of an access review's spec, or the 422 answer.
fn review_attributes(
    kind: &str,
    spec: &Value,
    namespace: Option<&str>,
) -> Result<Attributes, Response> {
    let res = spec.get("resourceAttributes").filter(|v| v.is_object());
    let non = spec.get("nonResourceAttributes").filter(|v| v.is_object());
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    match (res, non) {
        (Some(r), None) => {
            let ns = match namespace {
                Some(ns) => {
                    if s(r, "namespace") != ns {
                        return Err(invalid(
                            kind,
                            "authorization.k8s.io",
                            "",
                            "spec.resourceAttributes.namespace",
                            &json!(s(r, "namespace")),
                            "must match metadata.namespace",
                        ));
                    }
                    ns.to_string()
                }
                None => s(r, "namespace"),
            };
            Ok(Attributes {
                verb: s(r, "verb"),
                resource_request: true,
                group: s(r, "group"),
                version: s(r, "version"),
                resource: s(r, "resource"),
                subresource: s(r, "subresource"),
                namespace: ns,
                name: s(r, "name"),
                path: String::new(),
            })
        }
        (None, Some(n)) if namespace.is_none() => Ok(Attributes {
            verb: s(n, "verb"),
            path: s(n, "path"),
            ..Attributes::default()
        }),
        (None, Some(_)) => Err(invalid(
            kind,
            "authorization.k8s.io",
            "",
            "spec.nonResourceAttributes",
            &json!(spec["nonResourceAttributes"]),
            "disallowed on this kind of request",
        )),
        _ => Err(invalid(
            kind,
            "authorization.k8s.io",
            "",
            "spec.resourceAttributes",
            &json!(spec
                .get("resourceAttributes")
                .cloned()
                .unwrap_or(Value::Null)),
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
    }
}

/// SelfSubjectAccessReview, SubjectAccessReview and LocalSubjectAccessReview
/// (`pkg/registry/authorization/*/rest.go`).
fn access_review(
    store: &ObjectStore,
    requestor: &User,
    kind: &str,
    namespace: Option<&str>,
    body: &[u8],
) -> Response {
    let mut review = match parse_json(body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let spec = review.get("spec").cloned().unwrap_or_else(|| json!({}));
    let a = match review_attributes(kind, &spec, namespace) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let subject = if kind == "SelfSubjectAccessReview" {
        requestor.clone()
    } else {
        let user = spec
            .get("user")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let groups = crate::rbac::strings(spec.get("groups"));
        if user.is_empty() && groups.is_empty() {
            return invalid(
                kind,
                "authorization.k8s.io",
                "",
                "spec.user",
                &json!(""),
                "at least one of user or group must be specified",
            );
        }
        User { name: user, groups }
    };
    let d = rbac::authorize(store, &subject, &a);
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!(kind);
    if !review.get("metadata").is_some_and(Value::is_object) {
        review["metadata"] = json!({});
    }
    if review["metadata"].get("creationTimestamp").is_none() {
        review["metadata"]["creationTimestamp"] = Value::Null;
    }
    let mut status = json!({"allowed": d.allowed});
    if !d.reason.is_empty() {
        status["reason"] = json!(d.reason);
    }
    review["status"] = status;
    json_response(201, &review)
}

/// SelfSubjectRulesReview (`pkg/registry/authorization/selfsubjectrulesreview/rest.go`): the
/// caller's rules in a namespace, those of `system:masters` first.
fn rules_review(store: &ObjectStore, user: &User, body: &[u8]) -> Response {
    let mut review = match parse_json(body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let ns = review
        .pointer("/spec/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if ns.is_empty() {
        return bad_request("no namespace on request");
    }
    let mut rules = Vec::new();
    if user.in_group(MASTERS) {
        rules.extend(rbac::full_authority());
    }
    let (held, errors) = rbac::rules_for(store, user, &ns);
    rules.extend(held);
    let (resource, non_resource): (Vec<_>, Vec<_>) =
        rules.iter().partition(|r| r.non_resource_urls.is_empty());
    let mut status = json!({
        "resourceRules": resource.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
        "nonResourceRules": non_resource.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
        "incomplete": !errors.is_empty(),
    });
    if !errors.is_empty() {
        status["evaluationError"] = json!(errors.join(", "));
    }
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SelfSubjectRulesReview");
    if !review.get("metadata").is_some_and(Value::is_object) {
        review["metadata"] = json!({"creationTimestamp": null});
    }
    review["status"] = status;
    json_response(201, &review)
}

/// SelfSubjectReview (`kubectl auth whoami`).
fn self_subject_review(user: &User) -> Response {
    json_response(
        201,
        &json!({
            "kind": "SelfSubjectReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "status": {"userInfo": {"username": user.name, "groups": user.groups}},
        }),
    )
}

/// The API groups this module serves, for `/apis`.
pub(crate) fn api_groups() -> Vec<Value> {
    ["authentication.k8s.io", "authorization.k8s.io"]
        .iter()
        .map(|g| {
            let gv = json!({"groupVersion": format!("{g}/v1"), "version": "v1"});
            json!({"kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect()
}

fn resource_list(group: &str) -> Value {
    let r = |name: &str, kind: &str, namespaced: bool| json!({"name": name, "singularName": name.trim_end_matches('s'), "namespaced": namespaced, "kind": kind, "verbs": ["create"]});
    let resources = if group == "authorization.k8s.io" {
        vec![
            r(
                "localsubjectaccessreviews",
                "LocalSubjectAccessReview",
                true,
            ),
            r("selfsubjectaccessreviews", "SelfSubjectAccessReview", false),
            r("selfsubjectrulesreviews", "SelfSubjectRulesReview", false),
            r("subjectaccessreviews", "SubjectAccessReview", false),
        ]
    } else {
        vec![r("selfsubjectreviews", "SelfSubjectReview", false)]
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{group}/v1"), "resources": resources})
}

/// The `serviceaccounts/token` entry of `/api/v1`.
pub(crate) fn token_subresource() -> Value {
    json!({
        "name": "serviceaccounts/token",
        "singularName": "",
        "namespaced": true,
        "group": "authentication.k8s.io",
        "version": "v1",
        "kind": "TokenRequest",
        "verbs": ["create"],
    })
}

/// The requests this module answers itself (TokenRequest, access reviews, their discovery),
/// and the checks the RBAC registry makes before the store writes roles and bindings (a 403
/// answer); `None` lets the handler go on.
#[allow(clippy::too_many_arguments)]
pub(crate) fn serve(
    store: &ObjectStore,
    tokens: &Tokens,
    user: &User,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Option<Response> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    let reviews = |g: &str| g == "authorization.k8s.io" || g == "authentication.k8s.io";
    match segments.as_slice() {
        ["apis", g] if get && reviews(g) => {
            let mut group = api_groups().into_iter().find(|x| x["name"] == *g)?;
            group["kind"] = json!("APIGroup");
            Some(json_response(200, &group))
        }
        ["apis", g, "v1"] if get && reviews(g) => Some(json_response(200, &resource_list(g))),
        ["api", "v1", "namespaces", ns, "serviceaccounts", sa, "token"] => Some(if post {
            token_request(store, tokens, ns, sa, body)
        } else {
            json_response(
                405,
                &status_body(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                ),
            )
        }),
        ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"] if post => Some(
            access_review(store, user, "SelfSubjectAccessReview", None, body),
        ),
        ["apis", "authorization.k8s.io", "v1", "subjectaccessreviews"] if post => Some(
            access_review(store, user, "SubjectAccessReview", None, body),
        ),
        ["apis", "authorization.k8s.io", "v1", "namespaces", ns, "localsubjectaccessreviews"]
            if post =>
        {
            Some(access_review(
                store,
                user,
                "LocalSubjectAccessReview",
                Some(ns),
                body,
            ))
        }
        ["apis", "authorization.k8s.io", "v1", "selfsubjectrulesreviews"] if post => {
            Some(rules_review(store, user, body))
        }
        ["apis", "authentication.k8s.io", "v1", "selfsubjectreviews"] if post => {
            Some(self_subject_review(user))
        }
        ["apis", g, ..] if reviews(g) => Some(json_response(
            404,
            &status_body(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        )),
        _ => write_checks(store, user, method, path, headers, query, body),
    }
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The checks of writes that come after authorization of the request itself: a server-side
/// apply that creates its object needs `create` too (`handlers/patch.go`, `withAuthorization`),
/// and writes of roles and bindings must not escalate.
fn write_checks(
    store: &ObjectStore,
    user: &User,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Option<Response> {
    if !matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        return None;
    }
    let a = request_attributes(method, path, query);
    if !a.resource_request || !a.subresource.is_empty() {
        return None;
    }
    let kind = kube_store::kind_by_plural(&a.group, &a.resource)?.kind;
    let ct = content_type(headers);
    let apply = *method == Method::PATCH && ct.starts_with("application/apply-patch");
    let patch: Option<Value> = if apply {
        let text = std::str::from_utf8(body).ok()?;
        serde_json::from_str(text)
            .ok()
            .or_else(|| serde_norway::from_str(text).ok())
    } else {
        serde_json::from_slice(body).ok()
    };
    let current = if a.name.is_empty() {
        None
    } else {
        store.get(kind, &a.namespace, &a.name).ok()
    };
    if apply && current.is_none() && !a.name.is_empty() {
        let create = Attributes {
            verb: "create".into(),
            ..a.clone()
        };
        let d = rbac::authorize(store, user, &create);
        if !d.allowed {
            return Some(forbidden(&a.group, &a.resource, &a.name, &d.reason));
        }
    }
    if a.group != "rbac.authorization.k8s.io" || user.in_group(MASTERS) {
        return None;
    }
    let patch = patch?;
    if *method == Method::PATCH && current.is_none() && !apply {
        return None;
    }
    // The object as it will be: a PUT or POST body; a patch's field replaces the current one
    // (rules and roleRef are atomic lists and structs in merge and apply patches alike).
    let field = |k: &str| -> Value {
        match (*method == Method::PATCH, patch.get(k), current.as_ref()) {
            (true, None, Some(c)) => c.get(k).cloned().unwrap_or(Value::Null),
            (_, Some(v), _) => v.clone(),
            _ => Value::Null,
        }
    };
    let name = if a.name.is_empty() {
        patch
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    } else {
        a.name.clone()
    };
    match kind {
        "Role" | "ClusterRole" => {
            let escalate = Attributes {
                verb: "escalate".into(),
                version: "*".into(),
                ..a.clone()
            };
            if rbac::authorize(store, user, &escalate).allowed {
                return None;
            }
            let rules: Vec<rbac::Rule> = field("rules")
                .as_array()
                .map(|r| r.iter().map(rbac::Rule::from_json).collect())
                .unwrap_or_default();
            if let Err(e) = rbac::confirm_no_escalation(store, user, &a.namespace, &rules) {
                return Some(forbidden(&a.group, &a.resource, &name, &e));
            }
            if kind == "ClusterRole"
                && field("aggregationRule").is_object()
                && rbac::confirm_no_escalation(store, user, "", &rbac::full_authority()).is_err()
            {
                return Some(forbidden(
                    &a.group,
                    &a.resource,
                    &name,
                    "must have cluster-admin privileges to use the aggregationRule",
                ));
            }
            None
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            let role_ref = field("roleRef");
            let ref_kind = role_ref.get("kind").and_then(Value::as_str).unwrap_or("");
            let bind = Attributes {
                verb: "bind".into(),
                resource_request: true,
                group: role_ref
                    .get("apiGroup")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
                resource: match ref_kind {
                    "ClusterRole" => "clusterroles",
                    "Role" => "roles",
                    _ => "",
                }
                .into(),
                name: role_ref
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
                namespace: a.namespace.clone(),
                ..Attributes::default()
            };
            if !bind.resource.is_empty() && rbac::authorize(store, user, &bind).allowed {
                return None;
            }
            // The registry returns the resolver's error as it is (a 404 for a missing role).
            let rules = match rbac::role_reference_rules(store, &role_ref, &a.namespace) {
                Ok(r) => r,
                Err(rbac::RoleRefError::NotFound(resource, role)) => {
                    let message = format!(
                        "{resource}.rbac.authorization.k8s.io {} not found",
                        rbac::go_quote(&role)
                    );
                    let mut body = status_body(404, "NotFound", &message);
                    body["details"] = json!({"name": role, "group": "rbac.authorization.k8s.io", "kind": resource});
                    return Some(json_response(404, &body));
                }
                Err(rbac::RoleRefError::Other(e)) => {
                    let message = format!("Internal error occurred: {e}");
                    return Some(json_response(
                        500,
                        &status_body(500, "InternalError", &message),
                    ));
                }
            };
            match rbac::confirm_no_escalation(store, user, &a.namespace, &rules) {
                Ok(()) => None,
                Err(e) => Some(forbidden(&a.group, &a.resource, &name, &e)),
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(
        method: Method,
        path: &str,
        query: &str,
    ) -> (String, String, String, String, String, String) {
        let a = request_attributes(&method, path, Some(query));
        (
            a.verb,
            a.group,
            a.resource,
            a.subresource,
            a.namespace,
            a.name,
        )
    }

    fn t(
        v: &str,
        g: &str,
        r: &str,
        s: &str,
        ns: &str,
        n: &str,
    ) -> (String, String, String, String, String, String) {
        (v.into(), g.into(), r.into(), s.into(), ns.into(), n.into())
    }

    #[test]
    fn request_verbs_follow_requestinfo() {
        assert_eq!(
            attrs(Method::GET, "/api/v1/namespaces/a/pods", ""),
            t("list", "", "pods", "", "a", "")
        );
        assert_eq!(
            attrs(Method::GET, "/api/v1/namespaces/a/pods", "watch=true"),
            t("watch", "", "pods", "", "a", "")
        );
        assert_eq!(
            attrs(Method::GET, "/api/v1/namespaces/a/pods", "watch=0"),
            t("list", "", "pods", "", "a", "")
        );
        assert_eq!(
            attrs(Method::GET, "/api/v1/watch/namespaces/a/pods", ""),
            t("watch", "", "pods", "", "a", "")
        );
        assert_eq!(
            attrs(
                Method::GET,
                "/api/v1/namespaces/a/pods",
                "fieldSelector=metadata.name%3Dp"
            ),
            t("list", "", "pods", "", "a", "p")
        );
        assert_eq!(
            attrs(Method::GET, "/api/v1/namespaces/a/pods/p/log", ""),
            t("get", "", "pods", "log", "a", "p")
        );
        assert_eq!(
            attrs(
                Method::DELETE,
                "/apis/apps/v1/namespaces/a/statefulsets",
                ""
            ),
            t("deletecollection", "apps", "statefulsets", "", "a", "")
        );
        assert_eq!(
            attrs(
                Method::PATCH,
                "/apis/apps/v1/namespaces/a/statefulsets/db/status",
                ""
            ),
            t("patch", "apps", "statefulsets", "status", "a", "db")
        );
        // A namespace is its own namespace; `status` and `finalize` are its subresources.
        assert_eq!(
            attrs(Method::GET, "/api/v1/namespaces/a", ""),
            t("get", "", "namespaces", "", "a", "a")
        );
        assert_eq!(
            attrs(Method::PUT, "/api/v1/namespaces/a/finalize", ""),
            t("update", "", "namespaces", "finalize", "a", "a")
        );
        assert_eq!(
            attrs(Method::POST, "/api/v1/namespaces", ""),
            t("create", "", "namespaces", "", "", "")
        );
        let discovery = request_attributes(&Method::GET, "/apis/apps/v1", None);
        assert!(!discovery.resource_request);
        assert_eq!(
            (discovery.verb.as_str(), discovery.path.as_str()),
            ("get", "/apis/apps/v1")
        );
        assert!(!request_attributes(&Method::GET, "/api/v1", None).resource_request);
    }
}
