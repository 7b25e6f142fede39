//! RBAC authorization as kube-apiserver's RBAC authorizer does it
//! (`plugin/pkg/auth/authorizer/rbac/rbac.go`, `pkg/registry/rbac/validation/rule.go`):
//! rules from the Roles, ClusterRoles, RoleBindings and ClusterRoleBindings in the store, the
//! `system:masters` group allowed everything first, the escalation checks of writes to roles
//! and bindings (`pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/policybased`),
//! and the bootstrap roles the server creates at start (`bootstrappolicy/policy.go`).

use serde_json::{json, Value};

use kube_store::{LabelSelector, ObjectStore, StoreError};

/// The group whose members may do anything (`user.SystemPrivilegedGroup`).
pub(crate) const MASTERS: &str = "system:masters";
pub(crate) const AUTHENTICATED: &str = "system:authenticated";
pub(crate) const UNAUTHENTICATED: &str = "system:unauthenticated";
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    pub(crate) name: String,
    pub(crate) groups: Vec<String>,
}

impl User {
    pub(crate) fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// What a request asks to do (`authorizer.AttributesRecord`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Attributes {
    pub(crate) verb: String,
    pub(crate) resource_request: bool,
    /// The URL path, for non-resource requests.
    pub(crate) path: String,
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) resource: String,
    pub(crate) subresource: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
}

/// One rule of a role (`rbacv1.PolicyRule`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) verbs: Vec<String>,
    pub(crate) api_groups: Vec<String>,
    pub(crate) resources: Vec<String>,
    pub(crate) resource_names: Vec<String>,
    pub(crate) non_resource_urls: Vec<String>,
}

/// The strings of a JSON array (`verbs`, `finalizers`, ...); empty when absent, non-strings
/// skipped.
pub(crate) fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn has(set: &[String], item: &str) -> bool {
    set.iter().any(|s| s == item)
}

fn has_all(set: &[String], items: &[String]) -> bool {
    items.iter().all(|i| has(set, i))
}

impl Rule {
    pub(crate) fn from_json(v: &Value) -> Rule {
        Rule {
            verbs: strings(v.get("verbs")),
            api_groups: strings(v.get("apiGroups")),
            resources: strings(v.get("resources")),
            resource_names: strings(v.get("resourceNames")),
            non_resource_urls: strings(v.get("nonResourceURLs")),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: &[String]| {
            if !v.is_empty() {
                m.insert(k.into(), json!(v));
            }
        };
        put("apiGroups", &self.api_groups);
        put("resources", &self.resources);
        put("resourceNames", &self.resource_names);
        put("nonResourceURLs", &self.non_resource_urls);
        put("verbs", &self.verbs);
        Value::Object(m)
    }

    fn verb_matches(&self, verb: &str) -> bool {
        has(&self.verbs, "*") || has(&self.verbs, verb)
    }

    /// `RuleAllows` of `pkg/registry/rbac/validation/rule.go`.
    pub(crate) fn allows(&self, a: &Attributes) -> bool {
        if !a.resource_request {
            return self.verb_matches(&a.verb)
                && self.non_resource_urls.iter().any(|u| {
                    u == "*"
                        || *u == a.path
                        || u.strip_suffix('*').is_some_and(|p| a.path.starts_with(p))
                });
        }
        let combined = if a.subresource.is_empty() {
            a.resource.clone()
        } else {
            format!("{}/{}", a.resource, a.subresource)
        };
        let resource_matches = self.resources.iter().any(|r| {
            r == "*"
                || *r == combined
                || (!a.subresource.is_empty()
                    && r.len() == a.subresource.len() + 2
                    && r.starts_with("*/")
                    && r.ends_with(&a.subresource))
        });
        self.verb_matches(&a.verb)
            && (has(&self.api_groups, "*") || has(&self.api_groups, &a.group))
            && resource_matches
            && (self.resource_names.is_empty() || has(&self.resource_names, &a.name))
    }

    /// `CompactString` of `pkg/apis/rbac/v1/helpers.go`, as escalation errors list rules.
    fn compact_string(&self) -> String {
        let mut parts = Vec::new();
        let q = |v: &[String]| {
            let items: Vec<String> = v.iter().map(|s| go_quote(s)).collect();
            format!("[{}]", items.join(" "))
        };
        if !self.api_groups.is_empty() {
            parts.push(format!("APIGroups:{}", q(&self.api_groups)));
        }
        if !self.resources.is_empty() {
            parts.push(format!("Resources:{}", q(&self.resources)));
        }
        if !self.non_resource_urls.is_empty() {
            parts.push(format!("NonResourceURLs:{}", q(&self.non_resource_urls)));
        }
        if !self.resource_names.is_empty() {
            parts.push(format!("ResourceNames:{}", q(&self.resource_names)));
        }
        if !self.verbs.is_empty() {
            parts.push(format!("Verbs:{}", q(&self.verbs)));
        }
        format!("{{{}}}", parts.join(", "))
    }
}

/// Go's `%q` of a string (close enough for names: quotes and backslashes escaped).
pub(crate) fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// Go's `%q` of a string slice: `["a" "b"]`.
pub(crate) fn go_quote_list(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", items.join(" "))
}

/// The answer of the authorizer chain (privileged group, then RBAC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) allowed: bool,
    /// `RBAC: allowed by ...` when allowed by a binding; the resolution errors
    /// (`RBAC: clusterrole.rbac.authorization.k8s.io "x" not found`) when not; else "".
    pub(crate) reason: String,
}

