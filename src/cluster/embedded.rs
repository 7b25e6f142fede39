//! The embedded local cluster: an [`ObjectStore`] in `<state dir>/<cluster>.sqlite3`.

use std::path::{Path, PathBuf};

/// Where the embedded cluster `name` keeps its store.
pub fn store_path(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join(format!("{name}.sqlite3"))
}

use rayon::prelude::*;
use serde_json::Value;

use super::error::one_line;
use super::{ClusterError, KindRef, FIELD_MANAGER};
use crate::object::ObjectRef;
use crate::observe::LiveObject;
use crate::store::{kind_by_api_version, LabelSelector, ObjectStore, Propagation, StoreError};

/// An embedded cluster. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EmbeddedCluster {
    name: String,
    path: PathBuf,
    store: ObjectStore,
}

impl EmbeddedCluster {
    /// Opens (creating if needed) the store of cluster `name` in `state_dir`.
    pub fn open(name: &str, state_dir: &Path) -> Result<Self, ClusterError> {
        std::fs::create_dir_all(state_dir).map_err(|e| ClusterError::Config {
            cluster: name.to_string(),
            message: format!(
                "cannot create the state directory {}: {e}",
                state_dir.display()
            ),
            help: "choose a writable one with --state-dir or BERTH_STATE_DIR".into(),
        })?;
        let path = store_path(state_dir, name);
        let store = ObjectStore::open(&path).map_err(|e| ClusterError::Store {
            cluster: name.to_string(),
            message: format!(
                "cannot open {}: {}",
                path.display(),
                one_line(&e.to_string())
            ),
        })?;
        Ok(Self {
            name: name.to_string(),
            path,
            store,
        })
    }

    /// An embedded cluster over an existing store (tests, benchmarks).
    pub fn from_store(name: &str, store: ObjectStore) -> Self {
        Self {
            name: name.to_string(),
            path: PathBuf::new(),
            store,
        }
    }

