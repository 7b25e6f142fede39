//! The three non-apply patch types of a PATCH, as
//! `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go` applies them to the stored
//! object encoded as the Go structs encode it:
//!
//! - `application/merge-patch+json`: RFC 7386 (`jsonpatch.MergePatch`);
//! - `application/strategic-merge-patch+json`: [`crate::strategic`]; a kind without a schema
//!   is a custom resource, which does not take it (415);
//! - `application/json-patch+json`: RFC 6902, applied by the `json_patch` crate after each
//!   operation is brought to what `gopkg.in/evanphx/json-patch.v4` (the library the server
//!   uses) makes of it: negative and zero-padded indices, `replace` of a missing member adds
//!   it, `copy` of a missing member copies `null`, `test` of a missing member with a `null`
//!   (or no) value passes, a path without its leading `/` loses its first segment.
//!
//! Failures are answered as the handler answers them: a body that does not decode is a 400;
//! a JSON patch that does not apply, whatever the reason, is a 422 Invalid whose message
//! the handler replaces (`errors.NewGenericServerResponse` keeps no server message for 422);
//! a strategic merge patch's errors per [`crate::strategic::Error`].

use json_patch::jsonptr::PointerBuf;
use json_patch::PatchOperation;
use serde_json::{json, Value};

use kube_store::KindInfo;

use crate::strategic::{self, OpenApi};
use crate::validation::{Directive, PatchType, Refusal};
use crate::{gojson, schema};

/// `maxJSONPatchOperations`.
const MAX_JSON_PATCH_OPERATIONS: usize = 10000;

/// The media types a PATCH of a kind accepts, as the 415 lists them: the installer's list for
/// built-in kinds, the custom resource handler's (no strategic merge patch) for the others.
pub(crate) fn accepted_media_types(info: &KindInfo) -> &'static str {
    if schema::definition_name(info).is_some() {
        "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
    } else {
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    }
}

/// The patch type of a content type, `None` for one the handler does not take.
pub(crate) fn patch_type(info: &KindInfo, content_type: &str) -> Option<PatchType> {
    match content_type {
        "application/merge-patch+json" => Some(PatchType::Merge),
        "application/json-patch+json" => Some(PatchType::Json),
        "application/strategic-merge-patch+json" if schema::definition_name(info).is_some() => {
            Some(PatchType::Strategic)
        }
        _ => None,
    }
}

fn status(code: u16, reason: Option<&str>, message: &str, details: Option<Value>) -> Refusal {
    crate::validation::refusal(code, reason, message, details)
}

/// `errors.NewBadRequest`.
fn bad_request(message: &str) -> Refusal {
    status(400, Some("BadRequest"), message, None)
}

/// `errors.NewGenericServerResponse(422, ...)`: the server's message is not kept.
pub(crate) fn unprocessable() -> Refusal {
    status(
        422,
        Some("Invalid"),
        "the server rejected our request due to an error in our request",
        Some(json!({})),
    )
}

/// A patch body, decoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Patch {
    pub(crate) kind: PatchType,
    /// The body: a map for merge patches, a list of operations for JSON patches.
    pub(crate) body: Value,
}

