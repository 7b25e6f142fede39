use super::*;
use serde_json::json;

fn store_with_ns(ns: &str) -> ObjectStore {
    let s = ObjectStore::in_memory().unwrap();
    s.apply(
        "Namespace",
        "",
        ns,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        "test",
        false,
        false,
    )
    .unwrap();
    s
}

fn sts(name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "t", "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "pg", "image": "postgres:16", "ports": [{"containerPort": 5432}],
                    "resources": {"requests": {"cpu": "1000m", "memory": "2048Mi"}}}]}
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10240Mi"}}}}]
        }
    })
}

fn rv(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn apply_creates_with_server_metadata_and_defaults() {
    let s = store_with_ns("t");
    let (obj, created) = s
        .apply(
            "StatefulSet",
            "t",
            "db",
            sts("db", 1),
            "berth",
            false,
            false,
        )
        .unwrap();
    assert!(created);
    let m = &obj["metadata"];
    assert_eq!(m["generation"], json!(1));
    assert_eq!(m["uid"].as_str().unwrap().len(), 36);
    assert!(m["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(rv(&obj), s.resource_version().unwrap());
    let mf = &m["managedFields"][0];
    assert_eq!(mf["manager"], "berth");
    assert_eq!(mf["operation"], "Apply");
    assert_eq!(mf["fieldsType"], "FieldsV1");
    assert_eq!(mf["apiVersion"], "apps/v1");
    assert_eq!(mf["fieldsV1"]["f:spec"]["f:replicas"], json!({}));
    let spec = &obj["spec"];
    assert_eq!(spec["podManagementPolicy"], "OrderedReady");
    assert_eq!(
        spec["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    );
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(
        spec["persistentVolumeClaimRetentionPolicy"]["whenDeleted"],
        "Retain"
    );
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Always");
    assert_eq!(pod["dnsPolicy"], "ClusterFirst");
    assert_eq!(pod["schedulerName"], "default-scheduler");
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
    assert_eq!(pod["securityContext"], json!({}));
    let c = &pod["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["terminationMessagePolicy"], "File");
    assert_eq!(c["ports"][0]["protocol"], "TCP");
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "1", "memory": "2Gi"})
    );
    let vct = &spec["volumeClaimTemplates"][0];
    assert_eq!(vct["spec"]["volumeMode"], "Filesystem");
    assert_eq!(vct["spec"]["resources"]["requests"]["storage"], "10Gi");
    assert_eq!(s.get("StatefulSet", "t", "db").unwrap(), obj);
}

#[test]
fn noop_apply_keeps_resource_version_and_changes_bump_generation() {
    let s = store_with_ns("t");
    let (a, _) = s
        .apply(
            "StatefulSet",
            "t",
            "db",
            sts("db", 1),
            "berth",
            false,
            false,
        )
        .unwrap();
    let (b, created) = s
        .apply(
            "StatefulSet",
            "t",
            "db",
            sts("db", 1),
            "berth",
            false,
            false,
        )
        .unwrap();
    assert!(!created);
    assert_eq!(a, b);
    assert_eq!(rv(&a), s.resource_version().unwrap());
    let (c, _) = s
        .apply(
            "StatefulSet",
            "t",
            "db",
            sts("db", 3),
            "berth",
            false,
            false,
        )
        .unwrap();
    assert!(rv(&c) > rv(&a));
    assert_eq!(c["metadata"]["generation"], 2);
    assert_eq!(c["spec"]["replicas"], 3);
    // Only labels change: resource version moves, generation does not.
    let mut p = sts("db", 3);
    p["metadata"]["labels"]["extra"] = json!("x");
    let (d, _) = s
        .apply("StatefulSet", "t", "db", p, "berth", false, false)
        .unwrap();
    assert!(rv(&d) > rv(&c));
    assert_eq!(d["metadata"]["generation"], 2);
    // The same values written in another notation are no change either.
    let mut p = sts("db", 3);
    p["metadata"]["labels"]["extra"] = json!("x");
    p["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("1");
    let (e, _) = s
        .apply("StatefulSet", "t", "db", p, "berth", false, false)
        .unwrap();
    assert_eq!(rv(&e), rv(&d));
}

#[test]
fn fields_no_longer_applied_are_removed() {
    let s = store_with_ns("t");
    let cm = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1", "b": "2"}}, "data": data});
    s.apply(
        "ConfigMap",
        "t",
        "c",
        cm(json!({"x": "1", "y": "2"})),
        "berth",
        false,
        false,
    )
    .unwrap();
    let mut p = cm(json!({"x": "1"}));
    p["metadata"]["labels"] = json!({"a": "1"});
    let (o, _) = s
        .apply("ConfigMap", "t", "c", p, "berth", false, false)
        .unwrap();
    assert_eq!(o["data"], json!({"x": "1"}));
    assert_eq!(o["metadata"]["labels"], json!({"a": "1"}));
    // A field another manager also owns stays.
    s.apply("ConfigMap", "t", "c", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"z": "3"}}), "other", false, false).unwrap();
    let (o, _) = s
        .apply(
            "ConfigMap",
            "t",
            "c",
            cm(json!({"x": "1", "z": "3"})),
            "berth",
            false,
            false,
        )
        .unwrap();
    assert_eq!(o["data"], json!({"x": "1", "z": "3"}));
    let (o, _) = s
        .apply(
            "ConfigMap",
            "t",
            "c",
            cm(json!({"x": "1"})),
            "berth",
            false,
            false,
        )
        .unwrap();
    assert_eq!(
        o["data"],
        json!({"x": "1", "z": "3"}),
        "still owned by other"
    );
}

#[test]
fn conflicts_with_other_managers_and_force() {
    let s = store_with_ns("t");
    s.apply(
        "StatefulSet",
        "t",
        "db",
        sts("db", 1),
        "berth",
        false,
        false,
    )
    .unwrap();
    // Same value from another manager: shared ownership, no conflict.
    let (o, _) = s
        .apply(
            "StatefulSet",
            "t",
            "db",
            sts("db", 1),
            "kubectl",
            false,
            false,
        )
        .unwrap();
    assert_eq!(o["metadata"]["managedFields"].as_array().unwrap().len(), 2);
    // A different value: conflict naming the manager and the field.
    let e = s.apply("StatefulSet", "t", "db", json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {"replicas": 5}}), "hpa", false, false).unwrap_err();
    assert_eq!(e.code(), 409);
    assert_eq!(e.reason(), "Conflict");
    assert!(e.message().contains("conflict"), "{}", e.message());
    assert!(e.message().contains("\"berth\""), "{}", e.message());
    assert!(
        e.causes().iter().any(|c| c.field == ".spec.replicas"),
        "{:?}",
        e.causes()
    );
    let status = e.to_status();
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(status["code"], 409);
    assert_eq!(status["details"]["causes"][0]["field"], ".spec.replicas");
    // Forced: the value changes and ownership moves.
    let (o, _) = s.apply("StatefulSet", "t", "db", json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {"replicas": 5}}), "hpa", true, false).unwrap();
    assert_eq!(o["spec"]["replicas"], 5);
    let owners: Vec<&str> = o["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["fieldsV1"]["f:spec"].get("f:replicas").is_some())
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert_eq!(owners, vec!["hpa"]);
    // berth no longer owns replicas: applying without it leaves hpa's value.
    let mut p = sts("db", 1);
    p["spec"].as_object_mut().unwrap().remove("replicas");
    let (o, _) = s
        .apply("StatefulSet", "t", "db", p, "berth", false, false)
        .unwrap();
    assert_eq!(o["spec"]["replicas"], 5);
}

