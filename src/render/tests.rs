use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::testutil::{minimal_tenant, sample_config};
use super::*;

fn render_sample() -> Rendered {
    render(&sample_config(), &TemplateSet::builtin()).unwrap_or_else(|errs| {
        panic!(
            "{}",
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

fn find<'a>(r: &'a Rendered, tenant: &str, kind: &str, name: &str) -> Option<&'a DesiredObject> {
    r.objects
        .iter()
        .find(|o| o.tenant == tenant && o.id.kind == kind && o.id.name == name)
}

fn get(r: &Rendered, tenant: &str, kind: &str, name: &str) -> Json {
    find(r, tenant, kind, name)
        .unwrap_or_else(|| panic!("{kind}/{name} of {tenant} not rendered"))
        .manifest
        .to_value()
}

fn ids(r: &Rendered, tenant: &str) -> Vec<String> {
    r.objects
        .iter()
        .filter(|o| o.tenant == tenant)
        .map(|o| o.id.to_string())
        .collect()
}

fn overrides(name: &str, text: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(name.to_string(), text.to_string())])
}

fn errors_of(r: Result<Rendered, Vec<RenderError>>) -> Vec<RenderError> {
    match r {
        Ok(_) => panic!("expected errors"),
        Err(e) => e,
    }
}

#[test]
fn every_template_renders_and_objects_per_tenant() {
    let r = render_sample();
    assert_eq!(
        ids(&r, "acme"),
        [
            "Namespace/tenant-acme",
            "LimitRange/tenant-acme/tenant-limits",
            "NetworkPolicy/tenant-acme/allow-tenant-ingress",
            "NetworkPolicy/tenant-acme/default-deny-ingress",
            "ResourceQuota/tenant-acme/tenant-quota",
            "RoleBinding/tenant-acme/berth-admin",
            "RoleBinding/tenant-acme/berth-edit",
            "RoleBinding/tenant-acme/berth-view",
            "ServiceAccount/tenant-acme/db",
            "Service/tenant-acme/db",
            "Service/tenant-acme/db-headless",
            "PodDisruptionBudget/tenant-acme/db",
            "StatefulSet/tenant-acme/db",
            "CronJob/tenant-acme/backup-hourly",
            "CronJob/tenant-acme/backup-nightly",
            "Job/tenant-acme/restore-before-migration",
        ]
    );
    let templates: std::collections::BTreeSet<&str> =
        r.objects.iter().map(|o| o.template.as_str()).collect();
    for name in templates::builtin_names() {
        assert!(templates.contains(name), "{name} produced nothing");
    }
}

#[test]
fn sorted_by_cluster_tenant_wave() {
    let r = render_sample();
    // initech is on cluster eu-1, which sorts before local.
    assert_eq!(r.objects[0].tenant, "initech");
    assert_eq!(r.objects[0].cluster, "eu-1");
    for pair in r.objects.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let ka = (&a.cluster, &a.tenant, a.id.wave());
        let kb = (&b.cluster, &b.tenant, b.id.wave());
        assert!(ka <= kb, "{} before {}", a.id, b.id);
    }
}

#[test]
fn ownership_labels_and_source_on_every_object() {
    let r = render_sample();
    assert!(!r.objects.is_empty());
    for o in &r.objects {
        let manifest = o.manifest.to_value();
        let meta = &manifest["metadata"];
        assert_eq!(meta["labels"][MANAGED_BY_LABEL], "berth", "{}", o.id);
        assert_eq!(meta["labels"][TENANT_LABEL], o.tenant.as_str(), "{}", o.id);
        assert_eq!(meta["labels"]["platform"], "dbaas", "{}", o.id);
        assert_eq!(
            meta["annotations"][SOURCE_ANNOTATION],
            o.source_file.as_str(),
            "{}",
            o.id
        );
        let expected = match o.id.kind.as_str() {
            "CronJob" | "Job" => format!("backups/{}.toml", o.tenant),
            _ => format!("tenants/{}.toml", o.tenant),
        };
        assert_eq!(o.source_file, expected, "{}", o.id);
        if o.id.kind != "Namespace" {
            assert_eq!(
                o.id.namespace.as_deref(),
                Some(format!("tenant-{}", o.tenant).as_str())
            );
        }
    }
    assert_eq!(
        get(&r, "initech", "StatefulSet", "db")["metadata"]["labels"]["cost-center"],
        "cc-42"
    );
}

