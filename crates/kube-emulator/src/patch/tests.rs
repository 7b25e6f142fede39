use serde_json::{json, Value};

use super::*;

fn info(kind: &str) -> &'static KindInfo {
    kube_store::kind_by_name(kind).unwrap()
}

fn json_patch(doc: Value, ops: Value) -> Result<Value, ()> {
    json_patch_apply(doc, ops.as_array().unwrap())
}

#[test]
fn json_patch_add_replace_remove_and_test() {
    let doc = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"ports": [{"port": 80}]}});
    let patched = json_patch(
        doc.clone(),
        json!([
            {"op": "test", "path": "/metadata/labels/a", "value": "1"},
            {"op": "add", "path": "/metadata/labels/b", "value": "2"},
            {"op": "replace", "path": "/metadata/labels/a", "value": "3"},
            {"op": "add", "path": "/spec/ports/-", "value": {"port": 443}},
            {"op": "remove", "path": "/spec/ports/0"}
        ]),
    )
    .unwrap();
    assert_eq!(
        patched,
        json!({"metadata": {"labels": {"a": "3", "b": "2"}}, "spec": {"ports": [{"port": 443}]}})
    );
    // A failed test fails the whole patch.
    assert!(json_patch(
        doc.clone(),
        json!([
            {"op": "add", "path": "/metadata/labels/b", "value": "2"},
            {"op": "test", "path": "/metadata/labels/a", "value": "2"}
        ])
    )
    .is_err());
    // A missing parent, a missing member to remove, an index past the end.
    for op in [
        json!({"op": "add", "path": "/metadata/annotations/x", "value": "1"}),
        json!({"op": "remove", "path": "/metadata/labels/zz"}),
        json!({"op": "add", "path": "/spec/ports/2", "value": 1}),
        json!({"op": "replace", "path": "/spec/ports/1", "value": 1}),
        json!({"op": "add", "path": "", "value": {}}),
        json!({"op": "frobnicate", "path": "/spec"}),
        json!({"op": "add", "value": 1}),
        json!(null),
    ] {
        assert!(json_patch(doc.clone(), json!([op])).is_err(), "{op}");
    }
}

#[test]
fn json_patch_follows_the_go_library_where_it_departs_from_the_rfc() {
    let doc = json!({"metadata": {"labels": {"a": "1"}}, "list": ["x", "y", "z"]});
    // `replace` of a missing member adds it.
    let patched = json_patch(
        doc.clone(),
        json!([{"op": "replace", "path": "/metadata/labels/new", "value": "n"}]),
    )
    .unwrap();
    assert_eq!(patched["metadata"]["labels"]["new"], "n");
    // Negative and zero-padded indices.
    let patched = json_patch(
        doc.clone(),
        json!([
            {"op": "replace", "path": "/list/-1", "value": "Z"},
            {"op": "remove", "path": "/list/00"},
            {"op": "add", "path": "/list/-1", "value": "end"}
        ]),
    )
    .unwrap();
    assert_eq!(patched["list"], json!(["y", "Z", "end"]));
    // `test` of a missing member passes with a null value, `copy` of one copies null.
    let patched = json_patch(
        doc.clone(),
        json!([
            {"op": "test", "path": "/metadata/annotations", "value": null},
            {"op": "copy", "from": "/metadata/nothing", "path": "/metadata/copied"}
        ]),
    )
    .unwrap();
    assert_eq!(patched["metadata"]["copied"], Value::Null);
    assert!(json_patch(
        doc.clone(),
        json!([{"op": "test", "path": "/metadata/annotations", "value": {}}])
    )
    .is_err());
    // A path without its leading slash loses its first segment.
    let patched = json_patch(
        doc.clone(),
        json!([{"op": "add", "path": "ignored/top", "value": 1}]),
    )
    .unwrap();
    assert_eq!(patched["top"], 1);
    // `move` removes first, then adds; escaped tokens.
    let patched = json_patch(
        json!({"a": {"b/c": 1, "d~e": 2}}),
        json!([
            {"op": "move", "from": "/a/b~1c", "path": "/moved"},
            {"op": "test", "path": "/a/d~0e", "value": 2}
        ]),
    )
    .unwrap();
    assert_eq!(patched, json!({"a": {"d~e": 2}, "moved": 1}));
    // `replace` of the whole document takes an object or a list only.
    assert!(json_patch(
        doc.clone(),
        json!([{"op": "replace", "path": "", "value": 1}])
    )
    .is_err());
}

