//! An object store with the semantics of a Kubernetes API server: server-side apply with field
//! ownership, resource versions, generations, server defaults, validation and immutable fields,
//! label selectors and stable pagination. Backed by SQLite, in a file or in memory.
//!
//! Both the embedded local cluster and the test API server (the `kube-emulator` crate) use it, so the
//! semantics live in one place.

pub mod cron;
mod defaults;
mod fields;
mod kinds;
pub mod quantity;
mod selector;

use std::path::Path as FsPath;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::{json, Map, Value};

pub use kinds::{groups, kind_by_api_version, kind_by_name, kind_by_plural, kinds, KindInfo};
pub use selector::{LabelSelector, Op, Requirement, SelectorError};

use fields::{FieldSet, ManagedEntry};

/// One reason an object was refused, as in `details.causes` of a Kubernetes `Status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// Machine-readable reason: `FieldValueInvalid`, `FieldValueForbidden`,
    /// `FieldValueRequired`, `FieldValueNotSupported`, `FieldManagerConflict`.
    pub reason: String,
    /// The field, `spec.replicas` for validation, `.spec.replicas` for apply conflicts.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl Cause {
    fn new(reason: &str, field: &str, message: &str) -> Self {
        Self {
            reason: reason.into(),
            field: field.into(),
            message: message.into(),
        }
    }
    pub(crate) fn invalid(field: &str, message: &str) -> Self {
        Self::new("FieldValueInvalid", field, message)
    }
    pub(crate) fn required(field: &str, message: &str) -> Self {
        Self::new("FieldValueRequired", field, message)
    }
    pub(crate) fn forbidden(field: &str, message: &str) -> Self {
        Self::new("FieldValueForbidden", field, message)
    }
    pub(crate) fn not_supported(field: &str, message: &str) -> Self {
        Self::new("FieldValueNotSupported", field, message)
    }
}

/// Why a store operation failed. Each variant maps to one Kubernetes `Status` reason and HTTP
/// code; the message is worded like a real API server's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// 404 `NotFound`.
    #[error("{message}")]
    NotFound {
        kind: String,
        namespace: String,
        name: String,
        message: String,
    },
    /// 409 `AlreadyExists`.
    #[error("{message}")]
    AlreadyExists {
        kind: String,
        namespace: String,
        name: String,
        message: String,
    },
    /// 409 `Conflict`: a stale resource version, or fields owned by another manager.
    #[error("{message}")]
    Conflict {
        kind: String,
        namespace: String,
        name: String,
        message: String,
        causes: Box<[Cause]>,
    },
    /// 422 `Invalid`.
    #[error("{message}")]
    Invalid {
        kind: String,
        namespace: String,
        name: String,
        message: String,
        causes: Box<[Cause]>,
    },
    /// 400 `BadRequest`: a malformed request (selector, continue token, body).
    #[error("{message}")]
    BadRequest {
        kind: String,
        namespace: String,
        name: String,
        message: String,
    },
    /// 410 `Expired`: a continue token or watch resource version older than the last
    /// compaction. `continue_token`, when not empty, resumes the listing inconsistently at
    /// the latest state (the real server's `metadata.continue` of the Status). A plain
    /// `String` keeps the error as small as the other variants.
    #[error("{message}")]
    Expired {
        message: String,
        continue_token: String,
    },
    /// 500 `InternalError`: storage failed.
    #[error("{message}")]
    Internal {
        kind: String,
        namespace: String,
        name: String,
        message: String,
    },
}

impl StoreError {
    /// The `Status` reason: `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `BadRequest`,
    /// `InternalError`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "NotFound",
            Self::AlreadyExists { .. } => "AlreadyExists",
            Self::Conflict { .. } => "Conflict",
            Self::Invalid { .. } => "Invalid",
            Self::BadRequest { .. } => "BadRequest",
            Self::Expired { .. } => "Expired",
            Self::Internal { .. } => "InternalError",
        }
    }

    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            Self::NotFound { .. } => 404,
            Self::AlreadyExists { .. } | Self::Conflict { .. } => 409,
            Self::Invalid { .. } => 422,
            Self::BadRequest { .. } => 400,
            Self::Expired { .. } => 410,
            Self::Internal { .. } => 500,
        }
    }

    fn parts(&self) -> (&str, &str, &str, &str) {
        match self {
            Self::NotFound {
                kind,
                namespace,
                name,
                message,
            }
            | Self::AlreadyExists {
                kind,
                namespace,
                name,
                message,
            }
            | Self::Conflict {
                kind,
                namespace,
                name,
                message,
                ..
            }
            | Self::Invalid {
                kind,
                namespace,
                name,
                message,
                ..
            }
            | Self::BadRequest {
                kind,
                namespace,
                name,
                message,
            }
            | Self::Internal {
                kind,
                namespace,
                name,
                message,
            } => (kind, namespace, name, message),
            Self::Expired { message, .. } => ("", "", "", message),
        }
    }

    /// The kind of the object concerned ("" when none).
    pub fn kind(&self) -> &str {
        self.parts().0
    }
    /// The namespace of the object concerned ("" when none or cluster-scoped).
    pub fn namespace(&self) -> &str {
        self.parts().1
    }
    /// The name of the object concerned ("" when none).
    pub fn name(&self) -> &str {
        self.parts().2
    }
    /// The message, worded like a Kubernetes API server's.
    pub fn message(&self) -> &str {
        self.parts().3
    }

    /// The causes (conflicting fields, invalid fields).
    pub fn causes(&self) -> &[Cause] {
        match self {
            Self::Conflict { causes, .. } | Self::Invalid { causes, .. } => causes,
            _ => &[],
        }
    }

    /// The error as a Kubernetes `metav1.Status` body, with both `reason` and `code`.
    pub fn to_status(&self) -> Value {
        let info = kind_by_name(self.kind());
        let mut details = Map::new();
        if !self.name().is_empty() {
            details.insert("name".into(), json!(self.name()));
        }
        if let Some(info) = info {
            details.insert("group".into(), json!(info.group));
            let kind = match self {
                Self::Invalid { .. } => info.kind,
                _ => info.plural,
            };
            details.insert("kind".into(), json!(kind));
        } else if !self.kind().is_empty() {
            details.insert("kind".into(), json!(self.kind()));
        }
        if !self.causes().is_empty() {
            details.insert(
                "causes".into(),
                Value::Array(
                    self.causes()
                        .iter()
                        .map(
                            |c| json!({"reason": c.reason, "message": c.message, "field": c.field}),
                        )
                        .collect(),
                ),
            );
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message(),
            "reason": self.reason(),
        });
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        if let Self::Expired { continue_token, .. } = self {
            if !continue_token.is_empty() {
                status["metadata"] = json!({"continue": continue_token});
            }
        }
        status["code"] = json!(self.code());
        status
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal {
            kind: String::new(),
            namespace: String::new(),
            name: String::new(),
            message: format!("storage error: {e}"),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::internal(e)
    }
}

/// Deletion propagation policy. [`ObjectStore::delete`] deletes at once whatever it says;
/// [`ObjectStore::delete_with`] turns it into finalizers for the garbage collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// Dependents are deleted in the background (the default).
    #[default]
    Background,
    /// Dependents are deleted first.
    Foreground,
    /// Dependents are kept.
    Orphan,
}

/// One page of a LIST.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// The objects, ordered by namespace and name.
    pub items: Vec<Value>,
    /// The store's resource version when the page was read.
    pub resource_version: String,
    /// Token for the next page, `None` on the last one.
    pub continue_token: Option<String>,
}

/// One page of a LIST, each object as its stored compact JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPageRaw {
    /// The objects, ordered by namespace and name.
    pub items: Vec<String>,
    /// The store's resource version when the page was read.
    pub resource_version: String,
    /// Token for the next page, `None` on the last one.
    pub continue_token: Option<String>,
}

/// Applies a JSON merge patch (RFC 7386) to a value: maps merged key by key, `null` removes,
/// everything else replaced.
pub fn merge_patch_value(target: &mut Value, patch: &Value) {
    fields::merge(target, patch);
}

/// Where an object is: its kind, namespace ("" for cluster-scoped kinds) and name.
struct Target<'a> {
    info: &'static KindInfo,
    ns: &'a str,
    name: &'a str,
    /// The store keeps the API server's object lifecycle ([`ObjectStore::enable_lifecycle`]).
    lifecycle: bool,
}