/// How `encoding/json` names a JSON value it cannot decode (`UnmarshalTypeError.Value`).
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Decodes a PATCH body of a merge, strategic merge or JSON patch.
pub(crate) fn parse(kind: PatchType, body: &[u8], directive: Directive) -> Result<Patch, Refusal> {
    let checked = directive != Directive::Ignore;
    let decoded = if body.is_empty() {
        Err("unexpected end of JSON input".to_string())
    } else {
        serde_json::from_slice::<Value>(body).map_err(|e| e.to_string())
    };
    let body = match (kind, decoded) {
        (PatchType::Json, Err(e)) if checked => {
            return Err(bad_request(&format!("error decoding patch: {e}")))
        }
        (PatchType::Json, Err(e)) => return Err(bad_request(&e)),
        (_, Err(e)) => {
            return Err(bad_request(&format!(
                "the body of the request was in an unknown format: {e}"
            )))
        }
        (_, Ok(v)) => v,
    };
    match kind {
        PatchType::Merge => Ok(Patch { kind, body }),
        PatchType::Strategic => match body {
            Value::Object(_) => Ok(Patch { kind, body }),
            // `json.Unmarshal` of null into a map leaves it empty.
            Value::Null => Ok(Patch {
                kind,
                body: json!({}),
            }),
            other => Err(bad_request(&format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&other)
            ))),
        },
        PatchType::Json => {
            let ops = match body {
                Value::Array(a) => a,
                Value::Null => Vec::new(),
                other if checked => {
                    return Err(bad_request(&format!(
                        "error decoding patch: json: cannot unmarshal {} into Go value of type []handlers.jsonPatchOp",
                        json_kind(&other)
                    )))
                }
                other => {
                    return Err(bad_request(&format!(
                        "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                        json_kind(&other)
                    )))
                }
            };
            // The strict decoding into `jsonPatchOp` (op, path, from: strings) comes first
            // unless validation is off, then `jsonpatch.DecodePatch`.
            for op in &ops {
                match op {
                    Value::Object(m) if checked => {
                        for field in ["op", "path", "from"] {
                            match m.get(field) {
                                None | Some(Value::Null) | Some(Value::String(_)) => {}
                                Some(other) => {
                                    return Err(bad_request(&format!(
                                        "error decoding patch: json: cannot unmarshal {} into Go struct field jsonPatchOp.{field} of type string",
                                        json_kind(other)
                                    )))
                                }
                            }
                        }
                    }
                    Value::Object(_) | Value::Null => {}
                    other if checked => {
                        return Err(bad_request(&format!(
                            "error decoding patch: json: cannot unmarshal {} into Go value of type handlers.jsonPatchOp",
                            json_kind(other)
                        )))
                    }
                    other => {
                        return Err(bad_request(&format!(
                            "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                            json_kind(other)
                        )))
                    }
                }
            }
            if ops.len() > MAX_JSON_PATCH_OPERATIONS {
                return Err(status(
                    413,
                    Some("RequestEntityTooLarge"),
                    &format!(
                        "Request entity too large: The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
                        ops.len()
                    ),
                    None,
                ));
            }
            Ok(Patch {
                kind,
                body: Value::Array(ops),
            })
        }
    }
}

/// Applies `patch` to the stored object `current`, encoded first as the Go structs encode it
/// (fields left out when empty, as the real server's versioned JSON and unstructured map
/// have them).
pub(crate) fn apply(info: &KindInfo, patch: &Patch, current: &Value) -> Result<Value, Refusal> {
    let def = schema::definition_name(info);
    let mut original = current.clone();
    if let Some(def) = def {
        gojson::shape(def, &mut original);
    }
    match patch.kind {
        PatchType::Merge => {
            kube_store::merge_patch_value(&mut original, &patch.body);
            Ok(original)
        }
        PatchType::Strategic => {
            let Some(lookup) = def.and_then(OpenApi::definition) else {
                return Err(status(
                    415,
                    Some("UnsupportedMediaType"),
                    &format!(
                        "the body of the request was in an unknown format - accepted media types include: {}",
                        accepted_media_types(info)
                    ),
                    None,
                ));
            };
            strategic::strategic_merge_patch(original, patch.body.clone(), &lookup).map_err(|e| {
                match e {
                    strategic::Error::BadRequest(m) => bad_request(m),
                    strategic::Error::Unprocessable(_) => unprocessable(),
                    // Not an API status: `ErrorToAPIStatus` makes it a 500 without a reason.
                    strategic::Error::Other(m) => status(500, None, &m, None),
                }
            })
        }
        PatchType::Json => {
            let ops = patch.body.as_array().map(Vec::as_slice).unwrap_or(&[]);
            json_patch_apply(original, ops).map_err(|()| unprocessable())
        }
    }
}