/// A binding's subject as RBAC matches it (`appliesToUser`).
fn subject_applies(user: &User, subject: &Value, binding_ns: &str) -> bool {
    let s = |k: &str| subject.get(k).and_then(Value::as_str).unwrap_or("");
    match s("kind") {
        "User" => user.name == s("name"),
        "Group" => user.in_group(s("name")),
        "ServiceAccount" => {
            let ns = if s("namespace").is_empty() {
                binding_ns
            } else {
                s("namespace")
            };
            !ns.is_empty() && user.name == format!("system:serviceaccount:{ns}:{}", s("name"))
        }
        _ => false,
    }
}

/// `describeSubject` of `rule.go`.
fn describe_subject(subject: &Value, binding_ns: &str) -> String {
    let s = |k: &str| subject.get(k).and_then(Value::as_str).unwrap_or("");
    if s("kind") == "ServiceAccount" {
        let ns = if s("namespace").is_empty() {
            binding_ns
        } else {
            s("namespace")
        };
        return format!(
            "ServiceAccount {}",
            go_quote(&format!("{}/{ns}", s("name")))
        );
    }
    format!("{} {}", s("kind"), go_quote(s("name")))
}

fn all(store: &ObjectStore, kind: &str, ns: Option<&str>) -> Result<Vec<Value>, String> {
    store
        .list(kind, ns, &LabelSelector::default(), None, None)
        .map(|page| page.items)
        .map_err(|e| e.message().to_string())
}

/// How a role that cannot be read is named: the authorizer reads through listers
/// (`clusterrole.rbac...`), the registry's escalation checks through storage
/// (`clusterroles.rbac...`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    Lister,
    Storage,
}

/// The rules of a role reference (`GetRoleReferenceRules`).
fn role_ref_rules(
    store: &ObjectStore,
    role_ref: &Value,
    binding_ns: &str,
    via: Via,
) -> Result<Vec<Rule>, String> {
    let kind = role_ref.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = role_ref.get("name").and_then(Value::as_str).unwrap_or("");
    let (store_kind, ns, singular) = match kind {
        "Role" => ("Role", binding_ns, "role"),
        "ClusterRole" => ("ClusterRole", "", "clusterrole"),
        other => {
            return Err(format!(
                "unsupported role reference kind: {}",
                go_quote(other)
            ))
        }
    };
    match store.get(store_kind, ns, name) {
        Ok(role) => Ok(role
            .get("rules")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(Rule::from_json).collect())
            .unwrap_or_default()),
        Err(StoreError::NotFound { .. }) => {
            let resource = match via {
                Via::Lister => singular.to_string(),
                Via::Storage => format!("{singular}s"),
            };
            Err(format!(
                "{resource}.{RBAC_GROUP} {} not found",
                go_quote(name)
            ))
        }
        Err(e) => Err(e.message().to_string()),
    }
}

