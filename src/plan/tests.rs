use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde_json::{json, Map, Value};

use super::*;
use crate::observe::{ClusterState, LiveObject, Observed, Unowned, LAST_APPLIED_ANNOTATION};
use crate::render::testutil::{minimal_tenant, sample_config};
use crate::render::{render, DesiredObject, Manifest, Rendered, TemplateSet};
use crate::spec::model::Config;

// ---------------------------------------------------------------------------------------------
// Helpers

/// What a server would hand back for `desired` after berth applied it: the last-applied
/// annotation, server metadata, status and the defaults a real API server fills in, with
/// quantities in another (equal) spelling.
fn served(obj: &DesiredObject) -> LiveObject {
    let mut v = obj.manifest.to_value();
    let kind = obj.id.kind.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("uid".into(), json!("0d5a7c1e-0000-4000-8000-000000000001"));
        meta.insert("resourceVersion".into(), json!("4711"));
        meta.insert("generation".into(), json!(1));
        meta.insert("creationTimestamp".into(), json!("2024-05-01T10:00:00Z"));
        meta.insert(
            "managedFields".into(),
            json!([{"manager": "berth", "operation": "Apply", "fieldsType": "FieldsV1"}]),
        );
        let ann = meta
            .entry("annotations")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .unwrap();
        ann.insert(
            LAST_APPLIED_ANNOTATION.into(),
            Value::String(obj.manifest.as_str().to_string()),
        );
        if kind == "Namespace" {
            let name = meta["name"].clone();
            meta.entry("labels")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .unwrap()
                .insert("kubernetes.io/metadata.name".into(), name);
        }
    }
    let root = v.as_object_mut().unwrap();
    root.insert("status".into(), json!({"observedGeneration": 1}));
    let spec = root.entry("spec").or_insert_with(|| json!({}));
    match kind.as_str() {
        "Namespace" => {
            spec["finalizers"] = json!(["kubernetes"]);
        }
        "StatefulSet" => {
            let s = spec.as_object_mut().unwrap();
            s.entry("podManagementPolicy")
                .or_insert(json!("OrderedReady"));
            s.insert("revisionHistoryLimit".into(), json!(10));
            s.insert(
                "updateStrategy".into(),
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            );
            if let Some(vcts) = s
                .get_mut("volumeClaimTemplates")
                .and_then(Value::as_array_mut)
            {
                for vct in vcts {
                    vct["apiVersion"] = json!("v1");
                    vct["kind"] = json!("PersistentVolumeClaim");
                    vct["spec"]["volumeMode"] = json!("Filesystem");
                    vct["status"] = json!({"phase": "Pending"});
                    if let Some(st) = vct.pointer_mut("/spec/resources/requests/storage") {
                        *st = respell(st);
                    }
                }
            }
        }
        "Service" => {
            let s = spec.as_object_mut().unwrap();
            s.entry("clusterIP").or_insert(json!("10.96.12.7"));
            let ip = s["clusterIP"].clone();
            s.insert("clusterIPs".into(), json!([ip]));
            s.insert("ipFamilies".into(), json!(["IPv4"]));
            s.insert("sessionAffinity".into(), json!("None"));
            s.entry("type").or_insert(json!("ClusterIP"));
        }
        "ResourceQuota" => {
            if let Some(hard) = spec.get_mut("hard").and_then(Value::as_object_mut) {
                for q in hard.values_mut() {
                    *q = respell(q);
                }
            }
        }
        "CronJob" => {
            let s = spec.as_object_mut().unwrap();
            s.entry("concurrencyPolicy").or_insert(json!("Allow"));
            s.entry("suspend").or_insert(json!(false));
            s.entry("successfulJobsHistoryLimit").or_insert(json!(3));
        }
        _ => {}
    }
    pod_defaults(&mut v);
    LiveObject::new(obj.id.clone(), &v)
}

/// The same quantity, spelled as a server might write it back.
fn respell(q: &Value) -> Value {
    match q {
        Value::Number(n) => Value::String(n.to_string()),
        Value::String(s) => match s.strip_suffix("Gi") {
            Some(n) => match n.parse::<u64>() {
                Ok(n) => Value::String(format!("{}Mi", n * 1024)),
                Err(_) => q.clone(),
            },
            None => match s.parse::<u64>() {
                Ok(n) => Value::String(format!("{}m", n * 1000)),
                Err(_) => q.clone(),
            },
        },
        _ => q.clone(),
    }
}

