//! Watches (`GET ...?watch=true`), as the apiserver's watch cache serves them
//! (`staging/src/k8s.io/apiserver/pkg/storage/cacher`): a stream of JSON lines
//! `{"type":"ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR","object":...}` from the store's
//! history (`ObjectStore::keep_history`).
//!
//! - No `resourceVersion` (or `0`): an `ADDED` event for every matching object, then changes.
//!   With `sendInitialEvents=true`, a `BOOKMARK` annotated `k8s.io/initial-events-end` ends
//!   the initial events.
//! - `resourceVersion=N`: the changes after N; N older than the last compaction gives one
//!   `ERROR` event carrying a 410 `Expired` Status (`too old resource version: N (M)`), and the
//!   stream ends, as the watch cache answers.
//! - Label and field selectors filter events as the cacher does: an object that stops
//!   matching is sent as `DELETED`, one that starts matching as `ADDED`.
//! - `allowWatchBookmarks=true`: a `BOOKMARK` with the current resource version at the
//!   server's bookmark interval (about a minute in a real apiserver; tests shorten it).
//! - `timeoutSeconds` ends the stream; without it, 30 minutes (the apiserver's
//!   `--min-request-timeout` default).
//!
//! Events come from the history the store's triggers record, the one place all writes meet
//! (requests, controllers, tests). A stream reads it when the store reports a committed write
//! ([`ObjectStore::on_commit`]), as the cacher is fed by its etcd watch, and otherwise sleeps
//! until its next bookmark or its timeout.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use kube_store::{Event, EventType, KindInfo, LabelSelector, ObjectStore, StoreError};
use serde_json::{json, Value};

use super::handler::blocking;
use super::Shared;

/// The watch request, parsed.
pub(crate) struct WatchRequest {
    pub(crate) info: &'static KindInfo,
    pub(crate) ns: Option<String>,
    pub(crate) selector: LabelSelector,
    pub(crate) fields: Box<dyn Fn(&Value) -> bool + Send + Sync>,
    pub(crate) resource_version: Option<u64>,
    pub(crate) bookmarks: bool,
    pub(crate) send_initial_events: bool,
    pub(crate) timeout: Duration,
}

enum Phase {
    Start,
    Follow { after: u64 },
    Done,
}

struct State {
    shared: Arc<Shared>,
    req: WatchRequest,
    phase: Phase,
    pending: std::collections::VecDeque<Value>,
    deadline: tokio::time::Instant,
    next_bookmark: tokio::time::Instant,
    /// The store's write counter: changed since the last read of the history means there may
    /// be events.
    writes: tokio::sync::watch::Receiver<u64>,
    stopping: tokio::sync::watch::Receiver<bool>,
}

fn line(kind: &str, object: Value) -> Value {
    json!({"type": kind, "object": object})
}

fn bookmark(info: &KindInfo, rv: u64, initial_end: bool) -> Value {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        json!({"kind": info.kind, "apiVersion": info.api_version(), "metadata": metadata}),
    )
}

fn error_line(e: &StoreError) -> Value {
    line("ERROR", e.to_status())
}

impl State {
    fn matches(&self, obj: &Value) -> bool {
        self.req.selector.matches_object(obj) && (self.req.fields)(obj)
    }

    /// The line for one recorded event, after the selectors; `None` when it is filtered out.
    fn event_line(&self, e: Event) -> Option<Value> {
        let now = self.matches(&e.object);
        let kind = match e.event {
            EventType::Modified => {
                let before = e.previous.as_ref().is_some_and(|p| self.matches(p));
                match (before, now) {
                    (true, true) => "MODIFIED",
                    (false, true) => "ADDED",
                    (true, false) => "DELETED",
                    (false, false) => return None,
                }
            }
            other if now => other.as_str(),
            _ => return None,
        };
        Some(line(kind, e.object))
    }

