//! What an API server does to an object on every write besides storing it: fill in defaults,
//! normalise quantities, validate, and refuse changes to immutable fields.

use serde_json::{json, Map, Value};

use super::kinds::KindInfo;
use super::quantity::{canonical_quantity, quantity_nanos};
use super::selector::valid_label_value;
use super::Cause;

fn obj_mut<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    v.get_mut(key).and_then(Value::as_object_mut)
}

fn set_default(m: &mut Map<String, Value>, key: &str, value: Value) {
    if !m.contains_key(key) || m.get(key).is_some_and(Value::is_null) {
        m.insert(key.to_string(), value);
    }
}

/// Fills in the defaults a real API server would for `kind`.
pub(crate) fn apply_defaults(info: &KindInfo, obj: &mut Value) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match info.kind {
        "Namespace" => {
            if let Some(meta) = obj_mut(obj, "metadata") {
                let labels = meta
                    .entry("labels")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(l) = labels.as_object_mut() {
                    l.insert("kubernetes.io/metadata.name".into(), Value::String(name));
                }
            }
            if let Some(m) = obj.as_object_mut() {
                let spec = m.entry("spec").or_insert_with(|| json!({}));
                if let Some(s) = spec.as_object_mut() {
                    set_default(s, "finalizers", json!(["kubernetes"]));
                }
            }
        }
        "Pod" => {
            if let Some(spec) = obj_mut(obj, "spec") {
                pod_spec_defaults(spec, false);
                requests_from_limits(spec);
            }
        }
        "StatefulSet" => {
            if let Some(spec) = obj_mut(obj, "spec") {
                set_default(spec, "replicas", json!(1));
                set_default(spec, "podManagementPolicy", json!("OrderedReady"));
                set_default(
                    spec,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                );
                if let Some(us) = spec
                    .get_mut("updateStrategy")
                    .and_then(Value::as_object_mut)
                {
                    if us.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                        let ru = us.entry("rollingUpdate").or_insert_with(|| json!({}));
                        if let Some(ru) = ru.as_object_mut() {
                            set_default(ru, "partition", json!(0));
                        }
                    }
                }
                set_default(spec, "revisionHistoryLimit", json!(10));
                set_default(
                    spec,
                    "persistentVolumeClaimRetentionPolicy",
                    json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
                );
                template_defaults(spec, false);
                if let Some(vcts) = spec
                    .get_mut("volumeClaimTemplates")
                    .and_then(Value::as_array_mut)
                {
                    for vct in vcts.iter_mut().filter_map(Value::as_object_mut) {
                        set_default(vct, "apiVersion", json!("v1"));
                        set_default(vct, "kind", json!("PersistentVolumeClaim"));
                        if let Some(s) = vct.get_mut("spec").and_then(Value::as_object_mut) {
                            set_default(s, "volumeMode", json!("Filesystem"));
                        }
                        set_default(vct, "status", json!({"phase": "Pending"}));
                    }
                }
            }
        }
        "Deployment" => {
            if let Some(spec) = obj_mut(obj, "spec") {
                set_default(spec, "replicas", json!(1));
                set_default(
                    spec,
                    "strategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
                );
                set_default(spec, "revisionHistoryLimit", json!(10));
                set_default(spec, "progressDeadlineSeconds", json!(600));
                template_defaults(spec, false);
            }
        }
        "Job" => {
            if let Some(spec) = obj_mut(obj, "spec") {
                job_spec_defaults(spec);
            }
        }
        "CronJob" => {
            if let Some(spec) = obj_mut(obj, "spec") {
                set_default(spec, "concurrencyPolicy", json!("Allow"));
                set_default(spec, "suspend", json!(false));
                set_default(spec, "successfulJobsHistoryLimit", json!(3));
                set_default(spec, "failedJobsHistoryLimit", json!(1));
                if let Some(js) = spec
                    .get_mut("jobTemplate")
                    .and_then(|j| j.get_mut("spec"))
                    .and_then(Value::as_object_mut)
                {
                    template_defaults(js, true);
                }
            }
        }
        "Service" => {
            if let Some(spec) = obj_mut(obj, "spec") {
                set_default(spec, "type", json!("ClusterIP"));
                set_default(spec, "sessionAffinity", json!("None"));
                set_default(spec, "ipFamilies", json!(["IPv4"]));
                set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
                set_default(spec, "internalTrafficPolicy", json!("Cluster"));
                if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                    for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                        set_default(p, "protocol", json!("TCP"));
                        if let Some(port) = p.get("port").cloned() {
                            set_default(p, "targetPort", port);
                        }
                    }
                }
            }
        }
        "PersistentVolumeClaim" => {
            if let Some(spec) = obj_mut(obj, "spec") {
                set_default(spec, "volumeMode", json!("Filesystem"));
            }
        }
        "Secret" => {
            if let Some(m) = obj.as_object_mut() {
                set_default(m, "type", json!("Opaque"));
            }
        }
        "NetworkPolicy" => {
            if let Some(spec) = obj_mut(obj, "spec") {
                if !spec.contains_key("policyTypes") {
                    let mut types = vec![json!("Ingress")];
                    if spec.contains_key("egress") {
                        types.push(json!("Egress"));
                    }
                    spec.insert("policyTypes".into(), Value::Array(types));
                }
                for dir in ["ingress", "egress"] {
                    if let Some(rules) = spec.get_mut(dir).and_then(Value::as_array_mut) {
                        for rule in rules.iter_mut() {
                            if let Some(ports) = rule.get_mut("ports").and_then(Value::as_array_mut)
                            {
                                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                                    set_default(p, "protocol", json!("TCP"));
                                }
                            }
                        }
                    }
                }
            }
        }
        // `SetDefaults_StorageClass` (`pkg/apis/storage/v1/defaults.go`).
        "StorageClass" => {
            if let Some(m) = obj.as_object_mut() {
                set_default(m, "reclaimPolicy", json!("Delete"));
                set_default(m, "volumeBindingMode", json!("Immediate"));
            }
        }
        _ => {}
    }
}