impl Target<'_> {
    fn not_found(&self) -> StoreError {
        StoreError::NotFound {
            kind: self.info.kind.into(),
            namespace: self.ns.into(),
            name: self.name.into(),
            message: format!(
                "{} {:?} not found",
                self.info.qualified_resource(),
                self.name
            ),
        }
    }
    fn already_exists(&self) -> StoreError {
        StoreError::AlreadyExists {
            kind: self.info.kind.into(),
            namespace: self.ns.into(),
            name: self.name.into(),
            message: format!(
                "{} {:?} already exists",
                self.info.qualified_resource(),
                self.name
            ),
        }
    }
    fn stale(&self) -> StoreError {
        StoreError::Conflict {
            kind: self.info.kind.into(),
            namespace: self.ns.into(),
            name: self.name.into(),
            message: format!(
                "Operation cannot be fulfilled on {} {:?}: the object has been modified; please apply your changes to the latest version and try again",
                self.info.qualified_resource(),
                self.name
            ),
            causes: Box::default(),
        }
    }
    fn invalid(&self, causes: Vec<Cause>) -> StoreError {
        let detail = match causes.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!(
                "[{}]",
                many.iter()
                    .map(|c| format!("{}: {}", c.field, c.message))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        StoreError::Invalid {
            kind: self.info.kind.into(),
            namespace: self.ns.into(),
            name: self.name.into(),
            message: format!(
                "{} {:?} is invalid: {}",
                self.info.qualified_kind(),
                self.name,
                detail
            ),
            causes: causes.into(),
        }
    }
    fn bad_request(&self, message: String) -> StoreError {
        StoreError::BadRequest {
            kind: self.info.kind.into(),
            namespace: self.ns.into(),
            name: self.name.into(),
            message,
        }
    }
}

fn unknown_kind(kind: &str) -> StoreError {
    StoreError::NotFound {
        kind: kind.into(),
        namespace: String::new(),
        name: String::new(),
        message: format!("the server doesn't have a resource type {kind:?}"),
    }
}

fn bad_request(message: String) -> StoreError {
    StoreError::BadRequest {
        kind: String::new(),
        namespace: String::new(),
        name: String::new(),
        message,
    }
}

