//! The StatefulSet controller (`pkg/controller/statefulset/stateful_set_control.go`,
//! `stateful_set_utils.go`): pods `NAME-0..N-1` from the template with the claims of the
//! volumeClaimTemplates (`TEMPLATE-NAME-ORDINAL`), created in order, each only once the ones
//! before are Running and Ready (`OrderedReady`) or all at once (`Parallel`); scale down from
//! the highest ordinal; RollingUpdate replaces one pod at a time from the highest ordinal
//! down to the partition; claims get ownerReferences as `persistentVolumeClaimRetentionPolicy`
//! says, so that the garbage collector deletes them. Each template is recorded as a
//! ControllerRevision (`pkg/controller/history`), and the history is kept to
//! `revisionHistoryLimit`.

use serde_json::{json, Map, Value};

use kube_store::{DeleteOptions, Propagation, StoreError};

use super::node::running_and_ready;
use super::{create_admitted, deleting, list, rfc3339, s, tolerate, Controllers, MANAGER};

const REVISION_LABEL: &str = "controller-revision-hash";
const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// The ControllerRevision's `data`, as `getPatch` (`stateful_set_utils.go`) writes it: the
/// template, to be replaced whole.
fn revision_data(sts: &Value) -> Value {
    let mut template = sts["spec"]["template"].clone();
    if let Some(m) = template.as_object_mut() {
        m.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": template}})
}

/// `HashControllerRevision` (`pkg/controller/history/controller_history.go`): 32-bit FNV-1 of
/// the data, then of the collision count, as `rand.SafeEncodeString` of its decimal digits.
/// The bytes hashed are this JSON, not Go's encoding of the template (its fields in
/// declaration order), so the value differs from a real cluster's; the shape does not.
fn revision_hash(data: &Value, collisions: i64) -> String {
    let mut bytes = serde_json::to_vec(data).unwrap_or_default();
    bytes.extend(collisions.to_string().bytes());
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h = h.wrapping_mul(0x0100_0193);
        h ^= u32::from(b);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|d| ALPHABET[usize::from(d) % ALPHABET.len()] as char)
        .collect()
}

fn controlled_by(o: &Value, uid: &str) -> bool {
    o.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|rs| {
            rs.iter()
                .any(|r| s(r, "/uid") == uid && r["controller"] == true)
        })
}

/// Whether `o`'s labels match the set's `spec.selector` (its `matchLabels`; a selector with
/// `matchExpressions`, which berth never renders, or an empty one matches nothing here).
fn selected_by(sts: &Value, o: &Value) -> bool {
    // `LabelSelectorAsSelector`; a selector that does not convert selects nothing, as
    // `getPodsForStatefulSet` then returns its error. An empty one cannot be stored.
    match kube_store::LabelSelector::from_object(
        sts.pointer("/spec/selector").unwrap_or(&Value::Null),
    ) {
        Ok(sel) if !sel.is_empty() => sel.matches_object(o),
        _ => false,
    }
}

/// `ClaimPods` and `ClaimControllerRevisions` (`pkg/controller/controller_ref_manager.go`, called
/// from `getPodsForStatefulSet` and `adoptOrphanRevisions` in `stateful_set.go`): pods and
/// ControllerRevisions of the set's namespace that match its selector, have no controller and
/// are not being deleted become the set's: it is added as their controller owner. This is how
/// a StatefulSet deleted with `propagationPolicy: Orphan` and created again takes its running
/// pods back without restarting them. The other way round, an object the set controls that no
/// longer matches its selector is released: the set's owner reference is removed (a pod
/// relabelled by hand leaves the set, which starts a replacement). A set being deleted
/// neither adopts nor releases.
fn adopt_orphans(c: &Controllers, sts: &Value, ns: &str) -> Result<(), StoreError> {
    let store = c.store();
    if deleting(sts) {
        return Ok(());
    }
    let uid = s(sts, "/metadata/uid");
    for kind in ["Pod", "ControllerRevision"] {
        for o in list(store, kind, Some(ns))? {
            let refs = o
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let controller = refs.iter().find(|r| r["controller"] == true);
            let selected = selected_by(sts, &o);
            if let Some(owner) = controller {
                if owner["uid"] == uid && !selected {
                    let kept: Vec<Value> =
                        refs.iter().filter(|r| r["uid"] != uid).cloned().collect();
                    tolerate(store.merge_patch(
                        kind,
                        ns,
                        s(&o, "/metadata/name"),
                        &json!({"metadata": {"ownerReferences": kept}}),
                        MANAGER,
                        false,
                    ))?;
                }
                continue;
            }
            if deleting(&o) || !selected {
                continue;
            }
            let mut refs = refs;
            refs.push(owner_ref(sts));
            tolerate(store.merge_patch(
                kind,
                ns,
                s(&o, "/metadata/name"),
                &json!({"metadata": {"ownerReferences": refs}}),
                MANAGER,
                false,
            ))?;
        }
    }
    Ok(())
}