#[test]
fn dry_run_does_not_store() {
    let s = store_with_ns("t");
    let before = s.resource_version().unwrap();
    let (o, created) = s
        .apply("StatefulSet", "t", "db", sts("db", 1), "berth", false, true)
        .unwrap();
    assert!(created);
    assert!(o["metadata"].get("resourceVersion").is_none());
    assert!(o["metadata"].get("uid").is_none());
    assert_eq!(o["spec"]["podManagementPolicy"], "OrderedReady");
    assert_eq!(s.resource_version().unwrap(), before);
    assert_eq!(s.get("StatefulSet", "t", "db").unwrap_err().code(), 404);
    s.apply(
        "StatefulSet",
        "t",
        "db",
        sts("db", 1),
        "berth",
        false,
        false,
    )
    .unwrap();
    let (o, created) = s
        .apply("StatefulSet", "t", "db", sts("db", 4), "berth", false, true)
        .unwrap();
    assert!(!created);
    assert_eq!(o["spec"]["replicas"], 4);
    assert_eq!(
        s.get("StatefulSet", "t", "db").unwrap()["spec"]["replicas"],
        1
    );
}

#[test]
fn immutable_statefulset_fields() {
    let s = store_with_ns("t");
    s.apply(
        "StatefulSet",
        "t",
        "db",
        sts("db", 1),
        "berth",
        false,
        false,
    )
    .unwrap();
    let mut p = sts("db", 1);
    p["spec"]["serviceName"] = json!("other");
    let e = s
        .apply("StatefulSet", "t", "db", p, "berth", false, false)
        .unwrap_err();
    assert_eq!(e.code(), 422);
    assert_eq!(e.reason(), "Invalid");
    assert_eq!(
        e.message(),
        "StatefulSet.apps \"db\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
    );
    assert_eq!(e.causes()[0].field, "spec");
    assert_eq!(e.to_status()["details"]["kind"], "StatefulSet");
    // Storage in a claim template is immutable too; the template may change.
    let mut p = sts("db", 1);
    p["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] =
        json!("20Gi");
    assert_eq!(
        s.apply("StatefulSet", "t", "db", p, "berth", false, false)
            .unwrap_err()
            .code(),
        422
    );
    let mut p = sts("db", 1);
    p["spec"]["template"]["spec"]["containers"][0]["image"] = json!("postgres:17");
    assert!(s
        .apply("StatefulSet", "t", "db", p, "berth", false, false)
        .is_ok());
}

#[test]
fn other_immutable_fields() {
    let s = store_with_ns("t");
    let svc = |ip: Option<&str>| {
        let mut v = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"}, "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}]}});
        if let Some(ip) = ip {
            v["spec"]["clusterIP"] = json!(ip);
        }
        v
    };
    let (o, _) = s
        .apply("Service", "t", "db", svc(None), "berth", false, false)
        .unwrap();
    let ip = o["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(ip.starts_with("10.96."), "{ip}");
    assert_eq!(o["spec"]["clusterIPs"], json!([ip]));
    assert_eq!(o["spec"]["type"], "ClusterIP");
    assert_eq!(o["spec"]["sessionAffinity"], "None");
    assert_eq!(o["spec"]["ipFamilies"], json!(["IPv4"]));
    assert_eq!(o["spec"]["ipFamilyPolicy"], "SingleStack");
    assert_eq!(
        o["spec"]["ports"][0],
        json!({"port": 5432, "protocol": "TCP", "targetPort": 5432})
    );
    let e = s
        .apply(
            "Service",
            "t",
            "db",
            svc(Some("10.96.99.99")),
            "berth",
            false,
            false,
        )
        .unwrap_err();
    assert_eq!(e.code(), 422);
    assert!(
        e.message().contains("may not change once set"),
        "{}",
        e.message()
    );
    let (h, _) = s
        .apply(
            "Service",
            "t",
            "hl",
            {
                let mut v = svc(Some("None"));
                v["metadata"]["name"] = json!("hl");
                v
            },
            "berth",
            false,
            false,
        )
        .unwrap();
    assert_eq!(h["spec"]["clusterIP"], "None");
    let (o2, _) = s
        .apply(
            "Service",
            "t",
            "db2",
            {
                let mut v = svc(None);
                v["metadata"]["name"] = json!("db2");
                v
            },
            "berth",
            false,
            false,
        )
        .unwrap();
    assert_ne!(o2["spec"]["clusterIP"], o["spec"]["clusterIP"]);

    let pvc = |size: &str, mode: &str| json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "d"}, "spec": {"accessModes": [mode], "resources": {"requests": {"storage": size}}}});
    let (p, _) = s
        .apply(
            "PersistentVolumeClaim",
            "t",
            "d",
            pvc("1024Mi", "ReadWriteOnce"),
            "berth",
            false,
            false,
        )
        .unwrap();
    assert_eq!(p["spec"]["resources"]["requests"]["storage"], "1Gi");
    assert_eq!(p["spec"]["volumeMode"], "Filesystem");
    // Only a bound claim's storage request may change.
    s.set_status("PersistentVolumeClaim", "t", "d", json!({"phase": "Bound"}))
        .unwrap();
    assert!(s
        .apply(
            "PersistentVolumeClaim",
            "t",
            "d",
            pvc("2Gi", "ReadWriteOnce"),
            "berth",
            false,
            false
        )
        .is_ok());
    let e = s
        .apply(
            "PersistentVolumeClaim",
            "t",
            "d",
            pvc("1Gi", "ReadWriteOnce"),
            "berth",
            false,
            false,
        )
        .unwrap_err();
    assert!(
        e.message().contains("spec.resources.requests.storage"),
        "{}",
        e.message()
    );
    assert_eq!(
        s.apply(
            "PersistentVolumeClaim",
            "t",
            "d",
            pvc("2Gi", "ReadWriteMany"),
            "berth",
            false,
            false
        )
        .unwrap_err()
        .code(),
        422
    );

    let job = |image: &str| json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": image}]}}}});
    let (j, _) = s
        .apply("Job", "t", "j", job("busybox:1"), "berth", false, false)
        .unwrap();
    assert_eq!(j["spec"]["backoffLimit"], 6);
    assert_eq!(j["spec"]["completions"], 1);
    assert_eq!(j["spec"]["parallelism"], 1);
    assert_eq!(j["spec"]["template"]["spec"]["restartPolicy"], "Never");
    let e = s
        .apply("Job", "t", "j", job("busybox:2"), "berth", false, false)
        .unwrap_err();
    assert!(e.message().contains("spec.template"), "{}", e.message());
    let mut bad = job("x:1");
    bad["metadata"]["name"] = json!("j2");
    bad["spec"]["template"]["spec"]
        .as_object_mut()
        .unwrap()
        .remove("restartPolicy");
    let e = s
        .apply("Job", "t", "j2", bad, "berth", false, false)
        .unwrap_err();
    assert!(e.message().contains("restartPolicy"), "{}", e.message());

    let dep = |app: &str| json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"}, "spec": {"selector": {"matchLabels": {"app": app}}, "template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    let (d, _) = s
        .apply("Deployment", "t", "w", dep("a"), "berth", false, false)
        .unwrap();
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "Always"
    );
    let e = s
        .apply("Deployment", "t", "w", dep("b"), "berth", false, false)
        .unwrap_err();
    assert!(e.message().contains("spec.selector"), "{}", e.message());
}