#[test]
fn templates_cannot_override_ownership_labels() {
    let text = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: db\n  labels:\n    app.kubernetes.io/managed-by: someone-else\n    berth.io/tenant: other\n  annotations:\n    berth.io/source: elsewhere\n";
    let set = TemplateSet::new(&overrides("serviceaccount.yaml", text)).unwrap();
    let r = render(&sample_config(), &set).unwrap();
    let sa = get(&r, "acme", "ServiceAccount", "db");
    assert_eq!(sa["metadata"]["labels"][MANAGED_BY_LABEL], "berth");
    assert_eq!(sa["metadata"]["labels"][TENANT_LABEL], "acme");
    assert_eq!(
        sa["metadata"]["annotations"][SOURCE_ANNOTATION],
        "tenants/acme.toml"
    );
    // The namespace was filled in.
    assert_eq!(sa["metadata"]["namespace"], "tenant-acme");
}

#[test]
fn deterministic_output() {
    let a = to_yaml(&render_sample().objects);
    let b = to_yaml(&render_sample().objects);
    assert_eq!(a, b);
    assert!(
        a.starts_with("---\napiVersion: v1\nkind: Namespace\n"),
        "{}",
        &a[..80]
    );
    let j = to_json(&render_sample().objects);
    assert_eq!(j, to_json(&render_sample().objects));
    let list: Json = serde_json::from_str(&j).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        render_sample().objects.len()
    );
}

#[test]
fn template_key_order_is_kept() {
    let r = render_sample();
    let sts = get(&r, "acme", "StatefulSet", "db");
    let keys: Vec<&String> = sts.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["apiVersion", "kind", "metadata", "spec"]);
    let spec_keys: Vec<&String> = sts["spec"].as_object().unwrap().keys().collect();
    assert_eq!(spec_keys[0], "serviceName");
}

#[test]
fn override_replaces_builtin() {
    let text = "apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: custom-limits\n  namespace: {{ tenant.namespace }}\nspec:\n  limits: []\n";
    let set = TemplateSet::new(&overrides("limitrange.yaml", text)).unwrap();
    let r = render(&sample_config(), &set).unwrap();
    assert!(find(&r, "acme", "LimitRange", "custom-limits").is_some());
    assert!(find(&r, "acme", "LimitRange", "tenant-limits").is_none());
    assert!(set
        .templates()
        .iter()
        .any(|t| t.name == "limitrange.yaml" && t.overridden));
}

#[test]
fn override_syntax_error_names_file_and_line() {
    let text = "apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: {{ tenant.name \n";
    let errs = TemplateSet::new(&overrides("limitrange.yaml", text)).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].template.as_deref(),
        Some("templates/limitrange.yaml")
    );
    assert_eq!(errs[0].line, Some(4));
    let shown = errs[0].to_string();
    assert!(
        shown.starts_with("templates/limitrange.yaml:4: syntax error"),
        "{shown}"
    );
}

#[test]
fn unknown_override_lists_builtins() {
    let errs = TemplateSet::new(&overrides("statefullset.yaml", "x")).unwrap_err();
    assert_eq!(errs.len(), 1);
    let help = errs[0].help.as_deref().unwrap();
    assert!(help.contains("did you mean `statefulset.yaml`?"), "{help}");
    assert!(help.contains("namespace.yaml") && help.contains("restore-job.yaml"));
    assert_eq!(
        errs[0].template.as_deref(),
        Some("templates/statefullset.yaml")
    );
}

