//! The plan as versioned JSON (`berth plan -o json`). The format is documented field by field
//! in `docs/plan-format.md`; bump [`crate::plan::FORMAT_VERSION`] on incompatible changes.

use serde_json::{json, Value};

use crate::object::ObjectRef;
use crate::plan::{FieldChange, Plan, SENSITIVE_MARKER};

fn object(id: &ObjectRef) -> Value {
    json!({
        "api_version": id.api_version,
        "kind": id.kind,
        "namespace": id.namespace,
        "name": id.name,
    })
}

fn fields(fields: &[FieldChange]) -> Value {
    Value::Array(
        fields
            .iter()
            .map(|f| {
                // The plan masks sensitive values already; never trust that here.
                let mask = |v: &Option<Value>| match v {
                    Some(_) if f.sensitive => Some(Value::String(SENSITIVE_MARKER.into())),
                    other => other.clone(),
                };
                json!({
                    "path": f.path,
                    "before": mask(&f.before),
                    "after": mask(&f.after),
                    "sensitive": f.sensitive,
                })
            })
            .collect(),
    )
}

/// The plan as pretty-printed JSON, ending with a newline.
pub fn to_json(plan: &Plan) -> String {
    let s = &plan.summary;
    let mut doc = json!({
        "format_version": plan.format_version,
        "revision": plan.revision,
        "summary": {
            "add": s.add,
            "change": s.change,
            "replace": s.replace,
            "destroy": s.destroy,
            "blocked": s.blocked,
            "drifted": s.drifted,
            "conflicts": s.conflicts,
            "unreachable": plan.unreachable.len(),
            "unobserved": plan.unobserved.len(),
            "unlisted": plan.unlisted.len(),
            "warnings": plan.warnings.len(),
            "kept": plan.kept.len(),
        },
        "complete": !plan.is_partial(),
        "partial": plan.is_partial(),
        "matches": plan.matches(),
        "correct_drift": plan.correct_drift,
        "allow_destroy": plan.allow_destroy,
        "kept": plan.kept.iter().map(|k| json!({
            "cluster": k.cluster,
            "tenant": k.tenant,
            "namespace": k.namespace,
            "reason": k.reason,
            "removed_in": k.removed_in,
            "last_applied_revision": k.last_applied_revision,
            "objects": k.objects.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "warnings": plan.warnings.iter().map(|w| json!({
            "cluster": w.cluster,
            "tenant": w.tenant,
            "kind": w.kind,
            "address": w.object.as_ref().map(ToString::to_string),
            "object": w.object.as_ref().map(object),
            "message": w.message,
            "help": w.help,
        })).collect::<Vec<_>>(),
        "restores": plan.restores.iter().map(|r| json!({
            "cluster": r.cluster,
            "tenant": r.tenant,
            "name": r.name,
            "address": r.job.to_string(),
            "state": r.state,
            "at": r.at,
            "message": r.message,
            "in_config": r.in_config,
        })).collect::<Vec<_>>(),
        "drift": plan.drift.iter().map(|d| json!({
            "address": d.id.to_string(),
            "object": object(&d.id),
            "cluster": d.cluster,
            "tenant": d.tenant,
            "kind": d.kind,
            "fields": fields(&d.fields),
        })).collect::<Vec<_>>(),
        "conflicts": plan.conflicts.iter().map(|c| json!({
            "address": c.id.to_string(),
            "object": object(&c.id),
            "cluster": c.cluster,
            "tenant": c.tenant,
            "managed_by": c.managed_by,
        })).collect::<Vec<_>>(),
        "unreachable": plan.unreachable.iter().map(|(cluster, message)| json!({
            "cluster": cluster,
            "message": message,
        })).collect::<Vec<_>>(),
        "unobserved": plan.unobserved.iter().map(|u| json!({
            "cluster": u.cluster,
            "tenant": u.tenant,
            "reason": u.reason,
        })).collect::<Vec<_>>(),
        "unlisted": plan.unlisted.iter().map(|u| json!({
            "cluster": u.cluster,
            "kind": u.kind,
            "reason": u.reason,
        })).collect::<Vec<_>>(),
        "changes": plan.changes.iter().map(|c| json!({
            "address": c.id.to_string(),
            "object": object(&c.id),
            "cluster": c.cluster,
            "tenant": c.tenant,
            "action": c.action,
            "reason": c.reason,
            "blocked": c.blocked,
            "fields": fields(&c.fields),
            "after": c.desired,
        })).collect::<Vec<_>>(),
    });
    // Right after `revision`: `base` only in offline plans of a change (`berth plan --base`),
    // `narrowed` only in plans of `--changed`.
    let extra: Vec<(&str, Value)> = [
        plan.base.as_ref().map(|b| ("base", json!(b))),
        plan.narrowed.as_ref().map(|n| ("narrowed", json!(n))),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let (false, Some(obj)) = (extra.is_empty(), doc.as_object_mut()) {
        let mut with_extra = serde_json::Map::new();
        for (k, v) in std::mem::take(obj) {
            let after_revision = k == "revision";
            with_extra.insert(k, v);
            if after_revision {
                for (name, value) in &extra {
                    with_extra.insert((*name).into(), value.clone());
                }
            }
        }
        *obj = with_extra;
    }
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}
