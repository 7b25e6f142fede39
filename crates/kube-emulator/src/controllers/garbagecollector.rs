//! The garbage collector (`pkg/controller/garbagecollector/garbagecollector.go`,
//! `attemptToDeleteItem`, `processDeletingDependentsItem`, `orphanDependents`).
//!
//! - An owner deleted with `orphan`: its dependents lose their ownerReference to it, then the
//!   finalizer goes (and with it the owner).
//! - An owner deleted with `foregroundDeletion`: its dependents are deleted (Foreground); once
//!   no dependent with `blockOwnerDeletion: true` is left, the finalizer goes.
//! - A dependent whose owners are all gone (dangling) is deleted, Background (or as its own
//!   finalizers say); one with a live owner only loses the dangling references.

use std::collections::HashMap;

use serde_json::{json, Value};

use kube_store::{
    kind_by_api_version, DeleteOptions, KindInfo, Propagation, StoreError, FINALIZER_FOREGROUND,
    FINALIZER_ORPHAN,
};

use super::{deleting, finalizers, list, s, tolerate, Controllers, MANAGER};

struct Node {
    info: &'static KindInfo,
    obj: Value,
}

impl Node {
    fn ns(&self) -> &str {
        s(&self.obj, "/metadata/namespace")
    }
    fn name(&self) -> &str {
        s(&self.obj, "/metadata/name")
    }
    fn uid(&self) -> &str {
        s(&self.obj, "/metadata/uid")
    }
    fn refs(&self) -> Vec<Value> {
        self.obj
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }
    fn has(&self, f: &str) -> bool {
        finalizers(&self.obj).iter().any(|x| x == f)
    }
}

enum Owner {
    /// Exists, not waiting for its dependents.
    Solid,
    /// Absent, or another object under that name (uid differs).
    Dangling,
    /// Being deleted in the foreground.
    Waiting,
}

pub(crate) fn reconcile(c: &Controllers, now: i64) -> Result<(), StoreError> {
    let store = c.store();
    let mut nodes: Vec<Node> = Vec::new();
    for info in kube_store::kinds() {
        for obj in list(store, info.kind, None)? {
            nodes.push(Node { info, obj });
        }
    }
    let by_key: HashMap<(&str, &str, &str), usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| ((n.info.kind, n.ns(), n.name()), i))
        .collect();
    // Dependents by owner uid.
    let mut dependents: HashMap<String, Vec<(usize, bool)>> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        for r in n.refs() {
            let block = r["blockOwnerDeletion"].as_bool().unwrap_or(false);
            dependents
                .entry(s(&r, "/uid").to_string())
                .or_default()
                .push((i, block));
        }
    }
    let opts = |p: Propagation| DeleteOptions {
        propagation: Some(p),
        now: super::rfc3339(now),
        dry_run: false,
    };
    let remove_finalizer = |n: &Node, f: &str| -> Result<(), StoreError> {
        let kept: Vec<String> = finalizers(&n.obj).into_iter().filter(|x| x != f).collect();
        let patch = json!({"metadata": {
            "resourceVersion": s(&n.obj, "/metadata/resourceVersion"),
            "finalizers": if kept.is_empty() { Value::Null } else { json!(kept) },
        }});
        tolerate(store.merge_patch(n.info.kind, n.ns(), n.name(), &patch, MANAGER, false))?;
        Ok(())
    };
    let drop_refs = |n: &Node, uids: &[&str]| -> Result<(), StoreError> {
        let kept: Vec<Value> = n
            .refs()
            .into_iter()
            .filter(|r| !uids.contains(&s(r, "/uid")))
            .collect();
        let patch = json!({"metadata": {
            "resourceVersion": s(&n.obj, "/metadata/resourceVersion"),
            "ownerReferences": if kept.is_empty() { Value::Null } else { json!(kept) },
        }});
        tolerate(store.merge_patch(n.info.kind, n.ns(), n.name(), &patch, MANAGER, false))?;
        Ok(())
    };

    for n in &nodes {
        if !deleting(&n.obj) {
            continue;
        }
        let deps = dependents.get(n.uid()).cloned().unwrap_or_default();
        if n.has(FINALIZER_ORPHAN) {
            // orphanDependents, then removeFinalizer.
            for (i, _) in &deps {
                drop_refs(&nodes[*i], &[n.uid()])?;
            }
            remove_finalizer(n, FINALIZER_ORPHAN)?;
        } else if n.has(FINALIZER_FOREGROUND) && !deps.iter().any(|(_, block)| *block) {
            remove_finalizer(n, FINALIZER_FOREGROUND)?;
        }
    }

    for n in &nodes {
        let refs = n.refs();
        if refs.is_empty() || (deleting(&n.obj) && !n.has(FINALIZER_FOREGROUND)) {
            continue;
        }
        if n.has(FINALIZER_FOREGROUND) {
            // processDeletingDependentsItem: its blocking dependents are deleted above or below.
            continue;
        }
        let mut solid = 0;
        let mut dangling: Vec<&str> = Vec::new();
        let mut waiting: Vec<&str> = Vec::new();
        for r in &refs {
            let uid = s(r, "/uid");
            let state = match kind_by_api_version(s(r, "/apiVersion"), s(r, "/kind")) {
                // An owner of a kind the server does not serve cannot be resolved: the real
                // collector retries and deletes nothing.
                None => Owner::Solid,
                Some(info) => {
                    let ns = if info.namespaced { n.ns() } else { "" };
                    match by_key.get(&(info.kind, ns, s(r, "/name"))) {
                        Some(&i) if nodes[i].uid() == uid => {
                            if deleting(&nodes[i].obj) && nodes[i].has(FINALIZER_FOREGROUND) {
                                Owner::Waiting
                            } else {
                                Owner::Solid
                            }
                        }
                        _ => Owner::Dangling,
                    }
                }
            };
            match state {
                Owner::Solid => solid += 1,
                Owner::Dangling => dangling.push(uid),
                Owner::Waiting => waiting.push(uid),
            }
        }
        if solid > 0 {
            if !dangling.is_empty() || !waiting.is_empty() {
                let mut gone = dangling.clone();
                gone.extend(waiting.iter().copied());
                drop_refs(n, &gone)?;
            }
            continue;
        }
        if deleting(&n.obj) {
            continue;
        }
        let policy = if !waiting.is_empty() && dependents.contains_key(n.uid()) {
            Propagation::Foreground
        } else if n.has(FINALIZER_ORPHAN) {
            Propagation::Orphan
        } else if n.has(FINALIZER_FOREGROUND) {
            Propagation::Foreground
        } else {
            Propagation::Background
        };
        tolerate(store.delete_with(n.info.kind, n.ns(), n.name(), &opts(policy)))?;
    }
    Ok(())
}
