//! The PodSecurity admission plugin (`plugin/pkg/admission/security/podsecurity/admission.go`,
//! `staging/src/k8s.io/pod-security-admission/admission/admission.go`, `api/helpers.go`,
//! `policy/check_*.go`): the namespace labels `pod-security.kubernetes.io/enforce`, `warn`,
//! `audit` (and `-version`) name a level, `privileged` (the default), `baseline` or
//! `restricted`. A pod that violates the enforce level is refused; one that violates the warn
//! level gets a warning. Workloads (StatefulSet, Deployment, Job, CronJob, ...) are checked
//! against the warn level only: they are never refused.

use serde_json::Value;

use kube_store::{KindInfo, ObjectStore, StoreError};

use super::{forbidden, name_of, Refusal};
use crate::controllers::s;

const PREFIX: &str = "pod-security.kubernetes.io/";

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Level {
    Privileged,
    Baseline,
    Restricted,
}

/// A level and a version (`None`: latest; else the minor version of `v1.x`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct LevelVersion {
    level: Level,
    minor: Option<u32>,
}

impl LevelVersion {
    fn text(&self) -> String {
        let level = match self.level {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        };
        match self.minor {
            None => format!("{level}:latest"),
            Some(m) => format!("{level}:v1.{m}"),
        }
    }
    /// Whether a check introduced in `v1.<since>` applies.
    fn has(&self, since: u32) -> bool {
        self.minor.is_none_or(|m| m >= since)
    }
}

/// `PolicyToEvaluate` for one mode: an unparsable level is `restricted` for enforce and
/// `privileged` for warn and audit (they fail open); an unparsable version is latest.
fn policy(labels: &serde_json::Map<String, Value>, mode: &str) -> LevelVersion {
    let label = |k: &str| labels.get(&format!("{PREFIX}{k}")).and_then(Value::as_str);
    let level = match label(mode) {
        None | Some("privileged") => Level::Privileged,
        Some("baseline") => Level::Baseline,
        Some("restricted") => Level::Restricted,
        Some(_) if mode == "enforce" => Level::Restricted,
        Some(_) => Level::Privileged,
    };
    // `^v1\.([0-9]|[1-9][0-9]*)$`; a version past the newest check's is evaluated as the
    // newest, and named as given.
    let minor = label(&format!("{mode}-version")).and_then(parse_version);
    LevelVersion { level, minor }
}

/// `ParseVersion` of `v1.N`: the minor version (`latest` and anything else: `None`).
fn parse_version(v: &str) -> Option<u32> {
    let digits = v.strip_prefix("v1.")?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    canonical.then(|| digits.parse().ok()).flatten()
}

/// Init containers, containers, ephemeral containers (`visitContainers`).
fn containers(spec: &Value) -> Vec<&Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|k| spec.get(*k).and_then(Value::as_array).into_iter().flatten())
        .collect()
}

fn join_quote(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    format!("\"{}\"", items.join("\", \""))
}

fn plural<'a>(one: &'a str, many: &'a str, n: usize) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

fn sorted_unique(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

type Check = (&'static str, String);

fn privileged(spec: &Value) -> Option<Check> {
    let bad: Vec<String> = containers(spec)
        .into_iter()
        .filter(|c| c.pointer("/securityContext/privileged") == Some(&Value::Bool(true)))
        .map(|c| s(c, "/name").to_string())
        .collect();
    (!bad.is_empty()).then(|| {
        (
            "privileged",
            format!(
                "{} {} must not set securityContext.privileged=true",
                plural("container", "containers", bad.len()),
                join_quote(&bad)
            ),
        )
    })
}

fn host_namespaces(spec: &Value) -> Option<Check> {
    let set: Vec<String> = ["hostIPC", "hostNetwork", "hostPID"]
        .iter()
        .filter(|k| spec.get(**k) == Some(&Value::Bool(true)))
        .map(|k| k.to_string())
        .collect();
    (!set.is_empty()).then(|| ("host namespaces", set.join(", ")))
}

fn host_ports(spec: &Value) -> Option<Check> {
    let mut bad = Vec::new();
    let mut ports = Vec::new();
    for c in containers(spec) {
        let mut any = false;
        for p in c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(h) = p
                .get("hostPort")
                .and_then(Value::as_i64)
                .filter(|h| *h != 0)
            {
                any = true;
                ports.push(h.to_string());
            }
        }
        if any {
            bad.push(s(c, "/name").to_string());
        }
    }
    let ports = sorted_unique(ports);
    (!bad.is_empty()).then(|| {
        (
            "hostPort",
            format!(
                "{} {} {} {} {}",
                plural("container", "containers", bad.len()),
                join_quote(&bad),
                plural("uses", "use", bad.len()),
                plural("hostPort", "hostPorts", ports.len()),
                ports.join(", ")
            ),
        )
    })
}

fn host_path_volumes(spec: &Value) -> Option<Check> {
    let bad: Vec<String> = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("hostPath").is_some_and(|h| !h.is_null()))
        .map(|v| s(v, "/name").to_string())
        .collect();
    (!bad.is_empty()).then(|| {
        (
            "hostPath volumes",
            format!(
                "{} {}",
                plural("volume", "volumes", bad.len()),
                join_quote(&bad)
            ),
        )
    })
}

