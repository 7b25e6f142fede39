//! The storage admission plugins: DefaultStorageClass
//! (`plugin/pkg/admission/storage/storageclass/setdefault/admission.go`), which gives a new
//! claim without a class the default StorageClass, and PersistentVolumeClaimResize
//! (`plugin/pkg/admission/storage/persistentvolume/resize/admission.go`), which lets a bound
//! claim grow only when its StorageClass allows volume expansion. Also the StorageClass every
//! cluster of a standard installation starts with.

use serde_json::{json, Value};

use kube_store::quantity::parse_quantity;
use kube_store::{KindInfo, ObjectStore, StoreError};

use super::{forbidden, name_of, Refusal};
use crate::controllers::{list, s};

/// The annotation that makes a StorageClass the default (`storageutil.IsDefaultAnnotation`).
pub(crate) const IS_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
const BETA_IS_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";
/// The claim annotation that named a class before `spec.storageClassName` existed.
const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// The name of the StorageClass a new cluster has.
pub const DEFAULT_STORAGE_CLASS: &str = "standard";

/// Creates the default StorageClass when it is missing, as minikube's storage-provisioner
/// addon does (addon mode `EnsureExists`): `standard`, marked default, provisioner
/// `k8s.io/minikube-hostpath`, `volumeBindingMode: Immediate` (the emulator binds every claim
/// at once), and no `allowVolumeExpansion`, so claims of that class cannot grow.
pub(crate) fn bootstrap(store: &ObjectStore) -> Result<(), StoreError> {
    let missing = matches!(
        store.get("StorageClass", "", DEFAULT_STORAGE_CLASS),
        Err(StoreError::NotFound { .. })
    );
    if missing {
        let class = json!({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": DEFAULT_STORAGE_CLASS,
                "labels": {"addonmanager.kubernetes.io/mode": "EnsureExists"},
                "annotations": {IS_DEFAULT_CLASS: "true"},
            },
            "provisioner": "k8s.io/minikube-hostpath",
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
        });
        store.apply(
            "StorageClass",
            "",
            DEFAULT_STORAGE_CLASS,
            class,
            "kube-addon-manager",
            true,
            false,
        )?;
    }
    Ok(())
}

fn is_default(class: &Value) -> bool {
    [IS_DEFAULT_CLASS, BETA_IS_DEFAULT_CLASS].iter().any(|a| {
        class
            .pointer("/metadata/annotations")
            .and_then(|m| m.get(*a))
            .and_then(Value::as_str)
            == Some("true")
    })
}

/// `helper.PersistentVolumeClaimHasClass`: the beta annotation or a `storageClassName`, even
/// an empty one (which asks for no class).
fn has_class(claim: &Value) -> bool {
    claim
        .pointer("/metadata/annotations")
        .and_then(|m| m.get(BETA_STORAGE_CLASS))
        .is_some()
        || claim
            .pointer("/spec/storageClassName")
            .is_some_and(|v| !v.is_null())
}

/// `helper.GetPersistentVolumeClaimClass`: the beta annotation, else `storageClassName`.
fn class_of(claim: &Value) -> &str {
    claim
        .pointer("/metadata/annotations")
        .and_then(|m| m.get(BETA_STORAGE_CLASS))
        .and_then(Value::as_str)
        .unwrap_or_else(|| s(claim, "/spec/storageClassName"))
}

/// DefaultStorageClass: a claim without a class gets the default StorageClass; of several
/// defaults the newest (then the first by name), as `pkg/volume/util/storageclass.go`
/// (`GetDefaultClass`) picks it. No default leaves the claim as it is.
pub(super) fn default_claim(store: &ObjectStore, claim: &mut Value) -> Result<(), StoreError> {
    if has_class(claim) {
        return Ok(());
    }
    let mut defaults: Vec<Value> = list(store, "StorageClass", None)?
        .into_iter()
        .filter(is_default)
        .collect();
    // RFC 3339 in UTC sorts as time does.
    defaults.sort_by(|a, b| {
        let created = |o: &Value| s(o, "/metadata/creationTimestamp").to_string();
        created(b)
            .cmp(&created(a))
            .then_with(|| s(a, "/metadata/name").cmp(s(b, "/metadata/name")))
    });
    let Some(class) = defaults.first() else {
        return Ok(());
    };
    let name = s(class, "/metadata/name").to_string();
    if let Some(m) = claim.as_object_mut() {
        let spec = m.entry("spec").or_insert_with(|| json!({}));
        if let Some(spec) = spec.as_object_mut() {
            spec.insert("storageClassName".into(), json!(name));
        }
    }
    Ok(())
}

/// PersistentVolumeClaimResize, on an update of a claim (not its status): a larger
/// `spec.resources.requests.storage` needs a bound claim, and a class, the same before and
/// after, that exists and has `allowVolumeExpansion: true`.
pub(super) fn admit_claim_update(
    store: &ObjectStore,
    info: &KindInfo,
    old: &Value,
    new: &Value,
) -> Result<(), Refusal> {
    let size = |c: &Value| {
        c.pointer("/spec/resources/requests/storage")
            .and_then(Value::as_str)
            .and_then(|q| parse_quantity(q).ok())
            .map_or(0, |q| q.nanos())
    };
    if size(new) <= size(old) {
        return Ok(());
    }
    let name = name_of(new);
    if s(old, "/status/phase") != "Bound" {
        return Err(forbidden(
            info,
            name,
            "Only bound persistent volume claims can be expanded",
        ));
    }
    let (class, old_class) = (class_of(new), class_of(old));
    let allowed = !class.is_empty()
        && class == old_class
        && store
            .get("StorageClass", "", class)
            .ok()
            .and_then(|c| c.get("allowVolumeExpansion").and_then(Value::as_bool))
            .unwrap_or(false);
    if !allowed {
        return Err(forbidden(
            info,
            name,
            "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize",
        ));
    }
    Ok(())
}