#[test]
fn a_statefulset_selector_must_select_something_and_its_template() {
    let s = store_with_ns("t");
    let refused = |sel: Value| {
        let mut o = sts("db", 1);
        o["spec"]["selector"] = sel;
        let e = s
            .apply("StatefulSet", "t", "db", o, "berth", false, false)
            .unwrap_err();
        assert_eq!(e.reason(), "Invalid");
        e.message().to_string()
    };
    assert!(refused(json!({}))
        .ends_with("spec.selector: Invalid value: {}: empty selector is invalid for statefulset"));
    assert!(refused(
        json!({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["db"]}]})
    )
    .contains("`selector` does not match template `labels`"));
    assert!(refused(
        json!({"matchExpressions": [{"key": "app", "operator": "Gt", "values": ["1"]}]})
    )
    .contains("\"Gt\" is not a valid label selector operator"));
    let mut ok = sts("db", 1);
    ok["spec"]["selector"] =
        json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["db", "web"]}]});
    s.apply("StatefulSet", "t", "db", ok, "berth", false, false)
        .unwrap();
}

#[test]
fn commit_listeners_hear_each_committed_write_once_it_is_readable() {
    let s = store_with_ns("t");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (reader, log) = (s.clone(), seen.clone());
    s.on_commit(move || log.lock().unwrap().push(reader.resource_version().unwrap()));
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}});
    let (o, _) = s
        .apply("ConfigMap", "t", "c", cm, "m", false, false)
        .unwrap();
    let rv: u64 = o["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![rv],
        "called once, after the write is visible"
    );
    // A refused write commits nothing and calls no one.
    let bad = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}});
    s.apply("ConfigMap", "t", "Bad_Name", bad, "m", false, false)
        .unwrap_err();
    assert_eq!(seen.lock().unwrap().len(), 1);
    // Clones share the listeners.
    s.clone()
        .delete("ConfigMap", "t", "c", Propagation::Background)
        .unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[test]