const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn added(c: &Value) -> Vec<String> {
    c.pointer("/securityContext/capabilities/add")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn capabilities_baseline(spec: &Value) -> Option<Check> {
    let mut bad = Vec::new();
    let mut caps = Vec::new();
    for c in containers(spec) {
        let extra: Vec<String> = added(c)
            .into_iter()
            .filter(|a| !BASELINE_CAPABILITIES.contains(&a.as_str()))
            .collect();
        if !extra.is_empty() {
            bad.push(s(c, "/name").to_string());
            caps.extend(extra);
        }
    }
    (!bad.is_empty()).then(|| {
        (
            "non-default capabilities",
            format!(
                "{} {} must not include {} in securityContext.capabilities.add",
                plural("container", "containers", bad.len()),
                join_quote(&bad),
                join_quote(&sorted_unique(caps))
            ),
        )
    })
}

fn valid_seccomp(t: &str) -> bool {
    t == "RuntimeDefault" || t == "Localhost"
}

/// `seccompProfileBaseline_1_19` (`restricted`: also a profile required on the pod or every
/// container, `seccompProfileRestricted_1_19`).
fn seccomp(spec: &Value, restricted: bool) -> Option<Check> {
    let mut setters = Vec::new();
    let mut values = Vec::new();
    let mut pod_set = false;
    if let Some(p) = spec
        .pointer("/securityContext/seccompProfile")
        .filter(|p| !p.is_null())
    {
        let t = s(p, "/type");
        if valid_seccomp(t) {
            pod_set = true;
        } else {
            setters.push("pod".to_string());
            values.push(t.to_string());
        }
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    for c in containers(spec) {
        match c
            .pointer("/securityContext/seccompProfile")
            .filter(|p| !p.is_null())
        {
            Some(p) => {
                let t = s(p, "/type");
                if !valid_seccomp(t) {
                    explicit.push(s(c, "/name").to_string());
                    values.push(t.to_string());
                }
            }
            None if !pod_set => implicit.push(s(c, "/name").to_string()),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(format!(
            "{} {}",
            plural("container", "containers", explicit.len()),
            join_quote(&explicit)
        ));
    }
    if !setters.is_empty() {
        return Some((
            "seccompProfile",
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                join_quote(&sorted_unique(values))
            ),
        ));
    }
    if restricted && !implicit.is_empty() {
        return Some((
            "seccompProfile",
            format!(
                "pod or {} {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                plural("container", "containers", implicit.len()),
                join_quote(&implicit)
            ),
        ));
    }
    None
}

fn allow_privilege_escalation(spec: &Value) -> Option<Check> {
    let bad: Vec<String> = containers(spec)
        .into_iter()
        .filter(|c| {
            c.pointer("/securityContext/allowPrivilegeEscalation") != Some(&Value::Bool(false))
        })
        .map(|c| s(c, "/name").to_string())
        .collect();
    (!bad.is_empty()).then(|| {
        (
            "allowPrivilegeEscalation != false",
            format!(
                "{} {} must set securityContext.allowPrivilegeEscalation=false",
                plural("container", "containers", bad.len()),
                join_quote(&bad)
            ),
        )
    })
}

fn capabilities_restricted(spec: &Value) -> Option<Check> {
    let mut missing_drop = Vec::new();
    let mut adding = Vec::new();
    let mut caps = Vec::new();
    for c in containers(spec) {
        let name = s(c, "/name").to_string();
        let Some(capabilities) = c
            .pointer("/securityContext/capabilities")
            .filter(|v| !v.is_null())
        else {
            missing_drop.push(name);
            continue;
        };
        let drops_all = capabilities
            .get("drop")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|x| x == "ALL"));
        if !drops_all {
            missing_drop.push(name.clone());
        }
        let extra: Vec<String> = added(c)
            .into_iter()
            .filter(|a| a != "NET_BIND_SERVICE")
            .collect();
        if !extra.is_empty() {
            adding.push(name);
            caps.extend(extra);
        }
    }
    let mut details = Vec::new();
    if !missing_drop.is_empty() {
        details.push(format!(
            "{} {} must set securityContext.capabilities.drop=[\"ALL\"]",
            plural("container", "containers", missing_drop.len()),
            join_quote(&missing_drop)
        ));
    }
    if !adding.is_empty() {
        details.push(format!(
            "{} {} must not include {} in securityContext.capabilities.add",
            plural("container", "containers", adding.len()),
            join_quote(&adding),
            join_quote(&sorted_unique(caps))
        ));
    }
    (!details.is_empty()).then(|| ("unrestricted capabilities", details.join("; ")))
}

