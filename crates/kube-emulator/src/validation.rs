//! Field validation of write requests, with the answers of the real handlers
//! (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/{create,update,patch,rest}.go`):
//!
//! - `fieldValidation` is `Ignore`, `Warn` (the default) or `Strict`; any other value is a 422
//!   on the `CreateOptions`/`UpdateOptions`/`PatchOptions`;
//! - create and update decode the body into the Go struct: a wrong type is a 400
//!   (`Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal
//!   ...`), unknown fields are a 400 with `Strict` (`... strict decoding error: unknown field
//!   "spec.foo"`), a `Warning` each with `Warn`, nothing with `Ignore`, and are dropped;
//! - merge, strategic merge and JSON patches decode the patched object: the same findings
//!   are a 422 on the field `patch`;
//! - server-side apply refuses unknown fields and wrong types whatever `fieldValidation` says:
//!   a 500 without a reason, `failed to create typed patch object (ns/name; apps/v1,
//!   Kind=Deployment): .spec.foo: field not declared in schema`.

use serde_json::{json, Value};

use kube_store::KindInfo;

use crate::schema;

/// The `fieldValidation` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Directive {
    Ignore,
    Warn,
    Strict,
}

/// A refusal: the status code and the `metav1.Status` body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refusal {
    pub(crate) code: u16,
    pub(crate) status: Value,
}

/// A `metav1.Status` failure with its code, as the handlers write it.
pub(crate) fn refusal(
    code: u16,
    reason: Option<&str>,
    message: impl Into<String>,
    details: Option<Value>,
) -> Refusal {
    let message: String = message.into();
    let mut status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
    });
    if let Some(r) = reason {
        status["reason"] = json!(r);
    }
    if let Some(d) = details {
        status["details"] = d;
    }
    status["code"] = json!(code);
    Refusal { code, status }
}

/// `errors.NewInvalid(schema.GroupKind{}, "", field.ErrorList{field.Invalid(field.NewPath("patch"), value, detail)})`.
fn invalid_patch(value: &str, detail: &str) -> Refusal {
    let body = format!("Invalid value: {}: {detail}", go_quote(value));
    refusal(
        422,
        Some("Invalid"),
        format!(" \"\" is invalid: patch: {body}"),
        Some(
            json!({"causes": [{"reason": "FieldValueInvalid", "message": body, "field": "patch"}]}),
        ),
    )
}

/// Go's `%q` of a string.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The directive of a request, `Warn` when absent; `options` names the options kind
/// (`CreateOptions`) for the refusal of an unknown value.
pub(crate) fn directive(value: Option<&str>, options: &str) -> Result<Directive, Refusal> {
    match value.unwrap_or("") {
        "" | "Warn" => Ok(Directive::Warn),
        "Ignore" => Ok(Directive::Ignore),
        "Strict" => Ok(Directive::Strict),
        other => {
            let detail = format!(
                "fieldValidation: Unsupported value: {}: supported values: \"Ignore\", \"Strict\", \"Warn\"",
                go_quote(other)
            );
            Err(refusal(
                422,
                Some("Invalid"),
                format!("{options}.meta.k8s.io \"\" is invalid: {detail}"),
                Some(json!({
                    "group": "meta.k8s.io",
                    "kind": options,
                    "causes": [{
                        "reason": "FieldValueNotSupported",
                        "message": detail.trim_start_matches("fieldValidation: "),
                        "field": "fieldValidation",
                    }],
                })),
            ))
        }
    }
}

/// An accepted body: what is left of it and the warnings to send.
#[derive(Debug, Default)]
pub(crate) struct Accepted {
    pub(crate) warnings: Vec<String>,
}

fn unknown_field(path: &str) -> String {
    format!("unknown field {}", go_quote(path))
}

fn strict_error(unknown: &[String]) -> String {
    let fields: Vec<String> = unknown.iter().map(|p| unknown_field(p)).collect();
    format!("strict decoding error: {}", fields.join(", "))
}

fn findings(unknown: &[String], directive: Directive) -> Accepted {
    Accepted {
        warnings: if directive == Directive::Warn {
            unknown.iter().map(|p| unknown_field(p)).collect()
        } else {
            Vec::new()
        },
    }
}