    /// The cluster name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SQLite file (empty for [`EmbeddedCluster::from_store`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store.
    pub fn store(&self) -> &ObjectStore {
        &self.store
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(ObjectStore) -> Result<T, StoreError> + Send + 'static,
        object: String,
    ) -> Result<T, ClusterError> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(store)).await {
            Ok(r) => r.map_err(|e| self.map(e, &object)),
            Err(e) => Err(ClusterError::Store {
                cluster: self.name.clone(),
                message: format!("store task failed: {e}"),
            }),
        }
    }

    fn map(&self, e: StoreError, object: &str) -> ClusterError {
        let cluster = self.name.clone();
        let message = one_line(e.message());
        match &e {
            StoreError::NotFound { .. } => ClusterError::NotFound { cluster, message },
            StoreError::AlreadyExists { .. } | StoreError::Conflict { .. } => {
                ClusterError::Conflict {
                    cluster,
                    object: object.to_string(),
                    message,
                    fields: e.causes().iter().map(|c| c.field.clone()).collect(),
                }
            }
            StoreError::Invalid { .. } | StoreError::BadRequest { .. } => ClusterError::Invalid {
                cluster,
                object: object.to_string(),
                message,
                causes: e
                    .causes()
                    .iter()
                    .map(|c| (c.field.clone(), c.message.clone()))
                    .collect(),
            },
            StoreError::Internal { .. } | StoreError::Expired { .. } => {
                ClusterError::Store { cluster, message }
            }
        }
    }

    fn unknown_kind(&self, api_version: &str, kind: &str, object: &str) -> ClusterError {
        ClusterError::Invalid {
            cluster: self.name.clone(),
            object: object.to_string(),
            message: format!("the embedded cluster has no kind {kind} in {api_version}"),
            causes: Vec::new(),
        }
    }

    pub(super) async fn list_owned(
        &self,
        kinds: &[KindRef],
        page_size: usize,
        keep_managed_fields: bool,
        selector: &str,
    ) -> Result<(Vec<LiveObject>, u64), ClusterError> {
        let kinds: Vec<&'static str> = kinds
            .iter()
            .filter_map(|k| kind_by_api_version(&k.api_version, &k.kind).map(|i| i.kind))
            .collect();
        let selector = LabelSelector::parse(selector).map_err(|e| ClusterError::Store {
            cluster: self.name.clone(),
            message: e.to_string(),
        })?;
        self.blocking(
            move |store| {
                // Reading the pages (SQLite, one thread) and rewriting their texts (on every
                // core) overlap: a reader thread reads page N+1 while page N is rewritten.
                let (pages, received) = std::sync::mpsc::sync_channel::<Vec<String>>(2);
                std::thread::scope(|scope| {
                    let reader = scope.spawn(move || -> Result<u64, StoreError> {
                        let mut requests = 0u64;
                        for kind in kinds {
                            let mut token: Option<String> = None;
                            loop {
                                let page = store.list_raw(
                                    kind,
                                    None,
                                    &selector,
                                    Some(page_size),
                                    token.as_deref(),
                                )?;
                                requests += 1;
                                if pages.send(page.items).is_err() {
                                    return Ok(requests);
                                }
                                match page.continue_token {
                                    Some(t) => token = Some(t),
                                    None => break,
                                }
                            }
                        }
                        Ok(requests)
                    });
                    let mut out = Vec::new();
                    for items in received {
                        out.par_extend(items.par_iter().filter_map(|body| {
                            LiveObject::from_json(body, None, keep_managed_fields)
                        }));
                    }
                    let requests = reader
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
                    Ok((out, requests))
                })
            },
            "owned objects".into(),
        )
        .await
    }

    pub(super) async fn get(&self, id: &ObjectRef) -> Result<Option<Value>, ClusterError> {
        let Some(info) = kind_by_api_version(&id.api_version, &id.kind) else {
            return Ok(None);
        };
        let ns = id.namespace.clone().unwrap_or_default();
        let name = id.name.clone();
        let r = self
            .blocking(
                move |store| store.get(info.kind, &ns, &name),
                id.to_string(),
            )
            .await;
        match r {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn create(
        &self,
        id: &ObjectRef,
        manifest: &Value,
    ) -> Result<Value, ClusterError> {
        let info = kind_by_api_version(&id.api_version, &id.kind)
            .ok_or_else(|| self.unknown_kind(&id.api_version, &id.kind, &id.to_string()))?;
        let ns = id.namespace.clone().unwrap_or_default();
        let manifest = manifest.clone();
        self.blocking(
            move |store| store.create(info.kind, &ns, manifest, FIELD_MANAGER, false),
            id.to_string(),
        )
        .await
    }

    pub(super) async fn apply(
        &self,
        id: &ObjectRef,
        manifest: &Value,
        dry_run: bool,
        force: bool,
    ) -> Result<Value, ClusterError> {
        let info = kind_by_api_version(&id.api_version, &id.kind)
            .ok_or_else(|| self.unknown_kind(&id.api_version, &id.kind, &id.to_string()))?;
        let ns = id.namespace.clone().unwrap_or_default();
        let name = id.name.clone();
        let manifest = manifest.clone();
        self.blocking(
            move |store| {
                store
                    .apply(
                        info.kind,
                        &ns,
                        &name,
                        manifest,
                        FIELD_MANAGER,
                        force,
                        dry_run,
                    )
                    .map(|(v, _)| v)
            },
            id.to_string(),
        )
        .await
    }

    pub(super) async fn list(
        &self,
        kind: &KindRef,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<(Vec<Value>, u64), ClusterError> {
        let Some(info) = kind_by_api_version(&kind.api_version, &kind.kind) else {
            return Ok((Vec::new(), 0));
        };
        let selector = LabelSelector::parse(selector).map_err(|e| ClusterError::Store {
            cluster: self.name.clone(),
            message: e.to_string(),
        })?;
        let ns = namespace.map(str::to_string);
        self.blocking(
            move |store| {
                let mut out = Vec::new();
                let mut requests = 0u64;
                let mut token: Option<String> = None;
                loop {
                    let page = store.list(
                        info.kind,
                        ns.as_deref(),
                        &selector,
                        Some(super::DEFAULT_PAGE_SIZE),
                        token.as_deref(),
                    )?;
                    requests += 1;
                    out.extend(page.items);
                    match page.continue_token {
                        Some(t) => token = Some(t),
                        None => break,
                    }
                }
                Ok((out, requests))
            },
            format!("{} objects", kind.kind),
        )
        .await
    }

    pub(super) async fn merge_patch(
        &self,
        id: &ObjectRef,
        patch: &Value,
        field_manager: &str,
    ) -> Result<(), ClusterError> {
        let field_manager = field_manager.to_string();
        let info = kind_by_api_version(&id.api_version, &id.kind)
            .ok_or_else(|| self.unknown_kind(&id.api_version, &id.kind, &id.to_string()))?;
        let ns = id.namespace.clone().unwrap_or_default();
        let name = id.name.clone();
        let patch = patch.clone();
        self.blocking(
            move |store| {
                store
                    .merge_patch(info.kind, &ns, &name, &patch, &field_manager, false)
                    .map(drop)
            },
            id.to_string(),
        )
        .await
    }

    pub(super) async fn delete(&self, id: &ObjectRef) -> Result<(), ClusterError> {
        let Some(info) = kind_by_api_version(&id.api_version, &id.kind) else {
            return Ok(());
        };
        let ns = id.namespace.clone().unwrap_or_default();
        let name = id.name.clone();
        let r = self
            .blocking(
                move |store| store.delete(info.kind, &ns, &name, Propagation::Background),
                id.to_string(),
            )
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}