/// Where a write goes: the object itself, or its status.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Main,
    Status,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS objects (
    id INTEGER PRIMARY KEY,
    grp TEXT NOT NULL,
    version TEXT NOT NULL,
    kind TEXT NOT NULL,
    ns TEXT NOT NULL,
    name TEXT NOT NULL,
    rv INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS objects_key ON objects (grp, version, kind, ns, name);
CREATE INDEX IF NOT EXISTS objects_ns ON objects (ns);
CREATE TABLE IF NOT EXISTS labels (
    oid INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (oid, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS labels_kv ON labels (key, value);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (k, v) VALUES ('rv', 0), ('ip', 10);
";

/// The watch history (`ObjectStore::keep_history`): one row per write, recorded by triggers.
/// A deletion is recorded at the resource version its transaction is about to take.
const HISTORY_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    rv INTEGER NOT NULL,
    type TEXT NOT NULL,
    grp TEXT NOT NULL,
    version TEXT NOT NULL,
    kind TEXT NOT NULL,
    ns TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    old TEXT
);
CREATE INDEX IF NOT EXISTS events_kind ON events (grp, version, kind, rv);
CREATE TRIGGER IF NOT EXISTS events_insert AFTER INSERT ON objects BEGIN
    INSERT INTO events (rv, type, grp, version, kind, ns, name, body)
    VALUES (NEW.rv, 'ADDED', NEW.grp, NEW.version, NEW.kind, NEW.ns, NEW.name, NEW.body);
END;
CREATE TRIGGER IF NOT EXISTS events_update AFTER UPDATE ON objects BEGIN
    INSERT INTO events (rv, type, grp, version, kind, ns, name, body, old)
    VALUES (NEW.rv, 'MODIFIED', NEW.grp, NEW.version, NEW.kind, NEW.ns, NEW.name, NEW.body, OLD.body);
END;
CREATE TRIGGER IF NOT EXISTS events_delete AFTER DELETE ON objects BEGIN
    INSERT INTO events (rv, type, grp, version, kind, ns, name, body)
    VALUES ((SELECT v + 1 FROM meta WHERE k = 'rv'), 'DELETED', OLD.grp, OLD.version, OLD.kind, OLD.ns, OLD.name, OLD.body);
END;
";

/// What happened to an object, as a watch reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Deleted.
    Deleted,
}

impl EventType {
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One recorded write ([`ObjectStore::events_since`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What happened.
    pub event: EventType,
    /// The resource version of the write.
    pub resource_version: u64,
    /// The object after the write (before it, for a deletion).
    pub object: Value,
    /// The object before a modification, so that a watch with a selector can tell an object
    /// that left the selection (sent as `DELETED`) from one that entered it (`ADDED`).
    pub previous: Option<Value>,
}

/// The object store. Cheap to clone: clones share one database connection.
#[derive(Clone)]
pub struct ObjectStore {
    conn: Arc<Mutex<Connection>>,
    lifecycle: Arc<AtomicBool>,
    /// Called after each committed write ([`ObjectStore::on_commit`]).
    listeners: Arc<Mutex<Vec<CommitListener>>>,
}

type CommitListener = Box<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore").finish_non_exhaustive()
    }
}

impl ObjectStore {
    /// Opens (creating if needed) a store in a file. Every write is one transaction, synced.
    pub fn open(path: impl AsRef<FsPath>) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Self::init(conn)
    }

    /// A store that lives in memory only.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            lifecycle: Arc::new(AtomicBool::new(false)),
            listeners: Arc::default(),
        })
    }

    /// Calls `f` after every write transaction this store (or a clone of it) commits, once the
    /// write is visible to readers. A watch server wakes its streams with it instead of
    /// polling. `f` runs on the writer's thread and must not write to the store.
    pub fn on_commit(&self, f: impl Fn() + Send + Sync + 'static) {
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(f));
    }

    /// Turns on the object lifecycle of a Kubernetes API server, for a store served with
    /// controllers (the `kube-emulator` crate): a namespace always gets the `kubernetes`
    /// finalizer in `spec.finalizers` on create (also when others are given), and only the
    /// `finalize` subresource changes them
    /// ([`ObjectStore::finalize_namespace`]); an object with `metadata.deletionTimestamp` gets
    /// no new finalizers and goes from the store when an update empties its finalizers.
    /// [`ObjectStore::delete_with`] is the graceful delete. Off by default: without
    /// controllers, nothing would ever remove a finalizer.
    pub fn enable_lifecycle(&self) {
        self.lifecycle.store(true, Ordering::Relaxed);
    }

    /// Whether [`ObjectStore::enable_lifecycle`] was called.
    pub fn lifecycle_enabled(&self) -> bool {
        self.lifecycle.load(Ordering::Relaxed)
    }

    fn target<'a>(
        &self,
        info: &'static KindInfo,
        ns: &'a str,
        name: &'a str,
    ) -> Result<Target<'a>, StoreError> {
        let mut t = target(info, ns, name)?;
        t.lifecycle = self.lifecycle_enabled();
        Ok(t)
    }

    /// Checks the store as a whole, for after a crash: SQLite's own `PRAGMA integrity_check`
    /// (pages, indexes), then every object: its body is a JSON object whose kind, namespace,
    /// name and resourceVersion are the row's, and its labels are the label rows. Returns
    /// every problem found, one line each; empty when the store is sound.
    pub fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.lock()?;
        let mut problems = Vec::new();
        {
            let mut stmt = conn.prepare("PRAGMA integrity_check")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            for row in rows {
                let row = row?;
                if row != "ok" {
                    problems.push(format!("sqlite: {row}"));
                }
            }
        }
        let mut stmt = conn.prepare("SELECT id, kind, ns, name, rv, body FROM objects")?;
        let mut labels =
            conn.prepare("SELECT key, value FROM labels WHERE oid = ?1 ORDER BY key")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        for row in rows {
            let (id, kind, ns, name, rv, body) = row?;
            let at = format!("{kind} {ns}/{name}");
            let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(&body) else {
                problems.push(format!("{at}: the body is not a JSON object"));
                continue;
            };
            let meta = obj.get("metadata");
            let field = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str);
            if obj.get("kind").and_then(Value::as_str) != Some(kind.as_str()) {
                problems.push(format!("{at}: the body's kind differs"));
            }
            if field("name") != Some(name.as_str()) || field("namespace").unwrap_or("") != ns {
                problems.push(format!("{at}: the body's name or namespace differs"));
            }
            if field("resourceVersion") != Some(rv.to_string().as_str()) {
                problems.push(format!("{at}: the body's resourceVersion is not {rv}"));
            }
            let want: Vec<(String, String)> = meta
                .and_then(|m| m.get("labels"))
                .and_then(Value::as_object)
                .map(|l| {
                    let mut v: Vec<(String, String)> = l
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect();
                    v.sort();
                    v
                })
                .unwrap_or_default();
            let have: Vec<(String, String)> = labels
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            if want != have {
                problems.push(format!(
                    "{at}: the label index differs from the body's labels"
                ));
            }
        }
        Ok(problems)
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::internal("store lock poisoned"))
    }

    fn with_tx<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let out = {
            let mut conn = self.lock()?;
            let tx = conn.transaction()?;
            let out = f(&tx)?;
            tx.commit()?;
            out
        };
        for listener in self
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            listener();
        }
        Ok(out)
    }

    /// The current resource version: the highest one given to any write.
    pub fn resource_version(&self) -> Result<u64, StoreError> {
        let conn = self.lock()?;
        Ok(current_rv(&conn)?)
    }

    /// Compacts the store as etcd compaction does (the apiserver asks for one every 5 minutes):
    /// continue tokens and watch resource versions older than the current resource version
    /// are answered 410 `Expired` from now on, and the recorded history before it is dropped.
    pub fn compact(&self) -> Result<u64, StoreError> {
        self.with_tx(|tx| {
            let rv = current_rv(tx)?;
            tx.execute(
                "INSERT INTO meta (k, v) VALUES ('compacted', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                [rv as i64],
            )?;
            let history: bool = tx
                .query_row(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'",
                    [],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if history {
                tx.execute("DELETE FROM events WHERE rv < ?", [rv as i64])?;
            }
            Ok(rv)
        })
    }

    /// The resource version of the last compaction (0 when never compacted).
    pub fn compacted_resource_version(&self) -> Result<u64, StoreError> {
        let conn = self.lock()?;
        Ok(compacted_rv(&conn)?)
    }

    /// From now on every write is also recorded as a watch event (`ADDED`, `MODIFIED`,
    /// `DELETED`), for [`ObjectStore::events_since`]. SQLite triggers record them, so every
    /// write path is covered. The embedded cluster does not keep a history; the API emulator
    /// does, to serve watches.
    pub fn keep_history(&self) -> Result<(), StoreError> {
        let conn = self.lock()?;
        conn.execute_batch(HISTORY_SCHEMA)?;
        Ok(())
    }

    /// The recorded events of `kind` (in namespace `ns` when given) after resource version
    /// `after`, oldest first, at most `limit`. 410 `Expired` when `after` is older than the
    /// last compaction, worded as the watch cache words it.
    pub fn events_since(
        &self,
        kind: &str,
        ns: Option<&str>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let info = kind_by_name(kind).ok_or_else(|| unknown_kind(kind))?;
        let conn = self.lock()?;
        let compacted = compacted_rv(&conn)?;
        if after < compacted {
            return Err(StoreError::Expired {
                message: format!("too old resource version: {after} ({compacted})"),
                continue_token: String::new(),
            });
        }
        let ns = ns.filter(|n| !n.is_empty() && info.namespaced);
        let mut stmt = conn.prepare_cached(
            "SELECT seq, rv, type, body, old FROM events WHERE grp = ? AND version = ? AND kind = ?
             AND (? IS NULL OR ns = ?) AND rv > ? ORDER BY seq LIMIT ?",
        )?;
        let rows = stmt.query_map(
            params![
                info.group,
                info.version,
                info.kind,
                ns,
                ns,
                after as i64,
                limit as i64
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            },
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (rv, kind, body, old) = row?;
            let mut object: Value = serde_json::from_str(&body).map_err(StoreError::internal)?;
            let previous = match old {
                Some(o) => Some(serde_json::from_str(&o).map_err(StoreError::internal)?),
                None => None,
            };
            let event = match kind.as_str() {
                "ADDED" => EventType::Added,
                "MODIFIED" => EventType::Modified,
                _ => EventType::Deleted,
            };
            if event == EventType::Deleted {
                // The object as it was, at the resource version of its deletion.
                object["metadata"]["resourceVersion"] = json!(rv.to_string());
            }
            out.push(Event {
                event,
                resource_version: u64::try_from(rv).unwrap_or(0),
                object,
                previous,
            });
        }
        Ok(out)
    }

    /// The number of objects stored, of every kind.
    pub fn len(&self) -> Result<usize, StoreError> {
        let conn = self.lock()?;
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM objects", [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Whether the store holds no object.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// The object, or `NotFound`.
    pub fn get(&self, kind: &str, ns: &str, name: &str) -> Result<Value, StoreError> {
        let info = kind_by_name(kind).ok_or_else(|| unknown_kind(kind))?;
        let t = self.target(info, ns, name)?;
        let conn = self.lock()?;
        load(&conn, &t)?.ok_or_else(|| t.not_found())
    }

    /// One page of the objects of `kind`, in namespace `ns` (all namespaces when `None`),
    /// selected by labels, ordered by namespace then name. `limit` of `None` or 0 means all.
    /// Pass the previous page's `continue_token` to get the next page.
    pub fn list(
        &self,
        kind: &str,
        ns: Option<&str>,
        selector: &LabelSelector,
        limit: Option<usize>,
        continue_token: Option<&str>,
    ) -> Result<ListPage, StoreError> {
        let page = self.list_raw(kind, ns, selector, limit, continue_token)?;
        let items = page
            .items
            .iter()
            .map(|body| serde_json::from_str(body).map_err(StoreError::internal))
            .collect::<Result<Vec<Value>, _>>()?;
        Ok(ListPage {
            items,
            resource_version: page.resource_version,
            continue_token: page.continue_token,
        })
    }

    /// Like [`ObjectStore::list`], with each object as the compact JSON text it is stored as
    /// (no parsing).
    pub fn list_raw(
        &self,
        kind: &str,
        ns: Option<&str>,
        selector: &LabelSelector,
        limit: Option<usize>,
        continue_token: Option<&str>,
    ) -> Result<ListPageRaw, StoreError> {
        let info = kind_by_name(kind).ok_or_else(|| unknown_kind(kind))?;
        let ns = if info.namespaced {
            ns.filter(|n| !n.is_empty())
        } else {
            None
        };
        // Names alone when the listing is within one namespace or of a cluster-scoped kind,
        // `ns/name` across namespaces: the etcd key after the listing's prefix.
        let keyed_by_name = ns.is_some() || !info.namespaced;
        let after = match continue_token.filter(|t| !t.is_empty()) {
            Some(t) => {
                let (ans, aname, rv) = decode_continue(t, keyed_by_name)?;
                let ans = if keyed_by_name {
                    ns.unwrap_or("").to_string()
                } else {
                    ans
                };
                Some((ans, aname, rv))
            }
            None => None,
        };
        let limit = limit.filter(|l| *l > 0);
        let mut sql = String::from("SELECT o.ns, o.name, o.body FROM objects o WHERE o.grp = ? AND o.version = ? AND o.kind = ?");
        let mut args: Vec<rusqlite::types::Value> = vec![
            info.group.to_string().into(),
            info.version.to_string().into(),
            info.kind.to_string().into(),
        ];
        if let Some(ns) = ns {
            sql.push_str(" AND o.ns = ?");
            args.push(ns.to_string().into());
        }
        if let Some((ans, aname, _)) = &after {
            sql.push_str(" AND (o.ns > ? OR (o.ns = ? AND o.name > ?))");
            args.push(ans.clone().into());
            args.push(ans.clone().into());
            args.push(aname.clone().into());
        }
        for r in &selector.requirements {
            let (neg, with_values) = match r.op {
                Op::Equals | Op::In => (false, true),
                Op::NotEquals | Op::NotIn => (true, true),
                Op::Exists => (false, false),
                Op::DoesNotExist => (true, false),
            };
            sql.push_str(if neg {
                " AND NOT EXISTS"
            } else {
                " AND EXISTS"
            });
            sql.push_str(" (SELECT 1 FROM labels l WHERE l.oid = o.id AND l.key = ?");
            args.push(r.key.clone().into());
            if with_values {
                let marks = vec!["?"; r.values.len()].join(", ");
                sql.push_str(&format!(" AND l.value IN ({marks})"));
                for v in &r.values {
                    args.push(v.clone().into());
                }
            }
            sql.push(')');
        }
        sql.push_str(" ORDER BY o.ns, o.name");
        if let Some(l) = limit {
            sql.push_str(&format!(" LIMIT {}", l.saturating_add(1)));
        }
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let rv = current_rv(&tx)?;
        if let Some((ans, aname, token_rv)) = &after {
            let compacted = compacted_rv(&tx)?;
            if *token_rv > 0 && (*token_rv as u64) < compacted {
                let start = if keyed_by_name {
                    aname.clone()
                } else {
                    format!("{ans}/{aname}")
                };
                return Err(StoreError::Expired {
                    message: INCONSISTENT_CONTINUE.to_string(),
                    continue_token: encode_continue(&start, -1),
                });
            }
        }
        let mut rows: Vec<(String, String, String)> = {
            let mut stmt = tx.prepare_cached(&sql)?;
            let mapped = stmt.query_map(rusqlite::params_from_iter(args), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
            mapped.collect::<Result<_, _>>()?
        };
        tx.commit()?;
        drop(conn);
        let mut continue_token = None;
        if let Some(l) = limit {
            if rows.len() > l {
                rows.truncate(l);
                if let Some((ns, name, _)) = rows.last() {
                    let start = if keyed_by_name {
                        name.clone()
                    } else {
                        format!("{ns}/{name}")
                    };
                    continue_token = Some(encode_continue(&start, rv as i64));
                }
            }
        }
        let items = rows.into_iter().map(|(_, _, body)| body).collect();
        Ok(ListPageRaw {
            items,
            resource_version: rv.to_string(),
            continue_token,
        })
    }

    /// Server-side apply of `patch` by `field_manager`. Creates the object when missing.
    /// Returns the object as stored (or as it would be, with `dry_run`) and whether it was
    /// created.
    #[allow(clippy::too_many_arguments)]
    pub fn apply(
        &self,
        kind: &str,
        ns: &str,
        name: &str,
        patch: Value,
        field_manager: &str,
        force: bool,
        dry_run: bool,
    ) -> Result<(Value, bool), StoreError> {
        let info = kind_by_name(kind).ok_or_else(|| unknown_kind(kind))?;
        let t = self.target(info, ns, name)?;
        self.with_tx(|tx| apply_tx(tx, &t, &patch, field_manager, force, dry_run))
    }

    /// Applies many objects (each with `apiVersion`, `kind`, `metadata.name` and, for namespaced
    /// kinds, `metadata.namespace`) in one transaction: all are stored, or none.
    pub fn apply_all(
        &self,
        objects: &[Value],
        field_manager: &str,
        force: bool,
        dry_run: bool,
    ) -> Result<Vec<(Value, bool)>, StoreError> {
        self.with_tx(|tx| {
            let mut out = Vec::with_capacity(objects.len());
            for obj in objects {
                let s = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or("");
                let info = kind_by_api_version(s("/apiVersion"), s("/kind"))
                    .ok_or_else(|| unknown_kind(s("/kind")))?;
                let t = self.target(info, s("/metadata/namespace"), s("/metadata/name"))?;
                out.push(apply_tx(tx, &t, obj, field_manager, force, dry_run)?);
            }
            Ok(out)
        })
    }

    /// Creates an object (POST): `AlreadyExists` when there is one. The namespace comes from
    /// `ns`, the name from `metadata.name` (or `metadata.generateName` plus a random suffix).
    pub fn create(
        &self,
        kind: &str,
        ns: &str,
        obj: Value,
        field_manager: &str,
        dry_run: bool,
    ) -> Result<Value, StoreError> {
        let info = kind_by_name(kind).ok_or_else(|| unknown_kind(kind))?;
        let mut name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if name.is_empty() {
            if let Some(g) = obj
                .pointer("/metadata/generateName")
                .and_then(Value::as_str)
            {
                name = generate_name(g);
            }
        }
        let t = self.target(info, ns, &name)?;
        check_body_identity(&t, &obj)?;
        self.with_tx(|tx| {
            if load(tx, &t)?.is_some() {
                return Err(t.already_exists());
            }
            let new = prepare(tx, &t, None, fields::user_fields(&obj), Mode::Main, dry_run)?;
            let mut entries = Vec::new();
            record_update(&mut entries, &t, field_manager, &Value::Null, &new, None);
            let new = with_managed(new, &entries);
            commit(tx, &t, None, new, dry_run).map(|(v, _)| v)
        })
    }

    /// Replaces an object (PUT). When the body carries `metadata.resourceVersion`, it must be
    /// the stored one, else `Conflict`. Status is kept (use [`ObjectStore::set_status`]).
    pub fn update(
        &self,
        kind: &str,
        ns: &str,
        name: &str,
        obj: Value,
        field_manager: &str,
        dry_run: bool,
    ) -> Result<Value, StoreError> {
        let info = kind_by_name(kind).ok_or_else(|| unknown_kind(kind))?;
        let t = self.target(info, ns, name)?;
        check_body_identity(&t, &obj)?;
        self.with_tx(|tx| {
            let old = load(tx, &t)?.ok_or_else(|| t.not_found())?;
            check_precondition(&t, &old, &obj)?;
            update_tx(
                tx,
                &t,
                old,
                fields::user_fields(&obj),
                field_manager,
                dry_run,
            )
        })
    }

    /// Applies a JSON merge patch (RFC 7386) to an object, as `kubectl edit`/`patch` do.
    pub fn merge_patch(
        &self,
        kind: &str,
        ns: &str,
        name: &str,
        patch: &Value,
        field_manager: &str,
        dry_run: bool,
    ) -> Result<Value, StoreError> {
        let info = kind_by_name(kind).ok_or_else(|| unknown_kind(kind))?;
        let t = self.target(info, ns, name)?;
        if !patch.is_object() {
            return Err(t.bad_request("a merge patch must be a JSON object".into()));
        }
        self.patch_with(kind, ns, name, field_manager, dry_run, |old| {
            let mut merged = old.clone();
            fields::merge(&mut merged, patch);
            Ok(merged)
        })
    }

    /// Patches an object in one transaction: `f` is given the stored object and returns the
    /// patched one, which is written as an update is, so no write can come between the read
    /// and the write. A `metadata.resourceVersion` in the patched object must be the stored
    /// one (`Conflict`); the patched object must still name the object of the request. An
    /// error of `f` is returned as it is, and nothing is written.
    pub fn patch_with(
        &self,
        kind: &str,
        ns: &str,
        name: &str,
        field_manager: &str,
        dry_run: bool,
        f: impl FnOnce(&Value) -> Result<Value, StoreError>,
    ) -> Result<Value, StoreError> {
        let info = kind_by_name(kind).ok_or_else(|| unknown_kind(kind))?;
        let t = self.target(info, ns, name)?;
        self.with_tx(|tx| {
            let old = load(tx, &t)?.ok_or_else(|| t.not_found())?;
            let patched = f(&old)?;
            check_precondition(&t, &old, &patched)?;
            check_body_identity(&t, &patched)?;
            update_tx(
                tx,
                &t,
                old,
                fields::user_fields(&patched),
                field_manager,
                dry_run,
            )
        })
    }

    /// Replaces the status of an object, as a controller does. Bumps the resource version,
    /// never the generation.
    pub fn set_status(
        &self,
        kind: &str,
        ns: &str,
        name: &str,
        status: Value,
    ) -> Result<Value, StoreError> {
        let info = kind_by_name(kind).ok_or_else(|| unknown_kind(kind))?;
        let t = self.target(info, ns, name)?;
        self.with_tx(|tx| {
            let old = load(tx, &t)?.ok_or_else(|| t.not_found())?;
            let mut new = old.clone();
            if let Some(m) = new.as_object_mut() {
                if status.is_null() {
                    m.shift_remove("status");
                } else {
                    m.insert("status".into(), status.clone());
                }
            }
            let new = prepare(tx, &t, Some(&old), new, Mode::Status, false)?;
            commit(tx, &t, Some(&old), new, false).map(|(v, _)| v)
        })
    }

    /// Merges `patch` (a JSON merge patch of the status alone: `{"readyReplicas": 3}`) into the
    /// status of an object, as a controller's status update would; the rest of the object is
    /// untouched. For tests and tools that play a controller on the embedded cluster.
    pub fn merge_status(
        &self,
        kind: &str,
        ns: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value, StoreError> {
        let mut status = self
            .get(kind, ns, name)?
            .get("status")
            .cloned()
            .unwrap_or_else(|| json!({}));
        merge_patch_value(&mut status, patch);
        self.set_status(kind, ns, name, status)
    }

    /// Deletes an object and returns it as it was. Deleting a Namespace deletes every object in
    /// it. `NotFound` when absent.
    pub fn delete(
        &self,
        kind: &str,
        ns: &str,
        name: &str,
        propagation: Propagation,
    ) -> Result<Value, StoreError> {
        let _ = propagation;
        let info = kind_by_name(kind).ok_or_else(|| unknown_kind(kind))?;
        let t = self.target(info, ns, name)?;
        self.with_tx(|tx| {
            let (id, old) = load_with_id(tx, &t)?.ok_or_else(|| t.not_found())?;
            tx.execute("DELETE FROM labels WHERE oid = ?", [id])?;
            tx.execute("DELETE FROM objects WHERE id = ?", [id])?;
            if info.kind == "Namespace" {
                tx.execute(
                    "DELETE FROM labels WHERE oid IN (SELECT id FROM objects WHERE ns = ?)",
                    [name],
                )?;
                tx.execute("DELETE FROM objects WHERE ns = ?", [name])?;
            }
            next_rv(tx)?;
            Ok(old)
        })
    }
}

/// How [`ObjectStore::delete_with`] deletes.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// `propagationPolicy`; `None` when the request named none (the kind's default applies).
    pub propagation: Option<Propagation>,
    /// The time to record as `metadata.deletionTimestamp` (RFC 3339).
    pub now: String,
    /// `dryRun=All`: answer as if deleted, change nothing.
    pub dry_run: bool,
}

impl ObjectStore {
    /// Deletes as a Kubernetes API server does (`Delete` of the generic registry, and of the
    /// namespace registry for namespaces); nothing is cascaded here, the controllers do that.
    /// Returns the object as it is afterwards and whether it is gone.
    ///
    /// - A namespace is first marked: `deletionTimestamp`, `status.phase: Terminating`, and
    ///   `orphan`/`foregroundDeletion` finalizers when the policy says so; it stays while its
    ///   `spec.finalizers` are not empty (a second delete returns it unchanged).
    /// - Any other object: the `orphan` or `foregroundDeletion` finalizer is set as the
    ///   policy (or the kind's default, or the finalizers already there) says. With
    ///   finalizers it is marked (`deletionTimestamp`, `deletionGracePeriodSeconds: 0`,
    ///   generation + 1) and stays; without, it goes at once.
    pub fn delete_with(
        &self,
        kind: &str,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<(Value, bool), StoreError> {
        let info = kind_by_name(kind).ok_or_else(|| unknown_kind(kind))?;
        let t = self.target(info, ns, name)?;
        self.with_tx(|tx| {
            let old = load(tx, &t)?.ok_or_else(|| t.not_found())?;
            let mut new = old.clone();
            let deleting = old.pointer("/metadata/deletionTimestamp").is_some();
            let finalizers = string_list(old.pointer("/metadata/finalizers"));
            let has = |f: &str| finalizers.iter().any(|x| x == f);
            if info.kind == "Namespace" {
                if !deleting {
                    new["metadata"]["deletionTimestamp"] = json!(opts.now);
                    new["status"]["phase"] = json!("Terminating");
                    let mut list = finalizers.clone();
                    let mut set = |f: &str, on: bool| {
                        list.retain(|x| x != f);
                        if on {
                            list.push(f.to_string());
                        }
                    };
                    set(
                        FINALIZER_ORPHAN,
                        opts.propagation
                            .map_or(has(FINALIZER_ORPHAN), |p| p == Propagation::Orphan),
                    );
                    set(
                        FINALIZER_FOREGROUND,
                        opts.propagation
                            .map_or(has(FINALIZER_FOREGROUND), |p| p == Propagation::Foreground),
                    );
                    set_list(&mut new, list);
                    return store_marked(tx, &t, new, opts.dry_run).map(|o| (o, false));
                }
                if !string_list(old.pointer("/spec/finalizers")).is_empty() {
                    return Ok((old, false));
                }
            }
            let orphan = match opts.propagation {
                Some(p) => p == Propagation::Orphan,
                None => {
                    has(FINALIZER_ORPHAN) || (!has(FINALIZER_FOREGROUND) && default_orphans(info))
                }
            };
            let foreground = match opts.propagation {
                Some(p) => p == Propagation::Foreground,
                None => has(FINALIZER_FOREGROUND),
            };
            let mut list: Vec<String> = finalizers
                .iter()
                .filter(|f| *f != FINALIZER_ORPHAN && *f != FINALIZER_FOREGROUND)
                .cloned()
                .collect();
            if orphan {
                list.push(FINALIZER_ORPHAN.into());
            }
            if foreground {
                list.push(FINALIZER_FOREGROUND.into());
            }
            if list.is_empty() {
                if !opts.dry_run {
                    remove(tx, &t)?;
                    next_rv(tx)?;
                }
                return Ok((old, true));
            }
            if !deleting {
                if let Some(g) = old.pointer("/metadata/generation").and_then(Value::as_i64) {
                    new["metadata"]["generation"] = json!(g + 1);
                }
                new["metadata"]["deletionTimestamp"] = json!(opts.now);
            }
            new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            set_list(&mut new, list);
            store_marked(tx, &t, new, opts.dry_run).map(|o| (o, false))
        })
    }

    /// The `finalize` subresource of a namespace (`PUT /api/v1/namespaces/NAME/finalize`):
    /// replaces `spec.finalizers`, nothing else. A namespace being deleted goes when none are
    /// left, and no `metadata.finalizers` either.
    pub fn finalize_namespace(
        &self,
        name: &str,
        finalizers: &[String],
    ) -> Result<Value, StoreError> {
        let info = kind_by_name("Namespace").ok_or_else(|| unknown_kind("Namespace"))?;
        let t = self.target(info, "", name)?;
        self.with_tx(|tx| {
            let old = load(tx, &t)?.ok_or_else(|| t.not_found())?;
            let mut new = old.clone();
            if finalizers.is_empty() {
                if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.shift_remove("finalizers");
                }
            } else {
                new["spec"]["finalizers"] = json!(finalizers);
            }
            if new == old {
                return Ok(old);
            }
            let rv = next_rv(tx)?;
            new["metadata"]["resourceVersion"] = json!(rv.to_string());
            if finalized(&new) {
                remove(tx, &t)?;
            } else {
                save(tx, &t, &new, rv)?;
            }
            Ok(new)
        })
    }
}

fn set_list(obj: &mut Value, list: Vec<String>) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.shift_remove("finalizers");
        } else {
            meta.insert("finalizers".into(), json!(list));
        }
    }
}