fn a_cronjob_schedule_or_time_zone_the_controller_cannot_read_is_invalid() {
    let s = store_with_ns("t");
    let cj = |schedule: &str, tz: Option<&str>| {
        let mut o = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "b"}, "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "backup:1"}]}}}}}});
        if let Some(tz) = tz {
            o["spec"]["timeZone"] = json!(tz);
        }
        o
    };
    let refused = |o: Value| {
        let e = s
            .apply("CronJob", "t", "b", o, "berth", false, false)
            .unwrap_err();
        assert_eq!(e.reason(), "Invalid");
        e.message().to_string()
    };
    assert_eq!(
        refused(cj("0 0 * * 7", None)),
        "CronJob.batch \"b\" is invalid: spec.schedule: Invalid value: \"0 0 * * 7\": end of range (7) above maximum (6): 7"
    );
    assert!(refused(cj("CRON_TZ=UTC 0 * * * *", None))
        .ends_with("cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));
    assert_eq!(
        refused(cj("0 2 * * *", Some("Europe/Atlantis"))),
        "CronJob.batch \"b\" is invalid: spec.timeZone: Invalid value: \"Europe/Atlantis\": unknown time zone Europe/Atlantis"
    );
    let mut long = cj("0 2 * * *", None);
    let name = "b".repeat(53);
    long["metadata"]["name"] = json!(name);
    let e = s
        .apply("CronJob", "t", &name, long, "berth", false, false)
        .unwrap_err();
    assert!(
        e.message().ends_with("metadata.name: Invalid value: \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\": must be no more than 52 characters"),
        "{}",
        e.message()
    );
    let (o, _) = s
        .apply(
            "CronJob",
            "t",
            "b",
            cj("0 2 * * *", Some("Europe/Berlin")),
            "berth",
            false,
            false,
        )
        .unwrap();
    assert_eq!(o["spec"]["timeZone"], "Europe/Berlin");
}

#[test]
fn cronjob_namespace_and_quota_defaults() {
    let s = store_with_ns("t");
    let ns = s.get("Namespace", "", "t").unwrap();
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "t");
    let cj = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "b"}, "spec": {"schedule": "0 1 * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "backup:1"}]}}}}}});
    let (o, _) = s
        .apply("CronJob", "t", "b", cj, "berth", false, false)
        .unwrap();
    assert_eq!(o["spec"]["concurrencyPolicy"], "Allow");
    assert_eq!(o["spec"]["suspend"], false);
    assert_eq!(o["spec"]["successfulJobsHistoryLimit"], 3);
    assert_eq!(o["spec"]["failedJobsHistoryLimit"], 1);
    let ps = &o["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(ps["restartPolicy"], "OnFailure");
    assert_eq!(ps["dnsPolicy"], "ClusterFirst");
    let rq = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": {"hard": {"requests.cpu": "4000m", "requests.storage": "1024Gi", "pods": 10}}});
    let (o, _) = s
        .apply("ResourceQuota", "t", "q", rq, "berth", false, false)
        .unwrap();
    assert_eq!(
        o["spec"]["hard"],
        json!({"requests.cpu": "4", "requests.storage": "1Ti", "pods": "10"})
    );
    let bad = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q2"}, "spec": {"hard": {"cpu": "lots"}}});
    assert_eq!(
        s.apply("ResourceQuota", "t", "q2", bad, "berth", false, false)
            .unwrap_err()
            .code(),
        422
    );
    let lr = json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l"}, "spec": {"limits": [{"type": "Container", "default": {"memory": "512Mi", "cpu": "500m"}, "max": {"memory": "4096Mi"}}]}});
    let (o, _) = s
        .apply("LimitRange", "t", "l", lr, "berth", false, false)
        .unwrap();
    assert_eq!(o["spec"]["limits"][0]["max"]["memory"], "4Gi");
    assert_eq!(o["spec"]["limits"][0]["default"]["cpu"], "500m");
}

#[test]
fn validation_of_names_and_namespaces() {
    let s = store_with_ns("t");
    let cm =
        |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
    let e = s
        .apply(
            "ConfigMap",
            "t",
            "Bad_Name",
            cm("Bad_Name"),
            "berth",
            false,
            false,
        )
        .unwrap_err();
    assert_eq!(e.code(), 422);
    assert!(
        e.message()
            .starts_with("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value"),
        "{}",
        e.message()
    );
    let e = s
        .apply("ConfigMap", "missing", "c", cm("c"), "berth", false, false)
        .unwrap_err();
    assert_eq!(e.code(), 404);
    assert_eq!(e.message(), "namespaces \"missing\" not found");
    let e = s
        .apply("ConfigMap", "t", "c", cm("d"), "berth", false, false)
        .unwrap_err();
    assert_eq!(e.code(), 400);
    let e = s
        .apply("StatefulSet", "t", "c", cm("c"), "berth", false, false)
        .unwrap_err();
    assert_eq!(e.code(), 400);
    assert_eq!(s.get("Widget", "t", "c").unwrap_err().code(), 404);
    let mut bad_labels = cm("c");
    bad_labels["metadata"]["labels"] = json!({"a": "not valid!"});
    assert_eq!(
        s.apply("ConfigMap", "t", "c", bad_labels, "berth", false, false)
            .unwrap_err()
            .code(),
        422
    );
}

#[test]
fn status_update_delete_and_namespace_cascade() {
    let s = store_with_ns("t");
    let (o, _) = s
        .apply(
            "StatefulSet",
            "t",
            "db",
            sts("db", 2),
            "berth",
            false,
            false,
        )
        .unwrap();
    let st = s
        .set_status(
            "StatefulSet",
            "t",
            "db",
            json!({"replicas": 2, "readyReplicas": 2}),
        )
        .unwrap();
    assert!(rv(&st) > rv(&o));
    assert_eq!(st["metadata"]["generation"], 1);
    assert_eq!(st["status"]["readyReplicas"], 2);
    // Applies never touch status.
    let mut p = sts("db", 3);
    p["status"] = json!({"readyReplicas": 0});
    let (o, _) = s
        .apply("StatefulSet", "t", "db", p, "berth", false, false)
        .unwrap();
    assert_eq!(o["status"]["readyReplicas"], 2);

    // PUT with a stale resource version conflicts.
    let mut stale = st.clone();
    stale["spec"]["replicas"] = json!(7);
    let e = s
        .update("StatefulSet", "t", "db", stale, "kubectl-edit", false)
        .unwrap_err();
    assert_eq!(e.code(), 409);
    assert!(e.message().contains("the object has been modified; please apply your changes to the latest version and try again"));
    let mut fresh = s.get("StatefulSet", "t", "db").unwrap();
    fresh["spec"]["replicas"] = json!(7);
    let u = s
        .update("StatefulSet", "t", "db", fresh, "kubectl-edit", false)
        .unwrap();
    assert_eq!(u["spec"]["replicas"], 7);
    assert!(u["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["manager"] == "kubectl-edit" && e["operation"] == "Update"));
    // Now berth's apply of replicas conflicts with kubectl-edit.
    let e = s
        .apply(
            "StatefulSet",
            "t",
            "db",
            sts("db", 3),
            "berth",
            false,
            false,
        )
        .unwrap_err();
    assert_eq!(e.code(), 409);
    // Merge patch.
    let m = s
        .merge_patch(
            "StatefulSet",
            "t",
            "db",
            &json!({"metadata": {"labels": {"x": "y"}}}),
            "kubectl-patch",
            false,
        )
        .unwrap();
    assert_eq!(m["metadata"]["labels"]["x"], "y");
    // Create refuses an existing object.
    let e = s
        .create("StatefulSet", "t", sts("db", 1), "kubectl-create", false)
        .unwrap_err();
    assert_eq!((e.code(), e.reason()), (409, "AlreadyExists"));
    assert_eq!(e.message(), "statefulsets.apps \"db\" already exists");
    let c = s
        .create(
            "ConfigMap",
            "t",
            json!({"metadata": {"generateName": "x-"}}),
            "kubectl-create",
            false,
        )
        .unwrap();
    assert!(c["metadata"]["name"].as_str().unwrap().starts_with("x-"));

    let gone = s
        .delete("StatefulSet", "t", "db", Propagation::Background)
        .unwrap();
    assert_eq!(gone["metadata"]["name"], "db");
    let e = s
        .delete("StatefulSet", "t", "db", Propagation::Background)
        .unwrap_err();
    assert_eq!(e.message(), "statefulsets.apps \"db\" not found");
    s.apply(
        "StatefulSet",
        "t",
        "db",
        sts("db", 2),
        "berth",
        false,
        false,
    )
    .unwrap();
    s.delete("Namespace", "", "t", Propagation::Foreground)
        .unwrap();
    assert_eq!(s.get("StatefulSet", "t", "db").unwrap_err().code(), 404);
    assert_eq!(s.len().unwrap(), 0);
}

fn cm(ns: &str, name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "labels": labels}, "data": {"k": "v"}})
}

