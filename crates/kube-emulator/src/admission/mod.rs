//! The admission plugins of kube-apiserver that act on what berth creates, after
//! NamespaceLifecycle (in `controllers::namespace`), in the order of
//! `pkg/kubeapiserver/options/plugins.go`: LimitRanger defaults and DefaultStorageClass
//! (mutating), then LimitRanger's checks, PodSecurity and ResourceQuota (validating); on
//! updates, PersistentVolumeClaimResize. Requests through the API and the
//! controllers' own creates (StatefulSet pods and claims, Job pods) go through them alike, as
//! on a real cluster.
//!
//! Creates are admitted here, and of updates only a claim's (PersistentVolumeClaimResize);
//! the other plugins do not see updates (see `docs/kubernetes-fidelity.md`).

// Refusals are `(code, Status)` pairs, like NamespaceLifecycle's.
#![allow(clippy::result_large_err)]

mod limitranger;
mod podsecurity;
mod quota;
mod storage;

pub(crate) use storage::bootstrap as bootstrap_storage_class;
pub use storage::DEFAULT_STORAGE_CLASS;

use std::sync::{Mutex, MutexGuard};

use serde_json::{json, Value};

use kube_store::{KindInfo, ObjectStore};

/// A refusal: HTTP code and `Status` body.
pub(crate) type Refusal = (u16, Value);

/// Quota admission evaluates one namespace's requests one at a time (its work queue is keyed
/// by namespace); here a server admits and stores one create at a time: the guard of
/// [`Gate::serialize`] is held from admission to the store's create, so that two creates
/// cannot both fit a quota that only one of them fits.
#[derive(Default)]
pub(crate) struct Gate(Mutex<()>);

impl Gate {
    pub(crate) fn serialize(&self) -> MutexGuard<'_, ()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `admission.NewForbidden`: `<resource> "<name>" is forbidden: <message>`, reason
/// `Forbidden`, details `{name, group, kind}`.
pub(crate) fn forbidden(info: &KindInfo, name: &str, message: &str) -> Refusal {
    let resource = info.qualified_resource();
    let text = if name.is_empty() {
        format!("{resource} is forbidden: {message}")
    } else {
        format!("{resource} {name:?} is forbidden: {message}")
    };
    let mut details = json!({"group": info.group, "kind": info.plural});
    if !name.is_empty() {
        details["name"] = json!(name);
    }
    (
        403,
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": text,
            "reason": "Forbidden",
            "details": details,
            "code": 403,
        }),
    )
}

fn name_of(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn internal(e: kube_store::StoreError) -> Refusal {
    (e.code(), e.to_status())
}

/// Admits the create of `obj` (a `kind` object in namespace `ns`): gives it its generated name
/// when it has only `generateName` (the registry does so before validating admission), applies
/// LimitRanger's defaults to it, then runs the validating plugins. Returns the warnings to
/// send (`Warning` headers).
pub(crate) fn admit_create(
    store: &ObjectStore,
    info: &KindInfo,
    ns: &str,
    obj: &mut Value,
) -> Result<Vec<String>, Refusal> {
    if info.kind == "Namespace" {
        podsecurity::validate_namespace(obj)?;
        return Ok(Vec::new());
    }
    if !info.namespaced || ns.is_empty() {
        return Ok(Vec::new());
    }
    if name_of(obj).is_empty() {
        if let Some(prefix) = obj
            .pointer("/metadata/generateName")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
        {
            let name = kube_store::generate_name(prefix);
            if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("name".into(), json!(name));
            }
        }
    }
    mutate(store, info, ns, obj)?;
    validate(store, info, ns, obj)
}

/// The mutating phase: LimitRanger's defaults of a pod's containers, DefaultStorageClass's of
/// a claim.
pub(crate) fn mutate(
    store: &ObjectStore,
    info: &KindInfo,
    ns: &str,
    obj: &mut Value,
) -> Result<(), Refusal> {
    match info.kind {
        "Pod" => limitranger::default_pod(store, ns, obj).map_err(internal)?,
        "PersistentVolumeClaim" => storage::default_claim(store, obj).map_err(internal)?,
        _ => {}
    }
    Ok(())
}

/// Whether updates of `info` objects go through validating admission
/// ([`admit_update`]): only claims' do.
pub(crate) fn admits_updates(info: &KindInfo) -> bool {
    info.kind == "PersistentVolumeClaim"
}

/// The validating admission of an update of the object `old` (as stored) to `new` (as the
/// registry would store it, after its own validation): PersistentVolumeClaimResize.
pub(crate) fn admit_update(
    store: &ObjectStore,
    info: &KindInfo,
    old: &Value,
    new: &Value,
) -> Result<(), Refusal> {
    if info.kind == "PersistentVolumeClaim" {
        storage::admit_claim_update(store, info, old, new)?;
    }
    Ok(())
}

/// The validating phase, on the object as decoding defaults it: LimitRanger, PodSecurity,
/// ResourceQuota.
pub(crate) fn validate(
    store: &ObjectStore,
    info: &KindInfo,
    ns: &str,
    obj: &Value,
) -> Result<Vec<String>, Refusal> {
    if info.kind == "Namespace" {
        podsecurity::validate_namespace(obj)?;
        return Ok(Vec::new());
    }
    let mut obj = obj.clone();
    kube_store::apply_defaults(info.kind, &mut obj);
    match info.kind {
        "Pod" => limitranger::validate_pod(store, info, ns, &obj)?,
        "PersistentVolumeClaim" => limitranger::validate_claim(store, info, ns, &obj)?,
        _ => {}
    }
    let warnings = podsecurity::admit(store, info, ns, &obj)?;
    quota::admit(store, info, ns, &obj)?;
    Ok(warnings)
}