fn revision_number(r: &Value) -> i64 {
    r.get("revision").and_then(Value::as_i64).unwrap_or(0)
}

/// The set's ControllerRevisions, oldest first.
fn revisions_of(c: &Controllers, ns: &str, uid: &str) -> Result<Vec<Value>, StoreError> {
    let mut revs: Vec<Value> = list(c.store(), "ControllerRevision", Some(ns))?
        .into_iter()
        .filter(|r| controlled_by(r, uid) && !deleting(r))
        .collect();
    revs.sort_by_key(revision_number);
    Ok(revs)
}

/// `getStatefulSetRevisions`: the update revision is the set's template as a ControllerRevision
/// `NAME-HASH`, numbered one past the highest; an existing revision with the same data is
/// reused, renumbered to the highest unless it is already the latest. Returns its name.
fn sync_update_revision(c: &Controllers, sts: &Value, ns: &str) -> Result<String, StoreError> {
    let store = c.store();
    let uid = s(sts, "/metadata/uid");
    let data = revision_data(sts);
    let collisions = sts
        .pointer("/status/collisionCount")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let revs = revisions_of(c, ns, uid)?;
    let next = revs.last().map_or(0, revision_number) + 1;
    if let Some(equal) = revs.iter().find(|r| r.get("data") == Some(&data)) {
        let name = s(equal, "/metadata/name").to_string();
        if revision_number(equal) != next - 1 {
            tolerate(store.merge_patch(
                "ControllerRevision",
                ns,
                &name,
                &json!({"revision": next}),
                MANAGER,
                false,
            ))?;
        }
        return Ok(name);
    }
    let hash = revision_hash(&data, collisions);
    let set_name = s(sts, "/metadata/name");
    let prefix: String = set_name.chars().take(223).collect();
    let name = format!("{prefix}-{hash}");
    let mut labels: Map<String, Value> = sts
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    labels.insert("controller.kubernetes.io/hash".into(), json!(hash));
    let mut meta = json!({"name": name, "labels": labels, "ownerReferences": [owner_ref(sts)]});
    if let Some(a) = sts.pointer("/metadata/annotations") {
        meta["annotations"] = a.clone();
    }
    let revision = json!({
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": meta,
        "data": data,
        "revision": next,
    });
    tolerate(store.create("ControllerRevision", ns, revision, MANAGER, false))?;
    Ok(name)
}

/// `truncateHistory`: revisions beyond `revisionHistoryLimit` (10 by default) are deleted,
/// oldest first, except the current and update revisions and those a pod still runs.
fn truncate_history(
    c: &Controllers,
    sts: &Value,
    ns: &str,
    live: &[String],
) -> Result<(), StoreError> {
    let limit = sts
        .pointer("/spec/revisionHistoryLimit")
        .and_then(Value::as_i64)
        .unwrap_or(10)
        .max(0) as usize;
    let history: Vec<Value> = revisions_of(c, ns, s(sts, "/metadata/uid"))?
        .into_iter()
        .filter(|r| !live.iter().any(|l| l == s(r, "/metadata/name")))
        .collect();
    let excess = history.len().saturating_sub(limit);
    for r in &history[..excess] {
        tolerate(c.store().delete(
            "ControllerRevision",
            ns,
            s(r, "/metadata/name"),
            Propagation::Background,
        ))?;
    }
    Ok(())
}