#[test]
fn pagination_is_stable_while_objects_are_added() {
    let s = store_with_ns("a");
    s.apply(
        "Namespace",
        "",
        "b",
        json!({"metadata": {"name": "b"}}),
        "t",
        false,
        false,
    )
    .unwrap();
    let mut objs = Vec::new();
    for i in 0..250 {
        objs.push(cm(
            if i % 2 == 0 { "a" } else { "b" },
            &format!("c{i:04}"),
            json!({"n": (i % 3).to_string()}),
        ));
    }
    s.apply_all(&objs, "t", false, false).unwrap();
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = s
            .list(
                "ConfigMap",
                None,
                &LabelSelector::everything(),
                Some(40),
                token.as_deref(),
            )
            .unwrap();
        pages += 1;
        for it in &page.items {
            seen.push(format!(
                "{}/{}",
                it["metadata"]["namespace"].as_str().unwrap(),
                it["metadata"]["name"].as_str().unwrap()
            ));
        }
        // Add objects before and after the cursor while paging.
        s.apply(
            "ConfigMap",
            "a",
            &format!("a-new{pages}"),
            cm("a", &format!("a-new{pages}"), json!({})),
            "t",
            false,
            false,
        )
        .unwrap();
        s.apply(
            "ConfigMap",
            "b",
            &format!("z-new{pages}"),
            cm("b", &format!("z-new{pages}"), json!({})),
            "t",
            false,
            false,
        )
        .unwrap();
        match page.continue_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "duplicates");
    for i in 0..250 {
        let key = format!("{}/c{i:04}", if i % 2 == 0 { "a" } else { "b" });
        assert!(seen.contains(&key), "skipped {key}");
    }
    assert_eq!(seen, sorted, "ordered by namespace then name");
    let one_ns = s
        .list(
            "ConfigMap",
            Some("a"),
            &LabelSelector::everything(),
            None,
            None,
        )
        .unwrap();
    assert!(one_ns
        .items
        .iter()
        .all(|i| i["metadata"]["namespace"] == "a"));
    assert_eq!(
        one_ns.resource_version,
        s.resource_version().unwrap().to_string()
    );
    assert!(one_ns.continue_token.is_none());
    assert_eq!(
        s.list(
            "ConfigMap",
            None,
            &LabelSelector::everything(),
            None,
            Some("zz!")
        )
        .unwrap_err()
        .code(),
        400
    );
}

#[test]
fn label_selectors_filter_lists() {
    let s = store_with_ns("a");
    for (name, labels) in [
        ("one", json!({"app": "db", "tier": "main"})),
        ("two", json!({"app": "db", "tier": "replica"})),
        ("three", json!({"app": "web"})),
        ("four", json!({})),
    ] {
        s.apply(
            "ConfigMap",
            "a",
            name,
            cm("a", name, labels),
            "t",
            false,
            false,
        )
        .unwrap();
    }
    let names = |sel: &str| -> Vec<String> {
        let sel = LabelSelector::parse(sel).unwrap();
        let mut v: Vec<String> = s
            .list("ConfigMap", Some("a"), &sel, None, None)
            .unwrap()
            .items
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("app=db"), vec!["one", "two"]);
    assert_eq!(names("app==db,tier!=main"), vec!["two"]);
    assert_eq!(names("app!=db"), vec!["four", "three"]);
    assert_eq!(names("tier in (main,replica)"), vec!["one", "two"]);
    assert_eq!(names("app notin (db)"), vec!["four", "three"]);
    assert_eq!(names("tier"), vec!["one", "two"]);
    assert_eq!(names("!app"), vec!["four"]);
    // Selection agrees with the in-memory matcher.
    for sel in ["app=db", "!tier", "app notin (web),tier"] {
        let parsed = LabelSelector::parse(sel).unwrap();
        for item in s
            .list(
                "ConfigMap",
                Some("a"),
                &LabelSelector::everything(),
                None,
                None,
            )
            .unwrap()
            .items
        {
            let listed =
                names(sel).contains(&item["metadata"]["name"].as_str().unwrap().to_string());
            assert_eq!(listed, parsed.matches_object(&item), "{sel}");
        }
    }
}