    async fn fill(&mut self) {
        let store: ObjectStore = self.shared.store.clone();
        let kind = self.req.info.kind;
        let ns = self.req.ns.clone();
        match self.phase {
            Phase::Done => {}
            Phase::Start => match self.req.resource_version.filter(|rv| *rv > 0) {
                Some(rv) => {
                    let r = blocking(move || store.events_since(kind, ns.as_deref(), rv, 0)).await;
                    match r {
                        Ok(_) => self.phase = Phase::Follow { after: rv },
                        Err(e) => {
                            self.pending.push_back(error_line(&e));
                            self.phase = Phase::Done;
                        }
                    }
                }
                None => {
                    let r = blocking(move || {
                        let all = LabelSelector::everything();
                        store.list(kind, ns.as_deref(), &all, None, None)
                    })
                    .await;
                    match r {
                        Ok(page) => {
                            let rv = page.resource_version.parse().unwrap_or(0);
                            for o in page.items {
                                if self.matches(&o) {
                                    self.pending.push_back(line("ADDED", o));
                                }
                            }
                            if self.req.send_initial_events && self.req.bookmarks {
                                self.pending.push_back(bookmark(self.req.info, rv, true));
                            }
                            self.phase = Phase::Follow { after: rv };
                        }
                        Err(e) => {
                            self.pending.push_back(error_line(&e));
                            self.phase = Phase::Done;
                        }
                    }
                }
            },
            Phase::Follow { after } => {
                const BATCH: usize = 500;
                let r = blocking(move || {
                    let current = store.resource_version()?;
                    let events = store.events_since(kind, ns.as_deref(), after, BATCH)?;
                    Ok((current, events))
                })
                .await;
                match r {
                    Ok((current, events)) => {
                        // Writes are serialised by the store, so every event up to `current`
                        // is in the history: with a short batch the watch has seen up to it.
                        let mut last = if events.len() < BATCH {
                            current.max(after)
                        } else {
                            after
                        };
                        for e in events {
                            last = last.max(e.resource_version);
                            if let Some(l) = self.event_line(e) {
                                self.pending.push_back(l);
                            }
                        }
                        self.phase = Phase::Follow { after: last };
                    }
                    Err(e) => {
                        self.pending.push_back(error_line(&e));
                        self.phase = Phase::Done;
                    }
                }
            }
        }
    }

    /// The next line to send, waiting for one; `None` ends the stream.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(l) = self.pending.pop_front() {
                return Some(l);
            }
            if matches!(self.phase, Phase::Done) || *self.shared.stopping.borrow() {
                return None;
            }
            if tokio::time::Instant::now() >= self.deadline {
                return None;
            }
            // Marked before reading, so that a write committed during the read wakes the
            // wait below.
            self.writes.borrow_and_update();
            let starting = matches!(self.phase, Phase::Start);
            self.fill().await;
            if !self.pending.is_empty() || starting {
                // A start only places the stream; the history after it is read next.
                continue;
            }
            let now = tokio::time::Instant::now();
            let following = matches!(self.phase, Phase::Follow { .. });
            if let (true, Phase::Follow { after }) = (self.req.bookmarks, &self.phase) {
                if now >= self.next_bookmark {
                    self.next_bookmark = now + self.shared.bookmark_interval();
                    return Some(bookmark(self.req.info, *after, false));
                }
            }
            let mut until = self.deadline;
            if self.req.bookmarks && following {
                until = until.min(self.next_bookmark);
            }
            tokio::select! {
                changed = self.writes.changed() => {
                    if changed.is_err() {
                        // The server is gone.
                        return None;
                    }
                }
                stopped = self.stopping.changed() => {
                    if stopped.is_err() {
                        return None;
                    }
                }
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }
}

/// Answers a watch: 200 and a stream of event lines.
pub(crate) fn respond(shared: Arc<Shared>, req: WatchRequest) -> Response {
    let now = tokio::time::Instant::now();
    let state = State {
        deadline: now + req.timeout,
        next_bookmark: now + shared.bookmark_interval(),
        writes: shared.writes.clone(),
        stopping: shared.stopping.clone(),
        shared,
        req,
        phase: Phase::Start,
        pending: Default::default(),
    };
    let stream = futures::stream::unfold(state, |mut state| async move {
        let l = state.next().await?;
        let mut text = l.to_string();
        text.push('\n');
        Some((Ok::<_, std::io::Error>(Bytes::from(text)), state))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