#[test]
fn undefined_variable_is_an_error() {
    let text = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ tenant.nmae }}\n";
    let set = TemplateSet::new(&overrides("serviceaccount.yaml", text)).unwrap();
    let errs = errors_of(render(&sample_config(), &set));
    assert_eq!(errs.len(), 3, "one per tenant: {errs:?}");
    let e = &errs[0];
    assert_eq!(e.template.as_deref(), Some("templates/serviceaccount.yaml"));
    assert_eq!(e.line, Some(4));
    assert_eq!(e.tenant.as_deref(), Some("acme"));
    assert!(e.message.contains("undefined"), "{}", e.message);
}

#[test]
fn builtin_errors_name_builtin() {
    let mut config = sample_config();
    config.tenants.truncate(1);
    // Rendering a built-in against valid data works; a broken YAML override shows lines of
    // the rendered output.
    let text = "apiVersion: v1\nkind: ServiceAccount\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: indent\n";
    let set = TemplateSet::new(&overrides("serviceaccount.yaml", text)).unwrap();
    let errs = errors_of(render(&config, &set));
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].message.contains("no `metadata`"), "{}", errs[0]);
    assert_eq!(errs[0].line, Some(1));
    assert!(errs[1].message.contains("not valid YAML"), "{}", errs[1]);
    assert_eq!(errs[1].line, Some(8), "{}", errs[1]);
    assert!(errs[1].in_output);
    assert_eq!(
        RenderError {
            template: Some(templates::display_name("pdb.yaml", false)),
            ..RenderError::new("x")
        }
        .to_string(),
        "built-in pdb.yaml: x"
    );
}

#[test]
fn object_in_other_namespace_is_rejected() {
    let text =
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: db\n  namespace: kube-system\n";
    let set = TemplateSet::new(&overrides("serviceaccount.yaml", text)).unwrap();
    let errs = errors_of(render(&sample_config(), &set));
    assert_eq!(errs.len(), 3);
    assert!(errs[0].message.contains("kube-system"), "{}", errs[0]);

    let text = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: db\n";
    let set = TemplateSet::new(&overrides("serviceaccount.yaml", text)).unwrap();
    let errs = errors_of(render(&sample_config(), &set));
    assert!(errs[0].message.contains("cluster-scoped"), "{}", errs[0]);

    let text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kube-system\n";
    let set = TemplateSet::new(&overrides("namespace.yaml", text)).unwrap();
    let errs = errors_of(render(&sample_config(), &set));
    assert!(
        errs[0].message.contains("not the tenant's namespace"),
        "{}",
        errs[0]
    );
}

#[test]
fn duplicate_objects_are_rejected() {
    let text = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: db\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: db\n";
    let set = TemplateSet::new(&overrides("serviceaccount.yaml", text)).unwrap();
    let errs = errors_of(render(&sample_config(), &set));
    assert!(errs[0].message.contains("rendered twice"), "{}", errs[0]);

    // Two tenants sharing a namespace on one cluster.
    let mut config = sample_config();
    config.tenants[1].namespace = "tenant-acme".into();
    let errs = errors_of(render(&config, &TemplateSet::builtin()));
    assert!(
        errs.iter().any(|e| e.message.contains("more than once")),
        "{errs:?}"
    );
}

#[test]
fn paused_database_has_no_replicas_and_no_pdb() {
    let r = render_sample();
    let sts = get(&r, "initech", "StatefulSet", "db");
    assert_eq!(sts["spec"]["replicas"], 0);
    assert_eq!(sts["spec"]["podManagementPolicy"], "Parallel");
    assert!(find(&r, "initech", "PodDisruptionBudget", "db").is_none());
    let vct = &sts["spec"]["volumeClaimTemplates"][0]["spec"];
    assert_eq!(vct["storageClassName"], "fast-ssd");
    let limits = &sts["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"];
    assert_eq!(limits["cpu"], "2");
    assert_eq!(limits["memory"], "2Gi");
}