#[test]
fn file_store_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let s = ObjectStore::open(&path).unwrap();
        s.apply(
            "Namespace",
            "",
            "p",
            json!({"metadata": {"name": "p"}}),
            "t",
            false,
            false,
        )
        .unwrap();
        s.apply(
            "ConfigMap",
            "p",
            "c",
            cm("p", "c", json!({"a": "b"})),
            "t",
            false,
            false,
        )
        .unwrap();
    }
    let s = ObjectStore::open(&path).unwrap();
    assert_eq!(s.get("ConfigMap", "p", "c").unwrap()["data"]["k"], "v");
    assert_eq!(s.resource_version().unwrap(), 2);
    let (o, _) = s
        .apply(
            "ConfigMap",
            "p",
            "d",
            cm("p", "d", json!({})),
            "t",
            false,
            false,
        )
        .unwrap();
    assert_eq!(rv(&o), 3);
}

#[test]
fn apply_all_is_all_or_nothing() {
    let s = store_with_ns("a");
    let objs = vec![cm("a", "good", json!({})), cm("a", "Bad", json!({}))];
    assert!(s.apply_all(&objs, "t", false, false).is_err());
    assert_eq!(s.get("ConfigMap", "a", "good").unwrap_err().code(), 404);
}

#[test]
fn rfc3339_formatting() {
    assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(format_rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
    assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
}

#[test]
fn large_lists_are_fast() {
    let s = store_with_ns("big");
    let n = 120_000;
    {
        // Bulk-load rows directly: this test measures LIST, not the write path.
        let info = kind_by_name("ConfigMap").unwrap();
        let mut conn = s.lock().unwrap();
        let tx = conn.transaction().unwrap();
        for i in 0..n {
            let name = format!("cm-{i:06}");
            let t = Target {
                info,
                ns: "big",
                name: &name,
                lifecycle: false,
            };
            let obj = cm("big", &name, json!({"shard": (i % 100).to_string()}));
            let rv = next_rv(&tx).unwrap();
            save(&tx, &t, &obj, rv).unwrap();
        }
        tx.commit().unwrap();
    }
    let start = std::time::Instant::now();
    let mut token = None;
    let mut total = 0;
    let mut pages = 0;
    loop {
        let page = s
            .list(
                "ConfigMap",
                Some("big"),
                &LabelSelector::everything(),
                Some(500),
                token.as_deref(),
            )
            .unwrap();
        total += page.items.len();
        pages += 1;
        match page.continue_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    let per_page = start.elapsed() / pages;
    assert_eq!(total, n);
    // Generous bound for unoptimised builds on slow machines; typically a few ms.
    assert!(
        per_page < std::time::Duration::from_millis(100),
        "{per_page:?} per page"
    );
    let sel = LabelSelector::parse("shard=7").unwrap();
    let start = std::time::Instant::now();
    let page = s
        .list("ConfigMap", Some("big"), &sel, Some(500), None)
        .unwrap();
    assert_eq!(page.items.len(), 500);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    eprintln!(
        "list page of 500 of {n}: {per_page:?}; selective page: {:?}",
        start.elapsed()
    );
}

#[test]
fn apply_with_a_stale_resource_version_is_a_conflict() {
    let s = store_with_ns("t");
    let (first, _) = s
        .apply("StatefulSet", "t", "db", sts("db", 1), "m", false, false)
        .unwrap();
    s.apply("StatefulSet", "t", "db", sts("db", 2), "m", false, false)
        .unwrap();
    let mut stale = sts("db", 3);
    stale["metadata"]["resourceVersion"] = first["metadata"]["resourceVersion"].clone();
    let err = s
        .apply("StatefulSet", "t", "db", stale, "m", true, false)
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    let now = s.get("StatefulSet", "t", "db").unwrap();
    assert_eq!(now["spec"]["replicas"], 2);
    let mut fresh = sts("db", 3);
    fresh["metadata"]["resourceVersion"] = now["metadata"]["resourceVersion"].clone();
    s.apply("StatefulSet", "t", "db", fresh, "m", true, false)
        .unwrap();
}

fn cm_in(s: &ObjectStore, ns: &str, name: &str) {
    s.apply(
        "ConfigMap",
        ns,
        name,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}}),
        "t",
        false,
        false,
    )
    .unwrap();
}