fn job_spec_defaults(spec: &mut Map<String, Value>) {
    set_default(spec, "backoffLimit", json!(6));
    set_default(spec, "completions", json!(1));
    set_default(spec, "parallelism", json!(1));
    set_default(spec, "completionMode", json!("NonIndexed"));
    set_default(spec, "suspend", json!(false));
    template_defaults(spec, true);
}

fn template_defaults(spec: &mut Map<String, Value>, is_job: bool) {
    if let Some(ps) = spec
        .get_mut("template")
        .and_then(|t| t.get_mut("spec"))
        .and_then(Value::as_object_mut)
    {
        pod_spec_defaults(ps, is_job);
    }
}

fn pod_spec_defaults(spec: &mut Map<String, Value>, is_job: bool) {
    if !is_job {
        set_default(spec, "restartPolicy", json!("Always"));
    }
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "securityContext", json!({}));
    for list in ["initContainers", "containers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                container_defaults(c);
            }
        }
    }
    if let Some(vols) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        for v in vols.iter_mut().filter_map(Value::as_object_mut) {
            for src in ["secret", "configMap"] {
                if let Some(s) = v.get_mut(src).and_then(Value::as_object_mut) {
                    set_default(s, "defaultMode", json!(420));
                }
            }
        }
    }
}

/// `SetDefaults_Pod` (`pkg/apis/core/v1/defaults.go`): a container's limit is its request
/// where it names no request of that resource. Pods only, not pod templates.
fn requests_from_limits(spec: &mut Map<String, Value>) {
    for list in ["containers", "initContainers"] {
        let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in cs.iter_mut() {
            let Some(limits) = c
                .pointer("/resources/limits")
                .and_then(Value::as_object)
                .cloned()
            else {
                continue;
            };
            let Some(resources) = c.get_mut("resources").and_then(Value::as_object_mut) else {
                continue;
            };
            let requests = resources
                .entry("requests")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(requests) = requests.as_object_mut() {
                for (k, v) in limits {
                    requests.entry(k).or_insert(v);
                }
            }
        }
    }
}

fn container_defaults(c: &mut Map<String, Value>) {
    let image = c.get("image").and_then(Value::as_str).unwrap_or("");
    let tag_latest_or_absent = {
        let without_digest = image.split('@').next().unwrap_or("");
        let last = without_digest.rsplit('/').next().unwrap_or("");
        match last.split_once(':') {
            Some((_, tag)) => tag == "latest",
            None => !image.contains('@'),
        }
    };
    let policy = if tag_latest_or_absent {
        "Always"
    } else {
        "IfNotPresent"
    };
    set_default(c, "imagePullPolicy", json!(policy));
    set_default(c, "resources", json!({}));
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_default(p, "protocol", json!("TCP"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
            set_default(p, "timeoutSeconds", json!(1));
            set_default(p, "periodSeconds", json!(10));
            set_default(p, "successThreshold", json!(1));
            set_default(p, "failureThreshold", json!(3));
            if let Some(h) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
                set_default(h, "scheme", json!("HTTP"));
            }
        }
    }
}