/// Pod and container defaults wherever a pod spec appears.
fn pod_defaults(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("containers") {
                m.entry("restartPolicy").or_insert(json!("Always"));
                m.entry("dnsPolicy").or_insert(json!("ClusterFirst"));
                m.entry("schedulerName")
                    .or_insert(json!("default-scheduler"));
                m.entry("securityContext").or_insert(json!({}));
                if let Some(cs) = m.get_mut("containers").and_then(Value::as_array_mut) {
                    for c in cs {
                        let c = c.as_object_mut().unwrap();
                        c.entry("imagePullPolicy").or_insert(json!("IfNotPresent"));
                        c.insert(
                            "terminationMessagePath".into(),
                            json!("/dev/termination-log"),
                        );
                        c.insert("terminationMessagePolicy".into(), json!("File"));
                        if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
                            for p in ports {
                                p["protocol"] = json!("TCP");
                            }
                        }
                        if let Some(r) = c.get_mut("resources").and_then(Value::as_object_mut) {
                            for side in r.values_mut() {
                                if let Some(side) = side.as_object_mut() {
                                    for q in side.values_mut() {
                                        *q = respell(q);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            for child in m.values_mut() {
                pod_defaults(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(pod_defaults),
        _ => {}
    }
}

fn observed_from(objs: impl IntoIterator<Item = (String, LiveObject)>) -> Observed {
    let mut clusters: BTreeMap<String, ClusterState> = BTreeMap::new();
    for (cluster, live) in objs {
        clusters
            .entry(cluster.clone())
            .or_insert_with(|| empty_cluster(&cluster))
            .owned
            .push(live);
    }
    Observed { clusters }
}

fn empty_cluster(name: &str) -> ClusterState {
    ClusterState {
        secrets: None,
        cluster: name.to_string(),
        owned: vec![],
        unowned: vec![],
        error: None,
        gaps: Default::default(),
        requests: 0,
    }
}

fn synthetic(tenants: usize) -> (Config, Rendered) {
    let dir = tempfile::tempdir().unwrap();
    crate::synth::generate(dir.path(), tenants).unwrap();
    let tree = crate::source::read_dir(dir.path()).unwrap();
    let config = crate::spec::load_config(&tree).config.expect("valid");
    let rendered = render(&config, &TemplateSet::builtin()).unwrap();
    (config, rendered)
}

fn opts() -> PlanOptions {
    PlanOptions {
        prune: true,
        ..PlanOptions::default()
    }
}

fn config_with(tenants: &[(&str, bool)]) -> Config {
    let mut config = sample_config();
    config.tenants = tenants
        .iter()
        .map(|(name, protected)| {
            let mut t = minimal_tenant(name);
            t.deletion_protection = *protected;
            t
        })
        .collect();
    config
}

fn id(kind: &str, ns: Option<&str>, name: &str) -> ObjectRef {
    let api_version = match kind {
        "StatefulSet" => "apps/v1",
        "CronJob" | "Job" => "batch/v1",
        _ => "v1",
    };
    ObjectRef {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: ns.map(Into::into),
        name: name.into(),
    }
}

fn desired_obj(tenant: &str, id: &ObjectRef, mut manifest: Value) -> DesiredObject {
    manifest["apiVersion"] = json!(id.api_version);
    manifest["kind"] = json!(id.kind);
    manifest["metadata"]["name"] = json!(id.name);
    if let Some(ns) = &id.namespace {
        manifest["metadata"]["namespace"] = json!(ns);
    }
    manifest["metadata"]["labels"]["app.kubernetes.io/managed-by"] = json!("berth");
    manifest["metadata"]["labels"]["berth.io/tenant"] = json!(tenant);
    DesiredObject {
        id: id.clone(),
        tenant: tenant.into(),
        cluster: "local".into(),
        source_file: format!("tenants/{tenant}.toml"),
        template: "test".into(),
        manifest: Manifest::from_value(&manifest),
    }
}

/// A live object as berth applied `applied`, then changed by `edit`.
fn live_obj(applied: &DesiredObject, edit: impl FnOnce(&mut Value)) -> LiveObject {
    let live = served(applied);
    let mut manifest = live.manifest();
    edit(&mut manifest);
    LiveObject::new(live.id, &manifest)
}

fn namespace(tenant: &str, protected: bool) -> DesiredObject {
    desired_obj(
        tenant,
        &id("Namespace", None, &format!("tenant-{tenant}")),
        json!({"metadata": {"annotations": {
            "berth.io/deletion-protection": protected.to_string()}}}),
    )
}

fn statefulset(tenant: &str, replicas: u32, service: &str) -> DesiredObject {
    desired_obj(
        tenant,
        &id("StatefulSet", Some(&format!("tenant-{tenant}")), "db"),
        json!({"metadata": {}, "spec": {
            "replicas": replicas,
            "serviceName": service,
            "template": {"spec": {"containers": [{
                "name": "db", "image": "kwdb/kwdb:3.1.0",
                "resources": {"requests": {"cpu": "1", "memory": "2Gi"}},
                "env": [{"name": "ADMIN_PASSWORD", "value": "hunter2"}]
            }]}}
        }}),
    )
}

fn rendered(objects: Vec<DesiredObject>) -> Rendered {
    Rendered { objects }
}

// ---------------------------------------------------------------------------------------------
// No changes when nothing changed

#[test]
fn synthetic_tenants_against_a_defaulting_server_plan_no_changes() {
    let (config, desired) = synthetic(1000);
    assert!(desired.objects.len() > 10_000);
    let observed = observed_from(
        desired
            .objects
            .iter()
            .map(|o| (o.cluster.clone(), served(o))),
    );
    let plan = plan(&config, &desired, &observed, &opts());
    assert!(plan.changes.is_empty(), "{:#?}", &plan.changes[..1]);
    assert!(plan.drift.is_empty(), "{:#?}", &plan.drift[..1]);
    assert_eq!(plan.summary, Summary::default());
}

#[test]
fn sample_tenants_applied_to_the_object_store_plan_no_changes() {
    // The object store behaves like an API server: defaults, normalised quantities,
    // managedFields. What it hands back must plan as no change.
    let config = sample_config();
    let desired = render(&config, &TemplateSet::builtin()).unwrap();
    let mut observed = Observed::default();
    for cluster in config.clusters.keys() {
        let store = crate::store::ObjectStore::in_memory().unwrap();
        let objs: Vec<&DesiredObject> = desired
            .objects
            .iter()
            .filter(|o| &o.cluster == cluster)
            .collect();
        let patches: Vec<Value> = objs
            .iter()
            .map(|o| {
                let mut v = o.manifest.to_value();
                v["metadata"]["annotations"][LAST_APPLIED_ANNOTATION] =
                    Value::String(o.manifest.as_str().to_string());
                v
            })
            .collect();
        let stored = store.apply_all(&patches, "berth", true, false).unwrap();
        let mut state = empty_cluster(cluster);
        for (o, (live, _)) in objs.iter().zip(stored) {
            state.owned.push(LiveObject::new(o.id.clone(), &live));
        }
        observed.clusters.insert(cluster.clone(), state);
    }
    let plan = plan(&config, &desired, &observed, &opts());
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert!(plan.drift.is_empty(), "{:#?}", plan.drift);
}

#[test]
fn last_applied_in_another_spelling_still_plans_no_changes() {
    // The annotation is not byte-identical to the desired text (keys reordered): the slow
    // path must agree with the fast one.
    let config = config_with(&[("acme", true)]);
    let sts = statefulset("acme", 3, "db-headless");
    let served_sts = served(&sts);
    let mut live_manifest = served_sts.manifest();
    let mut reordered: Map<String, Value> = Map::new();
    let value = sts.manifest.to_value();
    for (k, v) in value.as_object().unwrap().iter().rev() {
        reordered.insert(k.clone(), v.clone());
    }
    live_manifest["metadata"]["annotations"][LAST_APPLIED_ANNOTATION] =
        Value::String(Value::Object(reordered).to_string());
    let live = LiveObject::new(served_sts.id, &live_manifest);
    let observed = observed_from([("local".to_string(), live)]);
    let plan = plan(&config, &rendered(vec![sts]), &observed, &opts());
    assert!(
        plan.changes.is_empty() && plan.drift.is_empty(),
        "{plan:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Creates, updates, replaces, deletes

#[test]
fn missing_objects_are_created_with_their_manifest_and_no_secrets() {
    let config = config_with(&[("acme", true)]);
    let desired = rendered(vec![namespace("acme", true), statefulset("acme", 3, "db")]);
    let observed = observed_from([]);
    let mut observed = observed;
    observed
        .clusters
        .insert("local".into(), empty_cluster("local"));
    let plan = plan(&config, &desired, &observed, &opts());
    let actions: Vec<_> = plan.changes.iter().map(|c| c.action).collect();
    assert_eq!(actions, [Action::Create, Action::Create]);
    assert_eq!(plan.changes[0].id.kind, "Namespace");
    let manifest = plan.changes[1].desired.as_ref().unwrap();
    assert_eq!(manifest["spec"]["replicas"], 3);
    let text = serde_json::to_string(&plan).unwrap();
    assert!(!text.contains("hunter2"), "a secret leaked into the plan");
    assert_eq!(plan.summary.add, 2);
}

#[test]
fn changed_fields_and_fields_berth_stops_setting_are_updates() {
    let config = config_with(&[("acme", false)]);
    let before = statefulset("acme", 3, "db");
    let mut after_value = before.manifest.to_value();
    after_value["spec"]["replicas"] = json!(5);
    after_value["metadata"]["labels"]["team"] = json!("data");
    after_value["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"] =
        json!("2048Mi"); // same value
    let mut before_value = before.manifest.to_value();
    before_value["metadata"]["labels"]["old"] = json!("x");
    let applied = DesiredObject {
        manifest: Manifest::from_value(&before_value),
        ..before.clone()
    };
    let desired = DesiredObject {
        manifest: Manifest::from_value(&after_value),
        ..before
    };
    let observed = observed_from([("local".to_string(), served(&applied))]);
    let plan = plan(&config, &rendered(vec![desired]), &observed, &opts());
    assert_eq!(plan.changes.len(), 1);
    let change = &plan.changes[0];
    assert_eq!(change.action, Action::Update);
    let paths: Vec<_> = change.fields.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "metadata.labels.team",
            "metadata.labels.old",
            "spec.replicas"
        ]
    );
    assert_eq!(change.fields[1].after, None);
    assert_eq!(change.fields[2].before, Some(json!(3)));
    assert_eq!(change.fields[2].after, Some(json!(5)));
    assert!(change.desired.is_some());
    assert!(plan.drift.is_empty());
    assert_eq!(plan.summary.change, 1);
}

#[test]
fn immutable_changes_replace_and_data_bearing_replaces_are_blocked() {
    let config = config_with(&[("acme", false)]);
    let applied = statefulset("acme", 3, "db");
    let desired = statefulset("acme", 3, "db-headless");
    let observed = observed_from([("local".to_string(), served(&applied))]);
    let blocked = plan(
        &config,
        &rendered(vec![desired.clone()]),
        &observed,
        &opts(),
    );
    let change = &blocked.changes[0];
    assert_eq!(change.action, Action::Replace);
    assert_eq!(
        change.reason.as_deref(),
        Some("spec.serviceName is immutable")
    );
    assert_eq!(
        change.blocked.as_deref(),
        Some(
            "replacing StatefulSet/tenant-acme/db deletes its pods; its volumes are kept; pass \
             --allow-replace"
        )
    );
    assert_eq!(blocked.summary.replace, 1);
    assert_eq!(blocked.summary.blocked, 1);
    let allowed = plan(
        &config,
        &rendered(vec![desired]),
        &observed,
        &PlanOptions {
            allow_replace: true,
            ..opts()
        },
    );
    assert_eq!(allowed.changes[0].action, Action::Replace);
    assert_eq!(allowed.changes[0].blocked, None);
}

#[test]
fn a_protected_tenant_that_left_the_configuration_is_kept_whole() {
    // Tenant `gone` left Git; its Namespace was last applied with protection on. Tenant
    // `free` left Git with protection off.
    let config = config_with(&[("acme", true)]);
    let observed = observed_from(
        [
            namespace("gone", true),
            statefulset("gone", 1, "db"),
            desired_obj(
                "gone",
                &id("Service", Some("tenant-gone"), "db"),
                json!({"metadata": {}}),
            ),
            desired_obj(
                "gone",
                &id("NetworkPolicy", Some("tenant-gone"), "default-deny-ingress"),
                json!({"metadata": {}}),
            ),
            namespace("free", false),
            statefulset("free", 1, "db"),
        ]
        .iter()
        .map(|o| ("local".to_string(), served(o))),
    );
    let shown = |plan: &Plan| -> Vec<String> {
        plan.changes
            .iter()
            .map(|c| format!("{:?} {} {}", c.action, c.id, c.blocked.is_some()))
            .collect()
    };
    let plan = plan(&config, &rendered(vec![]), &observed, &opts());
    // Not one object of `gone` is destroyed: not its network policy, not its service.
    assert_eq!(
        shown(&plan),
        [
            "Delete StatefulSet/tenant-free/db false",
            "Delete Namespace/tenant-free false",
        ]
    );
    assert_eq!(plan.kept.len(), 1, "{:?}", plan.kept);
    let kept = &plan.kept[0];
    assert_eq!(
        (kept.cluster.as_str(), kept.tenant.as_str()),
        ("local", "gone")
    );
    assert_eq!(kept.namespace.as_deref(), Some("tenant-gone"));
    assert!(
        kept.reason.contains("deletion protection"),
        "{}",
        kept.reason
    );
    let objects: Vec<String> = kept.objects.iter().map(|o| o.to_string()).collect();
    assert_eq!(
        objects,
        [
            "StatefulSet/tenant-gone/db",
            "Service/tenant-gone/db",
            "NetworkPolicy/tenant-gone/default-deny-ingress",
            "Namespace/tenant-gone",
        ]
    );
    assert!(plan.differs());
    assert!(!plan.matches());

    // Permitted by name, all of it goes, the Namespace last; `free` is not affected.
    let allowed = super::plan(
        &config,
        &rendered(vec![]),
        &observed,
        &opts().permitting(&["gone".to_string()], false),
    );
    assert!(allowed.kept.is_empty());
    let gone: Vec<String> = shown(&allowed)
        .into_iter()
        .filter(|c| c.contains("tenant-gone"))
        .collect();
    assert_eq!(
        gone,
        [
            "Delete StatefulSet/tenant-gone/db false",
            "Delete Service/tenant-gone/db false",
            "Delete NetworkPolicy/tenant-gone/default-deny-ingress false",
            "Delete Namespace/tenant-gone false",
        ]
    );
    // Without pruning nothing is deleted, and both tenants are said to be kept.
    let no_prune = super::plan(
        &config,
        &rendered(vec![]),
        &observed,
        &PlanOptions::default(),
    );
    assert!(no_prune.changes.is_empty());
    assert_eq!(no_prune.kept.len(), 2);
}

#[test]
fn apply_refusals_are_warned_about_in_the_plan() {
    // `free` is unprotected: its deletion is planned, and apply without a prompt will refuse
    // it unless the tenant is named.
    let config = config_with(&[("acme", true)]);
    let observed = observed_from(
        [
            namespace("acme", true),
            namespace("free", false),
            statefulset("free", 1, "db"),
        ]
        .iter()
        .map(|o| ("local".to_string(), served(o))),
    );
    let desired = rendered(vec![namespace("acme", true)]);
    let plan = plan(&config, &desired, &observed, &opts());
    let kinds: Vec<&str> = plan.warnings.iter().map(|w| w.kind.as_str()).collect();
    assert_eq!(kinds, ["destroy_not_named"], "{:?}", plan.warnings);
    assert!(
        plan.warnings[0].message.contains("--allow-destroy free"),
        "{}",
        plan.warnings[0].message
    );
    let named = super::plan(
        &config,
        &desired,
        &observed,
        &opts().permitting(&["free".to_string()], false),
    );
    assert!(named.warnings.is_empty(), "{:?}", named.warnings);
}

#[test]
fn deletes_of_a_tenant_without_a_readable_namespace_are_protected() {
    let config = config_with(&[]);
    let observed = observed_from([("local".to_string(), served(&statefulset("ghost", 1, "db")))]);
    let plan = plan(&config, &rendered(vec![]), &observed, &opts());
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
    assert_eq!(plan.kept.len(), 1);
    assert!(
        plan.kept[0].reason.contains("unknown"),
        "{}",
        plan.kept[0].reason
    );
    assert_eq!(plan.kept[0].namespace, None);
}

#[test]
fn applies_come_in_wave_order_before_deletes_in_reverse_wave_order() {
    let config = config_with(&[("acme", false)]);
    let ns = namespace("acme", false);
    let old_cron = desired_obj(
        "acme",
        &id("CronJob", Some("tenant-acme"), "old"),
        json!({"metadata": {}}),
    );
    let old_svc = desired_obj(
        "acme",
        &id("Service", Some("tenant-acme"), "old"),
        json!({"metadata": {}}),
    );
    let observed = observed_from(
        [&ns, &old_cron, &old_svc]
            .iter()
            .map(|o| ("local".to_string(), served(o))),
    );
    let desired = rendered(vec![
        ns.clone(),
        statefulset("acme", 1, "db"),
        desired_obj(
            "acme",
            &id("Service", Some("tenant-acme"), "db"),
            json!({"metadata": {}}),
        ),
    ]);
    let plan = plan(&config, &desired, &observed, &opts());
    let shown: Vec<String> = plan
        .changes
        .iter()
        .map(|c| format!("{:?} {}", c.action, c.id))
        .collect();
    assert_eq!(
        shown,
        [
            "Create Service/tenant-acme/db",
            "Create StatefulSet/tenant-acme/db",
            "Delete CronJob/tenant-acme/old",
            "Delete Service/tenant-acme/old",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Drift, conflicts, unreachable clusters, narrowing

#[test]
fn changes_made_outside_berth_are_drift_and_are_reverted_when_correcting() {
    let config = config_with(&[("acme", false)]);
    let sts = statefulset("acme", 3, "db");
    let live = live_obj(&sts, |v| {
        v["spec"]["replicas"] = json!(1);
        v["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = json!("s3cr3t-by-hand");
        v["metadata"]["labels"]["added-by-hand"] = json!("yes");
    });
    let observed = observed_from([("local".to_string(), live)]);
    // Reported, and left as it is: the configuration does not change the object.
    let report = plan(&config, &rendered(vec![sts.clone()]), &observed, &opts());
    assert_eq!(report.drift.len(), 1);
    assert!(report.changes.is_empty(), "{:?}", report.changes);
    assert!(!report.correct_drift);
    let plan = plan(
        &config,
        &rendered(vec![sts]),
        &observed,
        &opts().permitting(&[], true),
    );
    assert_eq!(plan.drift.len(), 1);
    let drift = &plan.drift[0];
    assert_eq!(drift.kind, DriftKind::Changed);
    let fields: Vec<_> = drift
        .fields
        .iter()
        .map(|f| {
            (
                f.path.as_str(),
                f.before.clone(),
                f.after.clone(),
                f.sensitive,
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("spec.replicas", Some(json!(3)), Some(json!(1)), false),
            (
                "spec.template.spec.containers[name=db].env[name=ADMIN_PASSWORD].value",
                Some(json!(SENSITIVE_MARKER)),
                Some(json!(SENSITIVE_MARKER)),
                true
            ),
        ]
    );
    assert_eq!(plan.changes[0].action, Action::Update);
    assert_eq!(plan.changes[0].fields.len(), 2);
    let text = serde_json::to_string(&plan).unwrap();
    assert!(!text.contains("hunter2") && !text.contains("s3cr3t-by-hand"));
}

#[test]
fn report_mode_rewrites_a_drifted_object_only_when_the_configuration_changes_it() {
    let config = config_with(&[("acme", false)]);
    let applied = statefulset("acme", 3, "db");
    // Scaled by hand to 1; the configuration now says 4 replicas.
    let live = live_obj(&applied, |v| v["spec"]["replicas"] = json!(1));
    let observed = observed_from([("local".to_string(), live)]);
    let plan = plan(
        &config,
        &rendered(vec![statefulset("acme", 4, "db")]),
        &observed,
        &opts(),
    );
    assert_eq!(plan.drift.len(), 1);
    assert_eq!(plan.changes.len(), 1, "{:?}", plan.changes);
    assert_eq!(plan.changes[0].action, Action::Update);
    assert_eq!(
        plan.changes[0].fields[0].after,
        Some(json!(4)),
        "{:?}",
        plan.changes[0].fields
    );
}

#[test]
fn report_mode_does_not_create_again_what_was_deleted_outside_berth() {
    let config = config_with(&[("acme", false)]);
    let binding = desired_obj(
        "acme",
        &id("RoleBinding", Some("tenant-acme"), "berth-view"),
        json!({"metadata": {}, "roleRef": {"kind": "ClusterRole", "name": "view"}}),
    );
    // The Namespace's inventory says berth applied the RoleBinding; it is gone.
    let ns = namespace_with(
        "acme",
        &[(
            crate::object::INVENTORY_ANNOTATION,
            "RoleBinding/berth-view",
        )],
    );
    let observed = observed_from([("local".to_string(), ns)]);
    let desired = rendered(vec![namespace("acme", false), binding]);
    let report = plan(&config, &desired, &observed, &opts());
    assert_eq!(report.drift.len(), 1);
    assert_eq!(report.drift[0].kind, DriftKind::Missing);
    assert!(
        report.changes.iter().all(|c| c.id.kind != "RoleBinding"),
        "{:?}",
        report.changes
    );
    let correct = plan(&config, &desired, &observed, &opts().permitting(&[], true));
    assert!(correct
        .changes
        .iter()
        .any(|c| c.id.kind == "RoleBinding" && c.action == Action::Create));
}

#[test]
fn a_scale_down_warns_which_pods_go_and_that_their_volumes_stay() {
    let config = config_with(&[("acme", false)]);
    let with_volume = |replicas: u32| {
        let mut sts = statefulset("acme", replicas, "db");
        let mut v = sts.manifest.to_value();
        v["spec"]["volumeClaimTemplates"] = json!([{"metadata": {"name": "data"}}]);
        sts.manifest = crate::render::Manifest::from_value(&v);
        sts
    };
    let observed = observed_from([("local".to_string(), served(&with_volume(5)))]);
    let plan = plan(&config, &rendered(vec![with_volume(3)]), &observed, &opts());
    let w: Vec<&Warning> = plan
        .warnings
        .iter()
        .filter(|w| w.kind == "scale_down")
        .collect();
    assert_eq!(w.len(), 1, "{:?}", plan.warnings);
    assert!(
        w[0].message
            .contains("from 5 to 3 replicas: pods db-4, db-3 are removed"),
        "{}",
        w[0].message
    );
    assert!(
        w[0].message.contains("volumes (data-db-4, data-db-3) stay"),
        "{}",
        w[0].message
    );
    // Scaling up says nothing.
    let observed = observed_from([("local".to_string(), served(&with_volume(3)))]);
    let up = super::plan(&config, &rendered(vec![with_volume(5)]), &observed, &opts());
    assert!(up.warnings.iter().all(|w| w.kind != "scale_down"));
}

#[test]
fn names_taken_by_unowned_objects_conflict_unless_adopted() {
    let config = config_with(&[("acme", false)]);
    let svc = desired_obj(
        "acme",
        &id("Service", Some("tenant-acme"), "db"),
        json!({"metadata": {}, "spec": {"type": "ClusterIP"}}),
    );
    let mut observed = observed_from([]);
    let mut state = empty_cluster("local");
    state.unowned.push(Unowned {
        id: svc.id.clone(),
        managed_by: Some("helm".into()),
        manifest: json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "db", "namespace": "tenant-acme",
                         "labels": {"app.kubernetes.io/managed-by": "helm"}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.1"}}),
    });
    observed.clusters.insert("local".into(), state);
    let conflict = plan(&config, &rendered(vec![svc.clone()]), &observed, &opts());
    assert!(conflict.changes.is_empty());
    assert_eq!(conflict.conflicts.len(), 1);
    assert_eq!(conflict.conflicts[0].managed_by.as_deref(), Some("helm"));
    let adopt = plan(
        &config,
        &rendered(vec![svc]),
        &observed,
        &PlanOptions {
            adopt: true,
            ..opts()
        },
    );
    assert!(adopt.conflicts.is_empty());
    let change = &adopt.changes[0];
    assert_eq!(change.action, Action::Update);
    assert_eq!(
        change.reason.as_deref(),
        Some("adopts an object managed by `helm`")
    );
    let paths: Vec<_> = change.fields.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "metadata.labels[\"app.kubernetes.io/managed-by\"]",
            "metadata.labels[\"berth.io/tenant\"]"
        ]
    );
}

#[test]
fn unreachable_clusters_get_no_changes() {
    let config = config_with(&[("acme", true)]);
    let mut observed = Observed::default();
    let mut state = empty_cluster("local");
    state.error = Some("cluster `local`: connection refused; check the kubeconfig".into());
    observed.clusters.insert("local".into(), state);
    let plan = plan(
        &config,
        &rendered(vec![namespace("acme", true)]),
        &observed,
        &opts(),
    );
    assert!(plan.changes.is_empty());
    assert_eq!(
        plan.unreachable,
        [(
            "local".to_string(),
            "cluster `local`: connection refused; check the kubeconfig".to_string()
        )]
    );
}

/// A CronJob for `tenant`.
fn cronjob(tenant: &str) -> DesiredObject {
    desired_obj(
        tenant,
        &id(
            "CronJob",
            Some(&format!("tenant-{tenant}")),
            "backup-nightly",
        ),
        json!({"metadata": {}, "spec": {"schedule": "0 2 * * *"}}),
    )
}

#[test]
fn a_kind_that_could_not_be_listed_leaves_out_only_the_tenants_that_have_it() {
    // acme has a backup CronJob, initech none, globex left the configuration. CronJobs
    // could not be listed: acme and globex are unknown, initech is planned.
    let config = config_with(&[("acme", false), ("initech", false)]);
    let desired = rendered(vec![
        namespace("acme", false),
        statefulset("acme", 3, "db"),
        cronjob("acme"),
        namespace("initech", false),
        statefulset("initech", 3, "db"),
    ]);
    let mut observed = observed_from([
        ("local".to_string(), served(&namespace("globex", false))),
        ("local".to_string(), served(&statefulset("globex", 1, "db"))),
    ]);
    let why = "cluster `local`: listing cronjobs.batch failed: 503 Service Unavailable";
    observed.clusters.get_mut("local").unwrap().gaps.kinds = vec![(
        crate::cluster::KindRef::new("batch/v1", "CronJob"),
        why.to_string(),
    )];
    let plan = plan(&config, &desired, &observed, &opts());
    // initech is created whole; nothing of acme is planned; globex is not destroyed.
    let planned: BTreeSet<(&str, Action)> = plan
        .changes
        .iter()
        .map(|c| (c.tenant.as_str(), c.action))
        .collect();
    assert_eq!(planned, BTreeSet::from([("initech", Action::Create)]));
    assert_eq!(plan.changes.len(), 2);
    let unobserved: Vec<(&str, &str)> = plan
        .unobserved
        .iter()
        .map(|u| (u.tenant.as_str(), u.reason.as_str()))
        .collect();
    assert_eq!(unobserved.len(), 2, "{unobserved:?}");
    assert_eq!(unobserved[0].0, "acme");
    assert_eq!(
        unobserved[0].1,
        "CronJob.batch/v1 could not be listed (see below)"
    );
    assert_eq!(unobserved[1].0, "globex");
    assert!(unobserved[1].1.contains("removed from the configuration"));
    assert_eq!(plan.unlisted.len(), 1);
    assert_eq!(plan.unlisted[0].kind, "CronJob.batch/v1");
    assert!(plan.is_partial() && !plan.matches());
}

#[test]
fn an_object_that_could_not_be_read_leaves_out_its_tenant_only() {
    let config = config_with(&[("acme", false), ("initech", false)]);
    let desired = rendered(vec![
        namespace("acme", false),
        statefulset("acme", 3, "db"),
        namespace("initech", false),
        statefulset("initech", 3, "db"),
    ]);
    let mut observed = observed_from([]);
    let mut state = empty_cluster("local");
    state.gaps.objects = vec![(
        statefulset("acme", 3, "db").id,
        "cluster `local`: the connection was reset".into(),
    )];
    observed.clusters.insert("local".into(), state);
    let plan = plan(&config, &desired, &observed, &opts());
    assert!(plan.changes.iter().all(|c| c.tenant == "initech"));
    assert_eq!(plan.changes.len(), 2);
    assert_eq!(plan.unobserved.len(), 1);
    assert_eq!(plan.unobserved[0].tenant, "acme");
    assert!(plan.unlisted.is_empty());
    assert!(plan.is_partial() && !plan.matches());
    // Nothing to change in what was read is still not "No changes".
    let only_acme = rendered(vec![namespace("acme", false), statefulset("acme", 3, "db")]);
    let plan = super::plan(
        &config_with(&[("acme", false)]),
        &only_acme,
        &observed,
        &opts(),
    );
    assert!(plan.changes.is_empty());
    let text = crate::output::to_text(&plan, false);
    assert!(!text.contains("No changes"), "{text}");
    assert!(!text.contains("match"), "{text}");
    assert!(
        text.contains("Nothing to change in what could be read. 1 tenant could not be read"),
        "{text}"
    );
}

#[test]
fn narrowing_to_tenants_and_clusters() {
    let config = config_with(&[("acme", true), ("beta", true)]);
    let observed = observed_from(
        [namespace("old", false)]
            .iter()
            .map(|o| ("local".to_string(), served(o))),
    );
    let desired = rendered(vec![namespace("acme", true), namespace("beta", true)]);
    let only = |tenants: &[&str]| PlanOptions {
        tenants: Some(tenants.iter().map(|t| t.to_string()).collect()),
        ..opts()
    };
    let tenants_of =
        |p: &Plan| -> Vec<String> { p.changes.iter().map(|c| c.tenant.clone()).collect() };
    assert_eq!(
        tenants_of(&plan(&config, &desired, &observed, &only(&["beta"]))),
        ["beta"]
    );
    assert_eq!(
        tenants_of(&plan(&config, &desired, &observed, &only(&["old"]))),
        ["old"]
    );
    let other_cluster = PlanOptions {
        clusters: Some(BTreeSet::from(["eu-1".to_string()])),
        ..opts()
    };
    assert!(plan(&config, &desired, &observed, &other_cluster)
        .changes
        .is_empty());
}

#[test]
fn odd_live_objects_just_differ() {
    let config = config_with(&[("acme", false)]);
    let sts = statefulset("acme", 3, "db");
    let live = LiveObject::new(
        sts.id.clone(),
        &json!({"metadata": {"annotations": {LAST_APPLIED_ANNOTATION: "{not json"},
                 "labels": "nope"}, "spec": []}),
    );
    let observed = observed_from([("local".to_string(), live)]);
    let plan = plan(&config, &rendered(vec![sts]), &observed, &opts());
    assert_eq!(plan.changes.len(), 1);
    assert!(!plan.changes[0].fields.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Speed

fn time_no_change_plan(tenants: usize) -> (usize, std::time::Duration) {
    let (config, desired) = synthetic(tenants);
    let observed = observed_from(
        desired
            .objects
            .iter()
            .map(|o| (o.cluster.clone(), served(o))),
    );
    let start = Instant::now();
    let plan = plan(&config, &desired, &observed, &opts());
    let elapsed = start.elapsed();
    assert!(plan.changes.is_empty() && plan.drift.is_empty());
    (desired.objects.len(), elapsed)
}

#[test]
#[ignore = "timing: run with --ignored in a release build"]
fn ten_thousand_tenants_plan_quickly() {
    let (objects, elapsed) = time_no_change_plan(10_000);
    eprintln!("plan of {objects} unchanged objects: {elapsed:?}");
    assert!(objects > 100_000);
}

// ---------------------------------------------------------------------------------------------
// Restores run once

fn restore_job(tenant: &str, name: &str, image: &str) -> DesiredObject {
    desired_obj(
        tenant,
        &id(
            "Job",
            Some(&format!("tenant-{tenant}")),
            &format!("restore-{name}"),
        ),
        json!({"metadata": {"labels": {"berth.io/restore": name}}, "spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "import", "image": image}]}}}}),
    )
}

/// The tenant's Namespace as served, with annotations added outside the manifest.
fn namespace_with(tenant: &str, annotations: &[(&str, &str)]) -> LiveObject {
    live_obj(&namespace(tenant, false), |v| {
        for (k, val) in annotations {
            v["metadata"]["annotations"][*k] = json!(val);
        }
    })
}

#[test]
fn a_restore_is_requested_once_then_never_created_updated_or_pruned_again() {
    let config = config_with(&[("acme", false)]);
    let ns = namespace("acme", false);
    let job = restore_job("acme", "orders", "kwdb/kwdb:3.1.0");
    let desired = rendered(vec![ns.clone(), job.clone()]);

    // Nothing on the cluster: requested, the Job is created.
    let first = plan(
        &config,
        &desired,
        &observed_from([("local".to_string(), served(&ns))]),
        &opts(),
    );
    assert_eq!(first.changes.len(), 1, "{:?}", first.changes);
    assert_eq!(first.changes[0].id, job.id);
    assert_eq!(first.restores[0].state, RestoreState::Requested);

    // Recorded as completed, Job gone (garbage-collected): nothing to do; the records on
    // the Namespace (and the revision) are not a change nor drift.
    let recorded = namespace_with(
        "acme",
        &[
            (
                "restore.berth.io/orders",
                r#"{"state":"completed","at":"2026-11-25T02:42:00Z"}"#,
            ),
            ("berth.io/revision", "abc123"),
        ],
    );
    let observed = observed_from([("local".to_string(), recorded.clone())]);
    let p = plan(&config, &desired, &observed, &opts());
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert!(p.drift.is_empty(), "{:?}", p.drift);
    assert_eq!(p.restores[0].state, RestoreState::Completed);
    assert_eq!(p.restores[0].record, None, "nothing new to record");

    // The Job still there and its template changed (a new berth version): no update, no
    // replace (that would run it again).
    let changed = restore_job("acme", "orders", "kwdb/kwdb:3.2.0");
    let observed = observed_from([
        ("local".to_string(), served(&ns)),
        ("local".to_string(), served(&job)),
    ]);
    let p = plan(
        &config,
        &rendered(vec![ns.clone(), changed]),
        &observed,
        &opts(),
    );
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert_eq!(p.restores[0].state, RestoreState::Running);
    assert_eq!(
        p.restores[0].record.as_ref().map(|r| r.state),
        Some(restores::RecordState::Started),
        "a Job without a record gets one"
    );

    // The request leaves Git: its Job is not pruned, its record stays listed.
    let observed = observed_from([
        ("local".to_string(), recorded),
        ("local".to_string(), served(&job)),
    ]);
    let p = plan(&config, &rendered(vec![ns]), &observed, &opts());
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert_eq!(p.restores.len(), 1);
    assert!(!p.restores[0].in_config);
    assert_eq!(p.restores[0].state, RestoreState::Completed);
}

#[test]
fn missing_credentials_secrets_are_warnings() {
    let mut config = crate::render::testutil::sample_config();
    let first = config
        .tenants
        .iter()
        .position(|t| !crate::observe::credentials_secrets(t).is_empty())
        .expect("the sample has a credentials Secret");
    config.tenants = vec![config.tenants.swap_remove(first)];
    let t = &config.tenants[0];
    let secret = crate::observe::credentials_secrets(t)
        .into_keys()
        .next()
        .unwrap();
    let desired = Rendered::default();
    let mut state = empty_cluster(&t.cluster);
    state.secrets = Some(vec![("other".into(), secret.clone())]);
    let observed = Observed {
        clusters: [(t.cluster.clone(), state.clone())].into_iter().collect(),
    };
    let p = plan(&config, &desired, &observed, &opts());
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert_eq!(p.warnings[0].kind, "missing_secret");
    state.secrets = Some(vec![(t.namespace.clone(), secret)]);
    let observed = Observed {
        clusters: [(t.cluster.clone(), state)].into_iter().collect(),
    };
    assert!(plan(&config, &desired, &observed, &opts())
        .warnings
        .is_empty());
}