/// The tokens of a JSON pointer as `findObject` splits it: on `/`, the first piece dropped
/// (empty for a proper pointer), `~1` and `~0` decoded. `None` for a path of one piece.
fn go_tokens(path: &str) -> Option<Vec<String>> {
    let mut split = path.split('/');
    split.next();
    let tokens: Vec<String> = split
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    (!tokens.is_empty()).then_some(tokens)
}

/// `strconv.Atoi`.
fn atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `partialArray.get`/`set`: negative indices count from the end.
fn array_index(len: usize, key: &str) -> Option<usize> {
    let mut idx = atoi(key)?;
    let len = len as i64;
    if idx < 0 {
        if idx < -len {
            return None;
        }
        idx += len;
    }
    (idx < len).then_some(idx as usize)
}

/// `partialArray.add`: `-` appends; an index may be the length; negative ones count from
/// the end of the longer list.
fn array_insert_index(len: usize, key: &str) -> Option<usize> {
    if key == "-" {
        return Some(len);
    }
    let mut idx = atoi(key)?;
    let size = len as i64 + 1;
    if idx >= size {
        return None;
    }
    if idx < 0 {
        if idx < -size {
            return None;
        }
        idx += size;
    }
    Some(idx as usize)
}

/// `findObject`: the container the last token is a key of, and the tokens leading to it
/// with array indices made plain. A missing or `null` step, or a scalar, is no container.
fn find_container<'d>(doc: &'d Value, tokens: &[String]) -> Option<(&'d Value, Vec<String>)> {
    let mut current = doc;
    let mut plain = Vec::new();
    for part in &tokens[..tokens.len() - 1] {
        let (next, token) = match current {
            Value::Object(m) => (m.get(part)?, part.clone()),
            Value::Array(a) => {
                let i = array_index(a.len(), part)?;
                (&a[i], i.to_string())
            }
            _ => return None,
        };
        if !matches!(next, Value::Object(_) | Value::Array(_)) {
            return None;
        }
        current = next;
        plain.push(token);
    }
    Some((current, plain))
}