/// Checks the body of a create (POST) or update (PUT) and drops its unknown fields.
pub(crate) fn check_body(
    info: &KindInfo,
    obj: &mut Value,
    directive: Directive,
) -> Result<Accepted, Refusal> {
    let Some(def) = schema::definition_name(info) else {
        return Ok(Accepted::default());
    };
    let named = |field: &str| obj.get(field).and_then(Value::as_str).unwrap_or("");
    if !named("kind").is_empty() && named("kind") != info.kind
        || !named("apiVersion").is_empty() && named("apiVersion") != info.api_version()
    {
        // Decoded as the kind it names, then refused for not being the resource's kind:
        // left to the store.
        return Ok(Accepted::default());
    }
    // The kind and version the body names, defaulted from the request as the decoder does.
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .unwrap_or(info.kind)
        .to_string();
    let version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(|v| v.rsplit('/').next().unwrap_or(v).to_string())
        .unwrap_or_else(|| info.version.to_string());
    let decoded = schema::decode(def, obj);
    let bad = |e: String| {
        refusal(
            400,
            Some("BadRequest"),
            format!(
                "{kind} in version {} cannot be handled as a {}: {e}",
                go_quote(&version),
                info.kind
            ),
            None,
        )
    };
    if let Some(e) = decoded.type_error {
        return Err(bad(e));
    }
    if directive == Directive::Strict && !decoded.unknown.is_empty() {
        return Err(bad(strict_error(&decoded.unknown)));
    }
    Ok(findings(&decoded.unknown, directive))
}

/// How a patch was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    Merge,
    Strategic,
    Json,
}

/// Checks the object a merge, strategic merge or JSON patch made and drops its unknown
/// fields, as decoding it into the Go struct does. A refusal quotes, as the handler does,
/// Go's `%+v` of the patch map for a strategic merge patch, else the patched object's JSON.
pub(crate) fn check_patched(
    info: &KindInfo,
    patched: &mut Value,
    patch: &crate::patch::Patch,
    directive: Directive,
) -> Result<Accepted, Refusal> {
    let Some(def) = schema::definition_name(info) else {
        return Ok(Accepted::default());
    };
    let before = patched.clone();
    let decoded = schema::decode(def, patched);
    let detail = match (&decoded.type_error, directive) {
        (Some(e), _) => e.clone(),
        (None, Directive::Strict) if !decoded.unknown.is_empty() => strict_error(&decoded.unknown),
        _ => return Ok(findings(&decoded.unknown, directive)),
    };
    let value = match patch.kind {
        // `fmt.Sprintf("%+v", patchMap)`.
        PatchType::Strategic => schema::go_v(&patch.body),
        // The patched object as the JSON patch libraries write it: Go JSON, keys sorted.
        PatchType::Merge | PatchType::Json => crate::patch::go_json_text(&before),
    };
    Err(invalid_patch(&value, &detail))
}

/// Checks a server-side apply patch for the kind of the request; a patch of another
/// `apiVersion` or `kind` is left to the store to refuse.
pub(crate) fn check_apply(info: &KindInfo, patch: &Value) -> Result<(), Refusal> {
    let api_version = patch
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = patch.get("kind").and_then(Value::as_str).unwrap_or("");
    if api_version != info.api_version() || kind != info.kind {
        return Ok(());
    }
    let Some(def) = schema::definition_name(info) else {
        return Ok(());
    };
    let errs = schema::check_apply(def, patch);
    if errs.is_empty() {
        return Ok(());
    }
    let s = |p: &str| patch.pointer(p).and_then(Value::as_str).unwrap_or("");
    let message = format!(
        "failed to create typed patch object ({}/{}; {}/{}, Kind={}): {}",
        s("/metadata/namespace"),
        s("/metadata/name"),
        info.group,
        info.version,
        info.kind,
        schema::join_apply_errors(&errs)
    );
    Err(refusal(500, None, message, None))
}

