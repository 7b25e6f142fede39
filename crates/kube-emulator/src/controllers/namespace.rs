//! The namespace controller (`pkg/controller/namespace/deletion/namespaced_resources_deleter.go`)
//! and the NamespaceLifecycle admission plugin
//! (`staging/src/k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go`).
//!
//! A namespace being deleted (the store marked it: `deletionTimestamp`, phase `Terminating`)
//! has its contents deleted (propagation Background, as the real deleter's
//! deletecollection calls); its status conditions say what remains; once nothing remains, the
//! `kubernetes` finalizer is removed through the `finalize` subresource and the store lets the
//! namespace go.

use serde_json::{json, Value};

use kube_store::{
    DeleteOptions, KindInfo, ObjectStore, Propagation, StoreError, FINALIZER_KUBERNETES,
};

use super::{deleting, finalizers, list, namespaced_kinds, s, tolerate, Controllers};

/// Namespaces that may not be deleted (`NewLifecycle(default, kube-system, kube-public)`).
const IMMORTAL: [&str; 3] = ["default", "kube-system", "kube-public"];

pub(crate) fn reconcile(c: &Controllers, now: i64) -> Result<(), StoreError> {
    let store = c.store();
    for ns in list(store, "Namespace", None)? {
        let name = s(&ns, "/metadata/name").to_string();
        let spec_finalizers = crate::rbac::strings(ns.pointer("/spec/finalizers"));
        if !deleting(&ns) || !spec_finalizers.iter().any(|f| f == FINALIZER_KUBERNETES) {
            continue;
        }
        let opts = DeleteOptions {
            propagation: Some(Propagation::Background),
            now: super::rfc3339(now),
            dry_run: false,
        };
        // deleteAllContent: every resource, then what is left.
        let mut remaining: Vec<(&'static KindInfo, usize)> = Vec::new();
        let mut finalizers_left: std::collections::BTreeMap<String, usize> = Default::default();
        for info in namespaced_kinds() {
            let items = list(store, info.kind, Some(&name))?;
            let mut left = 0;
            for o in items {
                let oname = s(&o, "/metadata/name").to_string();
                let gone = if deleting(&o) {
                    false
                } else {
                    tolerate(store.delete_with(info.kind, &name, &oname, &opts))?
                        .is_none_or(|(_, gone)| gone)
                };
                if !gone {
                    if let Ok(cur) = store.get(info.kind, &name, &oname) {
                        left += 1;
                        for f in finalizers(&cur) {
                            *finalizers_left.entry(f).or_default() += 1;
                        }
                    }
                }
            }
            if left > 0 {
                remaining.push((info, left));
            }
        }
        let conditions = deletion_conditions(&ns, &remaining, &finalizers_left, now);
        let mut status = ns.get("status").cloned().unwrap_or_else(|| json!({}));
        if status.get("conditions") != Some(&conditions) {
            status["conditions"] = conditions;
            tolerate(store.set_status("Namespace", "", &name, status))?;
        }
        if remaining.is_empty() {
            let kept: Vec<String> = spec_finalizers
                .into_iter()
                .filter(|f| f != FINALIZER_KUBERNETES)
                .collect();
            tolerate(store.finalize_namespace(&name, &kept))?;
        }
    }
    Ok(())
}

/// The five conditions `updateNamespaceStatusFunc` and `deleteAllContent` keep on a namespace
/// being deleted, in their order, with the real reasons and messages.
fn deletion_conditions(
    ns: &Value,
    remaining: &[(&'static KindInfo, usize)],
    finalizers_left: &std::collections::BTreeMap<String, usize>,
    now: i64,
) -> Value {
    let old = ns
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let time = |kind: &str, status: &str| {
        old.iter()
            .find(|c| c["type"] == kind && c["status"] == status)
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(super::rfc3339(now)))
    };
    let cond = |kind: &str, status: &str, reason: &str, message: String| {
        json!({
            "type": kind,
            "status": status,
            "lastTransitionTime": time(kind, status),
            "reason": reason,
            "message": message,
        })
    };
    let mut out = vec![
        cond(
            "NamespaceDeletionDiscoveryFailure",
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered".into(),
        ),
        cond(
            "NamespaceDeletionGroupVersionParsingFailure",
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".into(),
        ),
        cond(
            "NamespaceDeletionContentFailure",
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization".into(),
        ),
    ];
    if remaining.is_empty() {
        out.push(cond(
            "NamespaceContentRemaining",
            "False",
            "ContentRemoved",
            "All content successfully removed".into(),
        ));
    } else {
        let mut parts: Vec<String> = remaining
            .iter()
            .map(|(info, n)| format!("{}.{} has {n} resource instances", info.plural, info.group))
            .collect();
        // "sort for stable updates"
        parts.sort();
        out.push(cond(
            "NamespaceContentRemaining",
            "True",
            "SomeResourcesRemain",
            format!("Some resources are remaining: {}", parts.join(", ")),
        ));
    }
    if finalizers_left.is_empty() {
        out.push(cond(
            "NamespaceFinalizersRemaining",
            "False",
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished".into(),
        ));
    } else {
        let parts: Vec<String> = finalizers_left
            .iter()
            .map(|(f, n)| format!("{f} in {n} resource instances"))
            .collect();
        out.push(cond(
            "NamespaceFinalizersRemaining",
            "True",
            "SomeFinalizersRemain",
            format!(
                "Some content in the namespace has finalizers remaining: {}",
                parts.join(", ")
            ),
        ));
    }
    Value::Array(out)
}

/// A refusal of the admission plugin: HTTP code and `Status` body.
pub(crate) type Refusal = (u16, Value);

fn forbidden(info: &KindInfo, name: &str, message: &str) -> Value {
    let resource = info.qualified_resource();
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": format!("{resource} {name:?} is forbidden: {message}"),
        "reason": "Forbidden",
        "details": {"name": name, "group": info.group, "kind": info.plural},
        "code": 403,
    })
}

