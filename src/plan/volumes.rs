//! What a change of a StatefulSet's `volumeClaimTemplates` does to the volumes it already has.
//!
//! The claim templates of a StatefulSet are immutable, and the controller only reads them to
//! create the claims of pods that have none: a larger `storage` or another `storageClassName`
//! never reaches the claims that exist. berth grows a database's volumes the way the
//! Kubernetes documentation describes it for StatefulSets: it raises the request of each
//! existing claim (the PersistentVolumeClaim resize, allowed only when the claim's
//! StorageClass has `allowVolumeExpansion`), deletes the StatefulSet with
//! `propagationPolicy: Orphan` (its pods keep running), and creates it again with the new
//! templates, adopting the pods. A volume cannot shrink, and a claim's class cannot change:
//! those are refused here with why. Pure functions of a [`Change`]: no I/O.

use serde_json::Value;

use super::{Change, FieldChange};
use crate::values::parse_quantity;

const TEMPLATES: &str = "spec.volumeClaimTemplates[name=";

/// One claim template's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeChange {
    /// `storage` grows: the existing claims can be resized.
    Grow {
        /// The claim template (`data`).
        template: String,
        /// Size before.
        before: String,
        /// Size after.
        after: String,
    },
    /// `storage` shrinks: Kubernetes refuses a smaller request.
    Shrink {
        /// The claim template.
        template: String,
        /// Size before.
        before: String,
        /// Size after.
        after: String,
    },
    /// `storageClassName` changes (or is set or removed): existing claims keep theirs.
    Class {
        /// The claim template.
        template: String,
        /// Class before (`None`: the cluster's default).
        before: Option<String>,
        /// Class after.
        after: Option<String>,
    },
    /// Anything else of a claim template (access modes, labels, a template added or removed).
    Other {
        /// The changed path.
        path: String,
    },
}

/// The claim-template changes of a StatefulSet change, in field order.
pub fn volume_changes(change: &Change) -> Vec<VolumeChange> {
    if change.id.kind != "StatefulSet" {
        return Vec::new();
    }
    change
        .fields
        .iter()
        .filter(|f| f.path.starts_with("spec.volumeClaimTemplates"))
        .map(classify)
        .collect()
}

fn classify(f: &FieldChange) -> VolumeChange {
    let other = || VolumeChange::Other {
        path: f.path.clone(),
    };
    let Some(rest) = f.path.strip_prefix(TEMPLATES) else {
        return other();
    };
    let Some((template, field)) = rest.split_once("].") else {
        return other();
    };
    let template = template.to_string();
    let text = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).map(str::to_string);
    match field {
        "spec.resources.requests.storage" => {
            let (Some(before), Some(after)) = (text(&f.before), text(&f.after)) else {
                return other();
            };
            match (parse_quantity(&before), parse_quantity(&after)) {
                (Ok(b), Ok(a)) if a > b => VolumeChange::Grow {
                    template,
                    before,
                    after,
                },
                (Ok(b), Ok(a)) if a < b => VolumeChange::Shrink {
                    template,
                    before,
                    after,
                },
                _ => other(),
            }
        }
        "spec.storageClassName" => VolumeChange::Class {
            template,
            before: text(&f.before),
            after: text(&f.after),
        },
        _ => other(),
    }
}

/// Whether recreating this StatefulSet leaves its pods running: every field that forces the
/// replacement is a claim template's size (a growth), so the new StatefulSet, with the same
/// selector and pod names, adopts the pods of the old one. Apply then deletes the old one with
/// `propagationPolicy: Orphan` instead of taking its pods along.
pub fn recreate_keeps_pods(change: &Change) -> bool {
    change.id.kind == "StatefulSet"
        && change.fields.iter().all(|f| {
            !forces_replacement(&f.path) || matches!(classify(f), VolumeChange::Grow { .. })
        })
        && change
            .fields
            .iter()
            .any(|f| matches!(classify(f), VolumeChange::Grow { .. }))
}

/// Whether a StatefulSet field path is one the API server refuses to change in place.
fn forces_replacement(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("spec.") else {
        return false;
    };
    let field = rest.split(['.', '[']).next().unwrap_or_default();
    super::diff::statefulset_field_is_immutable(field)
}

/// `(template, new size)` of each claim template whose volumes grow: what apply resizes.
pub fn growth(change: &Change) -> Vec<(String, String)> {
    volume_changes(change)
        .into_iter()
        .filter_map(|v| match v {
            VolumeChange::Grow {
                template, after, ..
            } => Some((template, after)),
            _ => None,
        })
        .collect()
}

/// The claims `TEMPLATE-SET-ORDINAL` of `ordinals` for a template, as the StatefulSet
/// controller names them.
pub fn claim_names(template: &str, set: &str, ordinals: u64) -> Vec<String> {
    (0..ordinals)
        .map(|i| format!("{template}-{set}-{i}"))
        .collect()
}