/// `VisitRulesFor`: every rule granted to `user` in `namespace` ("" for cluster-wide only),
/// with where it comes from; stops when `visit` returns false. Errors are roles that could
/// not be read.
fn visit_rules(
    store: &ObjectStore,
    user: &User,
    namespace: &str,
    via: Via,
    visit: &mut dyn FnMut(&str, &Rule) -> bool,
) -> Vec<String> {
    let mut errors = Vec::new();
    match all(store, "ClusterRoleBinding", None) {
        Ok(bindings) => {
            for b in &bindings {
                let Some(subject) = b
                    .get("subjects")
                    .and_then(Value::as_array)
                    .and_then(|s| s.iter().find(|s| subject_applies(user, s, "")))
                else {
                    continue;
                };
                let role_ref = b.get("roleRef").cloned().unwrap_or(Value::Null);
                match role_ref_rules(store, &role_ref, "", via) {
                    Ok(rules) => {
                        let source = format!(
                            "ClusterRoleBinding {} of {} {} to {}",
                            go_quote(
                                b.pointer("/metadata/name")
                                    .and_then(Value::as_str)
                                    .unwrap_or("")
                            ),
                            role_ref.get("kind").and_then(Value::as_str).unwrap_or(""),
                            go_quote(role_ref.get("name").and_then(Value::as_str).unwrap_or("")),
                            describe_subject(subject, "")
                        );
                        for r in &rules {
                            if !visit(&source, r) {
                                return errors;
                            }
                        }
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
        Err(e) => errors.push(e),
    }
    if namespace.is_empty() {
        return errors;
    }
    match all(store, "RoleBinding", Some(namespace)) {
        Ok(bindings) => {
            for b in &bindings {
                let Some(subject) = b
                    .get("subjects")
                    .and_then(Value::as_array)
                    .and_then(|s| s.iter().find(|s| subject_applies(user, s, namespace)))
                else {
                    continue;
                };
                let role_ref = b.get("roleRef").cloned().unwrap_or(Value::Null);
                match role_ref_rules(store, &role_ref, namespace, via) {
                    Ok(rules) => {
                        let name = b
                            .pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        let source = format!(
                            "RoleBinding {} of {} {} to {}",
                            go_quote(&format!("{name}/{namespace}")),
                            role_ref.get("kind").and_then(Value::as_str).unwrap_or(""),
                            go_quote(role_ref.get("name").and_then(Value::as_str).unwrap_or("")),
                            describe_subject(subject, namespace)
                        );
                        for r in &rules {
                            if !visit(&source, r) {
                                return errors;
                            }
                        }
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
        Err(e) => errors.push(e),
    }
    errors
}

/// `utilerrors.NewAggregate(errs).Error()`.
fn aggregate(errors: &[String]) -> String {
    match errors {
        [] => String::new(),
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// Whether `user` may do `a`: members of `system:masters` always (kube-apiserver puts the
/// privileged-group authorizer first), others as their RBAC rules allow.
pub(crate) fn authorize(store: &ObjectStore, user: &User, a: &Attributes) -> Decision {
    if user.in_group(MASTERS) {
        return Decision {
            allowed: true,
            reason: String::new(),
        };
    }
    let mut allowed_by = None;
    let errors = visit_rules(
        store,
        user,
        &a.namespace,
        Via::Lister,
        &mut |source, rule| {
            if rule.allows(a) {
                allowed_by = Some(format!("RBAC: allowed by {source}"));
                return false;
            }
            true
        },
    );
    match allowed_by {
        Some(reason) => Decision {
            allowed: true,
            reason,
        },
        None => Decision {
            allowed: false,
            reason: if errors.is_empty() {
                String::new()
            } else {
                format!("RBAC: {}", aggregate(&errors))
            },
        },
    }
}

/// Every rule `user` holds in `namespace` (`RulesFor`), with the resolution errors.
pub(crate) fn rules_for(
    store: &ObjectStore,
    user: &User,
    namespace: &str,
) -> (Vec<Rule>, Vec<String>) {
    let mut rules = Vec::new();
    let errors = visit_rules(store, user, namespace, Via::Storage, &mut |_, r| {
        rules.push(r.clone());
        true
    });
    (rules, errors)
}

/// `BreakdownRule`: one rule per group, resource, verb and name (or URL and verb).
fn breakdown(rule: &Rule) -> Vec<Rule> {
    let mut out = Vec::new();
    for g in &rule.api_groups {
        for r in &rule.resources {
            for v in &rule.verbs {
                let one = |names: Vec<String>| Rule {
                    verbs: vec![v.clone()],
                    api_groups: vec![g.clone()],
                    resources: vec![r.clone()],
                    resource_names: names,
                    non_resource_urls: vec![],
                };
                if rule.resource_names.is_empty() {
                    out.push(one(vec![]));
                } else {
                    for n in &rule.resource_names {
                        out.push(one(vec![n.clone()]));
                    }
                }
            }
        }
    }
    for u in &rule.non_resource_urls {
        for v in &rule.verbs {
            out.push(Rule {
                verbs: vec![v.clone()],
                non_resource_urls: vec![u.clone()],
                ..Rule::default()
            });
        }
    }
    out
}

/// `ruleCovers` of `pkg/registry/rbac/validation/policy_comparator.go`.
fn rule_covers(owner: &Rule, sub: &Rule) -> bool {
    let verbs = has(&owner.verbs, "*") || has_all(&owner.verbs, &sub.verbs);
    let groups = has(&owner.api_groups, "*") || has_all(&owner.api_groups, &sub.api_groups);
    let resources = has(&owner.resources, "*")
        || has_all(&owner.resources, &sub.resources)
        || sub.resources.iter().all(|path| {
            has(&owner.resources, path)
                || path.split_once('/').is_some_and(|(_, subresource)| {
                    has(&owner.resources, &format!("*/{subresource}"))
                })
        });
    let urls = sub.non_resource_urls.iter().all(|path| {
        owner.non_resource_urls.iter().any(|o| {
            o == path
                || o.strip_suffix('*')
                    .is_some_and(|prefix| path.starts_with(prefix))
        })
    });
    let names = if sub.resource_names.is_empty() {
        owner.resource_names.is_empty()
    } else {
        owner.resource_names.is_empty() || has_all(&owner.resource_names, &sub.resource_names)
    };
    verbs && groups && resources && names && urls
}

/// `Covers`: the parts of `requested` no rule of `owner` covers.
fn uncovered(owner: &[Rule], requested: &[Rule]) -> Vec<Rule> {
    requested
        .iter()
        .flat_map(breakdown)
        .filter(|sub| !owner.iter().any(|o| rule_covers(o, sub)))
        .collect()
}

/// `CompactRules`: simple rules (one group, one resource, no names) of the same group and
/// resource merged into one with all their verbs.
fn compact(rules: Vec<Rule>) -> Vec<Rule> {
    let mut out: Vec<Rule> = Vec::new();
    for r in rules {
        let simple = r.api_groups.len() == 1
            && r.resources.len() == 1
            && r.resource_names.is_empty()
            && r.non_resource_urls.is_empty();
        if simple {
            if let Some(existing) = out.iter_mut().find(|e| {
                e.api_groups == r.api_groups
                    && e.resources == r.resources
                    && e.resource_names.is_empty()
                    && e.non_resource_urls.is_empty()
            }) {
                existing.verbs.extend(r.verbs);
                continue;
            }
        }
        out.push(r);
    }
    out
}

/// `ConfirmNoEscalation`: `Err(message)` when `user` does not hold every one of `rules` in
/// `namespace`.
pub(crate) fn confirm_no_escalation(
    store: &ObjectStore,
    user: &User,
    namespace: &str,
    rules: &[Rule],
) -> Result<(), String> {
    let (owner, errors) = rules_for(store, user, namespace);
    let missing = uncovered(&owner, rules);
    if missing.is_empty() {
        return Ok(());
    }
    let mut lines: Vec<String> = compact(missing).iter().map(Rule::compact_string).collect();
    lines.sort();
    lines.dedup();
    let mut msg = format!(
        "user {} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
        go_quote(&user.name),
        go_quote_list(&user.groups),
        lines.join("\n")
    );
    if !errors.is_empty() {
        msg.push_str(&format!("; resolution errors: [{}]", errors.join(" ")));
    }
    Err(msg)
}

/// Why the rules of a role reference cannot be read by the binding registry.
pub(crate) enum RoleRefError {
    /// The role does not exist: `(resource, name)` (`clusterroles`, `x`).
    NotFound(String, String),
    /// Anything else (`unsupported role reference kind: "X"`).
    Other(String),
}

/// The rules of a role reference, read as the binding registry does.
pub(crate) fn role_reference_rules(
    store: &ObjectStore,
    role_ref: &Value,
    binding_ns: &str,
) -> Result<Vec<Rule>, RoleRefError> {
    role_ref_rules(store, role_ref, binding_ns, Via::Storage).map_err(|e| {
        let kind = role_ref.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = role_ref.get("name").and_then(Value::as_str).unwrap_or("");
        match kind {
            "Role" | "ClusterRole" if e.ends_with(" not found") => {
                RoleRefError::NotFound(format!("{}s", kind.to_ascii_lowercase()), name.to_string())
            }
            _ => RoleRefError::Other(e),
        }
    })
}

/// `fullAuthority`: what creating an aggregated ClusterRole requires.
pub(crate) fn full_authority() -> Vec<Rule> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        Rule {
            verbs: s(&["*"]),
            api_groups: s(&["*"]),
            resources: s(&["*"]),
            ..Rule::default()
        },
        Rule {
            verbs: s(&["*"]),
            non_resource_urls: s(&["*"]),
            ..Rule::default()
        },
    ]
}

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];
const READ_WRITE: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Rule {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    Rule {
        verbs: s(verbs),
        api_groups: s(groups),
        resources: s(resources),
        ..Rule::default()
    }
}

fn urls(verbs: &[&str], urls: &[&str]) -> Rule {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    Rule {
        verbs: s(verbs),
        non_resource_urls: s(urls),
        ..Rule::default()
    }
}

/// `system:aggregate-to-view`, as `bootstrappolicy/testdata/cluster-roles.yaml` has it.
fn aggregate_to_view() -> Vec<Rule> {
    vec![
        rule(
            READ,
            &[""],
            &[
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
            ],
        ),
        rule(
            READ,
            &[""],
            &[
                "bindings",
                "events",
                "limitranges",
                "namespaces/status",
                "pods/log",
                "pods/status",
                "replicationcontrollers/status",
                "resourcequotas",
                "resourcequotas/status",
            ],
        ),
        rule(READ, &[""], &["namespaces"]),
        rule(READ, &["discovery.k8s.io"], &["endpointslices"]),
        rule(
            READ,
            &["apps"],
            &[
                "controllerrevisions",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "statefulsets",
                "statefulsets/scale",
                "statefulsets/status",
            ],
        ),
        rule(
            READ,
            &["autoscaling"],
            &[
                "horizontalpodautoscalers",
                "horizontalpodautoscalers/status",
            ],
        ),
        rule(
            READ,
            &["batch"],
            &["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
        ),
        rule(
            READ,
            &["extensions"],
            &[
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "ingresses",
                "ingresses/status",
                "networkpolicies",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "replicationcontrollers/scale",
            ],
        ),
        rule(
            READ,
            &["policy"],
            &["poddisruptionbudgets", "poddisruptionbudgets/status"],
        ),
        rule(
            READ,
            &["networking.k8s.io"],
            &["ingresses", "ingresses/status", "networkpolicies"],
        ),
    ]
}

/// `system:aggregate-to-edit`.
fn aggregate_to_edit() -> Vec<Rule> {
    vec![
        rule(
            READ,
            &[""],
            &[
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
                "secrets",
                "services/proxy",
            ],
        ),
        rule(&["impersonate"], &[""], &["serviceaccounts"]),
        rule(
            WRITE,
            &[""],
            &[
                "pods",
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
            ],
        ),
        rule(&["create"], &[""], &["pods/eviction"]),
        rule(
            WRITE,
            &[""],
            &[
                "configmaps",
                "events",
                "persistentvolumeclaims",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "secrets",
                "serviceaccounts",
                "services",
                "services/proxy",
            ],
        ),
        rule(&["create"], &[""], &["serviceaccounts/token"]),
        rule(
            WRITE,
            &["apps"],
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
            ],
        ),
        rule(WRITE, &["autoscaling"], &["horizontalpodautoscalers"]),
        rule(WRITE, &["batch"], &["cronjobs", "jobs"]),
        rule(
            WRITE,
            &["extensions"],
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "ingresses",
                "networkpolicies",
                "replicasets",
                "replicasets/scale",
                "replicationcontrollers/scale",
            ],
        ),
        rule(WRITE, &["policy"], &["poddisruptionbudgets"]),
        rule(
            WRITE,
            &["networking.k8s.io"],
            &["ingresses", "networkpolicies"],
        ),
        rule(READ_WRITE, &["coordination.k8s.io"], &["leases"]),
    ]
}

/// `system:aggregate-to-admin`.
fn aggregate_to_admin() -> Vec<Rule> {
    vec![
        rule(
            &["create"],
            &["authorization.k8s.io"],
            &["localsubjectaccessreviews"],
        ),
        rule(READ_WRITE, &[RBAC_GROUP], &["rolebindings", "roles"]),
    ]
}

/// Rules of aggregated roles, as the aggregation controller builds them: the selected roles
/// sorted by name, their rules appended without duplicates.
fn aggregated(mut parts: Vec<(&str, Vec<Rule>)>) -> Vec<Rule> {
    parts.sort_by(|a, b| a.0.cmp(b.0));
    let mut out: Vec<Rule> = Vec::new();
    for (_, rules) in parts {
        for r in rules {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

/// The bootstrap ClusterRoles the emulator creates: `(name, aggregate-to labels, aggregated
/// from, rules)`.
/// One bootstrap ClusterRole.
struct BootstrapRole {
    name: &'static str,
    /// The `aggregate-to-X` labels it carries.
    aggregate_to: Vec<&'static str>,
    /// The `aggregate-to-X` label its aggregation rule selects.
    aggregates: Option<&'static str>,
    rules: Vec<Rule>,
}

fn bootstrap_cluster_roles() -> Vec<BootstrapRole> {
    let view = aggregated(vec![("system:aggregate-to-view", aggregate_to_view())]);
    let edit = aggregated(vec![
        ("system:aggregate-to-edit", aggregate_to_edit()),
        ("view", view.clone()),
    ]);
    let admin = aggregated(vec![
        ("edit", edit.clone()),
        ("system:aggregate-to-admin", aggregate_to_admin()),
    ]);
    type Row = (
        &'static str,
        Vec<&'static str>,
        Option<&'static str>,
        Vec<Rule>,
    );
    let roles: Vec<Row> = vec![
        (
            "cluster-admin",
            vec![],
            None,
            vec![rule(&["*"], &["*"], &["*"]), urls(&["*"], &["*"])],
        ),
        ("admin", vec![], Some("admin"), admin),
        ("edit", vec!["admin"], Some("edit"), edit),
        ("view", vec!["edit"], Some("view"), view),
        (
            "system:aggregate-to-admin",
            vec!["admin"],
            None,
            aggregate_to_admin(),
        ),
        (
            "system:aggregate-to-edit",
            vec!["edit"],
            None,
            aggregate_to_edit(),
        ),
        (
            "system:aggregate-to-view",
            vec!["view"],
            None,
            aggregate_to_view(),
        ),
        (
            "system:basic-user",
            vec![],
            None,
            vec![
                rule(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                rule(
                    &["create"],
                    &["authentication.k8s.io"],
                    &["selfsubjectreviews"],
                ),
            ],
        ),
        (
            "system:discovery",
            vec![],
            None,
            vec![urls(
                &["get"],
                &[
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ],
            )],
        ),
        (
            "system:public-info-viewer",
            vec![],
            None,
            vec![urls(
                &["get"],
                &["/healthz", "/livez", "/readyz", "/version", "/version/"],
            )],
        ),
    ];
    roles
        .into_iter()
        .map(|(name, aggregate_to, aggregates, rules)| BootstrapRole {
            name,
            aggregate_to,
            aggregates,
            rules,
        })
        .collect()
}

/// The bootstrap ClusterRoleBindings: `(name, groups)`, each to the ClusterRole of its name.
const BOOTSTRAP_BINDINGS: &[(&str, &[&str])] = &[
    ("cluster-admin", &[MASTERS]),
    ("system:basic-user", &[AUTHENTICATED]),
    ("system:discovery", &[AUTHENTICATED]),
    (
        "system:public-info-viewer",
        &[AUTHENTICATED, UNAUTHENTICATED],
    ),
];

/// Creates the bootstrap ClusterRoles and ClusterRoleBindings that are missing, as
/// kube-apiserver's `rbac/bootstrap-roles` post-start hook does.
pub(crate) fn bootstrap(store: &ObjectStore) -> Result<(), String> {
    let meta = |name: &str, labels: &[&str]| {
        let mut l = serde_json::Map::new();
        l.insert("kubernetes.io/bootstrapping".into(), json!("rbac-defaults"));
        for to in labels {
            l.insert(format!("{RBAC_GROUP}/aggregate-to-{to}"), json!("true"));
        }
        json!({
            "name": name,
            "labels": l,
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        })
    };
    let mut objects = Vec::new();
    for BootstrapRole {
        name,
        aggregate_to: labels,
        aggregates: aggregate,
        rules,
    } in bootstrap_cluster_roles()
    {
        let mut o = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": meta(name, &labels),
            "rules": rules.iter().map(Rule::to_json).collect::<Vec<_>>(),
        });
        if let Some(to) = aggregate {
            o["aggregationRule"] = json!({"clusterRoleSelectors": [
                {"matchLabels": {format!("{RBAC_GROUP}/aggregate-to-{to}"): "true"}}
            ]});
        }
        objects.push(("ClusterRole", o));
    }
    for (name, groups) in BOOTSTRAP_BINDINGS {
        let subjects: Vec<Value> = groups
            .iter()
            .map(|g| json!({"apiGroup": RBAC_GROUP, "kind": "Group", "name": g}))
            .collect();
        objects.push((
            "ClusterRoleBinding",
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": meta(name, &[]),
                "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
                "subjects": subjects,
            }),
        ));
    }
    for (kind, o) in objects {
        match store.create(kind, "", o, "kube-apiserver", false) {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.message().to_string()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            resource_request: true,
            group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            namespace: "ns".into(),
            ..Attributes::default()
        }
    }

    #[test]
    fn rules_match_wildcards_subresources_and_names() {
        let r = rule(&["get"], &[""], &["pods/log"]);
        assert!(r.allows(&attrs("get", "", "pods", "log", "p")));
        assert!(!r.allows(&attrs("get", "", "pods", "", "p")));
        let r = rule(&["*"], &["*"], &["*/status"]);
        assert!(r.allows(&attrs("patch", "apps", "statefulsets", "status", "db")));
        assert!(!r.allows(&attrs("patch", "apps", "statefulsets", "", "db")));
        let mut r = rule(&["get"], &[""], &["secrets"]);
        r.resource_names = vec!["a".into()];
        assert!(r.allows(&attrs("get", "", "secrets", "", "a")));
        assert!(!r.allows(&attrs("get", "", "secrets", "", "b")));
        assert!(!r.allows(&attrs("list", "", "secrets", "", "")));
        let u = urls(&["get"], &["/apis/*"]);
        let nr = |path: &str| Attributes {
            verb: "get".into(),
            path: path.into(),
            ..Attributes::default()
        };
        assert!(u.allows(&nr("/apis/apps/v1")));
        assert!(!u.allows(&nr("/api")));
    }

    #[test]
    fn covering_breaks_rules_down_and_compacts_what_is_missing() {
        let owner = vec![rule(&["get", "list"], &[""], &["secrets"])];
        let wanted = vec![rule(
            &["get", "list", "delete"],
            &[""],
            &["secrets", "pods"],
        )];
        let missing = compact(uncovered(&owner, &wanted));
        let lines: Vec<String> = missing.iter().map(Rule::compact_string).collect();
        assert_eq!(
            lines,
            [
                r#"{APIGroups:[""], Resources:["secrets"], Verbs:["delete"]}"#,
                r#"{APIGroups:[""], Resources:["pods"], Verbs:["get" "list" "delete"]}"#,
            ]
        );
        let owner = vec![rule(&["*"], &["*"], &["*/status"])];
        assert!(uncovered(
            &owner,
            &[rule(&["get"], &["apps"], &["statefulsets/status"])]
        )
        .is_empty());
    }

    #[test]
    fn edit_is_view_and_aggregate_to_edit_and_admin_adds_roles() {
        let roles = bootstrap_cluster_roles();
        let get = |n: &str| roles.iter().find(|r| r.name == n).unwrap().rules.clone();
        let a = |verb: &str, group: &str, res: &str| attrs(verb, group, res, "", "x");
        let allowed = |rules: &[Rule], at: Attributes| rules.iter().any(|r| r.allows(&at));
        assert!(allowed(&get("edit"), a("create", "apps", "statefulsets")));
        assert!(allowed(&get("edit"), a("get", "apps", "statefulsets")));
        assert!(!allowed(&get("edit"), a("create", RBAC_GROUP, "roles")));
        assert!(allowed(&get("admin"), a("create", RBAC_GROUP, "roles")));
        assert!(!allowed(&get("view"), a("get", "", "secrets")));
        assert!(allowed(&get("edit"), a("get", "", "secrets")));
        assert!(!allowed(&get("edit"), a("update", "", "resourcequotas")));
    }
}