fn owner_ref(sts: &Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": s(sts, "/metadata/name"),
        "uid": s(sts, "/metadata/uid"),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

fn claim_templates(sts: &Value) -> Vec<Value> {
    sts.pointer("/spec/volumeClaimTemplates")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn claim_name(template: &Value, sts: &Value, ordinal: i64) -> String {
    format!(
        "{}-{}-{ordinal}",
        s(template, "/metadata/name"),
        s(sts, "/metadata/name")
    )
}

/// `newVersionedStatefulSetPod`: the template, identity, claims.
fn new_pod(sts: &Value, ordinal: i64, rev: &str) -> Value {
    let name = format!("{}-{ordinal}", s(sts, "/metadata/name"));
    let template = &sts["spec"]["template"];
    let mut labels: Map<String, Value> = template
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    labels.insert(POD_NAME_LABEL.into(), json!(name));
    labels.insert(REVISION_LABEL.into(), json!(rev));
    labels.insert(POD_INDEX_LABEL.into(), json!(ordinal.to_string()));
    let mut meta = json!({"name": name, "labels": labels, "ownerReferences": [owner_ref(sts)]});
    if let Some(a) = template.pointer("/metadata/annotations") {
        meta["annotations"] = a.clone();
    }
    let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    spec["hostname"] = json!(name);
    if !s(sts, "/spec/serviceName").is_empty() {
        spec["subdomain"] = json!(s(sts, "/spec/serviceName"));
    }
    let mut volumes: Vec<Value> = spec
        .get("volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for t in claim_templates(sts) {
        let vname = s(&t, "/metadata/name").to_string();
        volumes.retain(|v| s(v, "/name") != vname);
        volumes.push(json!({"name": vname, "persistentVolumeClaim": {"claimName": claim_name(&t, sts, ordinal)}}));
    }
    if !volumes.is_empty() {
        spec["volumes"] = json!(volumes);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
}

fn retention(sts: &Value, when: &str) -> bool {
    s(
        sts,
        &format!("/spec/persistentVolumeClaimRetentionPolicy/{when}"),
    ) == "Delete"
}

pub(crate) fn reconcile(c: &Controllers, now: i64) -> Result<(), StoreError> {
    let store = c.store();
    for sts in list(store, "StatefulSet", None)? {
        if deleting(&sts) {
            continue;
        }
        let ns = s(&sts, "/metadata/namespace").to_string();
        let name = s(&sts, "/metadata/name").to_string();
        let uid = s(&sts, "/metadata/uid").to_string();
        let replicas = sts
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let parallel = s(&sts, "/spec/podManagementPolicy") == "Parallel";
        let rolling = s(&sts, "/spec/updateStrategy/type") != "OnDelete";
        let partition = sts
            .pointer("/spec/updateStrategy/rollingUpdate/partition")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        adopt_orphans(c, &sts, &ns)?;
        let update_rev = sync_update_revision(c, &sts, &ns)?;
        let old_status = sts.get("status").cloned().unwrap_or_else(|| json!({}));
        let current_rev = match s(&old_status, "/currentRevision") {
            "" => update_rev.clone(),
            r => r.to_string(),
        };
        // The pods it controls, by ordinal.
        let mut pods: Vec<(i64, Value)> = list(store, "Pod", Some(&ns))?
            .into_iter()
            .filter(|p| {
                p.pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|rs| {
                        rs.iter()
                            .any(|r| s(r, "/uid") == uid && r["controller"] == true)
                    })
            })
            .filter_map(|p| {
                let n = s(&p, "/metadata/name")
                    .strip_prefix(&format!("{name}-"))?
                    .parse()
                    .ok()?;
                Some((n, p))
            })
            .collect();
        pods.sort_by_key(|(n, _)| *n);
        let opts = DeleteOptions {
            propagation: Some(Propagation::Background),
            now: rfc3339(now),
            dry_run: false,
        };
        let healthy = |p: &Value| running_and_ready(p) && !deleting(p);
        let mut blocked = false;
        // Create the missing pods and their claims, in order.
        for ordinal in 0..replicas {
            if blocked && !parallel {
                break;
            }
            match pods.iter().find(|(n, _)| *n == ordinal) {
                Some((_, p)) => {
                    // A pod that ended (Failed or Succeeded) is deleted, to be created anew.
                    if matches!(s(p, "/status/phase"), "Failed" | "Succeeded") && !deleting(p) {
                        tolerate(store.delete_with("Pod", &ns, s(p, "/metadata/name"), &opts))?;
                    }
                    if !healthy(p) {
                        blocked = true;
                    }
                }
                None => {
                    // Claims first; a refused claim (quota, LimitRanger) leaves the pod
                    // uncreated, as `CreateStatefulPod` (`stateful_pod_control.go`) returns
                    // when `createPersistentVolumeClaims` fails.
                    let mut claims_created = true;
                    for t in claim_templates(&sts) {
                        let cname = claim_name(&t, &sts, ordinal);
                        if store.get("PersistentVolumeClaim", &ns, &cname).is_ok() {
                            continue;
                        }
                        let mut claim = json!({
                            "apiVersion": "v1",
                            "kind": "PersistentVolumeClaim",
                            "metadata": {"name": cname},
                            "spec": t.get("spec").cloned().unwrap_or_else(|| json!({})),
                        });
                        let mut labels: Map<String, Value> = t
                            .pointer("/metadata/labels")
                            .and_then(Value::as_object)
                            .cloned()
                            .unwrap_or_default();
                        if let Some(sel) = sts
                            .pointer("/spec/selector/matchLabels")
                            .and_then(Value::as_object)
                        {
                            labels.extend(sel.clone());
                        }
                        if !labels.is_empty() {
                            claim["metadata"]["labels"] = json!(labels);
                        }
                        if retention(&sts, "whenDeleted") {
                            claim["metadata"]["ownerReferences"] = json!([owner_ref(&sts)]);
                        }
                        if create_admitted(c, "PersistentVolumeClaim", &ns, claim)?.is_none()
                            && store.get("PersistentVolumeClaim", &ns, &cname).is_err()
                        {
                            claims_created = false;
                        }
                    }
                    let rev = if ordinal < partition {
                        &current_rev
                    } else {
                        &update_rev
                    };
                    // A pod refused by admission (quota, PodSecurity, LimitRanger) is not
                    // there: the set stays short and the next pass tries again.
                    if claims_created {
                        create_admitted(c, "Pod", &ns, new_pod(&sts, ordinal, rev))?;
                    }
                    blocked = true;
                }
            }
        }
        let all_healthy = pods
            .iter()
            .filter(|(n, _)| *n < replicas)
            .all(|(_, p)| healthy(p))
            && pods.iter().filter(|(n, _)| *n < replicas).count() as i64 == replicas;
        // Scale down from the highest ordinal: one at a time, and only when all are healthy,
        // unless Parallel.
        let condemned: Vec<&(i64, Value)> =
            pods.iter().rev().filter(|(n, _)| *n >= replicas).collect();
        for (ordinal, p) in condemned {
            if deleting(p) {
                if !parallel {
                    break;
                }
                continue;
            }
            if !parallel && !pods.iter().all(|(_, q)| healthy(q)) {
                break;
            }
            if retention(&sts, "whenScaled") {
                for t in claim_templates(&sts) {
                    let cname = claim_name(&t, &sts, *ordinal);
                    let patch = json!({"metadata": {"ownerReferences": [{
                        "apiVersion": "v1", "kind": "Pod", "name": s(p, "/metadata/name"),
                        "uid": s(p, "/metadata/uid"), "controller": true, "blockOwnerDeletion": true,
                    }]}});
                    tolerate(store.merge_patch(
                        "PersistentVolumeClaim",
                        &ns,
                        &cname,
                        &patch,
                        MANAGER,
                        false,
                    ))?;
                }
            }
            tolerate(store.delete_with("Pod", &ns, s(p, "/metadata/name"), &opts))?;
            if !parallel {
                break;
            }
        }
        // RollingUpdate: the highest ordinal not at the update revision, down to the
        // partition, once every pod is Running and Ready.
        if rolling && all_healthy {
            if let Some((_, p)) = pods
                .iter()
                .rev()
                .filter(|(n, _)| *n < replicas && *n >= partition)
                .find(|(_, p)| s(p, &format!("/metadata/labels/{REVISION_LABEL}")) != update_rev)
            {
                tolerate(store.delete_with("Pod", &ns, s(p, "/metadata/name"), &opts))?;
            }
        }
        // Status, from the pods as they are now.
        let pods: Vec<Value> = list(store, "Pod", Some(&ns))?
            .into_iter()
            .filter(|p| {
                p.pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|rs| {
                        rs.iter()
                            .any(|r| s(r, "/uid") == uid && r["controller"] == true)
                    })
            })
            .collect();
        let rev_of = |p: &Value| s(p, &format!("/metadata/labels/{REVISION_LABEL}")).to_string();
        let count = |f: &dyn Fn(&Value) -> bool| pods.iter().filter(|p| f(p)).count() as i64;
        let ready = count(&|p| running_and_ready(p));
        let updated = count(&|p| rev_of(p) == update_rev);
        let mut current_rev = current_rev;
        let mut current = count(&|p| rev_of(p) == current_rev);
        if updated == pods.len() as i64 && pods.len() as i64 == replicas && ready == replicas {
            // completeRollingUpdate
            current_rev = update_rev.clone();
            current = updated;
        }
        let mut status = json!({
            "observedGeneration": sts.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
            "replicas": pods.len(),
            "readyReplicas": ready,
            "currentReplicas": current,
            "updatedReplicas": updated,
            "currentRevision": current_rev,
            "updateRevision": update_rev,
            "collisionCount": old_status.get("collisionCount").cloned().unwrap_or(json!(0)),
            "availableReplicas": ready,
        });
        // readyReplicas, currentReplicas and updatedReplicas are `omitempty`.
        if let Some(m) = status.as_object_mut() {
            for k in ["readyReplicas", "currentReplicas", "updatedReplicas"] {
                if m.get(k) == Some(&json!(0)) {
                    m.shift_remove(k);
                }
            }
        }
        if status != old_status {
            tolerate(store.set_status("StatefulSet", &ns, &name, status))?;
        }
        let mut live: Vec<String> = pods.iter().map(rev_of).collect();
        live.push(current_rev);
        live.push(update_rev);
        truncate_history(c, &sts, &ns, &live)?;
    }
    Ok(())
}