/// Rewrites every resource quantity of the object in canonical form. Quantities that do not
/// parse are reported as causes.
pub(crate) fn normalise_quantities(info: &KindInfo, obj: &mut Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let norm_map = |v: Option<&mut Value>, field: &str, causes: &mut Vec<Cause>| {
        if let Some(m) = v.and_then(Value::as_object_mut) {
            for (k, q) in m.iter_mut() {
                let text = match q {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => String::new(),
                };
                match canonical_quantity(&text) {
                    Some(c) => *q = Value::String(c),
                    None => causes.push(Cause::invalid(
                        &format!("{field}.{k}"),
                        &format!(
                            "Invalid value: {}: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                            q
                        ),
                    )),
                }
            }
        }
    };
    match info.kind {
        "ResourceQuota" => {
            norm_map(obj.pointer_mut("/spec/hard"), "spec.hard", &mut causes);
            norm_map(obj.pointer_mut("/status/hard"), "status.hard", &mut causes);
            norm_map(obj.pointer_mut("/status/used"), "status.used", &mut causes);
        }
        "LimitRange" => {
            if let Some(limits) = obj
                .pointer_mut("/spec/limits")
                .and_then(Value::as_array_mut)
            {
                for (i, l) in limits.iter_mut().enumerate() {
                    for f in [
                        "default",
                        "defaultRequest",
                        "max",
                        "min",
                        "maxLimitRequestRatio",
                    ] {
                        norm_map(l.get_mut(f), &format!("spec.limits[{i}].{f}"), &mut causes);
                    }
                }
            }
        }
        "PersistentVolumeClaim" => {
            for f in ["requests", "limits"] {
                norm_map(
                    obj.pointer_mut(&format!("/spec/resources/{f}")),
                    &format!("spec.resources.{f}"),
                    &mut causes,
                );
            }
        }
        _ => {}
    }
    // Pod specs wherever they are.
    let pod_spec_ptrs: &[&str] = match info.kind {
        "Pod" => &["/spec"],
        "StatefulSet" | "Deployment" | "Job" => &["/spec/template/spec"],
        "CronJob" => &["/spec/jobTemplate/spec/template/spec"],
        _ => &[],
    };
    for ptr in pod_spec_ptrs {
        let field_base = ptr.trim_start_matches('/').replace('/', ".");
        if let Some(ps) = obj.pointer_mut(ptr) {
            for list in ["initContainers", "containers"] {
                if let Some(cs) = ps.get_mut(list).and_then(Value::as_array_mut) {
                    for (i, c) in cs.iter_mut().enumerate() {
                        for f in ["requests", "limits"] {
                            norm_map(
                                c.pointer_mut(&format!("/resources/{f}")),
                                &format!("{field_base}.{list}[{i}].resources.{f}"),
                                &mut causes,
                            );
                        }
                    }
                }
            }
        }
    }
    if info.kind == "StatefulSet" {
        if let Some(vcts) = obj
            .pointer_mut("/spec/volumeClaimTemplates")
            .and_then(Value::as_array_mut)
        {
            for (i, vct) in vcts.iter_mut().enumerate() {
                for f in ["requests", "limits"] {
                    norm_map(
                        vct.pointer_mut(&format!("/spec/resources/{f}")),
                        &format!("spec.volumeClaimTemplates[{i}].spec.resources.{f}"),
                        &mut causes,
                    );
                }
            }
        }
    }
    causes
}

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// Whether `name` is a valid object name for `kind`, and if not, why.
pub(crate) fn validate_name(info: &KindInfo, name: &str) -> Option<Cause> {
    if name.is_empty() {
        return Some(Cause::required(
            "metadata.name",
            "Required value: name or generateName is required",
        ));
    }
    let (ok, msg) = match info.kind {
        "Namespace" => (is_dns_label(name), DNS1123_LABEL_MSG),
        "Service" => (
            is_dns_label(name) && name.starts_with(|c: char| c.is_ascii_lowercase()),
            DNS1035_LABEL_MSG,
        ),
        // `ValidateRBACName` is `path.IsValidPathSegmentName`: `system:basic-user` is valid.
        "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => {
            let msg = match name {
                "." => "may not be '.'",
                ".." => "may not be '..'",
                _ if name.contains('/') => "may not contain '/'",
                _ if name.contains('%') => "may not contain '%'",
                _ => return None,
            };
            (false, msg)
        }
        // `ValidateCronJobCreate`: the controller appends `-<11 digits>` to name a Job, which
        // must stay a 63-character label.
        "CronJob" if is_dns_subdomain(name) && name.len() > 52 => {
            (false, "must be no more than 52 characters")
        }
        _ => (is_dns_subdomain(name), DNS1123_SUBDOMAIN_MSG),
    };
    (!ok).then(|| Cause::invalid("metadata.name", &format!("Invalid value: {name:?}: {msg}")))
}