#[test]
fn json_patch_bodies_that_do_not_decode_are_bad_requests() {
    let bad = |body: &str, directive| {
        let r = parse(PatchType::Json, body.as_bytes(), directive).unwrap_err();
        assert_eq!(
            (r.code, r.status["reason"].as_str()),
            (400, Some("BadRequest"))
        );
        r.status["message"].as_str().unwrap().to_string()
    };
    assert_eq!(
        bad(r#"{"op": "add"}"#, Directive::Strict),
        "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"
    );
    assert_eq!(
        bad(r#"{"op": "add"}"#, Directive::Ignore),
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
    );
    assert_eq!(
        bad(r#"["add"]"#, Directive::Warn),
        "error decoding patch: json: cannot unmarshal string into Go value of type handlers.jsonPatchOp"
    );
    assert_eq!(
        bad(r#"[{"op": 1, "path": "/a"}]"#, Directive::Strict),
        "error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.op of type string"
    );
    assert!(bad("[", Directive::Strict).starts_with("error decoding patch: "));
    // null is no operation at all.
    assert_eq!(
        parse(PatchType::Json, b"null", Directive::Strict)
            .unwrap()
            .body,
        json!([])
    );
    let many = format!("[{}]", vec!["{}"; 10001].join(","));
    let r = parse(PatchType::Json, many.as_bytes(), Directive::Ignore).unwrap_err();
    assert_eq!(r.code, 413);
    assert_eq!(
        r.status["message"],
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
    );
    // A strategic merge patch is a map.
    let r = parse(PatchType::Strategic, b"[1]", Directive::Strict).unwrap_err();
    assert_eq!(
        r.status["message"],
        "json: cannot unmarshal array into Go value of type map[string]interface {}"
    );
}

#[test]
fn failures_are_answered_as_the_handler_answers_them() {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "a"}, "data": {"k": "v"}});
    let json = |ops: Value| Patch {
        kind: PatchType::Json,
        body: ops,
    };
    // Any JSON patch failure: 422 Invalid, the message replaced, details empty.
    let r = apply(
        info("ConfigMap"),
        &json(json!([{"op": "test", "path": "/data/k", "value": "w"}])),
        &cm,
    )
    .unwrap_err();
    assert_eq!(
        r.status,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the server rejected our request due to an error in our request",
            "reason": "Invalid", "details": {}, "code": 422})
    );
    // The document is the object as Go encodes it: empty fields are not there to test.
    let with_empty =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {}}});
    assert!(apply(
        info("ConfigMap"),
        &json(json!([{"op": "add", "path": "/metadata/labels/x", "value": "1"}])),
        &with_empty,
    )
    .is_err());

    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s"},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}});
    let smp = |body: Value| Patch {
        kind: PatchType::Strategic,
        body,
    };
    // A missing merge key is no API status: 500, no reason.
    let r = apply(
        info("StatefulSet"),
        &smp(json!({"spec": {"template": {"spec": {"containers": [{"image": "y"}]}}}})),
        &sts,
    )
    .unwrap_err();
    assert_eq!(
        r.status,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "map: map[image:y] does not contain declared merge key: name", "code": 500})
    );
    // A malformed directive: 400.
    let r = apply(
        info("StatefulSet"),
        &smp(json!({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}})),
        &sts,
    )
    .unwrap_err();
    assert_eq!(
        (
            r.code,
            r.status["reason"].as_str(),
            r.status["message"].as_str()
        ),
        (
            400,
            Some("BadRequest"),
            Some("invalid patch format of primitive list")
        )
    );
    // Lists of lists: 422 with the generic message.
    let r = apply(
        info("StatefulSet"),
        &smp(json!({"metadata": {"$setElementOrder/finalizers": [], "finalizers": [[1]]}})),
        &sts,
    )
    .unwrap_err();
    assert_eq!(r, unprocessable());
}

#[test]
fn the_415_lists_the_patch_types_of_built_in_kinds() {
    assert_eq!(
        accepted_media_types(info("Deployment")),
        "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
    );
    assert_eq!(
        patch_type(info("Deployment"), "application/strategic-merge-patch+json"),
        Some(PatchType::Strategic)
    );
    assert_eq!(patch_type(info("Deployment"), "application/json"), None);
}