#[test]
fn continue_tokens_have_the_real_servers_format() {
    use base64::Engine;
    let s = store_with_ns("a");
    for n in ["x", "y", "z"] {
        cm_in(&s, "a", n);
    }
    let all = LabelSelector::everything();
    let page = s.list("ConfigMap", Some("a"), &all, Some(1), None).unwrap();
    let token = page.continue_token.clone().unwrap();
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&token)
        .unwrap();
    let v: Value = serde_json::from_slice(&decoded).unwrap();
    assert_eq!(
        v,
        json!({"v": "meta.k8s.io/v1", "rv": page.resource_version.parse::<i64>().unwrap(), "start": "x\u{0}"})
    );
    let next = s
        .list("ConfigMap", Some("a"), &all, Some(1), Some(&token))
        .unwrap();
    assert_eq!(next.items[0]["metadata"]["name"], "y");
    // Across namespaces the key is `ns/name`.
    let page = s.list("ConfigMap", None, &all, Some(1), None).unwrap();
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(page.continue_token.unwrap())
        .unwrap();
    assert!(String::from_utf8(decoded)
        .unwrap()
        .contains(r#""start":"a/x\u0000""#));
    // Bad tokens get the real messages.
    for (bad, message) in [
        ("!!", "continue key is not valid: "),
        (
            "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MCwic3RhcnQiOiJ4XHUwMDAwIn0",
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        ),
    ] {
        let e = s
            .list("ConfigMap", Some("a"), &all, Some(1), Some(bad))
            .unwrap_err();
        assert_eq!(e.code(), 400);
        assert!(e.message().starts_with(message), "{}", e.message());
    }
}

#[test]
fn a_continue_token_older_than_the_last_compaction_is_expired_with_an_inconsistent_token() {
    let s = store_with_ns("a");
    for n in ["x", "y", "z"] {
        cm_in(&s, "a", n);
    }
    let all = LabelSelector::everything();
    let page = s.list("ConfigMap", Some("a"), &all, Some(1), None).unwrap();
    let token = page.continue_token.unwrap();
    // Compacting at the token's own revision keeps it valid, as etcd keeps that revision.
    s.compact().unwrap();
    assert!(s
        .list("ConfigMap", Some("a"), &all, Some(1), Some(&token))
        .is_ok());
    cm_in(&s, "a", "w");
    s.compact().unwrap();
    let e = s
        .list("ConfigMap", Some("a"), &all, Some(1), Some(&token))
        .unwrap_err();
    assert_eq!((e.code(), e.reason()), (410, "Expired"));
    assert_eq!(e.message(), INCONSISTENT_CONTINUE);
    let status = e.to_status();
    assert!(status.get("details").is_none(), "{status}");
    let inconsistent = status["metadata"]["continue"].as_str().unwrap().to_string();
    // The inconsistent token resumes after "x" at the latest state.
    let rest = s
        .list("ConfigMap", Some("a"), &all, None, Some(&inconsistent))
        .unwrap();
    let names: Vec<_> = rest
        .items
        .iter()
        .map(|i| i["metadata"]["name"].clone())
        .collect();
    assert_eq!(names, [json!("y"), json!("z")]);
}

#[test]
fn history_records_every_write_for_watches_and_compaction_expires_it() {
    let s = store_with_ns("a");
    s.keep_history().unwrap();
    let start = s.resource_version().unwrap();
    cm_in(&s, "a", "x");
    s.apply(
        "ConfigMap",
        "a",
        "x",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "a"}, "data": {"k": "v"}}),
        "t",
        false,
        false,
    )
    .unwrap();
    s.delete("ConfigMap", "a", "x", Propagation::Background)
        .unwrap();
    let events = s.events_since("ConfigMap", Some("a"), start, 100).unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.event).collect();
    assert_eq!(
        kinds,
        [EventType::Added, EventType::Modified, EventType::Deleted]
    );
    let rvs: Vec<_> = events.iter().map(|e| e.resource_version).collect();
    assert!(rvs.windows(2).all(|w| w[0] < w[1]), "{rvs:?}");
    assert_eq!(*rvs.last().unwrap(), s.resource_version().unwrap());
    assert_eq!(
        events[2].object["metadata"]["resourceVersion"],
        json!(rvs[2].to_string()),
        "a deletion carries its own resource version"
    );
    assert_eq!(events[1].previous.as_ref().unwrap()["data"], Value::Null);
    assert!(s
        .events_since("ConfigMap", Some("b"), start, 100)
        .unwrap()
        .is_empty());
    assert_eq!(
        s.events_since("ConfigMap", None, rvs[0], 100)
            .unwrap()
            .len(),
        2
    );
    s.compact().unwrap();
    let e = s.events_since("ConfigMap", None, start, 100).unwrap_err();
    assert_eq!(e.code(), 410);
    assert_eq!(
        e.message(),
        format!("too old resource version: {start} ({})", rvs[2])
    );
}

#[test]
fn only_kinds_whose_strategy_sets_it_have_a_generation() {
    let s = store_with_ns("t");
    cm_in(&s, "t", "settings");
    let cm = s.get("ConfigMap", "t", "settings").unwrap();
    assert!(cm["metadata"].get("generation").is_none(), "{cm}");
    let ns = s.get("Namespace", "", "t").unwrap();
    assert!(ns["metadata"].get("generation").is_none(), "{ns}");
    let (sts, _) = s
        .apply(
            "StatefulSet",
            "t",
            "db",
            sts("db", 1),
            "berth",
            false,
            false,
        )
        .unwrap();
    assert_eq!(sts["metadata"]["generation"], 1);
}

fn cm_with_finalizer(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "finalizers": ["example.com/hold"]}, "data": {"k": "v"}})
}

#[test]
fn without_lifecycle_finalizers_hold_nothing_and_a_namespace_goes_at_once_with_its_contents() {
    let s = store_with_ns("t");
    s.create("ConfigMap", "t", cm_with_finalizer("held"), "test", false)
        .unwrap();
    s.delete("Namespace", "", "t", Propagation::Foreground)
        .unwrap();
    assert!(s.get("Namespace", "", "t").is_err());
    assert!(s.get("ConfigMap", "t", "held").is_err());
}

