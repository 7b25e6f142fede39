//! The daemon's HTTP endpoints: health, readiness, Prometheus metrics, the JSON status API and
//! the push webhooks.
//!
//! | Method | Path | |
//! |---|---|---|
//! | GET | `/healthz` | 200 while the process serves |
//! | GET | `/readyz` | 200 once the first sync has run, 503 before |
//! | GET | `/metrics` | Prometheus text format |
//! | GET | `/api/v1/status` | JSON: source, revisions, last sync, drift, clusters, tenants |
//! | GET | `/api/v1/history` | JSON: the recent syncs, oldest first |
//! | POST | `/webhooks/github` | GitHub push events (`X-Hub-Signature-256`) |
//! | POST | `/webhooks/gitlab` | GitLab push events (`X-Gitlab-Token`) |
//!
//! The dashboard's pages and forms are in [`super::dashboard::routes`].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::webhook::{self, Event, Forge, WebhookError};
use super::{Shared, Trigger};

/// The router over `shared`.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(status))
        .route("/api/v1/history", get(history))
        .route("/webhooks/github", post(github))
        .route("/webhooks/gitlab", post(gitlab))
        .merge(super::dashboard::routes::routes())
        .with_state(shared)
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if shared.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the first sync is running\n",
        )
            .into_response()
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let mut status = shared.status.read().unwrap().clone();
    status.leader = shared.leader.load(Ordering::SeqCst);
    let mut text = super::status::metrics(&status);
    text.push_str(&super::dashboard::tenant_metrics(
        &status,
        &shared.dashboard.snapshot.read().unwrap(),
        crate::values::time::now_unix(),
    ));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

fn json(value: &impl serde::Serialize) -> Response {
    match serde_json::to_string_pretty(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body + "\n").into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    let mut status = shared.status.read().unwrap().clone();
    status.leader = shared.leader.load(Ordering::SeqCst);
    status.history.clear();
    let mut v = serde_json::to_value(&status).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        map.remove("history");
        map.remove("counters");
        map.remove("tenant_history");
    }
    json(&v)
}

async fn history(State(shared): State<Arc<Shared>>) -> Response {
    let history = shared.status.read().unwrap().history.clone();
    json(&history)
}

async fn github(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    hook(Forge::GitHub, &shared, &headers, &body)
}

async fn gitlab(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    hook(Forge::GitLab, &shared, &headers, &body)
}

fn hook(forge: Forge, shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    match webhook::verify(forge, shared.webhook_secret.as_deref(), &header, body) {
        Ok(Event::Push { git_ref, after }) => {
            if let Some(branch) = &shared.branch {
                if git_ref != format!("refs/heads/{branch}") {
                    tracing::info!(forge = forge.name(), %git_ref, "webhook: push to another ref, ignored");
                    return (
                        StatusCode::ACCEPTED,
                        format!("ignored: push to {git_ref}, not refs/heads/{branch}\n"),
                    )
                        .into_response();
                }
            }
            tracing::info!(forge = forge.name(), %git_ref, after = after.as_deref().unwrap_or("-"), "webhook: push, syncing");
            let _ = shared.triggers.send(Trigger::Webhook);
            if shared.leader_election.is_some() && !shared.leader.load(Ordering::SeqCst) {
                // Only the leader applies: hand the push on to it.
                shared.relay_pending.store(true, Ordering::SeqCst);
            }
            (StatusCode::ACCEPTED, "sync queued\n").into_response()
        }
        Ok(Event::Other(event)) => {
            tracing::info!(forge = forge.name(), %event, "webhook: not a push, ignored");
            (StatusCode::OK, format!("ignored event `{event}`\n")).into_response()
        }
        Err(e) => {
            let code = match &e {
                WebhookError::Disabled => StatusCode::NOT_FOUND,
                WebhookError::BadBody(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::UNAUTHORIZED,
            };
            tracing::warn!(forge = forge.name(), error = %e, "webhook rejected");
            shared.status.write().unwrap().counters.error("webhook");
            (code, format!("{e}\n")).into_response()
        }
    }
}