/// Whether `ns` is a valid namespace name.
pub(crate) fn valid_namespace(ns: &str) -> bool {
    is_dns_label(ns)
}

/// Validates the object as a whole (name excluded).
pub(crate) fn validate(info: &KindInfo, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    if let Some(labels) = obj.pointer("/metadata/labels") {
        match labels.as_object() {
            Some(m) => {
                for (k, v) in m {
                    let ok_key = {
                        let (prefix, name) = k
                            .rsplit_once('/')
                            .map_or((None, k.as_str()), |(p, n)| (Some(p), n));
                        !name.is_empty()
                            && valid_label_value(name)
                            && prefix.is_none_or(is_dns_subdomain)
                    };
                    if !ok_key {
                        causes.push(Cause::invalid(
                            "metadata.labels",
                            &format!("Invalid value: {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
                        ));
                    }
                    match v.as_str() {
                        Some(s) if valid_label_value(s) => {}
                        _ => causes.push(Cause::invalid(
                            &format!("metadata.labels.{k}"),
                            &format!("Invalid value: {v}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
                        )),
                    }
                }
            }
            None if labels.is_null() => {}
            None => causes.push(Cause::invalid(
                "metadata.labels",
                "Invalid value: labels must be a map of strings",
            )),
        }
    }
    let pod_spec: Option<(&str, bool)> = match info.kind {
        "Pod" => Some(("/spec", false)),
        "StatefulSet" | "Deployment" => Some(("/spec/template/spec", false)),
        "Job" => Some(("/spec/template/spec", true)),
        "CronJob" => Some(("/spec/jobTemplate/spec/template/spec", true)),
        _ => None,
    };
    if let Some((ptr, is_job)) = pod_spec {
        let field = ptr.trim_start_matches('/').replace('/', ".");
        match obj.pointer(ptr) {
            None => causes.push(Cause::required(
                &format!("{field}.containers"),
                "Required value",
            )),
            Some(ps) => {
                match ps.get("containers").and_then(Value::as_array) {
                    Some(cs) if !cs.is_empty() => {
                        for (i, c) in cs.iter().enumerate() {
                            for f in ["name", "image"] {
                                if c.get(f).and_then(Value::as_str).is_none_or(str::is_empty) {
                                    causes.push(Cause::required(
                                        &format!("{field}.containers[{i}].{f}"),
                                        "Required value",
                                    ));
                                }
                            }
                        }
                    }
                    _ => causes.push(Cause::required(
                        &format!("{field}.containers"),
                        "Required value",
                    )),
                }
                if is_job {
                    match ps.get("restartPolicy").and_then(Value::as_str) {
                        Some("OnFailure") | Some("Never") => {}
                        Some(other) => causes.push(Cause::not_supported(
                            &format!("{field}.restartPolicy"),
                            &format!("Unsupported value: {other:?}: supported values: \"OnFailure\", \"Never\""),
                        )),
                        None => causes.push(Cause::required(
                            &format!("{field}.restartPolicy"),
                            "Required value: valid values: \"OnFailure\", \"Never\"",
                        )),
                    }
                }
            }
        }
    }
    // `ValidateStorageClass` and `ValidateControllerRevision`
    // (`pkg/apis/storage/validation/validation.go`, `pkg/apis/apps/validation/validation.go`).
    match info.kind {
        "StorageClass"
            if obj
                .get("provisioner")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty) =>
        {
            causes.push(Cause::required("provisioner", "Required value"));
        }
        "ControllerRevision" => {
            if obj.get("data").is_none_or(Value::is_null) {
                causes.push(Cause::required("data", "Required value: data is mandatory"));
            }
            if obj
                .get("revision")
                .and_then(Value::as_i64)
                .is_some_and(|r| r < 0)
            {
                causes.push(Cause::invalid(
                    "revision",
                    &format!(
                        "Invalid value: {}: must be greater than or equal to 0",
                        obj["revision"]
                    ),
                ));
            }
        }
        _ => {}
    }
    // `validateCronJobSpec` (`pkg/apis/batch/validation/validation.go`): the schedule in
    // robfig/cron's standard syntax without `TZ=`, and a time zone Go's `time.LoadLocation`
    // knows.
    if info.kind == "CronJob" {
        match obj.pointer("/spec/schedule").and_then(Value::as_str) {
            None | Some("") => causes.push(Cause::required("spec.schedule", "Required value")),
            Some(schedule) => {
                if let Err(e) = crate::cron::parse(schedule) {
                    causes.push(Cause::invalid(
                        "spec.schedule",
                        &format!("Invalid value: {schedule:?}: {e}"),
                    ));
                }
                if schedule.contains("TZ") {
                    causes.push(Cause::invalid(
                        "spec.schedule",
                        &format!("Invalid value: {schedule:?}: cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
                    ));
                }
            }
        }
        if let Some(tz) = obj.pointer("/spec/timeZone").and_then(Value::as_str) {
            if let Some(e) = crate::cron::validate_time_zone(tz) {
                causes.push(Cause::invalid(
                    "spec.timeZone",
                    &format!("Invalid value: {tz:?}: {e}"),
                ));
            }
        }
    }
    if matches!(info.kind, "StatefulSet" | "Deployment") {
        match obj.pointer("/spec/selector") {
            None => causes.push(Cause::required("spec.selector", "Required value")),
            Some(sel) => {
                // `ValidateStatefulSetSpec` / `ValidateDeploymentSpec`: a selector that
                // selects something, and that selects the pods of the template.
                let count = |k: &str| {
                    sel.get(k)
                        .map(|v| {
                            v.as_object().map_or(0, |m| m.len())
                                + v.as_array().map_or(0, |a| a.len())
                        })
                        .unwrap_or(0)
                };
                if count("matchLabels") + count("matchExpressions") == 0 {
                    let what = info.kind.to_ascii_lowercase();
                    causes.push(Cause::invalid(
                        "spec.selector",
                        &format!("Invalid value: {{}}: empty selector is invalid for {what}"),
                    ));
                }
                let have = obj
                    .pointer("/spec/template/metadata/labels")
                    .and_then(Value::as_object);
                let matches = match crate::LabelSelector::from_object(sel) {
                    Ok(selector) => selector.matches(have),
                    Err(e) => {
                        causes.push(Cause::invalid(
                            "spec.selector",
                            &format!("Invalid value: {}", e.0),
                        ));
                        true
                    }
                };
                if !matches {
                    causes.push(Cause::invalid(
                        "spec.template.metadata.labels",
                        "Invalid value: `selector` does not match template `labels`",
                    ));
                }
            }
        }
    }
    causes
}

fn without(v: Option<&Value>, keys: &[&str]) -> Value {
    match v {
        Some(Value::Object(m)) => Value::Object(
            m.iter()
                .filter(|(k, _)| !keys.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        Some(other) => other.clone(),
        None => Value::Null,
    }
}

fn short(v: Option<&Value>) -> String {
    let s = v.map_or("null".to_string(), Value::to_string);
    if s.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(0);
        format!("{}...", &s[..cut])
    } else {
        s
    }
}

/// Changes to fields that may not change after creation.
pub(crate) fn check_immutable(info: &KindInfo, old: &Value, new: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let immutable = |causes: &mut Vec<Cause>, field: &str, ptr: &str| {
        if old.pointer(ptr) != new.pointer(ptr) {
            causes.push(Cause::invalid(
                field,
                &format!(
                    "Invalid value: {}: field is immutable",
                    short(new.pointer(ptr))
                ),
            ));
        }
    };
    match info.kind {
        "StatefulSet" => {
            let allowed = [
                "replicas",
                "ordinals",
                "template",
                "updateStrategy",
                "persistentVolumeClaimRetentionPolicy",
                "minReadySeconds",
                "revisionHistoryLimit",
            ];
            if without(old.get("spec"), &allowed) != without(new.get("spec"), &allowed) {
                causes.push(Cause::forbidden(
                    "spec",
                    "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                ));
            }
        }
        "Job" => {
            immutable(&mut causes, "spec.selector", "/spec/selector");
            immutable(&mut causes, "spec.template", "/spec/template");
            immutable(&mut causes, "spec.completionMode", "/spec/completionMode");
            immutable(
                &mut causes,
                "spec.podFailurePolicy",
                "/spec/podFailurePolicy",
            );
        }
        "Deployment" => immutable(&mut causes, "spec.selector", "/spec/selector"),
        // `ValidateStorageClassUpdate`.
        "StorageClass" => {
            for field in ["parameters", "provisioner", "reclaimPolicy"] {
                if old.get(field) != new.get(field) {
                    causes.push(Cause::forbidden(
                        field,
                        &format!("Forbidden: updates to {field} are forbidden."),
                    ));
                }
            }
            immutable(&mut causes, "volumeBindingMode", "/volumeBindingMode");
        }
        // `ValidateControllerRevisionUpdate`.
        "ControllerRevision" => immutable(&mut causes, "data", "/data"),
        "Service" => {
            let old_ip = old.pointer("/spec/clusterIP");
            if old_ip.is_some() && old_ip != new.pointer("/spec/clusterIP") {
                causes.push(Cause::invalid(
                    "spec.clusterIPs[0]",
                    &format!(
                        "Invalid value: [{}]: may not change once set",
                        short(new.pointer("/spec/clusterIP"))
                    ),
                ));
            }
        }
        "PersistentVolumeClaim" => {
            // Only the storage request of a bound claim may change (the claim's status is
            // the stored one: updates of the main resource keep it), and the volume name
            // once, from empty.
            let bound = old.pointer("/status/phase").and_then(Value::as_str) == Some("Bound");
            let volume_unset = old
                .pointer("/spec/volumeName")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty);
            let strip = |v: &Value| {
                let mut spec = without(v.get("spec"), &["volumeAttributesClassName"]);
                if volume_unset {
                    if let Some(m) = spec.as_object_mut() {
                        m.shift_remove("volumeName");
                    }
                }
                if bound {
                    if let Some(r) = spec
                        .get_mut("resources")
                        .and_then(|r| r.get_mut("requests"))
                        .and_then(Value::as_object_mut)
                    {
                        r.shift_remove("storage");
                    }
                }
                spec
            };
            if strip(old) != strip(new) {
                causes.push(Cause::forbidden(
                    "spec",
                    "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
                ));
            }
            let size = |v: &Value| {
                v.pointer("/spec/resources/requests/storage")
                    .and_then(Value::as_str)
                    .and_then(quantity_nanos)
            };
            if let (Some(o), Some(n)) = (size(old), size(new)) {
                if n < o {
                    causes.push(Cause::forbidden(
                        "spec.resources.requests.storage",
                        "Forbidden: field can not be less than previous value",
                    ));
                }
            }
        }
        _ => {}
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::super::kinds::kind_by_name;
    use super::*;

    fn info(k: &str) -> &'static KindInfo {
        kind_by_name(k).unwrap()
    }

    #[test]
    fn image_pull_policy() {
        for (image, want) in [
            ("postgres", "Always"),
            ("postgres:latest", "Always"),
            ("postgres:16", "IfNotPresent"),
            ("registry:5000/pg", "Always"),
            ("registry:5000/pg:16", "IfNotPresent"),
            ("pg@sha256:abc", "IfNotPresent"),
        ] {
            let mut c = Map::new();
            c.insert("image".into(), json!(image));
            container_defaults(&mut c);
            assert_eq!(c["imagePullPolicy"], json!(want), "{image}");
        }
    }

    #[test]
    fn names() {
        assert!(validate_name(info("StatefulSet"), "db.x-1").is_none());
        assert!(validate_name(info("StatefulSet"), "Db").is_some());
        assert!(validate_name(info("Namespace"), "a.b").is_some());
        assert!(validate_name(info("Service"), "1abc").is_some());
        assert!(validate_name(info("ConfigMap"), "").is_some());
        assert!(validate_name(info("ConfigMap"), &"a".repeat(254)).is_some());
    }
}