#[test]
fn with_lifecycle_a_finalizer_holds_an_object_until_an_update_removes_it() {
    let s = ObjectStore::in_memory().unwrap();
    s.enable_lifecycle();
    s.create(
        "Namespace",
        "",
        json!({"metadata": {"name": "t"}}),
        "test",
        false,
    )
    .unwrap();
    assert_eq!(
        s.get("Namespace", "", "t").unwrap()["spec"]["finalizers"],
        json!(["kubernetes"])
    );
    let created = s
        .create("ConfigMap", "t", cm_with_finalizer("held"), "test", false)
        .unwrap();
    let opts = DeleteOptions {
        propagation: None,
        now: "2026-11-05T10:00:00Z".into(),
        dry_run: false,
    };
    let (marked, gone) = s.delete_with("ConfigMap", "t", "held", &opts).unwrap();
    assert!(!gone);
    assert_eq!(
        marked["metadata"]["deletionTimestamp"],
        "2026-11-05T10:00:00Z"
    );
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 0);
    // The registry raises a generation only where there is one (`BeforeDelete`); a ConfigMap
    // has none.
    assert!(created["metadata"].get("generation").is_none());
    assert!(marked["metadata"].get("generation").is_none(), "{marked}");
    // An unrelated update keeps the deletion timestamp.
    let kept = s
        .merge_patch(
            "ConfigMap",
            "t",
            "held",
            &json!({"data": {"k": "w"}}),
            "test",
            false,
        )
        .unwrap();
    assert_eq!(
        kept["metadata"]["deletionTimestamp"],
        "2026-11-05T10:00:00Z"
    );
    s.merge_patch(
        "ConfigMap",
        "t",
        "held",
        &json!({"metadata": {"finalizers": null}}),
        "test",
        false,
    )
    .unwrap();
    assert!(s.get("ConfigMap", "t", "held").is_err());

    // The namespace: marked, held by spec.finalizers (which updates do not change), gone
    // once finalized.
    let (ns, gone) = s.delete_with("Namespace", "", "t", &opts).unwrap();
    assert!(!gone);
    assert_eq!(ns["status"]["phase"], "Terminating");
    s.merge_patch(
        "Namespace",
        "",
        "t",
        &json!({"spec": {"finalizers": []}}),
        "test",
        false,
    )
    .unwrap();
    assert_eq!(
        s.get("Namespace", "", "t").unwrap()["spec"]["finalizers"],
        json!(["kubernetes"])
    );
    s.finalize_namespace("t", &[]).unwrap();
    assert!(s.get("Namespace", "", "t").is_err());
}

#[test]
fn the_integrity_check_passes_on_a_sound_store_and_names_what_a_crash_could_break() {
    let s = store_with_ns("t");
    s.apply(
        "ConfigMap",
        "t",
        "c",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "t", "labels": {"app": "db"}}}),
        "test",
        false,
        false,
    )
    .unwrap();
    assert_eq!(s.integrity_check().unwrap(), Vec::<String>::new());
    // A label row lost, and a body whose resourceVersion is not its row's.
    {
        let conn = s.lock().unwrap();
        conn.execute("DELETE FROM labels WHERE key = 'app'", [])
            .unwrap();
        conn.execute(
            "UPDATE objects SET rv = rv + 100 WHERE kind = 'Namespace'",
            [],
        )
        .unwrap();
    }
    let problems = s.integrity_check().unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("Namespace /t: the body's resourceVersion is not"),
        "{problems:?}"
    );
    assert_eq!(
        problems[1],
        "ConfigMap t/c: the label index differs from the body's labels"
    );
}

#[test]
fn a_pods_limit_without_a_request_becomes_its_request_but_a_templates_does_not() {
    let store = store_with_ns("t");
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {
            "initContainers": [{"name": "i", "image": "busybox:1.36", "resources": {"limits": {"cpu": "1"}}}],
            "containers": [{"name": "c", "image": "postgres:17",
                "resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "500m"}}}]
        }
    });
    let got = store.create("Pod", "t", pod, "test", false).unwrap();
    assert_eq!(
        got["spec"]["containers"][0]["resources"]["requests"],
        json!({"cpu": "500m", "memory": "1Gi"})
    );
    assert_eq!(
        got["spec"]["initContainers"][0]["resources"]["requests"],
        json!({"cpu": "1"})
    );
    let mut set = sts("db", 1);
    set["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"limits": {"memory": "1Gi"}});
    let got = store
        .create("StatefulSet", "t", set, "test", false)
        .unwrap();
    assert!(got
        .pointer("/spec/template/spec/containers/0/resources/requests")
        .is_none());
}

#[test]
fn patch_with_writes_what_the_function_makes_of_the_stored_object() {
    let s = store_with_ns("t");
    let created = s
        .create(
            "ConfigMap",
            "t",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}),
            "test",
            false,
        )
        .unwrap();
    let patched = s
        .patch_with("ConfigMap", "t", "c", "patcher", false, |old| {
            assert_eq!(old["data"]["a"], "1");
            let mut new = old.clone();
            new["data"]["b"] = json!("2");
            Ok(new)
        })
        .unwrap();
    assert_eq!(patched["data"], json!({"a": "1", "b": "2"}));
    assert!(rv(&patched) > rv(&created));
    assert!(patched["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["manager"] == "patcher"));
    // A dry run writes nothing.
    let dry = s
        .patch_with("ConfigMap", "t", "c", "patcher", true, |old| {
            let mut new = old.clone();
            new["data"]["c"] = json!("3");
            Ok(new)
        })
        .unwrap();
    assert_eq!(dry["data"]["c"], "3");
    assert!(s.get("ConfigMap", "t", "c").unwrap()["data"]
        .get("c")
        .is_none());
    // The function's error is returned and nothing is written.
    let refused = StoreError::BadRequest {
        kind: String::new(),
        namespace: String::new(),
        name: String::new(),
        message: "no".into(),
    };
    assert_eq!(
        s.patch_with("ConfigMap", "t", "c", "patcher", false, |_| Err(
            refused.clone()
        )),
        Err(refused)
    );
    assert_eq!(rv(&s.get("ConfigMap", "t", "c").unwrap()), rv(&patched));
    // A stale resourceVersion in the patched object is a conflict; another name is refused.
    let err = s
        .patch_with("ConfigMap", "t", "c", "patcher", false, |old| {
            let mut new = old.clone();
            new["metadata"]["resourceVersion"] = json!(created["metadata"]["resourceVersion"]);
            Ok(new)
        })
        .unwrap_err();
    assert_eq!(err.code(), 409);
    let err = s
        .patch_with("ConfigMap", "t", "c", "patcher", false, |old| {
            let mut new = old.clone();
            new["metadata"]["name"] = json!("other");
            Ok(new)
        })
        .unwrap_err();
    assert_eq!(err.code(), 400);
    // Nothing to patch: 404 before the function runs.
    let err = s
        .patch_with("ConfigMap", "t", "missing", "patcher", false, |_| {
            panic!("not called")
        })
        .unwrap_err();
    assert_eq!(err.code(), 404);
}