/// Whether `name` is a claim of `template` for StatefulSet `set` (`TEMPLATE-SET-N`).
pub fn is_claim_of(name: &str, template: &str, set: &str) -> bool {
    name.strip_prefix(&format!("{template}-{set}-"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `data-db-0, data-db-1` or `data-db-0 … data-db-4`; "its volumes" when none are known.
fn claims_text(template: &str, set: &str, replicas: u64) -> String {
    let names = claim_names(template, set, replicas);
    match names.len() {
        0 => format!("the volumes of claim template `{template}`"),
        1..=3 => names.join(", "),
        n => format!("{} … {}", names[0], names[n - 1]),
    }
}

/// Says in `change` (a StatefulSet replacement) what becomes of the volumes the StatefulSet
/// has (`live_replicas` of them per template), and blocks what cannot be done: a shrink
/// always, a class change or a growth unless `allow_replace`. Leaves other replacements as
/// they are.
pub(super) fn explain(change: &mut Change, live_replicas: u64, allow_replace: bool) {
    let changes = volume_changes(change);
    let set = change.id.name.clone();
    let id = change.id.to_string();
    if let Some(VolumeChange::Shrink {
        template, before, ..
    }) = changes
        .iter()
        .find(|v| matches!(v, VolumeChange::Shrink { .. }))
    {
        let claims = claims_text(template, &set, live_replicas);
        change.reason =
            Some("spec.volumeClaimTemplates is immutable, and a volume cannot shrink".to_string());
        change.blocked = Some(format!(
            "{claims} would stay {before}: Kubernetes refuses a smaller request than a claim \
             has; keep `storage` at {before} or more, or move the data to a database with \
             smaller volumes"
        ));
        return;
    }
    if let Some(VolumeChange::Class {
        template,
        before,
        after,
    }) = changes
        .iter()
        .find(|v| matches!(v, VolumeChange::Class { .. }))
    {
        let claims = claims_text(template, &set, live_replicas);
        let class = |c: &Option<String>| match c {
            Some(c) => format!("StorageClass `{c}`"),
            None => "the default StorageClass".to_string(),
        };
        change.reason = Some(format!(
            "spec.volumeClaimTemplates is immutable: {claims} keep {} (a claim's class cannot \
             change); only volumes of new replicas would get {}",
            class(before),
            class(after)
        ));
        if !allow_replace {
            change.blocked = Some(format!(
                "move the data to volumes of the new class, or pass --allow-replace to recreate \
                 {id} (its pods are deleted, its volumes kept) with the new class for new \
                 volumes only"
            ));
        }
        return;
    }
    if recreate_keeps_pods(change) {
        let grown: Vec<String> = changes
            .iter()
            .filter_map(|v| match v {
                VolumeChange::Grow {
                    template,
                    before,
                    after,
                } => Some(format!(
                    "{} grow from {before} to {after} in place",
                    claims_text(template, &set, live_replicas)
                )),
                _ => None,
            })
            .collect();
        change.reason = Some(format!(
            "spec.volumeClaimTemplates is immutable: {} (their StorageClass must allow volume \
             expansion), then the StatefulSet is deleted leaving its pods running and created \
             again, adopting them",
            grown.join("; ")
        ));
        if !allow_replace {
            change.blocked = Some(format!(
                "growing the volumes of {id} recreates the StatefulSet (its pods keep running, \
                 its volumes stay); pass --allow-replace"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::ObjectRef;
    use crate::plan::Action;
    use serde_json::json;

    fn change(fields: &[(&str, Value, Value)]) -> Change {
        Change {
            id: ObjectRef {
                api_version: "apps/v1".into(),
                kind: "StatefulSet".into(),
                namespace: Some("tenant-acme".into()),
                name: "db".into(),
            },
            cluster: "local".into(),
            tenant: "acme".into(),
            action: Action::Replace,
            fields: fields
                .iter()
                .map(|(p, b, a)| FieldChange {
                    path: p.to_string(),
                    before: Some(b.clone()),
                    after: Some(a.clone()),
                    sensitive: false,
                })
                .collect(),
            reason: None,
            blocked: None,
            desired: None,
        }
    }

    const STORAGE: &str = "spec.volumeClaimTemplates[name=data].spec.resources.requests.storage";

    #[test]
    fn a_larger_size_grows_and_a_smaller_one_shrinks_compared_as_quantities() {
        let grow = change(&[(STORAGE, json!("100Gi"), json!("0.2Ti"))]);
        assert_eq!(growth(&grow), vec![("data".into(), "0.2Ti".into())]);
        assert!(recreate_keeps_pods(&grow));
        let shrink = change(&[(STORAGE, json!("100Gi"), json!("99Gi"))]);
        assert!(matches!(
            volume_changes(&shrink)[..],
            [VolumeChange::Shrink { .. }]
        ));
        assert!(!recreate_keeps_pods(&shrink));
    }

    #[test]
    fn another_immutable_field_means_the_pods_go_with_the_old_statefulset() {
        let both = change(&[
            (STORAGE, json!("100Gi"), json!("200Gi")),
            ("spec.serviceName", json!("a"), json!("b")),
        ]);
        assert!(!recreate_keeps_pods(&both));
        // A pod template change is made in place: the adopted pods roll out after.
        let with_template = change(&[
            (STORAGE, json!("100Gi"), json!("200Gi")),
            (
                "spec.template.spec.containers[name=db].image",
                json!("kwdb:3.0"),
                json!("kwdb:3.1"),
            ),
        ]);
        assert!(recreate_keeps_pods(&with_template));
    }

    #[test]
    fn claims_are_named_template_set_ordinal() {
        assert_eq!(claim_names("data", "db", 2), ["data-db-0", "data-db-1"]);
        assert!(is_claim_of("data-db-12", "data", "db"));
        assert!(!is_claim_of("data-db-", "data", "db"));
        assert!(!is_claim_of("data-dbx-1", "data", "db"));
        assert!(!is_claim_of("logs-db-1", "data", "db"));
    }
}