/// NamespaceLifecycle on a create of `name` (or `generateName`; "Unknown" when neither, as
/// `admission.NewForbidden` names it) in namespace `ns`: 404 when the namespace does not
/// exist, 403 when it is being terminated.
pub(crate) fn admit_create(
    store: &ObjectStore,
    info: &KindInfo,
    ns: &str,
    name: &str,
) -> Result<(), Refusal> {
    if !info.namespaced || ns.is_empty() {
        return Ok(());
    }
    let namespace = match store.get("Namespace", "", ns) {
        Ok(n) => n,
        Err(StoreError::NotFound { .. }) => {
            return Err((
                404,
                json!({
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": format!("namespaces {ns:?} not found"),
                    "reason": "NotFound",
                    "details": {"name": ns, "kind": "namespaces"},
                    "code": 404,
                }),
            ))
        }
        Err(e) => return Err((e.code(), e.to_status())),
    };
    if s(&namespace, "/status/phase") != "Terminating" {
        return Ok(());
    }
    let name = if name.is_empty() { "Unknown" } else { name };
    let mut body = forbidden(
        info,
        name,
        &format!("unable to create new content in namespace {ns} because it is being terminated"),
    );
    body["details"]["causes"] = json!([{
        "reason": "NamespaceTerminating",
        "message": format!("namespace {ns} is being terminated"),
        "field": "metadata.namespace",
    }]);
    Err((403, body))
}

/// NamespaceLifecycle on a delete: `default`, `kube-system` and `kube-public` may not be
/// deleted.
pub(crate) fn admit_delete(info: &KindInfo, name: &str) -> Result<(), Refusal> {
    if info.kind == "Namespace" && IMMORTAL.contains(&name) {
        return Err((
            403,
            forbidden(info, name, "this namespace may not be deleted"),
        ));
    }
    Ok(())
}

/// The warning `REST.Delete` of Jobs adds when a delete names no propagation policy, since
/// batch/v1 Jobs then orphan their pods (`pkg/registry/batch/job/storage/storage.go`), as
/// the `Warning` header value (`299 - "..."`).
pub(crate) fn job_delete_warning(
    info: &KindInfo,
    opts: &DeleteOptions,
) -> Option<axum::http::HeaderValue> {
    if info.group != "batch" || info.kind != "Job" || opts.propagation.is_some() {
        return None;
    }
    axum::http::HeaderValue::from_str(
        "299 - \"child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning\"",
    )
    .ok()
}