/// Stores an object the delete marked, with metadata in the order a server writes it.
fn store_marked(
    tx: &Transaction<'_>,
    t: &Target<'_>,
    mut obj: Value,
    dry_run: bool,
) -> Result<Value, StoreError> {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        let order = [
            "name",
            "generateName",
            "namespace",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ];
        let mut sorted = Map::new();
        for k in order {
            if let Some(v) = meta.shift_remove(k) {
                sorted.insert(k.into(), v);
            }
        }
        sorted.extend(std::mem::take(meta));
        *meta = sorted;
    }
    if dry_run {
        return Ok(obj);
    }
    let rv = next_rv(tx)?;
    obj["metadata"]["resourceVersion"] = json!(rv.to_string());
    save(tx, t, &obj, rv)?;
    Ok(obj)
}

fn target<'a>(
    info: &'static KindInfo,
    ns: &'a str,
    name: &'a str,
) -> Result<Target<'a>, StoreError> {
    let ns = if info.namespaced { ns } else { "" };
    let t = Target {
        info,
        ns,
        name,
        lifecycle: false,
    };
    if info.namespaced {
        if ns.is_empty() {
            return Err(t.bad_request(
                "an empty namespace may not be set when a resource name is provided".into(),
            ));
        }
        if !defaults::valid_namespace(ns) {
            return Err(t.not_found());
        }
    }
    Ok(t)
}

