//! A Kubernetes API server reached through a kubeconfig context or the in-cluster config.
//!
//! Every kind goes through discovery (one `GET /api/v1` or `/apis/{group}/{version}` per API
//! version, cached for the life of the backend) and `Api<DynamicObject>`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, Resource,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{GroupVersion, Status};
use kube::discovery::{self, ApiCapabilities, Scope};
use kube::{Client, Config};
use serde_json::{Map, Value};

use super::error::one_line;
use super::{ClusterError, KindRef, Listing, FIELD_MANAGER};
use crate::object::ObjectRef;
use crate::observe::LiveObject;

/// A LIST response with its items left as JSON text.
#[derive(serde::Deserialize)]
struct RawList<'a> {
    #[serde(default)]
    metadata: kube::core::ListMeta,
    #[serde(borrow, default)]
    items: Option<Vec<&'a serde_json::value::RawValue>>,
}

/// How berth authenticates: names the credentials in error messages.
#[derive(Debug, Clone)]
enum Identity {
    Context(String),
    InCluster,
}

impl Identity {
    fn describe(&self) -> String {
        match self {
            Identity::Context(c) => format!("context `{c}`"),
            Identity::InCluster => "the in-cluster service account".into(),
        }
    }

    fn reach_check(&self) -> String {
        match self {
            Identity::Context(c) => {
                format!("check that kubeconfig context `{c}` points at a running cluster")
            }
            Identity::InCluster => "check that the API server is reachable from this pod".into(),
        }
    }
}

type Resources = Arc<Vec<(ApiResource, ApiCapabilities)>>;

/// A Kubernetes cluster. Cheap to clone; clones share the discovery cache.
#[derive(Clone)]
pub struct KubeCluster {
    name: String,
    client: Client,
    server: String,
    identity: Identity,
    /// Discovered resources by `apiVersion`.
    resources: Arc<tokio::sync::Mutex<HashMap<String, Resources>>>,
    /// Retries of the reads (discovery, LIST pages, GET) that fail transiently; writes are
    /// retried by `apply`, which knows what each one means.
    retry: super::RetryPolicy,
    /// Set when a read spent its retries because the server is not there (connection
    /// refused, no such host; not a timeout or a dropped connection): later reads of this
    /// client try once, so that a cluster that is down fails a run in seconds
    /// rather than once per request. Cleared by the next read that succeeds.
    down: Arc<std::sync::atomic::AtomicBool>,
    /// What the server last asked to wait after throttling a request.
    retry_after: RetryAfter,
    warnings: Warnings,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCluster")
            .field("name", &self.name)
            .field("server", &self.server)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// The messages of an error and its sources, joined with `: `.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let m = s.to_string();
        if !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
        cur = s.source();
    }
    one_line(&parts.join(": "))
}

/// The `Warning` headers a cluster answered with (admission plugins such as PodSecurity warn
/// this way, as do deprecated APIs), each once per request target, oldest first: `(what was
/// asked, e.g. "PATCH /apis/apps/v1/namespaces/t/statefulsets/db", the warning's text)`.
#[derive(Debug, Clone, Default)]
pub(super) struct Warnings(Arc<std::sync::Mutex<Vec<(String, String)>>>);

impl Warnings {
    fn record(&self, what: &str, headers: &hyper::http::HeaderMap) {
        let texts: Vec<String> = headers
            .get_all("warning")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(warning_text)
            .collect();
        if texts.is_empty() {
            return;
        }
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for text in texts {
            if !seen.iter().any(|(w, t)| w == what && *t == text) {
                seen.push((what.to_string(), text));
            }
        }
    }