#[test]
fn statefulset_joins_all_peers() {
    let r = render_sample();
    let sts = get(&r, "acme", "StatefulSet", "db");
    assert_eq!(sts["spec"]["replicas"], 3);
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    let script = c["command"][2].as_str().unwrap();
    assert!(
        script.contains("exec ./kwbase start --insecure"),
        "{script}"
    );
    assert!(script.contains(
        "--join=db-0.db-headless.tenant-acme.svc.cluster.local:26257,db-1.db-headless.tenant-acme.svc.cluster.local:26257,db-2.db-headless.tenant-acme.svc.cluster.local:26257"
    ), "{script}");
    assert!(script.contains("kwbase init --insecure"));
    assert_eq!(c["image"], "kwdb/kwdb:3.1.0");
    assert_eq!(c["env"][0]["name"], "POD_NAME");
    let pdb = get(&r, "acme", "PodDisruptionBudget", "db");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);

    let single = get(&r, "globex", "StatefulSet", "db");
    let script = single["spec"]["template"]["spec"]["containers"][0]["command"][2]
        .as_str()
        .unwrap();
    assert!(script.contains("start-single-node"), "{script}");
    assert!(!script.contains("--join"), "{script}");
    assert!(find(&r, "globex", "PodDisruptionBudget", "db").is_none());
}

#[test]
fn no_members_no_rolebinding() {
    let r = render_sample();
    assert!(!r
        .objects
        .iter()
        .any(|o| o.tenant == "globex" && o.id.kind == "RoleBinding"));
    let admin = get(&r, "acme", "RoleBinding", "berth-admin");
    assert_eq!(admin["roleRef"]["name"], "admin");
    let names: Vec<&str> = admin["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice@acme.example", "carol@acme.example"]);
    assert_eq!(
        admin["subjects"][0]["apiGroup"],
        "rbac.authorization.k8s.io"
    );
    let edit = get(&r, "acme", "RoleBinding", "berth-edit");
    assert_eq!(edit["subjects"][0]["kind"], "Group");
    assert_eq!(edit["subjects"][1]["kind"], "ServiceAccount");
    assert_eq!(edit["subjects"][1]["namespace"], "tenant-acme");
    let view = get(&r, "acme", "RoleBinding", "berth-view");
    assert_eq!(view["subjects"][0]["namespace"], "compliance");
}

#[test]
fn network_policies() {
    let r = render_sample();
    let allow = get(&r, "acme", "NetworkPolicy", "allow-tenant-ingress");
    let from = allow["spec"]["ingress"][0]["from"].as_array().unwrap();
    assert_eq!(from.len(), 3);
    assert_eq!(
        from[1]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "monitoring"
    );
    let deny = get(&r, "acme", "NetworkPolicy", "default-deny-ingress");
    assert_eq!(deny["spec"]["policyTypes"][0], "Ingress");
}