/// The body's `apiVersion`, `kind`, name and namespace, where given, must match the request.
fn check_body_identity(t: &Target<'_>, obj: &Value) -> Result<(), StoreError> {
    if !obj.is_object() {
        return Err(t.bad_request("the body must be a JSON object".into()));
    }
    let s = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if let Some(kind) = s("/kind") {
        let api_version = s("/apiVersion").unwrap_or("");
        if kind != t.info.kind || api_version != t.info.api_version() {
            return Err(t.bad_request(format!(
                "the API version in the data ({api_version}) and kind ({kind}) do not match the request ({}, {})",
                t.info.api_version(),
                t.info.kind
            )));
        }
    }
    if let Some(n) = s("/metadata/name") {
        if n != t.name {
            return Err(t.bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({})",
                t.name
            )));
        }
    }
    if t.info.namespaced {
        if let Some(n) = s("/metadata/namespace") {
            if n != t.ns {
                return Err(t.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request".into(),
                ));
            }
        }
    }
    Ok(())
}

fn check_precondition(t: &Target<'_>, old: &Value, body: &Value) -> Result<(), StoreError> {
    if let Some(rv) = body
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        if Some(rv)
            != old
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
        {
            return Err(t.stale());
        }
    }
    Ok(())
}

fn apply_tx(
    tx: &Transaction<'_>,
    t: &Target<'_>,
    patch: &Value,
    manager: &str,
    force: bool,
    dry_run: bool,
) -> Result<(Value, bool), StoreError> {
    check_body_identity(t, patch)?;
    if manager.is_empty() {
        return Err(t.bad_request(
            "PATCH of type application/apply-patch+yaml requires fieldManager".into(),
        ));
    }
    let old = load(tx, t)?;
    // As in Kubernetes, a `metadata.resourceVersion` in an apply patch is a precondition.
    if let Some(old) = &old {
        check_precondition(t, old, patch)?;
    }
    let applied = fields::user_fields(patch);
    let new_fields = fields::leaf_paths(&applied);
    let mut entries = old.as_ref().map(fields::parse_managed).unwrap_or_default();
    let mine = |e: &ManagedEntry| {
        e.manager == manager && e.operation == "Apply" && e.subresource.is_none()
    };
    let prev: FieldSet = entries
        .iter()
        .find(|e| mine(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();

    let mut candidate = match &old {
        Some(o) => fields::user_fields(o),
        None => json!({}),
    };
    // Fields this manager stops setting go, unless someone else owns them too.
    for p in prev.difference(&new_fields) {
        let shared = entries
            .iter()
            .filter(|e| !mine(e))
            .any(|e| e.fields.iter().any(|q| fields::related(p, q)));
        if !shared {
            fields::remove_path(&mut candidate, p);
        }
    }
    fields::merge(&mut candidate, &applied);
    let new = prepare(tx, t, old.as_ref(), candidate, Mode::Main, dry_run)?;

    // Conflicts: fields another manager owns whose value this apply changes.
    if let Some(old) = &old {
        let mut conflicts: Vec<(String, String, Vec<String>)> = Vec::new();
        for e in entries.iter_mut().filter(|e| !mine(e)) {
            let mut taken = Vec::new();
            for q in &e.fields {
                if new_fields.iter().any(|p| fields::related(p, q))
                    && fields::get_path(old, q) != fields::get_path(&new, q)
                {
                    taken.push(q.clone());
                }
            }
            if taken.is_empty() {
                continue;
            }
            if force {
                for q in &taken {
                    e.fields.remove(q);
                }
            } else {
                conflicts.push((
                    e.manager.clone(),
                    e.api_version.clone(),
                    taken.iter().map(fields::path_string).collect(),
                ));
            }
        }
        if !conflicts.is_empty() {
            return Err(apply_conflict(t, &conflicts));
        }
    }
    let time = now_rfc3339();
    let entry = ManagedEntry {
        manager: manager.to_string(),
        operation: "Apply".into(),
        api_version: t.info.api_version(),
        time,
        subresource: None,
        fields: new_fields,
    };
    match entries.iter().position(mine) {
        Some(i) => entries[i] = entry,
        None => entries.push(entry),
    }
    prune_entries(&mut entries, &new);
    let new = with_managed(new, &entries);
    commit(tx, t, old.as_ref(), new, dry_run)
}

fn apply_conflict(t: &Target<'_>, conflicts: &[(String, String, Vec<String>)]) -> StoreError {
    let n: usize = conflicts.iter().map(|c| c.2.len()).sum();
    let mut message = format!(
        "Apply failed with {n} conflict{}: ",
        if n == 1 { "" } else { "s" }
    );
    let mut causes = Vec::new();
    let parts: Vec<String> = conflicts
        .iter()
        .map(|(manager, api_version, paths)| {
            for p in paths {
                causes.push(Cause::new(
                    "FieldManagerConflict",
                    p,
                    &format!("conflict with {manager:?} using {api_version}"),
                ));
            }
            if paths.len() == 1 {
                format!(
                    "conflict with {manager:?} using {api_version}: {}",
                    paths[0]
                )
            } else {
                format!(
                    "conflicts with {manager:?} using {api_version}:\n{}",
                    paths
                        .iter()
                        .map(|p| format!("- {p}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            }
        })
        .collect();
    message.push_str(&parts.join("\n"));
    StoreError::Conflict {
        kind: t.info.kind.into(),
        namespace: t.ns.into(),
        name: t.name.into(),
        message,
        causes: causes.into(),
    }
}

fn update_tx(
    tx: &Transaction<'_>,
    t: &Target<'_>,
    old: Value,
    body: Value,
    manager: &str,
    dry_run: bool,
) -> Result<Value, StoreError> {
    let new = prepare(tx, t, Some(&old), body, Mode::Main, dry_run)?;
    let mut entries = fields::parse_managed(&old);
    record_update(&mut entries, t, manager, &old, &new, None);
    let new = with_managed(new, &entries);
    commit(tx, t, Some(&old), new, dry_run).map(|(v, _)| v)
}

/// Records an Update by `manager`: it owns the fields it changed, which others lose.
fn record_update(
    entries: &mut Vec<ManagedEntry>,
    t: &Target<'_>,
    manager: &str,
    old: &Value,
    new: &Value,
    subresource: Option<&str>,
) {
    let manager = if manager.is_empty() {
        "unknown"
    } else {
        manager
    };
    let new_user = fields::user_fields(new);
    let changed: FieldSet = fields::leaf_paths(&new_user)
        .into_iter()
        .filter(|p| fields::get_path(old, p) != fields::get_path(new, p))
        .collect();
    let is_mine = |e: &ManagedEntry| {
        e.manager == manager && e.operation == "Update" && e.subresource.as_deref() == subresource
    };
    for e in entries.iter_mut().filter(|e| !is_mine(e)) {
        e.fields
            .retain(|q| !changed.iter().any(|p| fields::related(p, q)));
    }
    if !changed.is_empty() {
        let entry = match entries.iter().position(is_mine) {
            Some(i) => &mut entries[i],
            None => {
                entries.push(ManagedEntry {
                    manager: manager.to_string(),
                    operation: "Update".into(),
                    api_version: t.info.api_version(),
                    time: String::new(),
                    subresource: subresource.map(str::to_string),
                    fields: FieldSet::new(),
                });
                let last = entries.len() - 1;
                &mut entries[last]
            }
        };
        entry.fields.extend(changed);
        entry.time = now_rfc3339();
    }
    prune_entries(entries, new);
}

/// Drops owned paths that no longer exist and entries that own nothing.
fn prune_entries(entries: &mut Vec<ManagedEntry>, obj: &Value) {
    for e in entries.iter_mut() {
        if e.operation != "Apply" {
            e.fields.retain(|p| fields::get_path(obj, p).is_some());
        }
    }
    entries.retain(|e| !e.fields.is_empty());
}

fn with_managed(mut obj: Value, entries: &[ManagedEntry]) -> Value {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if entries.is_empty() {
            meta.shift_remove("managedFields");
        } else {
            meta.insert("managedFields".into(), fields::render_managed(entries));
        }
    }
    obj
}

/// Turns a client's object into what the server would store (server metadata aside):
/// identity, status handling, defaults, canonical quantities; then validates it.
fn prepare(
    tx: &Transaction<'_>,
    t: &Target<'_>,
    old: Option<&Value>,
    mut new: Value,
    mode: Mode,
    dry_run: bool,
) -> Result<Value, StoreError> {
    if !new.is_object() {
        return Err(t.bad_request("the body must be a JSON object".into()));
    }
    let info = t.info;
    {
        let m = new
            .as_object_mut()
            .ok_or_else(|| StoreError::internal("not an object"))?;
        let meta = m.entry("metadata").or_insert_with(|| json!({}));
        if !meta.is_object() {
            *meta = json!({});
        }
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("name".into(), json!(t.name));
            if info.namespaced {
                meta.insert("namespace".into(), json!(t.ns));
            }
        }
        if mode == Mode::Main && info.has_status {
            match old.and_then(|o| o.get("status")) {
                Some(s) => {
                    m.insert("status".into(), s.clone());
                }
                None => {
                    m.shift_remove("status");
                    let initial = match info.kind {
                        "Namespace" => Some(json!({"phase": "Active"})),
                        "PersistentVolumeClaim" => Some(json!({"phase": "Pending"})),
                        "Service" => Some(json!({"loadBalancer": {}})),
                        _ => None,
                    };
                    if let Some(s) = initial {
                        m.insert("status".into(), s);
                    }
                }
            }
        }
    }
    if t.lifecycle && mode == Mode::Main {
        lifecycle_prepare(t, old, &mut new)?;
    }
    if mode == Mode::Status {
        let causes = defaults::normalise_quantities(info, &mut new);
        if !causes.is_empty() {
            return Err(t.invalid(causes));
        }
        return Ok(new);
    }
    if old.is_none() {
        if let Some(c) = defaults::validate_name(info, t.name) {
            return Err(t.invalid(vec![c]));
        }
        if info.namespaced && !namespace_exists(tx, t.ns)? {
            return Err(StoreError::NotFound {
                kind: "Namespace".into(),
                namespace: String::new(),
                name: t.ns.into(),
                message: format!("namespaces {:?} not found", t.ns),
            });
        }
    }
    if info.kind == "Service" {
        assign_cluster_ip(tx, old, &mut new, dry_run)?;
    }
    defaults::apply_defaults(info, &mut new);
    let mut causes = defaults::normalise_quantities(info, &mut new);
    causes.extend(defaults::validate(info, &new));
    if let Some(old) = old {
        causes.extend(defaults::check_immutable(info, old, &new));
    }
    if !causes.is_empty() {
        return Err(t.invalid(causes));
    }
    Ok(new)
}

fn assign_cluster_ip(
    tx: &Transaction<'_>,
    old: Option<&Value>,
    new: &mut Value,
    dry_run: bool,
) -> Result<(), StoreError> {
    let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let given = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let ip = match given {
        Some(ip) => ip,
        None => match old
            .and_then(|o| o.pointer("/spec/clusterIP"))
            .and_then(Value::as_str)
        {
            Some(ip) => ip.to_string(),
            None => {
                let n: i64 = if dry_run {
                    tx.query_row("SELECT v FROM meta WHERE k = 'ip'", [], |r| r.get(0))?
                } else {
                    tx.query_row(
                        "UPDATE meta SET v = v + 1 WHERE k = 'ip' RETURNING v - 1",
                        [],
                        |r| r.get(0),
                    )?
                };
                let n = n.max(1);
                format!("10.{}.{}.{}", 96 + (n >> 16) % 16, (n >> 8) & 255, n & 255)
            }
        },
    };
    spec.insert("clusterIP".into(), json!(ip));
    if !spec.contains_key("clusterIPs") {
        spec.insert("clusterIPs".into(), json!([ip]));
    }
    Ok(())
}

/// Comparable form: no resource version, no managed-field times.
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("resourceVersion");
        if let Some(mf) = meta.get_mut("managedFields").and_then(Value::as_array_mut) {
            for e in mf.iter_mut().filter_map(Value::as_object_mut) {
                e.shift_remove("time");
            }
        }
    }
    v
}

fn without_meta_status(v: &Value) -> Value {
    match v.as_object() {
        Some(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        None => Value::Null,
    }
}

/// Puts the server's metadata on `new`, orders its fields like a server, and stores it unless
/// nothing changed or it is a dry run.
fn commit(
    tx: &Transaction<'_>,
    t: &Target<'_>,
    old: Option<&Value>,
    new: Value,
    dry_run: bool,
) -> Result<(Value, bool), StoreError> {
    let info = t.info;
    let user_meta = new
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let old_meta = old
        .and_then(|o| o.get("metadata"))
        .and_then(Value::as_object);
    let from_old = |k: &str| old_meta.and_then(|m| m.get(k)).cloned();

    let mut meta = Map::new();
    meta.insert("name".into(), json!(t.name));
    if let Some(g) = user_meta
        .get("generateName")
        .or(old_meta.and_then(|m| m.get("generateName")))
    {
        meta.insert("generateName".into(), g.clone());
    }
    if info.namespaced {
        meta.insert("namespace".into(), json!(t.ns));
    }
    let created = old.is_none();
    let generation = match old {
        None => 1,
        Some(o) => {
            let g = o
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let mut n = without_meta_status(&new);
            if let Some(m) = n.as_object_mut() {
                m.insert("apiVersion".into(), json!(info.api_version()));
                m.insert("kind".into(), json!(info.kind));
            }
            if without_meta_status(o) != n {
                g + 1
            } else {
                g
            }
        }
    };
    meta.insert(
        "uid".into(),
        from_old("uid").unwrap_or_else(|| json!(new_uid())),
    );
    meta.insert(
        "resourceVersion".into(),
        from_old("resourceVersion").unwrap_or(json!("")),
    );
    if info.has_generation() {
        meta.insert("generation".into(), json!(generation));
    }
    meta.insert(
        "creationTimestamp".into(),
        from_old("creationTimestamp").unwrap_or_else(|| json!(now_rfc3339())),
    );
    // Set by a delete only, never by a client.
    for k in ["deletionTimestamp", "deletionGracePeriodSeconds"] {
        if let Some(v) = from_old(k) {
            meta.insert(k.into(), v);
        }
    }
    for k in [
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    ] {
        if let Some(v) = user_meta.get(k) {
            let empty = match v {
                Value::Object(m) => m.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Null => true,
                _ => false,
            };
            if !empty {
                meta.insert(k.into(), v.clone());
            }
        }
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), json!(info.api_version()));
    obj.insert("kind".into(), json!(info.kind));
    obj.insert("metadata".into(), Value::Object(meta));
    let mut status = None;
    if let Value::Object(m) = new {
        for (k, v) in m {
            match k.as_str() {
                "apiVersion" | "kind" | "metadata" => {}
                "status" => status = Some(v),
                _ => {
                    obj.insert(k, v);
                }
            }
        }
    }
    if let Some(s) = status {
        obj.insert("status".into(), s);
    }
    let mut obj = Value::Object(obj);

    if let Some(old) = old {
        if comparable(old) == comparable(&obj) {
            return Ok((old.clone(), false));
        }
    }
    if dry_run {
        if created {
            if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                m.shift_remove("uid");
                m.shift_remove("resourceVersion");
            }
        }
        return Ok((obj, created));
    }
    let rv = next_rv(tx)?;
    obj["metadata"]["resourceVersion"] = json!(rv.to_string());
    if t.lifecycle && old.is_some() && finalized(&obj) {
        // The last finalizer of an object being deleted is gone: so is the object
        // (`ShouldDeleteDuringUpdate` of the generic registry and of namespaces).
        remove(tx, t)?;
        return Ok((obj, false));
    }
    save(tx, t, &obj, rv)?;
    Ok((obj, created))
}

fn compacted_rv(conn: &Connection) -> rusqlite::Result<u64> {
    let v: Option<i64> = conn
        .query_row("SELECT v FROM meta WHERE k = 'compacted'", [], |r| r.get(0))
        .optional()?;
    Ok(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
}

/// Whether an object is being deleted with nothing left to wait for: a deletion timestamp,
/// a grace period of 0 (or none), no finalizers and, for a namespace, no `spec.finalizers`.
fn finalized(obj: &Value) -> bool {
    let meta = &obj["metadata"];
    let empty = |v: &Value| v.as_array().is_none_or(Vec::is_empty);
    meta.get("deletionTimestamp").is_some()
        && meta["deletionGracePeriodSeconds"].as_i64().unwrap_or(0) == 0
        && empty(&meta["finalizers"])
        && (obj["kind"] != "Namespace" || empty(&obj["spec"]["finalizers"]))
}

fn remove(tx: &Transaction<'_>, t: &Target<'_>) -> Result<(), StoreError> {
    if let Some((id, _)) = load_with_id(tx, t)? {
        tx.execute("DELETE FROM labels WHERE oid = ?", [id])?;
        tx.execute("DELETE FROM objects WHERE id = ?", [id])?;
    }
    Ok(())
}

/// The finalizer the namespace controller removes once a namespace is empty.
pub const FINALIZER_KUBERNETES: &str = "kubernetes";
/// The garbage collector's finalizer of an owner deleted with `propagationPolicy: Orphan`.
pub const FINALIZER_ORPHAN: &str = "orphan";
/// The garbage collector's finalizer of an owner deleted with `propagationPolicy: Foreground`.
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";

/// What the API server does on create and update when the lifecycle is on: the namespace
/// strategy's `PrepareForCreate`/`PrepareForUpdate` for `spec.finalizers`, and
/// `ValidateObjectMetaUpdate`'s rule that an object being deleted gets no new finalizers.
fn lifecycle_prepare(
    t: &Target<'_>,
    old: Option<&Value>,
    new: &mut Value,
) -> Result<(), StoreError> {
    if t.info.kind == "Namespace" {
        match old {
            None => {
                let spec = new
                    .as_object_mut()
                    .map(|m| m.entry("spec").or_insert_with(|| json!({})));
                if let Some(spec) = spec.and_then(Value::as_object_mut) {
                    let list = spec.entry("finalizers").or_insert_with(|| json!([]));
                    if !list.is_array() {
                        *list = json!([]);
                    }
                    if let Some(a) = list.as_array_mut() {
                        if !a.iter().any(|f| f == FINALIZER_KUBERNETES) {
                            a.push(json!(FINALIZER_KUBERNETES));
                        }
                    }
                }
            }
            Some(old) => {
                let kept = old.pointer("/spec/finalizers").cloned();
                if let Some(m) = new.as_object_mut() {
                    let spec = m.entry("spec").or_insert_with(|| json!({}));
                    if let Some(spec) = spec.as_object_mut() {
                        match kept {
                            Some(f) => {
                                spec.insert("finalizers".into(), f);
                            }
                            None => {
                                spec.shift_remove("finalizers");
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(old) = old.filter(|o| o.pointer("/metadata/deletionTimestamp").is_some()) {
        let list = |v: &Value| -> Vec<String> {
            v.pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let before = list(old);
        let mut extra: Vec<String> = list(new)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            let quoted: Vec<String> = extra.iter().map(|f| format!("{f:?}")).collect();
            return Err(t.invalid(vec![Cause::forbidden(
                "metadata.finalizers",
                &format!(
                    "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    quoted.join(", ")
                ),
            )]));
        }
    }
    Ok(())
}

/// The garbage collection policy a kind's registry applies when a delete names none
/// (`DefaultGarbageCollectionPolicy` of its strategy).
fn default_orphans(info: &KindInfo) -> bool {
    // pkg/registry/batch/job/strategy.go: batch/v1 Jobs orphan their pods by default, for
    // backwards compatibility.
    info.group == "batch" && info.version == "v1" && info.kind == "Job"
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn current_rv(conn: &Connection) -> rusqlite::Result<u64> {
    let v: i64 = conn.query_row("SELECT v FROM meta WHERE k = 'rv'", [], |r| r.get(0))?;
    Ok(u64::try_from(v).unwrap_or(0))
}

fn next_rv(tx: &Transaction<'_>) -> Result<u64, StoreError> {
    let v: i64 = tx.query_row(
        "UPDATE meta SET v = v + 1 WHERE k = 'rv' RETURNING v",
        [],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(v).unwrap_or(0))
}

fn namespace_exists(conn: &Connection, ns: &str) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM objects WHERE grp = '' AND version = 'v1' AND kind = 'Namespace' AND ns = '' AND name = ?",
            [ns],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn load_with_id(conn: &Connection, t: &Target<'_>) -> Result<Option<(i64, Value)>, StoreError> {
    let row: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT id, body FROM objects WHERE grp = ? AND version = ? AND kind = ? AND ns = ? AND name = ?",
        )?
        .query_row(
            params![t.info.group, t.info.version, t.info.kind, t.ns, t.name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        Some((id, body)) => Ok(Some((
            id,
            serde_json::from_str(&body).map_err(StoreError::internal)?,
        ))),
        None => Ok(None),
    }
}

fn load(conn: &Connection, t: &Target<'_>) -> Result<Option<Value>, StoreError> {
    Ok(load_with_id(conn, t)?.map(|(_, v)| v))
}

fn save(tx: &Transaction<'_>, t: &Target<'_>, obj: &Value, rv: u64) -> Result<(), StoreError> {
    let body = serde_json::to_string(obj).map_err(StoreError::internal)?;
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO objects (grp, version, kind, ns, name, rv, body) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (grp, version, kind, ns, name) DO UPDATE SET rv = excluded.rv, body = excluded.body
             RETURNING id",
        )?
        .query_row(
            params![t.info.group, t.info.version, t.info.kind, t.ns, t.name, rv as i64, body],
            |r| r.get(0),
        )?;
    tx.prepare_cached("DELETE FROM labels WHERE oid = ?")?
        .execute([id])?;
    if let Some(labels) = obj.pointer("/metadata/labels").and_then(Value::as_object) {
        let mut stmt =
            tx.prepare_cached("INSERT INTO labels (oid, key, value) VALUES (?, ?, ?)")?;
        for (k, v) in labels {
            stmt.execute(params![id, k, v.as_str().unwrap_or("")])?;
        }
    }
    Ok(())
}

/// The message of a 410 for a continue token older than the last compaction, as etcd3's store
/// words it (`staging/src/k8s.io/apiserver/pkg/storage/etcd3/errors.go`).
pub const INCONSISTENT_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// A continue token as the real server writes it (`staging/src/k8s.io/apiserver/pkg/storage/
/// continue.go`): unpadded URL-safe base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":KEY}`,
/// where KEY is the last key returned (after the listing's prefix) and a NUL, so that the next
/// page starts after it. `rv` -1 continues at the latest state.
fn encode_continue(start: &str, rv: i64) -> String {
    use base64::Engine;
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{start}\u{0}")});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())
}

/// The namespace, name and resource version of a continue token, refused as the real
/// `DecodeContinue` refuses a bad one (400, `continue key is not valid...`).
fn decode_continue(token: &str, keyed_by_name: bool) -> Result<(String, String, i64), StoreError> {
    use base64::Engine;
    let generic = |why: String| bad_request(format!("continue key is not valid: {why}"));
    let data = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|e| generic(e.to_string()))?;
    let v: Value = serde_json::from_slice(&data).map_err(|e| generic(e.to_string()))?;
    match v.get("v").and_then(Value::as_str) {
        Some("meta.k8s.io/v1") => {}
        other => {
            return Err(bad_request(format!(
                "continue key is not valid: server does not recognize this encoded version {}",
                other.unwrap_or("")
            )))
        }
    }
    let rv = v.get("rv").and_then(Value::as_i64).unwrap_or(0);
    if rv == 0 {
        return Err(bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into(),
        ));
    }
    let start = v.get("start").and_then(Value::as_str).unwrap_or("");
    if start.is_empty() {
        return Err(bad_request(
            "continue key is not valid: encoded start key empty (version meta.k8s.io/v1)".into(),
        ));
    }
    let key = start.strip_suffix('\u{0}').unwrap_or(start);
    if key.contains("..") || key.starts_with('/') {
        return Err(generic(start.to_string()));
    }
    if keyed_by_name {
        // The caller puts in the namespace of the listing (or "" for a cluster-scoped kind).
        return Ok((String::new(), key.to_string(), rv));
    }
    match key.split_once('/') {
        Some((ns, name)) => Ok((ns.to_string(), name.to_string(), rv)),
        None => Ok((key.to_string(), String::new(), rv)),
    }
}

/// Fills in the defaults the API server's decoding gives an object of `kind` (`SetDefaults_*`),
/// as [`ObjectStore::create`] does: for admission, which sees the defaulted object.
pub fn apply_defaults(kind: &str, obj: &mut Value) {
    if let Some(info) = kind_by_name(kind) {
        defaults::apply_defaults(info, obj);
    }
}

/// A name from `metadata.generateName`: the prefix and five random characters.
pub fn generate_name(prefix: &str) -> String {
    let suffix: String = new_uid()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(5)
        .collect();
    format!("{prefix}{suffix}")
}

/// A random, uuid-shaped identifier (version 4 layout).
fn new_uid() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let state = std::collections::hash_map::RandomState::new();
    let word = |salt: u64| {
        let mut h = state.build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u64(salt);
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.finish()
    };
    let a = word(1);
    let b = word(2);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// Now, as RFC 3339 in UTC with whole seconds (`2026-11-05T10:00:00Z`).
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    format_rfc3339(secs)
}

/// Unix seconds as RFC 3339 in UTC (`2026-11-05T10:00:00Z`).
pub fn format_rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests;