    /// The warnings recorded since the last call.
    pub(super) fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The text of one `Warning` header value as the apiserver writes it (RFC 7234: `299 -
/// "text"`, `"` and `\` escaped inside; `staging/src/k8s.io/apiserver/pkg/warning`); other
/// shapes are kept whole.
fn warning_text(value: &str) -> String {
    let Some(quoted) = value
        .strip_prefix("299 - \"")
        .and_then(|v| v.rsplit_once('"'))
        .map(|(text, _date)| text)
    else {
        return value.to_string();
    };
    let mut out = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A layer that records the `Warning` headers of every response with the request they
/// answer: kube's client drops response headers, and `MapResponseLayer` does not see the
/// request. Hand-written because tower has no layer that sees both.
#[derive(Clone)]
struct WarningsLayer(Warnings);

impl<S> tower::Layer<S> for WarningsLayer {
    type Service = Warned<S>;
    fn layer(&self, inner: S) -> Warned<S> {
        Warned {
            inner,
            seen: self.0.clone(),
        }
    }
}

#[derive(Clone)]
struct Warned<S> {
    inner: S,
    seen: Warnings,
}

impl<S, ReqB, ResB> tower::Service<hyper::http::Request<ReqB>> for Warned<S>
where
    S: tower::Service<hyper::http::Request<ReqB>, Response = hyper::http::Response<ResB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: hyper::http::Request<ReqB>) -> Self::Future {
        let what = format!("{} {}", req.method(), req.uri().path());
        let seen = self.seen.clone();
        let answer = self.inner.call(req);
        Box::pin(async move {
            let r = answer.await;
            if let Ok(resp) = &r {
                seen.record(&what, resp.headers());
            }
            r
        })
    }
}

/// The `Retry-After` of the last 429 or 503 a cluster answered (seconds; the HTTP-date form
/// is not used by apiservers), taken by the error that response becomes.
#[derive(Debug, Clone, Default)]
struct RetryAfter(Arc<std::sync::Mutex<Option<(u16, Duration)>>>);

impl RetryAfter {
    fn record<B>(&self, resp: &hyper::http::Response<B>) {
        let code = resp.status().as_u16();
        if code != 429 && code != 503 {
            return;
        }
        let after = resp
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let (Some(secs), Ok(mut last)) = (after, self.0.lock()) {
            *last = Some((code, Duration::from_secs(secs)));
        }
    }

    /// The recorded wait, if the last throttled answer had this code.
    fn take(&self, code: u16) -> Option<Duration> {
        let mut last = self.0.lock().ok()?;
        match *last {
            Some((c, d)) if c == code => {
                *last = None;
                Some(d)
            }
            _ => None,
        }
    }
}

/// How many times one LIST starts again from its first page after its continue token
/// expired (410) before the error is reported.
pub(super) const MAX_LIST_RESTARTS: u32 = 3;

impl KubeCluster {
    /// A client for context `context` of the kubeconfig at `path` (the default kubeconfig,
    /// `KUBECONFIG` or `~/.kube/config`, when `None`). Makes no request.
    pub async fn from_kubeconfig(
        name: &str,
        context: &str,
        path: Option<PathBuf>,
        timeout: Duration,
    ) -> Result<Self, ClusterError> {
        let opts = KubeConfigOptions {
            context: Some(context.to_string()),
            cluster: None,
            user: None,
        };
        let file = match &path {
            Some(p) => format!("kubeconfig {}", p.display()),
            None => "the default kubeconfig".to_string(),
        };
        let config_error = |e: &(dyn std::error::Error + 'static)| ClusterError::Config {
            cluster: name.to_string(),
            message: format!("cannot use context `{context}` of {file}: {}", chain(e)),
            help: "check the kubeconfig path and the context name (kubectl config get-contexts)"
                .into(),
        };
        let config = match &path {
            Some(p) => {
                let kc = Kubeconfig::read_from(p).map_err(|e| config_error(&e))?;
                Config::from_custom_kubeconfig(kc, &opts).await
            }
            None => Config::from_kubeconfig(&opts).await,
        }
        .map_err(|e| config_error(&e))?;
        Self::with_config(
            name,
            config,
            Identity::Context(context.to_string()),
            timeout,
        )
    }

    /// A client for the service account of the pod berth runs in.
    pub fn in_cluster(name: &str, timeout: Duration) -> Result<Self, ClusterError> {
        let config = Config::incluster().map_err(|e| ClusterError::Config {
            cluster: name.to_string(),
            message: format!("cannot load the in-cluster config: {}", chain(&e)),
            help: "run berth in a pod with a service account, or use a kubeconfig context".into(),
        })?;
        Self::with_config(name, config, Identity::InCluster, timeout)
    }

    fn with_config(
        name: &str,
        mut config: Config,
        identity: Identity,
        timeout: Duration,
    ) -> Result<Self, ClusterError> {
        config.connect_timeout = Some(timeout);
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
        // kube retries 429/503/504 itself by default (up to 15 times, backing off up to
        // 1000 s): berth decides about retries (see `ClusterError::is_transient`).
        config.default_retry = false;
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let retry_after = RetryAfter::default();
        let builder =
            kube::client::ClientBuilder::try_from(config).map_err(|e| ClusterError::Config {
                cluster: name.to_string(),
                message: format!("cannot create a client for {server}: {}", chain(&e)),
                help: format!(
                    "check the cluster entry of {} (server URL, certificates)",
                    identity.describe()
                ),
            })?;
        // kube turns an error response into a `Status` and drops its headers: this layer
        // keeps the `Retry-After` of a 429 or 503 (the throttling filters of a real
        // apiserver answer 429 with a plain-text body and only the header) for `map_status`.
        let seen = retry_after.clone();
        let warnings = Warnings::default();
        let client = builder
            .with_layer(&tower::util::MapResponseLayer::new(
                move |resp: hyper::http::Response<_>| {
                    seen.record(&resp);
                    resp
                },
            ))
            .with_layer(&WarningsLayer(warnings.clone()))
            .build();
        Ok(Self {
            name: name.to_string(),
            client,
            server,
            identity,
            resources: Arc::default(),
            retry: super::RetryPolicy::default(),
            down: Arc::default(),
            retry_after,
            warnings,
        })
    }

    /// The `Warning` headers answered since the last call, each once per request target.
    pub(super) fn take_warnings(&self) -> Vec<(String, String)> {
        self.warnings.take()
    }

    /// This client with reads retried as `retry` says.
    pub fn with_retry(mut self, retry: super::RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// A read, retried on transient failures ([`super::retry_transient`]), once only while
    /// the server is known to be unreachable.
    async fn retrying<T, F, Fut>(&self, what: &str, op: F) -> Result<T, ClusterError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ClusterError>>,
    {
        use std::sync::atomic::Ordering;
        let policy = if self.down.load(Ordering::Relaxed) {
            super::RetryPolicy {
                attempts: 1,
                ..self.retry.clone()
            }
        } else {
            self.retry.clone()
        };
        let result = super::retry_transient(&policy, what, op).await;
        match &result {
            Ok(_) => self.down.store(false, Ordering::Relaxed),
            // Only a server that is not there (refused, no such host) is down. A timeout or a
            // dropped connection is a busy or flaky server: trying its other reads once each
            // would turn one unlucky request into many failed ones.
            Err(ClusterError::Unreachable { reason, .. }) if is_down(reason) => {
                self.down.store(true, Ordering::Relaxed)
            }
            Err(_) => {}
        }
        result
    }

    /// The cluster name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The API server URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Maps a client error of `verb` on `resource` (`statefulsets.apps`) into a
    /// [`ClusterError`].
    fn map(
        &self,
        e: kube::Error,
        verb: &str,
        resource: &str,
        object: Option<&ObjectRef>,
    ) -> ClusterError {
        let cluster = self.name.clone();
        match e {
            kube::Error::Api(status) => self.map_status(&status, verb, resource, object),
            kube::Error::Auth(e) => ClusterError::Config {
                cluster,
                message: format!(
                    "cannot get the credentials of {}: {}",
                    self.identity.describe(),
                    chain(&e)
                ),
                help: "check the user entry of the context (token file, exec plugin)".into(),
            },
            e @ (kube::Error::HyperError(_) | kube::Error::Service(_)) => {
                ClusterError::Unreachable {
                    cluster,
                    server: self.server.clone(),
                    reason: unreachable_reason(&e),
                    check: self.identity.reach_check(),
                }
            }
            other => ClusterError::Transient {
                cluster,
                verb: verb.to_string(),
                resource: resource.to_string(),
                code: 0,
                message: chain(&other),
                retry_after: None,
            },
        }
    }

    fn map_status(
        &self,
        status: &Status,
        verb: &str,
        resource: &str,
        object: Option<&ObjectRef>,
    ) -> ClusterError {
        let cluster = self.name.clone();
        let message = one_line(&status.message);
        let object = object
            .map(ToString::to_string)
            .unwrap_or_else(|| resource.to_string());
        let causes = || {
            status
                .details
                .as_ref()
                .map(|d| d.causes.clone())
                .unwrap_or_default()
        };
        let code = match (status.code, status.reason.as_str()) {
            (0, "Unauthorized") => 401,
            (0, "Forbidden") => 403,
            (0, "NotFound") => 404,
            (0, "Conflict" | "AlreadyExists") => 409,
            (0, "Invalid") => 422,
            (0, "TooManyRequests") => 429,
            (c, _) => c,
        };
        match code {
            401 => ClusterError::Unauthorized {
                cluster,
                identity: self.identity.describe(),
            },
            // The authorizer's refusal reads `... is forbidden: User "U" cannot VERB
            // resource ...` (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/
            // responsewriters/errors.go`, `forbiddenMessage`); an admission plugin's 403
            // says something else.
            403 if !(message.contains("User \"") && message.contains(" cannot ")) => {
                ClusterError::Refused { cluster, message }
            }
            403 => ClusterError::Forbidden {
                cluster,
                verb: verb.to_string(),
                resource: resource.to_string(),
                message,
            },
            404 => ClusterError::NotFound { cluster, message },
            // A server-side apply whose object does not fit the schema (an unknown field, a
            // wrong type) is answered with a 500, but no retry can mend it
            // (k8s.io/apimachinery managedfields/internal/structuredmerge.go).
            500 if message.starts_with("failed to create typed patch object") => {
                ClusterError::Invalid {
                    cluster,
                    object,
                    message,
                    causes: Vec::new(),
                }
            }
            409 => ClusterError::Conflict {
                cluster,
                object,
                message,
                fields: causes().into_iter().map(|c| c.field).collect(),
            },
            429 | 410 | 500..=599 | 0 => ClusterError::Transient {
                cluster,
                verb: verb.to_string(),
                resource: resource.to_string(),
                code,
                message,
                retry_after: self.retry_after.take(code).or_else(|| {
                    status
                        .details
                        .as_ref()
                        .map(|d| d.retry_after_seconds)
                        .filter(|s| *s > 0)
                        .map(|s| Duration::from_secs(u64::from(s)))
                }),
            },
            _ => ClusterError::Invalid {
                cluster,
                object,
                message,
                causes: causes()
                    .into_iter()
                    .map(|c| (c.field, one_line(&c.message)))
                    .collect(),
            },
        }
    }

    /// The resource of a kind and whether it is namespaced; `NotFound` when the server does
    /// not serve it. Discovery runs once per API version.
    async fn resolve(&self, kind: &KindRef) -> Result<(ApiResource, bool), ClusterError> {
        let resources = {
            let mut cache = self.resources.lock().await;
            match cache.get(&kind.api_version) {
                Some(r) => r.clone(),
                None => {
                    let gv = GroupVersion::gv(kind.group(), kind.version());
                    let what = format!("the API {}", kind.api_version);
                    let resources = self
                        .retrying(&what, || async {
                            match discovery::pinned_group(&self.client, &gv).await {
                                Ok(group) => Ok(group.versioned_resources(kind.version())),
                                Err(kube::Error::Api(s))
                                    if s.code == 404 || s.reason == "NotFound" =>
                                {
                                    Ok(Vec::new())
                                }
                                Err(e) => Err(self.map(e, "discover", &what, None)),
                            }
                        })
                        .await?;
                    let resources = Arc::new(resources);
                    cache.insert(kind.api_version.clone(), resources.clone());
                    resources
                }
            }
        };
        resources
            .iter()
            .find(|(ar, _)| ar.kind == kind.kind)
            .map(|(ar, caps)| (ar.clone(), caps.scope == Scope::Namespaced))
            .ok_or_else(|| ClusterError::NotFound {
                cluster: self.name.clone(),
                message: format!("the server does not serve {}", kind.kind_in_version()),
            })
    }

    pub(super) async fn serves(&self, kind: &KindRef) -> Result<bool, ClusterError> {
        match self.resolve(kind).await {
            Ok(_) => Ok(true),
            Err(ClusterError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn api(&self, ar: &ApiResource, namespaced: bool, ns: Option<&str>) -> Api<DynamicObject> {
        match (namespaced, ns) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, ar),
            _ => Api::all_with(self.client.clone(), ar),
        }
    }

    async fn list_kind(
        &self,
        kind: &KindRef,
        page_size: usize,
        keep_managed_fields: bool,
        selector: &str,
    ) -> Result<(Vec<LiveObject>, u64), ClusterError> {
        let (ar, _) = match self.resolve(kind).await {
            Ok(r) => r,
            // A kind the server does not serve has no objects.
            Err(ClusterError::NotFound { .. }) => return Ok((Vec::new(), 0)),
            Err(e) => return Err(e),
        };
        // Each page's items are kept as JSON text straight from the response, never as
        // `DynamicObject`s (a parsed object takes several times the memory).
        let (_, out, requests) = self
            .list_pages(kind, None, selector, false, page_size, |item, out| {
                out.extend(LiveObject::from_json(
                    item.get(),
                    Some((&ar.api_version, &ar.kind)),
                    keep_managed_fields,
                ));
            })
            .await?;
        Ok((out, requests))
    }

    pub(super) async fn list_owned(
        &self,
        kinds: &[KindRef],
        page_size: usize,
        keep_managed_fields: bool,
        selector: &str,
    ) -> Listing {
        // Discovery first, one API version at a time, so that it runs once per version.
        let mut failed = Vec::new();
        for kind in kinds {
            match self.resolve(kind).await {
                Ok(_) | Err(ClusterError::NotFound { .. }) => {}
                Err(e) => failed.push((kind.clone(), e)),
            }
        }
        let listable: Vec<&KindRef> = kinds
            .iter()
            .filter(|k| !failed.iter().any(|(f, _)| f == *k))
            .collect();
        let lists = futures::future::join_all(
            listable
                .iter()
                .map(|kind| self.list_kind(kind, page_size, keep_managed_fields, selector)),
        )
        .await;
        let mut listing = Listing {
            failed,
            ..Listing::default()
        };
        for (kind, listed) in listable.into_iter().zip(lists) {
            match listed {
                Ok((objects, n)) => {
                    listing.objects.extend(objects);
                    listing.requests += n;
                }
                Err(e) => listing.failed.push((kind.clone(), e)),
            }
        }
        listing
    }

    async fn resolve_object(
        &self,
        id: &ObjectRef,
    ) -> Result<(Api<DynamicObject>, String), ClusterError> {
        let (ar, namespaced) = self.resolve(&KindRef::of(id)).await?;
        Ok((
            self.api(&ar, namespaced, id.namespace.as_deref()),
            qualified_resource(&ar),
        ))
    }

    pub(super) async fn get(&self, id: &ObjectRef) -> Result<Option<Value>, ClusterError> {
        let (api, resource) = match self.resolve_object(id).await {
            Ok(r) => r,
            Err(ClusterError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let got = self
            .retrying(&resource, || async {
                api.get(&id.name)
                    .await
                    .map_err(|e| self.map(e, "get", &resource, Some(id)))
            })
            .await;
        match got {
            Ok(obj) => Ok(Some(to_value_for(obj, id))),
            Err(ClusterError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn create(
        &self,
        id: &ObjectRef,
        manifest: &Value,
    ) -> Result<Value, ClusterError> {
        let (api, resource) = self.resolve_object(id).await?;
        let obj: DynamicObject =
            serde_json::from_value(manifest.clone()).map_err(|e| ClusterError::Invalid {
                cluster: self.name.clone(),
                object: id.to_string(),
                message: format!("not a Kubernetes object: {e}"),
                causes: Vec::new(),
            })?;
        let pp = kube::api::PostParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..Default::default()
        };
        api.create(&pp, &obj)
            .await
            .map(|obj| to_value_for(obj, id))
            .map_err(|e| self.map(e, "create", &resource, Some(id)))
    }

    pub(super) async fn apply(
        &self,
        id: &ObjectRef,
        manifest: &Value,
        dry_run: bool,
        force: bool,
    ) -> Result<Value, ClusterError> {
        let (api, resource) = self.resolve_object(id).await?;
        let mut pp = PatchParams::apply(FIELD_MANAGER);
        pp.force = force;
        pp.dry_run = dry_run;
        api.patch(&id.name, &pp, &Patch::Apply(manifest))
            .await
            .map(|obj| to_value_for(obj, id))
            .map_err(|e| self.map(e, "patch", &resource, Some(id)))
    }

    pub(super) async fn list(
        &self,
        kind: &KindRef,
        namespace: Option<&str>,
        selector: &str,
        metadata_only: bool,
    ) -> Result<(Vec<Value>, u64), ClusterError> {
        let (ar, out, requests) = self
            .list_pages(
                kind,
                namespace,
                selector,
                metadata_only,
                super::DEFAULT_PAGE_SIZE,
                |item, out| {
                    if let Ok(v) = serde_json::from_str::<Value>(item.get()) {
                        out.push(v);
                    }
                },
            )
            .await?;
        let out = match ar {
            Some(ar) => out
                .into_iter()
                .map(|v| with_type_value(v, &ar.api_version, &ar.kind))
                .collect(),
            None => out,
        };
        Ok((out, requests))
    }

    /// Like [`KubeCluster::list`], each item read straight into `T` (fields `T` does not
    /// name are skipped, not parsed into values); items `T` cannot read are left out.
    pub(super) async fn list_typed<T: serde::de::DeserializeOwned>(
        &self,
        kind: &KindRef,
        namespace: Option<&str>,
        selector: &str,
        metadata_only: bool,
    ) -> Result<(Vec<T>, u64), ClusterError> {
        let (_, out, requests) = self
            .list_pages(
                kind,
                namespace,
                selector,
                metadata_only,
                super::DEFAULT_PAGE_SIZE,
                |item, out| {
                    if let Ok(v) = serde_json::from_str::<T>(item.get()) {
                        out.push(v);
                    }
                },
            )
            .await?;
        Ok((out, requests))
    }

    /// Every page of a LIST, `page_size` items a page, each item handed to `each` as raw
    /// JSON with the items collected so far; every page is retried on transient failures.
    /// A continue token that expired (410 `Expired`: the server compacted its history
    /// between two pages) restarts the listing from the first page with nothing collected,
    /// at most [`MAX_LIST_RESTARTS`] times: the inconsistent token the server offers instead
    /// could miss objects, and a plan must not. Returns the resource (`None` when the server
    /// does not serve the kind: no items), the items and the requests made.
    async fn list_pages<T>(
        &self,
        kind: &KindRef,
        namespace: Option<&str>,
        selector: &str,
        metadata_only: bool,
        page_size: usize,
        mut each: impl FnMut(&serde_json::value::RawValue, &mut Vec<T>),
    ) -> Result<(Option<ApiResource>, Vec<T>, u64), ClusterError> {
        let mut out = Vec::new();
        let (ar, namespaced) = match self.resolve(kind).await {
            Ok(r) => r,
            Err(ClusterError::NotFound { .. }) => return Ok((None, out, 0)),
            Err(e) => return Err(e),
        };
        let resource = qualified_resource(&ar);
        let ns = if namespaced { namespace } else { None };
        let request = kube::core::Request::new(DynamicObject::url_path(&ar, ns));
        let mut requests = 0u64;
        let mut restarts = 0;
        let mut token: Option<String> = None;
        loop {
            let mut lp = ListParams::default()
                .labels(selector)
                .limit(u32::try_from(page_size).unwrap_or(u32::MAX));
            if let Some(t) = &token {
                lp = lp.continue_token(t);
            }
            let result = self
                .retrying(&resource, || async {
                    let built = if metadata_only {
                        request.list_metadata(&lp)
                    } else {
                        request.list(&lp)
                    };
                    let mut req = built.map_err(|e| {
                        self.map(kube::Error::BuildRequest(e), "list", &resource, None)
                    })?;
                    req.extensions_mut().insert("list");
                    self.client
                        .request_text(req)
                        .await
                        .map_err(|e| self.map(e, "list", &resource, None))
                })
                .await;
            requests += 1;
            let text = match result {
                Ok(text) => text,
                Err(e) if e.is_expired() && token.is_some() && restarts < MAX_LIST_RESTARTS => {
                    restarts += 1;
                    tracing::info!(
                        cluster = %self.name,
                        resource = %resource,
                        restarts,
                        "the continue token expired between two pages; listing again from the first page"
                    );
                    out.clear();
                    token = None;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let page: RawList<'_> = serde_json::from_str(&text)
                .map_err(|e| self.map(kube::Error::SerdeError(e), "list", &resource, None))?;
            for item in page.items.iter().flatten() {
                each(item, &mut out);
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok((Some(ar), out, requests))
    }

    pub(super) async fn merge_patch(
        &self,
        id: &ObjectRef,
        patch: &Value,
        field_manager: &str,
    ) -> Result<(), ClusterError> {
        let (api, resource) = self.resolve_object(id).await?;
        let pp = PatchParams {
            field_manager: Some(field_manager.to_string()),
            ..PatchParams::default()
        };
        api.patch(&id.name, &pp, &Patch::Merge(patch))
            .await
            .map(drop)
            .map_err(|e| self.map(e, "patch", &resource, Some(id)))
    }

    pub(super) async fn delete(&self, id: &ObjectRef, orphan: bool) -> Result<(), ClusterError> {
        let (api, resource) = match self.resolve_object(id).await {
            Ok(r) => r,
            Err(ClusterError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let params = if orphan {
            DeleteParams::orphan()
        } else {
            DeleteParams::background()
        };
        match api.delete(&id.name, &params).await {
            Ok(_) => Ok(()),
            Err(e) => match self.map(e, "delete", &resource, Some(id)) {
                ClusterError::NotFound { .. } => Ok(()),
                e => Err(e),
            },
        }
    }
}

impl KindRef {
    fn kind_in_version(&self) -> String {
        format!("{} in {}", self.kind, self.api_version)
    }
}

/// `statefulsets.apps`, `namespaces`.
fn qualified_resource(ar: &ApiResource) -> String {
    if ar.group.is_empty() {
        ar.plural.clone()
    } else {
        format!("{}.{}", ar.plural, ar.group)
    }
}

/// Whether an [`unreachable_reason`] says the server is not there at all.
fn is_down(reason: &str) -> bool {
    matches!(
        reason,
        "connection refused" | "the host name does not resolve"
    )
}

/// Why a connection failed, in a few words.
fn unreachable_reason(e: &kube::Error) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused => return "connection refused".into(),
                TimedOut => return "timed out".into(),
                ConnectionReset | ConnectionAborted => return "connection reset".into(),
                _ => {}
            }
        }
        cur = err.source();
    }
    let text = chain(e).to_ascii_lowercase();
    if text.contains("dns error") || text.contains("failed to lookup address") {
        "the host name does not resolve".into()
    } else if text.contains("timed out") || text.contains("elapsed") {
        "timed out".into()
    } else if text.contains("refused") {
        "connection refused".into()
    } else if text.contains("peer closed connection")
        || text.contains("unexpected eof")
        || text.contains("connection closed before message completed")
        || text.contains("incompletemessage")
    {
        // A server (or a load balancer in front of it) that dropped the connection: worth
        // retrying, and the TLS library's wording says nothing to the reader.
        "the connection was closed without an answer".into()
    } else if text.contains("certificate") || text.contains("tls") {
        format!("TLS handshake failed: {}", chain(e))
    } else {
        chain(e)
    }
}

/// The object as JSON with `apiVersion` and `kind` first.
fn to_value_for(obj: DynamicObject, id: &ObjectRef) -> Value {
    with_type(obj, &id.api_version, &id.kind)
}

fn with_type(obj: DynamicObject, api_version: &str, kind: &str) -> Value {
    with_type_value(
        serde_json::to_value(&obj).unwrap_or(Value::Null),
        api_version,
        kind,
    )
}

fn with_type_value(value: Value, api_version: &str, kind: &str) -> Value {
    let mut out = Map::new();
    out.insert("apiVersion".into(), api_version.into());
    out.insert("kind".into(), kind.into());
    if let Value::Object(m) = value {
        for (k, v) in m {
            if k != "apiVersion" && k != "kind" {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}