#[test]
fn backup_schedules() {
    let r = render_sample();
    let nightly = get(&r, "acme", "CronJob", "backup-nightly");
    assert_eq!(
        nightly["metadata"]["labels"]["berth.io/schedule"],
        "nightly"
    );
    assert_eq!(nightly["spec"]["schedule"], "0 2 * * *");
    assert_eq!(nightly["spec"]["timeZone"], "Europe/Berlin");
    assert_eq!(nightly["spec"]["suspend"], false);
    assert_eq!(nightly["spec"]["concurrencyPolicy"], "Forbid");
    let pod = &nightly["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let export = &pod["initContainers"][0];
    let env = |c: &Json, name: &str| -> String {
        c["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no env {name}"))["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        env(export, "EXPORT_BASE"),
        "nodelocal://1/backups/acme/nightly"
    );
    assert_eq!(env(export, "FORMAT"), "CSV");
    assert_eq!(env(export, "DATABASES"), "defaultdb sensors");
    assert!(export["command"][2]
        .as_str()
        .unwrap()
        .contains("EXPORT INTO $FORMAT"));
    let retention = &pod["containers"][0];
    assert_eq!(env(retention, "KEEP_LAST"), "7");
    assert_eq!(env(retention, "KEEP_WITHIN_SECONDS"), "1209600");
    assert_eq!(
        pod["volumes"][1]["persistentVolumeClaim"]["claimName"],
        "data-db-0"
    );

    let hourly = get(&r, "acme", "CronJob", "backup-hourly");
    assert!(hourly["spec"].get("timeZone").is_none());
    let pod = &hourly["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(
        env(&pod["initContainers"][0], "EXPORT_BASE"),
        "http://backup-store.storage.svc:8090/kwdb/acme/hourly"
    );
    assert_eq!(env(&pod["initContainers"][0], "FORMAT"), "SQL");
    assert_eq!(
        pod["containers"][0]["envFrom"][0]["secretRef"]["name"],
        "archive-credentials"
    );
    assert_eq!(env(&pod["containers"][0], "KEEP_WITHIN_SECONDS"), "");

    let weekly = get(&r, "globex", "CronJob", "backup-weekly");
    assert_eq!(weekly["spec"]["suspend"], true);
    let pod = &weekly["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let upload = &pod["containers"][0];
    assert_eq!(upload["name"], "upload");
    assert_eq!(env(upload, "S3_URI"), "s3://db-backups/prod/globex/weekly");
    assert_eq!(
        env(upload, "AWS_ENDPOINT_URL"),
        "https://minio.storage.svc:9000"
    );
    assert_eq!(upload["envFrom"][0]["secretRef"]["name"], "s3-credentials");
    assert_eq!(
        pod["volumes"][1]["persistentVolumeClaim"]["claimName"],
        "data-db-1"
    );
    // Credentials are never inlined.
    let text = to_yaml(&r.objects);
    assert!(!text.contains("AWS_SECRET_ACCESS_KEY:"));
}

/// Runs the retention step of a rendered backup CronJob (a pvc location) with the system's
/// `/bin/sh`, against a directory of backups named by their UTC timestamps.
/// `env` overrides the rendered container's environment. Returns the ages of the backups
/// left, youngest first.
fn run_retention(container: &Json, env: &[(&str, &str)], ages_hours: &[i64]) -> Vec<i64> {
    let dir = tempfile::tempdir().unwrap();
    let (local, scratch) = (dir.path().join("backups"), dir.path().join("scratch"));
    std::fs::create_dir_all(&local).unwrap();
    std::fs::create_dir_all(&scratch).unwrap();
    let now = jiff::Timestamp::now();
    let stamp = |hours: i64| {
        (now - jiff::SignedDuration::from_hours(hours))
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string()
    };
    for &h in ages_hours {
        std::fs::create_dir_all(local.join(stamp(h)).join("defaultdb")).unwrap();
    }
    // Not a backup: never listed, never deleted.
    std::fs::create_dir_all(local.join("lost+found")).unwrap();
    // What the export step leaves: the new backup's timestamp.
    std::fs::write(scratch.join("timestamp"), stamp(ages_hours[0])).unwrap();
    let script = container["command"][2]
        .as_str()
        .unwrap()
        .replace("/scratch/", &format!("{}/", scratch.display()));
    assert_eq!(container["command"][1], "-ec");
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-ec")
        .arg(&script)
        .env_clear()
        .env("PATH", "/usr/bin:/bin");
    for e in container["env"].as_array().unwrap() {
        cmd.env(
            e["name"].as_str().unwrap(),
            e["value"].as_str().unwrap_or(""),
        );
    }
    cmd.env("LOCAL_DIR", &local);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut left: Vec<String> = std::fs::read_dir(&local)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.contains(&"lost+found".to_string()), "{left:?}");
    left.retain(|n| n != "lost+found");
    let mut ages: Vec<i64> = left
        .iter()
        .map(|b| {
            let h = ages_hours.iter().find(|&&h| stamp(h) == *b);
            *h.unwrap_or_else(|| panic!("{b} was not a backup"))
        })
        .collect();
    ages.sort_unstable();
    ages
}

/// The retention step of a backup job deletes exactly the backups that are neither among the
/// `keep_last` newest nor younger than `keep_within`, run for real with `/bin/sh`.
#[test]
fn backup_retention_keeps_the_newest_and_the_recent_and_deletes_the_rest() {
    let r = render_sample();
    let nightly = get(&r, "acme", "CronJob", "backup-nightly");
    let retention = &nightly["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(retention["name"], "retention");
    // Nightly backups, 1 hour to 20 days and 1 hour old (the newest is this run's).
    let ages: Vec<i64> = (0..20).map(|d| d * 24 + 1).collect();
    // As rendered: keep_last = 7, keep_within = 14d. Kept: the newest 7, and every backup
    // younger than 14 days (ages up to 13 days and 1 hour): 14 in all.
    assert_eq!(run_retention(retention, &[], &ages), ages[..14]);
    // keep_last alone: the newest 7.
    let keep_last = [("KEEP_WITHIN_SECONDS", "")];
    assert_eq!(run_retention(retention, &keep_last, &ages), ages[..7]);
    // keep_within alone, 3 days: ages 1 h, 1 d 1 h and 2 d 1 h.
    let keep_within = [("KEEP_LAST", ""), ("KEEP_WITHIN_SECONDS", "259200")];
    assert_eq!(run_retention(retention, &keep_within, &ages), ages[..3]);
    // No retention: everything is kept.
    let none = [("KEEP_LAST", ""), ("KEEP_WITHIN_SECONDS", "")];
    assert_eq!(run_retention(retention, &none, &ages), ages);
}

#[test]
fn restore_jobs() {
    let r = render_sample();
    let job = get(&r, "acme", "Job", "restore-before-migration");
    assert_eq!(
        job["metadata"]["labels"]["berth.io/restore"],
        "before-migration"
    );
    assert!(job["spec"].get("ttlSecondsAfterFinished").is_none());
    assert_eq!(job["spec"]["backoffLimit"], 1);
    let pod = &job["spec"]["template"]["spec"];
    let select = &pod["initContainers"][0];
    assert_eq!(
        select["env"][0]["value"],
        "nodelocal://1/backups/acme/nightly"
    );
    assert_eq!(select["env"][1]["value"], "1772323200");
    let import = pod["containers"][0]["command"][2].as_str().unwrap();
    assert!(
        import.contains("IMPORT DATABASE CSV DATA (\\\"$SOURCE/$DB\\\")"),
        "{import}"
    );

    let seed = get(&r, "globex", "Job", "restore-seed");
    let select = &seed["spec"]["template"]["spec"]["initContainers"][0];
    assert!(select["command"][2]
        .as_str()
        .unwrap()
        .contains("aws s3 cp --recursive"));
    let s3 = select["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "S3_URI")
        .unwrap();
    assert_eq!(
        s3["value"],
        "s3://db-backups/prod/acme/nightly/20260101T020000Z"
    );
}

#[test]
fn template_may_produce_no_documents() {
    let set = TemplateSet::new(&overrides("pdb.yaml", "{# nothing #}\n---\n")).unwrap();
    let config = sample_config();
    let objs = render_tenant(&config, &config.tenants[0], &set).unwrap();
    assert!(!objs.iter().any(|o| o.id.kind == "PodDisruptionBudget"));
}

#[test]
fn minimal_tenant_renders() {
    let mut config = sample_config();
    config.tenants = vec![minimal_tenant("solo")];
    let r = render(&config, &TemplateSet::builtin()).unwrap();
    assert_eq!(r.objects.len(), 9);
}

/// Every rendered object deserializes into its `k8s-openapi` type; unknown kinds fail.
#[test]
fn objects_match_kubernetes_types() {
    use k8s_openapi::api::{apps, batch, core, networking, policy, rbac};
    fn check<T: serde::de::DeserializeOwned>(o: &DesiredObject) {
        if let Err(e) = serde_json::from_value::<T>(o.manifest.to_value()) {
            panic!("{} does not deserialize: {e}", o.id);
        }
    }
    let r = render_sample();
    for o in &r.objects {
        match (o.id.api_version.as_str(), o.id.kind.as_str()) {
            ("v1", "Namespace") => check::<core::v1::Namespace>(o),
            ("v1", "ResourceQuota") => check::<core::v1::ResourceQuota>(o),
            ("v1", "LimitRange") => check::<core::v1::LimitRange>(o),
            ("v1", "ServiceAccount") => check::<core::v1::ServiceAccount>(o),
            ("v1", "Service") => check::<core::v1::Service>(o),
            ("networking.k8s.io/v1", "NetworkPolicy") => check::<networking::v1::NetworkPolicy>(o),
            ("rbac.authorization.k8s.io/v1", "RoleBinding") => check::<rbac::v1::RoleBinding>(o),
            ("apps/v1", "StatefulSet") => check::<apps::v1::StatefulSet>(o),
            ("policy/v1", "PodDisruptionBudget") => check::<policy::v1::PodDisruptionBudget>(o),
            ("batch/v1", "CronJob") => check::<batch::v1::CronJob>(o),
            ("batch/v1", "Job") => check::<batch::v1::Job>(o),
            (v, k) => panic!("unexpected kind {v} {k} ({})", o.id),
        }
    }
}

/// Writes the sample render to `$BERTH_RENDER_OUT` (default `target/sample-render.yaml`) for
/// `scripts/validate-rendered.sh`.
#[test]
#[ignore]
fn dump_sample_render() {
    let path = std::env::var("BERTH_RENDER_OUT")
        .unwrap_or_else(|_| "target/sample-render.yaml".to_string());
    std::fs::write(&path, to_yaml(&render_sample().objects)).unwrap();
    eprintln!("wrote {path}");
}

/// Times rendering of many tenants: `cargo test --release --lib render::tests::timing --
/// --ignored --nocapture` (`BERTH_TENANTS` tenants, 10,000 by default).
#[test]
#[ignore]
fn timing() {
    let n: usize = std::env::var("BERTH_TENANTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let config = super::testutil::many_tenants(n);
    let start = std::time::Instant::now();
    let set = TemplateSet::builtin();
    let compiled = start.elapsed();
    let r = render(&config, &set).unwrap();
    let rendered = start.elapsed();
    let yaml = if std::env::var_os("BERTH_NO_YAML").is_some() {
        String::new()
    } else {
        to_yaml(&r.objects)
    };
    let total = start.elapsed();
    eprintln!(
        "{n} tenants -> {} objects: compile {:?}, render {:?}, to_yaml {:?} ({} MB)",
        r.objects.len(),
        compiled,
        rendered - compiled,
        total - rendered,
        yaml.len() / 1_000_000
    );
}

/// Splits the time of rendering into template execution and YAML parsing (single thread).
#[test]
#[ignore]
fn timing_split() {
    let config = super::testutil::many_tenants(1000);
    let set = TemplateSet::builtin();
    let platform = platform_value(&config);
    let start = std::time::Instant::now();
    let mut texts = Vec::new();
    for t in &config.tenants {
        let tv = Value::from(Serde(t));
        for info in set.templates() {
            if info.scope != Scope::Tenant {
                continue;
            }
            let ctx = Value::from(std::collections::BTreeMap::from([
                ("tenant", tv.clone()),
                ("platform", platform.clone()),
            ]));
            texts.push(
                set.env
                    .get_template(info.name)
                    .unwrap()
                    .render(&ctx)
                    .unwrap(),
            );
        }
    }
    let templating = start.elapsed();
    let mut n = 0;
    for text in &texts {
        for doc in split_documents(text) {
            if parse_document(doc.text).unwrap().is_some() {
                n += 1;
            }
        }
    }
    let parsing = start.elapsed() - templating;
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    eprintln!("templating {templating:?}, parsing {parsing:?} ({n} docs, {bytes} bytes)");
}

#[test]
fn input_digests_change_with_what_a_tenant_renders_from_and_nothing_else() {
    let config = sample_config();
    let builtin = TemplateSet::builtin();
    let before = input_digests(&config, &builtin, None);
    assert_eq!(before.len(), config.tenants.len());
    assert!(before.values().all(|d| d.len() == 32));
    // Deterministic, and the same for a subset.
    assert_eq!(before, input_digests(&config, &builtin, None));
    let only: std::collections::BTreeSet<String> = ["acme".to_string()].into();
    let one = input_digests(&config, &builtin, Some(&only));
    assert_eq!(one.len(), 1);
    assert_eq!(one["acme"], before["acme"]);

    // A change to one tenant changes its digest only.
    let mut changed = config.clone();
    let acme = changed
        .tenants
        .iter_mut()
        .find(|t| t.name == "acme")
        .unwrap();
    acme.display_name.push_str(" Inc.");
    let after = input_digests(&changed, &builtin, None);
    for (tenant, digest) in &after {
        assert_eq!(digest == &before[tenant], tenant != "acme", "{tenant}");
    }

    // The revision is not part of it (objects never name the commit).
    let mut other_commit = config.clone();
    other_commit.revision = Some("fedcba9876543210".into());
    assert_eq!(input_digests(&other_commit, &builtin, None), before);

    // Platform-wide context and templates change every tenant's digest.
    let mut labels = config.clone();
    labels.common_labels.insert("team".into(), "data".into());
    let all = input_digests(&labels, &builtin, None);
    assert!(all.iter().all(|(t, d)| d != &before[t]));
    let overridden = TemplateSet::new(&BTreeMap::from([(
        "limitrange.yaml".to_string(),
        "apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: x\nspec:\n  limits: []\n".to_string(),
    )]))
    .unwrap();
    let all = input_digests(&config, &overridden, None);
    assert!(all.iter().all(|(t, d)| d != &before[t]));
}

#[test]
fn scaling_a_multi_node_database_changes_spec_replicas_alone() {
    // Nodes join through fixed seed pods: the pod template, hence every running pod, is the
    // same at any replica count of two or more.
    let sts = |replicas: u32| {
        let mut config = sample_config();
        config.tenants[0].database.replicas.value = replicas;
        let r = render(&config, &TemplateSet::builtin()).unwrap();
        let name = config.tenants[0].name.clone();
        get(&r, &name, "StatefulSet", "db")
    };
    let five = sts(5);
    assert_eq!(five["spec"]["replicas"], 5);
    let command = five["spec"]["template"]["spec"]["containers"][0]["command"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        command.contains("--join=db-0.db-headless.") && command.contains(",db-2.db-headless."),
        "{command}"
    );
    assert!(!command.contains("db-3.db-headless"), "{command}");
    for replicas in [2, 3, 4, 7] {
        let other = sts(replicas);
        assert_eq!(other["spec"]["replicas"], replicas);
        assert_eq!(
            other["spec"]["template"], five["spec"]["template"],
            "{replicas} replicas change the pod template"
        );
    }
}

#[test]
fn restricted_pod_security_labels_the_namespace_and_runs_every_pod_as_non_root() {
    let plain = render(&sample_config(), &TemplateSet::builtin()).unwrap();
    let mut config = sample_config();
    config.pod_security = crate::spec::model::PodSecurityModel {
        level: Some("restricted"),
        run_as_user: Some(1000),
    };
    let r = render(&config, &TemplateSet::builtin()).unwrap();
    // acme has a restore and backup schedules.
    let name = config.tenants[0].name.clone();
    let ns = get(&r, &name, "Namespace", &config.tenants[0].namespace);
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/warn"],
        "restricted"
    );
    let mut pods = 0;
    for o in r.objects.iter().filter(|o| o.tenant == name) {
        let v = o.manifest.to_value();
        let spec = match o.id.kind.as_str() {
            "StatefulSet" | "Job" => v.pointer("/spec/template/spec"),
            "CronJob" => v.pointer("/spec/jobTemplate/spec/template/spec"),
            _ => None,
        };
        let Some(spec) = spec else { continue };
        pods += 1;
        let sc = &spec["securityContext"];
        assert_eq!(sc["runAsNonRoot"], true, "{}", o.id);
        assert_eq!(sc["runAsUser"], 1000, "{}", o.id);
        assert_eq!(sc["fsGroup"], 1000, "{}", o.id);
    }
    assert!(pods >= 3, "a StatefulSet, a CronJob and a Job: {pods}");
    // Without the setting, nothing of it is rendered.
    for o in &plain.objects {
        let text = o.manifest.as_str();
        assert!(!text.contains("runAsNonRoot"), "{}", o.id);
        assert!(!text.contains("pod-security.kubernetes.io"), "{}", o.id);
    }
}