const ALLOWED_VOLUMES: [&str; 8] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

fn restricted_volumes(spec: &Value) -> Option<Check> {
    let bad: Vec<String> = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| {
            !v.as_object().is_some_and(|m| {
                m.iter()
                    .any(|(k, x)| ALLOWED_VOLUMES.contains(&k.as_str()) && !x.is_null())
            })
        })
        .map(|v| s(v, "/name").to_string())
        .collect();
    let bad = sorted_unique(bad);
    (!bad.is_empty()).then(|| {
        let quoted: Vec<String> = bad.iter().map(|b| format!("{b:?}")).collect();
        (
            "restricted volume types",
            format!("volumes [{}] have restricted types", quoted.join(" ")),
        )
    })
}

/// `runAsNonRoot`: `restricted` wants it true on the pod or on every container.
fn run_as_non_root(spec: &Value) -> Option<Check> {
    let mut setters = Vec::new();
    let mut pod_true = false;
    match spec.pointer("/securityContext/runAsNonRoot") {
        Some(Value::Bool(false)) => setters.push("pod".to_string()),
        Some(Value::Bool(true)) => pod_true = true,
        _ => {}
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    for c in containers(spec) {
        match c.pointer("/securityContext/runAsNonRoot") {
            Some(Value::Bool(false)) => explicit.push(s(c, "/name").to_string()),
            Some(Value::Bool(true)) => {}
            _ if !pod_true => implicit.push(s(c, "/name").to_string()),
            _ => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(format!(
            "{} {}",
            plural("container", "containers", explicit.len()),
            join_quote(&explicit)
        ));
    }
    if !setters.is_empty() {
        return Some((
            "runAsNonRoot != true",
            format!(
                "{} must not set securityContext.runAsNonRoot=false",
                setters.join(" and ")
            ),
        ));
    }
    (!implicit.is_empty()).then(|| {
        (
            "runAsNonRoot != true",
            format!(
                "pod or {} {} must set securityContext.runAsNonRoot=true",
                plural("container", "containers", implicit.len()),
                join_quote(&implicit)
            ),
        )
    })
}

fn run_as_user(spec: &Value) -> Option<Check> {
    let zero = |v: Option<&Value>| v.and_then(Value::as_i64) == Some(0);
    let mut setters = Vec::new();
    if zero(spec.pointer("/securityContext/runAsUser")) {
        setters.push("pod".to_string());
    }
    let bad: Vec<String> = containers(spec)
        .into_iter()
        .filter(|c| zero(c.pointer("/securityContext/runAsUser")))
        .map(|c| s(c, "/name").to_string())
        .collect();
    if !bad.is_empty() {
        setters.push(format!(
            "{} {}",
            plural("container", "containers", bad.len()),
            join_quote(&bad)
        ));
    }
    (!setters.is_empty()).then(|| {
        (
            "runAsUser=0",
            format!("{} must not set runAsUser=0", setters.join(" and ")),
        )
    })
}

/// The checks of a level in the registry's order: the baseline checks that `restricted`
/// does not replace, then (baseline) the overlapping ones or (restricted) the restricted ones,
/// each group in the order of the checks' files.
fn evaluate(lv: LevelVersion, spec: &Value) -> Vec<Check> {
    let mut results: Vec<Option<Check>> = Vec::new();
    if lv.level == Level::Privileged {
        return Vec::new();
    }
    results.push(host_namespaces(spec));
    results.push(host_ports(spec));
    results.push(privileged(spec));
    if lv.level == Level::Baseline {
        results.push(capabilities_baseline(spec));
        results.push(host_path_volumes(spec));
        results.push(seccomp(spec, false));
    } else {
        if lv.has(8) {
            results.push(allow_privilege_escalation(spec));
        }
        if lv.has(22) {
            results.push(capabilities_restricted(spec));
        }
        results.push(restricted_volumes(spec));
        results.push(run_as_non_root(spec));
        if lv.has(23) {
            results.push(run_as_user(spec));
        }
        if lv.has(19) {
            results.push(seccomp(spec, true));
        }
    }
    results.into_iter().flatten().collect()
}

/// `ForbiddenDetail`: `reason (detail), reason (detail)`.
fn detail(results: &[Check]) -> String {
    results
        .iter()
        .map(|(r, d)| {
            if d.is_empty() {
                r.to_string()
            } else {
                format!("{r} ({d})")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The pod spec a kind carries: a pod's own, a workload's template's.
fn pod_spec<'a>(info: &KindInfo, obj: &'a Value) -> Option<&'a Value> {
    let ptr = match info.kind {
        "Pod" => "/spec",
        "StatefulSet"
        | "Deployment"
        | "ReplicaSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => "/spec/template/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        "PodTemplate" => "/template/spec",
        _ => return None,
    };
    Some(obj.pointer(ptr).unwrap_or(&Value::Null))
}

/// `Validate` of a create: the refusal when a pod violates the enforce level, else the
/// warnings of the warn level.
pub(super) fn admit(
    store: &ObjectStore,
    info: &KindInfo,
    ns: &str,
    obj: &Value,
) -> Result<Vec<String>, Refusal> {
    let Some(spec) = pod_spec(info, obj) else {
        return Ok(Vec::new());
    };
    let namespace = match store.get("Namespace", "", ns) {
        Ok(n) => n,
        Err(StoreError::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(super::internal(e)),
    };
    let labels = namespace
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let enforce = policy(&labels, "enforce");
    let warn = policy(&labels, "warn");
    if info.kind == "Pod" {
        let violations = evaluate(enforce, spec);
        if !violations.is_empty() {
            return Err(forbidden(
                info,
                name_of(obj),
                &format!(
                    "violates PodSecurity {:?}: {}",
                    enforce.text(),
                    detail(&violations)
                ),
            ));
        }
    }
    let violations = evaluate(warn, spec);
    if violations.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![format!(
        "would violate PodSecurity {:?}: {}",
        warn.text(),
        detail(&violations)
    )])
}

/// `ValidateNamespace` on a create: the PodSecurity labels must parse (`PolicyToEvaluate`'s
/// errors), else 422 `Namespace "x" is invalid: metadata.labels[...]: Invalid value: ...`.
pub(super) fn validate_namespace(obj: &Value) -> Result<(), Refusal> {
    let name = name_of(obj);
    let labels = obj
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut causes = Vec::new();
    for mode in ["enforce", "audit", "warn"] {
        let key = format!("{PREFIX}{mode}");
        if let Some(v) = labels.get(&key).and_then(Value::as_str) {
            if !matches!(v, "privileged" | "baseline" | "restricted") {
                causes.push((
                    key,
                    v.to_string(),
                    "must be one of privileged, baseline, restricted",
                ));
            }
        }
        let key = format!("{PREFIX}{mode}-version");
        if let Some(v) = labels.get(&key).and_then(Value::as_str) {
            if v != "latest" && parse_version(v).is_none() {
                causes.push((key, v.to_string(), "must be \"latest\" or \"v1.x\""));
            }
        }
    }
    if causes.is_empty() {
        return Ok(());
    }
    let errors: Vec<(String, String)> = causes
        .iter()
        .map(|(key, value, why)| {
            (
                format!("metadata.labels[{key}]"),
                format!("Invalid value: {value:?}: {why}"),
            )
        })
        .collect();
    let text: Vec<String> = errors.iter().map(|(f, m)| format!("{f}: {m}")).collect();
    let detail = match text.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    Err((
        422,
        serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": format!("Namespace {name:?} is invalid: {detail}"),
            "reason": "Invalid",
            "details": {
                "name": name,
                "kind": "Namespace",
                "causes": errors
                    .iter()
                    .map(|(f, m)| serde_json::json!({"reason": "FieldValueInvalid", "message": m, "field": f}))
                    .collect::<Vec<_>>(),
            },
            "code": 422,
        }),
    ))
}