/// The `Warning` header value of a warning (`staging/src/k8s.io/apimachinery/pkg/util/net/http.go`,
/// `NewWarningHeader`): code 299, agent `-`, the text quoted.
pub(crate) fn warning_header(text: &str) -> String {
    format!(
        "299 - \"{}\"",
        text.replace('\\', "\\\\").replace('"', "\\\"")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(kind: &str) -> &'static KindInfo {
        kube_store::kind_by_name(kind).unwrap()
    }

    #[test]
    fn strict_create_refuses_unknown_fields_with_the_real_message() {
        let mut obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d"}, "spec": {"foo": 1, "bar": 2}});
        let r = check_body(info("Deployment"), &mut obj, Directive::Strict).unwrap_err();
        assert_eq!(r.code, 400);
        assert_eq!(
            r.status["message"],
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.foo\", unknown field \"spec.bar\""
        );
        assert_eq!(r.status["reason"], "BadRequest");
    }

    #[test]
    fn warn_drops_unknown_fields_and_warns_once_each() {
        let mut obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c"}, "data": {"a": "b"}, "foo": 1});
        let ok = check_body(info("ConfigMap"), &mut obj, Directive::Warn).unwrap();
        assert_eq!(ok.warnings, ["unknown field \"foo\""]);
        assert!(obj.get("foo").is_none());
        assert_eq!(
            warning_header(&ok.warnings[0]),
            "299 - \"unknown field \\\"foo\\\"\""
        );
        let mut obj = json!({"kind": "ConfigMap", "foo": 1});
        let ok = check_body(info("ConfigMap"), &mut obj, Directive::Ignore).unwrap();
        assert!(ok.warnings.is_empty());
        assert!(obj.get("foo").is_none());
    }

    #[test]
    fn a_body_of_another_kind_is_left_to_the_store() {
        let mut obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}});
        let ok = check_body(info("Deployment"), &mut obj, Directive::Strict).unwrap();
        assert!(ok.warnings.is_empty());
        assert_eq!(obj["data"]["a"], "b");
    }

    #[test]
    fn an_unknown_directive_is_refused() {
        let r = directive(Some("Loose"), "CreateOptions").unwrap_err();
        assert_eq!(r.code, 422);
        assert_eq!(
            r.status["message"],
            "CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"Loose\": supported values: \"Ignore\", \"Strict\", \"Warn\""
        );
        assert_eq!(directive(None, "CreateOptions"), Ok(Directive::Warn));
    }

    #[test]
    fn strict_patches_are_refused_on_the_field_patch() {
        let body = json!({"spec": {"foo": 1}});
        let current = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}});
        let merge = crate::patch::Patch {
            kind: PatchType::Merge,
            body: body.clone(),
        };
        let mut patched = crate::patch::apply(info("Service"), &merge, &current).unwrap();
        let r =
            check_patched(info("Service"), &mut patched, &merge, Directive::Strict).unwrap_err();
        assert_eq!(r.code, 422);
        assert_eq!(
            r.status["message"],
            " \"\" is invalid: patch: Invalid value: \"{\\\"apiVersion\\\":\\\"v1\\\",\\\"kind\\\":\\\"Service\\\",\\\"metadata\\\":{\\\"name\\\":\\\"s\\\"},\\\"spec\\\":{\\\"foo\\\":1}}\": strict decoding error: unknown field \"spec.foo\""
        );
        let strategic = crate::patch::Patch {
            kind: PatchType::Strategic,
            body,
        };
        let mut patched = crate::patch::apply(info("Service"), &strategic, &current).unwrap();
        let r = check_patched(info("Service"), &mut patched, &strategic, Directive::Strict)
            .unwrap_err();
        assert_eq!(
            r.status["message"],
            " \"\" is invalid: patch: Invalid value: \"map[spec:map[foo:1]]\": strict decoding error: unknown field \"spec.foo\""
        );
        // Warn drops the field from what is stored and warns once.
        let mut patched = crate::patch::apply(info("Service"), &strategic, &current).unwrap();
        let ok = check_patched(info("Service"), &mut patched, &strategic, Directive::Warn).unwrap();
        assert_eq!(ok.warnings, ["unknown field \"spec.foo\""]);
        assert!(patched.pointer("/spec/foo").is_none());
    }

    #[test]
    fn apply_refuses_unknown_fields_whatever_the_directive() {
        let patch = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "a"}, "sops": {"mac": "x"}});
        let r = check_apply(info("Secret"), &patch).unwrap_err();
        assert_eq!(r.code, 500);
        assert_eq!(
            r.status["message"],
            "failed to create typed patch object (a/s; /v1, Kind=Secret): .sops: field not declared in schema"
        );
        assert!(r.status.get("reason").is_none());
    }
}