/// Where an operation takes or puts a value, with the value there now (`None`: nothing, or
/// `null`, which the Go library cannot tell apart from nothing).
struct Target {
    pointer: PointerBuf,
    existing: Option<Value>,
    in_object: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Access {
    /// `get`/`set` of an existing array element or any object member.
    Get,
    /// `add`: an array index may be the length or `-`.
    Insert,
    /// `remove`: an array element or an existing object member.
    Remove,
}

fn target(doc: &Value, path: &str, access: Access) -> Option<Target> {
    let tokens = go_tokens(path)?;
    let (container, mut plain) = find_container(doc, &tokens)?;
    let key = tokens.last()?;
    let (token, existing, in_object) = match container {
        Value::Object(m) => {
            let existing = m.get(key).filter(|v| !v.is_null()).cloned();
            if access == Access::Remove && !m.contains_key(key) {
                return None;
            }
            (key.clone(), existing, true)
        }
        Value::Array(a) => {
            let i = match access {
                Access::Insert => array_insert_index(a.len(), key)?,
                Access::Get | Access::Remove => array_index(a.len(), key)?,
            };
            (
                i.to_string(),
                a.get(i).filter(|v| !v.is_null()).cloned(),
                false,
            )
        }
        _ => return None,
    };
    plain.push(token);
    Some(Target {
        pointer: PointerBuf::from_tokens(plain.iter().map(String::as_str)),
        existing,
        in_object,
    })
}

/// One operation as the Go library applies it, in terms of the crate's operations.
fn go_operation(doc: &Value, op: &Value) -> Option<Vec<PatchOperation>> {
    use json_patch::{
        AddOperation, CopyOperation, RemoveOperation, ReplaceOperation, TestOperation,
    };
    let m = op.as_object()?;
    let text = |field: &str| m.get(field).and_then(Value::as_str);
    let kind = text("op").unwrap_or("unknown");
    let path = text("path")?;
    // A missing or null value is Go's nil node, written as `null`.
    let value = m.get("value").cloned().unwrap_or(Value::Null);
    let ops = match kind {
        "add" => {
            let t = target(doc, path, Access::Insert)?;
            vec![PatchOperation::Add(AddOperation {
                path: t.pointer,
                value,
            })]
        }
        "remove" => {
            let t = target(doc, path, Access::Remove)?;
            vec![PatchOperation::Remove(RemoveOperation { path: t.pointer })]
        }
        "replace" => {
            if path.is_empty() {
                if !matches!(value, Value::Object(_) | Value::Array(_)) {
                    return None;
                }
                return Some(vec![PatchOperation::Replace(ReplaceOperation {
                    path: PointerBuf::root(),
                    value,
                })]);
            }
            let t = target(doc, path, Access::Get)?;
            // `partialDoc.set` adds a member that is not there.
            if t.in_object && doc.pointer(t.pointer.as_str()).is_none() {
                vec![PatchOperation::Add(AddOperation {
                    path: t.pointer,
                    value,
                })]
            } else {
                vec![PatchOperation::Replace(ReplaceOperation {
                    path: t.pointer,
                    value,
                })]
            }
        }
        "test" => {
            let expected = m.get("value").filter(|v| !v.is_null());
            if path.is_empty() {
                return (Some(doc) == expected).then(Vec::new);
            }
            let t = target(doc, path, Access::Get)?;
            return match (t.existing, expected) {
                (None, None) => Some(Vec::new()),
                (Some(_), Some(expected)) => Some(vec![PatchOperation::Test(TestOperation {
                    path: t.pointer,
                    value: expected.clone(),
                })]),
                _ => None,
            };
        }
        "move" => {
            let from = target(doc, text("from")?, Access::Remove)?;
            let moved = doc.pointer(from.pointer.as_str()).cloned()?;
            let mut after = doc.clone();
            json_patch::patch(
                &mut after,
                &[PatchOperation::Remove(RemoveOperation {
                    path: from.pointer.clone(),
                })],
            )
            .ok()?;
            let to = target(&after, path, Access::Insert)?;
            vec![
                PatchOperation::Remove(RemoveOperation { path: from.pointer }),
                PatchOperation::Add(AddOperation {
                    path: to.pointer,
                    value: moved,
                }),
            ]
        }
        "copy" => {
            let from = target(doc, text("from")?, Access::Get)?;
            let to = target(doc, path, Access::Insert)?;
            match from.existing {
                Some(_) => vec![PatchOperation::Copy(CopyOperation {
                    from: from.pointer,
                    path: to.pointer,
                })],
                // `partialDoc.get` of a missing member is nil, copied as `null`.
                None => vec![PatchOperation::Add(AddOperation {
                    path: to.pointer,
                    value: Value::Null,
                })],
            }
        }
        _ => return None,
    };
    Some(ops)
}

/// Applies JSON patch operations in order; any failure fails the whole patch.
fn json_patch_apply(mut doc: Value, ops: &[Value]) -> Result<Value, ()> {
    for op in ops {
        let ops = go_operation(&doc, op).ok_or(())?;
        json_patch::patch(&mut doc, &ops).map_err(|_| ())?;
    }
    Ok(doc)
}

/// Drops `null` members everywhere: the typed object a patched map is decoded into has the
/// zero value there, which its encoding leaves out.
pub(crate) fn drop_null_members(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(drop_null_members);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_null_members),
        _ => {}
    }
}

/// The patched object's JSON as the handler quotes it in a refusal: keys sorted, Go's
/// escaping, no newline.
pub(crate) fn go_json_text(v: &Value) -> String {
    let mut sorted = v.clone();
    sort_all(&mut sorted);
    let mut text = String::from_utf8(gojson::to_vec(&sorted)).unwrap_or_default();
    if text.ends_with('\n') {
        text.pop();
    }
    text
}

fn sort_all(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.sort_keys();
            m.values_mut().for_each(sort_all);
        }
        Value::Array(a) => a.iter_mut().for_each(sort_all),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
