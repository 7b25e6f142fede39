//! Strategic merge patch as the API server applies it: `StrategicMergeMapPatch` in
//! `staging/src/k8s.io/apimachinery/pkg/util/strategicpatch/patch.go` (`mergeMap`,
//! `mergeSlice`, `mergeSliceWithSpecialElements`, `handleDirectiveInMergeMap`,
//! `applyRetainKeysDirective`, `mergePatchIntoOriginal`, `normalizeElementOrder`, ...), with
//! the options the server uses (`MergeParallelList` and `IgnoreUnmatchedNulls` on).
//!
//! The patch metadata of a field (`patchStrategy`, `patchMergeKey` struct tags in Go) comes
//! from the `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key` extensions of
//! the embedded OpenAPI definitions, which kube-openapi generates from those tags ([`OpenApi`]).
//!
//! Go walks maps in random order; here the patch's keys are taken in the order they were
//! sent.

use serde_json::{Map, Value};

use crate::schema::{self, Node};
use crate::validation::go_quote;

const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_STRATEGY: &str = "retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

// The sentinel errors of `staging/src/k8s.io/apimachinery/pkg/util/mergepatch/errors.go`.
pub(crate) const ERR_NO_LIST_OF_LISTS: &str = "lists of lists are not supported";
pub(crate) const ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST: &str =
    "invalid patch format of primitive list";
pub(crate) const ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
pub(crate) const ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST: &str =
    "invalid patch format of setElementOrder list";

/// Why a patch could not be applied, grouped as the patch handler answers them
/// (`interpretStrategicMergePatchError` in
/// `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Error {
    /// A malformed directive (`ErrBadPatchFormatFor...`): 400 BadRequest with the message.
    BadRequest(&'static str),
    /// `ErrNoListOfLists`: a 422 whose message the handler does not keep.
    Unprocessable(&'static str),
    /// Any other error: not an API status, so a 500 with the message and no reason.
    Other(String),
}

type Result<T> = std::result::Result<T, Error>;

/// The patch strategies and merge key of a field (`PatchMeta`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PatchMeta {
    strategies: Vec<String>,
    merge_key: String,
}

/// Where a value sits in the Go types (`LookupPatchMeta`).
pub(crate) trait Lookup: Sized {
    /// `LookupPatchMetadataForStruct`: the field `key` of a struct.
    fn for_struct(&self, key: &str) -> Result<(Self, PatchMeta)>;
    /// `LookupPatchMetadataForSlice`: the element type of the slice field `key`.
    fn for_slice(&self, key: &str) -> Result<(Self, PatchMeta)>;
    /// `Name()`: the Go kind of the type (`struct`, `string`, ...).
    fn name(&self) -> String;
}

/// The patch metadata of the embedded OpenAPI definitions, standing in for the Go types.
#[derive(Clone, Copy)]
pub(crate) struct OpenApi<'a> {
    schema: &'a Value,
}

impl<'a> OpenApi<'a> {
    /// The schema of a definition (`io.k8s.api.apps.v1.StatefulSet`).
    pub(crate) fn definition(def: &str) -> Option<OpenApi<'static>> {
        schema::definitions()
            .get(def)
            .map(|schema| OpenApi { schema })
    }

    /// The Go type name of an opaque struct (`RawExtension`, `FieldsV1`), from its `$ref`.
    fn ref_name(&self) -> Option<&'a str> {
        let r = self.schema.get("$ref")?.as_str()?;
        r.rsplit('.').next()
    }

    /// Go's `reflect.Kind` of the type, as `Kind().String()` writes it.
    fn kind(&self) -> String {
        match schema::node(self.schema) {
            Node::Struct { .. } | Node::IntOrString | Node::Quantity | Node::Time => {
                "struct".into()
            }
            Node::Map(_) => "map".into(),
            Node::List { .. } => "slice".into(),
            Node::String => "string".into(),
            Node::Integer(bits) => format!("int{bits}"),
            Node::Number => "float64".into(),
            Node::Boolean => "bool".into(),
            Node::Any if self.ref_name().is_some() => "struct".into(),
            Node::Any => "interface".into(),
        }
    }
}

impl Lookup for OpenApi<'_> {
    fn for_struct(&self, key: &str) -> Result<(Self, PatchMeta)> {
        let struct_name = match schema::node(self.schema) {
            Node::Struct {
                name, properties, ..
            } => {
                // `encoding/json`'s field lookup: the exact name, else a case-insensitive one.
                let field = properties.get(key).or_else(|| {
                    properties
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(key))
                        .map(|(_, v)| v)
                });
                if let Some(field) = field {
                    let text = |ext: &str| field.get(ext).and_then(Value::as_str).unwrap_or("");
                    let meta = PatchMeta {
                        strategies: text("x-kubernetes-patch-strategy")
                            .split(',')
                            .map(str::to_string)
                            .collect(),
                        merge_key: text("x-kubernetes-patch-merge-key").to_string(),
                    };
                    return Ok((OpenApi { schema: field }, meta));
                }
                name.and_then(|n| n.rsplit('.').next())
                    .unwrap_or("")
                    .to_string()
            }
            Node::IntOrString => "IntOrString".into(),
            Node::Quantity => "Quantity".into(),
            Node::Time => "Time".into(),
            Node::Any if self.ref_name().is_some() => self.ref_name().unwrap_or("").into(),
            _ => {
                return Err(Error::Other(format!(
                    "merging an object in json but data type is not struct, instead is: {}",
                    self.kind()
                )))
            }
        };
        Err(Error::Other(format!(
            "unable to find api field in struct {struct_name} for the json field {}",
            go_quote(key)
        )))
    }

    fn for_slice(&self, key: &str) -> Result<(Self, PatchMeta)> {
        let (field, meta) = self.for_struct(key)?;
        match schema::node(field.schema) {
            Node::List { items, .. } => {
                if matches!(schema::node(items), Node::List { .. }) {
                    return Err(Error::Other("unexpected slice of slice".into()));
                }
                Ok((OpenApi { schema: items }, meta))
            }
            _ => Err(Error::Other(format!(
                "expected slice or array type, but got: {}",
                self.kind()
            ))),
        }
    }

    fn name(&self) -> String {
        self.kind()
    }
}

/// Applies `patch` to `original` (both JSON objects) as the API server does.
pub(crate) fn strategic_merge_patch<S: Lookup>(
    original: Value,
    patch: Value,
    schema: &S,
) -> Result<Value> {
    let original = match original {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let patch = match patch {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    merge_map(original, patch, schema).map(Value::Object)
}

/// The Go types of decoded JSON (`reflect.TypeOf`); integers are `int64`, as
/// `UnmarshalCaseSensitivePreserveInts` and the unstructured converter make them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GoType {
    Nil,
    Bool,
    Int64,
    Float64,
    String,
    Slice,
    Map,
}

fn go_type(v: &Value) -> GoType {
    match v {
        Value::Null => GoType::Nil,
        Value::Bool(_) => GoType::Bool,
        Value::Number(n) if n.is_i64() => GoType::Int64,
        Value::Number(_) => GoType::Float64,
        Value::String(_) => GoType::String,
        Value::Array(_) => GoType::Slice,
        Value::Object(_) => GoType::Map,
    }
}

/// `reflect.TypeOf(v)` as `%s` writes it.
fn go_type_name(v: &Value) -> &'static str {
    match go_type(v) {
        GoType::Nil => "%!s(<nil>)",
        GoType::Bool => "bool",
        GoType::Int64 => "int64",
        GoType::Float64 => "float64",
        GoType::String => "string",
        GoType::Slice => "[]interface {}",
        GoType::Map => "map[string]interface {}",
    }
}

const MAP_TYPE: &str = "map[string]interface {}";
const SLICE_TYPE: &str = "[]interface {}";

/// `mergepatch.ErrBadArgType`.
fn bad_arg_type(expected: &str, actual: &Value) -> Error {
    Error::Other(format!(
        "expected a {expected}, but received a {}",
        go_type_name(actual)
    ))
}

/// `mergepatch.ErrNoMergeKey`.
fn no_merge_key(m: &Map<String, Value>, key: &str) -> Error {
    Error::Other(format!(
        "map: {} does not contain declared merge key: {key}",
        go_v_map(m)
    ))
}

/// `mergepatch.ErrBadPatchType`.
fn bad_patch_type(t: &Value, m: &Map<String, Value>) -> Error {
    Error::Other(format!(
        "unknown patch type: {} in map: {}",
        go_s(t),
        go_v_map(m)
    ))
}

fn go_v_map(m: &Map<String, Value>) -> String {
    schema::go_v(&Value::Object(m.clone()))
}

fn go_v_list(l: &[Value]) -> String {
    schema::go_v(&Value::Array(l.to_vec()))
}

/// Go's `%s` of a decoded JSON value: strings as they are, other scalars as `%!s(T=V)`.
fn go_s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "%!s(<nil>)".into(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_s).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_s(&m[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
        other => format!("%!s({}={})", go_type_name(other), schema::go_v(other)),
    }
}

fn is_string(v: Option<&Value>, s: &str) -> bool {
    v.and_then(Value::as_str) == Some(s)
}

/// `extractRetainKeysPatchStrategy`: whether `retainKeys` is among the strategies, and the
/// other one.
fn extract_retain_keys_patch_strategy(strategies: &[String]) -> Result<(bool, String)> {
    match strategies {
        [] => Ok((false, String::new())),
        [one] if one == RETAIN_KEYS_STRATEGY => Ok((true, String::new())),
        [one] => Ok((false, one.clone())),
        [a, b] if a == RETAIN_KEYS_STRATEGY => Ok((true, b.clone())),
        [a, b] if b == RETAIN_KEYS_STRATEGY => Ok((true, a.clone())),
        _ => Err(Error::Other(format!(
            "unexpected patch strategy: [{}]",
            strategies.join(" ")
        ))),
    }
}

/// `handleDirectiveInMergeMap`.
fn handle_directive_in_merge_map(
    directive: &Value,
    mut patch: Map<String, Value>,
) -> Result<Map<String, Value>> {
    if directive.as_str() == Some(REPLACE_DIRECTIVE) {
        patch.shift_remove(DIRECTIVE_MARKER);
        return Ok(patch);
    }
    if directive.as_str() == Some(DELETE_DIRECTIVE) {
        return Ok(Map::new());
    }
    Err(bad_patch_type(directive, &patch))
}

fn contains_directive_marker(item: &Value) -> bool {
    item.as_object()
        .is_some_and(|m| m.contains_key(DIRECTIVE_MARKER))
}

/// `mergeKeyValueEqual`.
fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let l = left
        .as_object()
        .ok_or_else(|| bad_arg_type(MAP_TYPE, left))?;
    let r = right
        .as_object()
        .ok_or_else(|| bad_arg_type(MAP_TYPE, right))?;
    let lk = l.get(merge_key).ok_or_else(|| no_merge_key(l, merge_key))?;
    let rk = r.get(merge_key).ok_or_else(|| no_merge_key(r, merge_key))?;
    Ok(lk == rk)
}

/// `extractKey`: the field a `$deleteFromPrimitiveList/` or `$setElementOrder/` key names.
fn extract_key(s: &str, prefix: &str) -> Result<String> {
    match s.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest.to_string()),
        _ => Err(match prefix {
            DELETE_FROM_PRIMITIVE_LIST_PREFIX => {
                Error::BadRequest(ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST)
            }
            _ => Error::BadRequest(ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST),
        }),
    }
}

/// `validatePatchWithSetOrderList`: the patch list's items (deletions aside) must come in
/// the order of `$setElementOrder`.
fn validate_patch_with_set_order_list(
    patch_list: &[Value],
    set_order_list: &[Value],
    merge_key: &str,
) -> Result<()> {
    if set_order_list.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let non_delete = if merge_key.is_empty() {
        patch_list.to_vec()
    } else {
        extract_to_delete_items(patch_list.to_vec())?.0
    };
    let (mut patch_index, mut set_order_index) = (0, 0);
    while patch_index < non_delete.len() && set_order_index < set_order_list.len() {
        if contains_directive_marker(&non_delete[patch_index]) {
            patch_index += 1;
            continue;
        }
        if merge_key_value_equal(
            &non_delete[patch_index],
            &set_order_list[set_order_index],
            merge_key,
        )? {
            patch_index += 1;
        }
        set_order_index += 1;
    }
    if patch_index < non_delete.len() && set_order_index >= set_order_list.len() {
        return Err(Error::Other(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER_PREFIX} list:\n{}\n",
            go_v_list(patch_list),
            go_v_list(set_order_list)
        )));
    }
    Ok(())
}

/// `applyRetainKeysDirective`: keys of `original` missing from `$retainKeys` go, and every
/// key the patch sets must be listed.
fn apply_retain_keys_directive(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<()> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(list) = retain else {
        return Err(Error::BadRequest(ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS));
    };
    let listed = |k: &str| list.iter().any(|v| v.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
        {
            continue;
        }
        if !listed(k) {
            return Err(Error::BadRequest(ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS));
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// `mergePatchIntoOriginal`: each `$setElementOrder/<field>` with the list it orders.
fn merge_patch_into_original<S: Lookup>(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: &S,
) -> Result<()> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER_PREFIX))
        .cloned()
        .collect();
    for key in keys {
        let Some(set_order) = patch.shift_remove(&key) else {
            continue;
        };
        let Value::Array(set_order) = set_order else {
            return Err(bad_arg_type(SLICE_TYPE, &set_order));
        };
        let original_key = extract_key(&key, SET_ELEMENT_ORDER_PREFIX)?;
        let found_original = original.contains_key(&original_key);
        let found_patch = patch.contains_key(&original_key);
        let original_field = match original.get(&original_key) {
            Some(Value::Array(a)) => a.clone(),
            Some(other) => return Err(bad_arg_type(SLICE_TYPE, other)),
            None => Vec::new(),
        };
        let patch_field = match patch.get(&original_key) {
            Some(Value::Array(a)) => a.clone(),
            Some(other) => return Err(bad_arg_type(SLICE_TYPE, other)),
            None => Vec::new(),
        };
        let (subschema, meta) = schema.for_slice(&original_key)?;
        let (_, strategy) = extract_retain_keys_patch_strategy(&meta.strategies)?;
        validate_patch_with_set_order_list(&patch_field, &set_order, &meta.merge_key)?;
        let merged = match (found_original, found_patch) {
            (true, false) => original_field.clone(),
            (false, true) => match remove_directives(Value::Array(patch_field.clone())) {
                Some(Value::Array(a)) => a,
                _ => continue,
            },
            (true, true) => merge_slice_handler(
                original_field.clone(),
                patch_field.clone(),
                &subschema,
                &strategy,
                &meta.merge_key,
                false,
            )?,
            (false, false) => continue,
        };
        let (patch_items, server_only) = if meta.merge_key.is_empty() {
            partition_primitives_by_present_in_list(merged, &set_order)
        } else {
            partition_maps_by_present_in_list(merged, &set_order, &meta.merge_key)?
        };
        let kind = slice_element_type(&[&original_field, &patch_field])?;
        let both = normalize_element_order(
            patch_items,
            server_only,
            &set_order,
            &original_field,
            &meta.merge_key,
            kind,
        )?;
        original.insert(original_key.clone(), Value::Array(both));
        patch.shift_remove(&original_key);
    }
    Ok(())
}

/// `partitionPrimitivesByPresentInList`.
fn partition_primitives_by_present_in_list(
    original: Vec<Value>,
    partition_by: &[Value],
) -> (Vec<Value>, Vec<Value>) {
    original.into_iter().partition(|v| partition_by.contains(v))
}

/// `partitionMapsByPresentInList`.
fn partition_maps_by_present_in_list(
    original: Vec<Value>,
    partition_by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut patch = Vec::new();
    let mut server_only = Vec::new();
    for v in original {
        let m = v.as_object().ok_or_else(|| bad_arg_type(MAP_TYPE, &v))?;
        let key_value = m.get(merge_key).ok_or_else(|| no_merge_key(m, merge_key))?;
        if find_map_in_slice(partition_by, merge_key, key_value)?.is_some() {
            patch.push(v);
        } else {
            server_only.push(v);
        }
    }
    Ok((patch, server_only))
}

/// `removeDirectives`: drops maps holding `$patch`, deeply; `None` when `v` itself is one.
fn remove_directives(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.contains_key(DIRECTIVE_MARKER) {
                return None;
            }
            Some(Value::Object(
                m.into_iter()
                    .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                    .collect(),
            ))
        }
        Value::Array(a) => Some(Value::Array(
            a.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

/// `discardNullValuesFromPatch`.
fn discard_null_values(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(discard_null_values);
        }
        Value::Array(a) => a.iter_mut().for_each(discard_null_values),
        _ => {}
    }
}

/// The patch value taken as it is where the original has nothing to merge it with.
fn take_patch_value(original: &mut Map<String, Value>, k: String, mut v: Value) {
    discard_null_values(&mut v);
    match remove_directives(v) {
        Some(v) => {
            original.insert(k, v);
        }
        None => {
            original.shift_remove(&k);
        }
    }
}

/// `mergeMap`.
fn merge_map<S: Lookup>(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: &S,
) -> Result<Map<String, Value>> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER).cloned() {
        return handle_directive_in_merge_map(&directive, patch);
    }
    apply_retain_keys_directive(&mut original, &mut patch)?;
    merge_patch_into_original(&mut original, &mut patch, schema)?;
    for (key, patch_v) in patch {
        // `preprocessDeletionListForMerging`.
        let (is_delete_list, k) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
            (true, extract_key(&key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)?)
        } else {
            (false, key)
        };
        if patch_v.is_null() {
            original.shift_remove(&k);
            continue;
        }
        let Some(original_v) = original.get_mut(&k) else {
            if !is_delete_list {
                take_patch_value(&mut original, k, patch_v);
            }
            continue;
        };
        if go_type(original_v) != go_type(&patch_v) {
            if !is_delete_list {
                take_patch_value(&mut original, k, patch_v);
            }
            continue;
        }
        match patch_v {
            Value::Object(p) => {
                let (subschema, meta) = schema.for_struct(&k)?;
                let (_, strategy) = extract_retain_keys_patch_strategy(&meta.strategies)?;
                let Value::Object(o) = std::mem::take(original_v) else {
                    unreachable!("the types are the same")
                };
                // `mergeMapHandler`.
                let merged = if strategy != REPLACE_DIRECTIVE {
                    merge_map(o, p, &subschema)?
                } else {
                    p
                };
                original.insert(k, Value::Object(merged));
            }
            Value::Array(p) => {
                let (subschema, meta) = schema.for_slice(&k)?;
                let (_, strategy) = extract_retain_keys_patch_strategy(&meta.strategies)?;
                let Value::Array(o) = std::mem::take(original_v) else {
                    unreachable!("the types are the same")
                };
                let merged = merge_slice_handler(
                    o,
                    p,
                    &subschema,
                    &strategy,
                    &meta.merge_key,
                    is_delete_list,
                )?;
                original.insert(k, Value::Array(merged));
            }
            scalar => {
                *original_v = scalar;
            }
        }
    }
    Ok(original)
}

/// `mergeSliceHandler`: lists with the `merge` strategy (and deletion lists) are merged,
/// others replaced.
fn merge_slice_handler<S: Lookup>(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: &S,
    strategy: &str,
    merge_key: &str,
    is_delete_list: bool,
) -> Result<Vec<Value>> {
    if strategy == MERGE_DIRECTIVE || is_delete_list {
        merge_slice(original, patch, schema, merge_key, is_delete_list)
    } else {
        Ok(patch)
    }
}

/// `mergeSlice`.
fn merge_slice<S: Lookup>(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: &S,
    merge_key: &str,
    is_delete_list: bool,
) -> Result<Vec<Value>> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = slice_element_type(&[&original, &patch])?;
    let (merged, original, patch) = if kind != GoType::Map {
        if is_delete_list {
            return Ok(delete_from_slice(original, &patch));
        }
        let mut both = original.clone();
        both.extend(patch.iter().cloned());
        (deduplicate_scalars(both), original, patch)
    } else {
        if merge_key.is_empty() {
            return Err(Error::Other(format!(
                "cannot merge lists without merge key for {}",
                schema.name()
            )));
        }
        let (original, patch) = merge_slice_with_special_elements(original, patch, merge_key)?;
        let merged =
            merge_slice_without_special_elements(original.clone(), &patch, merge_key, schema)?;
        (merged, original, patch)
    };
    let (patch_items, server_only) = if merge_key.is_empty() {
        partition_primitives_by_present_in_list(merged, &patch)
    } else {
        partition_maps_by_present_in_list(merged, &patch, merge_key)?
    };
    normalize_element_order(patch_items, server_only, &patch, &original, merge_key, kind)
}

/// `mergeSliceWithSpecialElements`: `$patch: delete` elements delete the matching entries,
/// `$patch: replace` makes the other elements the whole list.
fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut without_special = Vec::new();
    let mut replace = false;
    for v in patch {
        let Some(m) = v.as_object() else {
            return Err(bad_arg_type(MAP_TYPE, &v));
        };
        match m.get(DIRECTIVE_MARKER) {
            None => without_special.push(v),
            Some(d) if d.as_str() == Some(DELETE_DIRECTIVE) => match m.get(merge_key) {
                Some(key_value) => {
                    original = delete_matching_entries(original, merge_key, key_value)?;
                }
                None => return Err(no_merge_key(m, merge_key)),
            },
            Some(d) if d.as_str() == Some(REPLACE_DIRECTIVE) => replace = true,
            Some(d) if d.as_str() == Some(MERGE_DIRECTIVE) => {
                return Err(Error::Other(
                    "merging lists cannot yet be specified in the patch".into(),
                ))
            }
            Some(d) => return Err(bad_patch_type(d, m)),
        }
    }
    if replace {
        return Ok((without_special, Vec::new()));
    }
    Ok((original, without_special))
}

/// `deleteMatchingEntries`.
fn delete_matching_entries(
    mut original: Vec<Value>,
    merge_key: &str,
    value: &Value,
) -> Result<Vec<Value>> {
    while let Some(i) = find_map_in_slice(&original, merge_key, value)? {
        original.remove(i);
    }
    Ok(original)
}

/// `mergeSliceWithoutSpecialElements`: elements with the merge key of an original one are
/// merged into it, others appended.
fn merge_slice_without_special_elements<S: Lookup>(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    schema: &S,
) -> Result<Vec<Value>> {
    for v in patch {
        let Some(m) = v.as_object() else {
            return Err(bad_arg_type(MAP_TYPE, v));
        };
        let key_value = m.get(merge_key).ok_or_else(|| no_merge_key(m, merge_key))?;
        match find_map_in_slice(&original, merge_key, key_value)? {
            Some(i) => {
                let Value::Object(o) = std::mem::take(&mut original[i]) else {
                    unreachable!("found as a map")
                };
                original[i] = Value::Object(merge_map(o, m.clone(), schema)?);
            }
            None => original.push(v.clone()),
        }
    }
    Ok(original)
}

/// `deleteFromSlice`.
fn delete_from_slice(current: Vec<Value>, to_delete: &[Value]) -> Vec<Value> {
    current
        .into_iter()
        .filter(|v| !to_delete.contains(v))
        .collect()
}

/// `findMapInSliceBasedOnKeyValue`.
fn find_map_in_slice(m: &[Value], key: &str, value: &Value) -> Result<Option<usize>> {
    for (i, v) in m.iter().enumerate() {
        let Some(typed) = v.as_object() else {
            return Err(Error::Other(format!("value for key {i} is not a map")));
        };
        if typed.get(key) == Some(value) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// `sliceElementType`: all elements of the slices must have one type, not a slice.
fn slice_element_type(slices: &[&[Value]]) -> Result<GoType> {
    let mut prev: Option<GoType> = None;
    for s in slices {
        for v in s.iter() {
            let current = go_type(v);
            match prev {
                None => {
                    if current == GoType::Slice {
                        return Err(Error::Unprocessable(ERR_NO_LIST_OF_LISTS));
                    }
                    prev = Some(current);
                }
                Some(p) if p != current => {
                    let all: Vec<Value> = slices.iter().map(|s| Value::Array(s.to_vec())).collect();
                    return Err(Error::Other(format!(
                        "list element types are not identical: {}",
                        go_v_list(&all)
                    )));
                }
                Some(_) => {}
            }
        }
    }
    prev.ok_or_else(|| Error::Other("no elements in any of the given slices".into()))
}

/// `deduplicateScalars`, with its way of moving the last element into a duplicate's place.
fn deduplicate_scalars(mut s: Vec<Value>) -> Vec<Value> {
    let mut length = s.len() as isize - 1;
    let mut i: isize = 0;
    while i < length {
        let mut j = i + 1;
        while j <= length {
            if s[i as usize] == s[j as usize] {
                s[j as usize] = s[length as usize].clone();
                s.truncate(length as usize);
                length -= 1;
                j -= 1;
            }
            j += 1;
        }
        i += 1;
    }
    s
}

/// `validateMergeKeyInLists`.
fn validate_merge_key_in_lists(merge_key: &str, lists: &[&[Value]]) -> Result<()> {
    for list in lists {
        for item in list.iter() {
            let m = item
                .as_object()
                .ok_or_else(|| bad_arg_type(MAP_TYPE, item))?;
            if !m.contains_key(merge_key) {
                return Err(no_merge_key(m, merge_key));
            }
        }
    }
    Ok(())
}

/// `extractToDeleteItems`: the elements to keep and those with `$patch: delete`.
fn extract_to_delete_items(l: Vec<Value>) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut keep = Vec::new();
    let mut delete = Vec::new();
    for v in l {
        let m = v.as_object().ok_or_else(|| bad_arg_type(MAP_TYPE, &v))?;
        if is_string(m.get(DIRECTIVE_MARKER), DELETE_DIRECTIVE) {
            delete.push(v);
        } else {
            keep.push(v);
        }
    }
    Ok((keep, delete))
}

/// `index`: where `value` is in `l`, compared by merge key for maps. A map without the key
/// compares as Go's nil does, equal to any other.
fn index(l: &[Value], value: &Value, merge_key: &str, kind: GoType) -> Option<usize> {
    let get = |item: &Value| -> Option<Value> {
        if kind == GoType::Map {
            item.as_object()
                .and_then(|m| m.get(merge_key))
                .filter(|v| !v.is_null())
                .cloned()
        } else {
            Some(item.clone())
        }
    };
    let wanted = get(value);
    l.iter().position(|v| get(v) == wanted)
}

/// `normalizeSliceOrder`: sorts `to_sort` by the order of `order` (Go's `sort.SliceStable`
/// with the real, not quite consistent, comparison), deletions last.
fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: GoType,
) -> Result<Vec<Value>> {
    let mut to_sort = to_sort;
    let mut to_delete = Vec::new();
    if kind == GoType::Map {
        validate_merge_key_in_lists(merge_key, &[&to_sort, order])?;
        (to_sort, to_delete) = extract_to_delete_items(to_sort)?;
    }
    go_stable_sort(&mut to_sort, |a, b| {
        if let Some(ia) = index(order, a, merge_key, kind) {
            if let Some(ib) = index(order, b, merge_key, kind) {
                return ia < ib;
            }
        }
        true
    });
    to_sort.extend(to_delete);
    Ok(to_sort)
}

/// `normalizeElementOrder`.
fn normalize_element_order(
    patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: GoType,
) -> Result<Vec<Value>> {
    let patch = normalize_slice_order(patch, patch_order, merge_key, kind)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    Ok(merge_sorted_slice(
        server_only,
        patch,
        server_order,
        merge_key,
        kind,
    ))
}

/// `mergeSortedSlice`: interleaves the server-only items with the patch's, by the order of
/// the live list where both are in it.
fn merge_sorted_slice(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    kind: GoType,
) -> Vec<Value> {
    let less = |l: &Value, r: &Value| -> bool {
        match (
            index(server_order, l, merge_key, kind),
            index(server_order, r, merge_key, kind),
        ) {
            (Some(li), Some(ri)) => li < ri,
            _ => false,
        }
    };
    let size = left.len() + right.len();
    let (mut i, mut j) = (0, 0);
    let mut s = Vec::with_capacity(size);
    for _ in 0..size {
        if i >= left.len() && j < right.len() {
            s.push(right[j].clone());
            j += 1;
        } else if j >= right.len() || less(&left[i], &right[j]) {
            // Only `left` has items left, or both have and the left one comes first.
            s.push(left[i].clone());
            i += 1;
        } else {
            s.push(right[j].clone());
            j += 1;
        }
    }
    s
}

/// Go's `sort.SliceStable` (`stable_func` in `sort/zsortfunc.go`): insertion sort of blocks
/// of 20, then `symMerge`. The exact algorithm matters because the comparison of
/// `normalizeSliceOrder` is not a strict order.
fn go_stable_sort(v: &mut [Value], less: impl Fn(&Value, &Value) -> bool) {
    let n = v.len();
    let less = |v: &[Value], i: usize, j: usize| less(&v[i], &v[j]);
    let mut block = 20;
    let (mut a, mut b) = (0, block);
    while b <= n {
        insertion_sort(v, a, b, &less);
        a = b;
        b += block;
    }
    insertion_sort(v, a, n, &less);
    while block < n {
        let (mut a, mut b) = (0, 2 * block);
        while b <= n {
            sym_merge(v, a, a + block, b, &less);
            a = b;
            b += 2 * block;
        }
        let m = a + block;
        if m < n {
            sym_merge(v, a, m, n, &less);
        }
        block *= 2;
    }
}

type Less<'a> = dyn Fn(&[Value], usize, usize) -> bool + 'a;

fn insertion_sort(v: &mut [Value], a: usize, b: usize, less: &Less<'_>) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && less(v, j, j - 1) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

fn sym_merge(v: &mut [Value], a: usize, m: usize, b: usize, less: &Less<'_>) {
    if m - a == 1 {
        let (mut i, mut j) = (m, b);
        while i < j {
            let h = (i + j) / 2;
            if less(v, h, a) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        for k in a..i.saturating_sub(1) {
            v.swap(k, k + 1);
        }
        return;
    }
    if b - m == 1 {
        let (mut i, mut j) = (a, m);
        while i < j {
            let h = (i + j) / 2;
            if !less(v, m, h) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        let mut k = m;
        while k > i {
            v.swap(k, k - 1);
            k -= 1;
        }
        return;
    }
    let mid = (a + b) / 2;
    let n = mid + m;
    let (mut start, mut r) = if m > mid { (n - b, mid) } else { (a, m) };
    let p = n - 1;
    while start < r {
        let c = (start + r) / 2;
        if !less(v, p - c, c) {
            start = c + 1;
        } else {
            r = c;
        }
    }
    let end = n - start;
    if start < m && m < end {
        rotate(v, start, m, end);
    }
    if a < start && start < mid {
        sym_merge(v, a, start, mid, less);
    }
    if mid < end && end < b {
        sym_merge(v, mid, end, b, less);
    }
}

fn rotate(v: &mut [Value], a: usize, m: usize, b: usize) {
    let mut i = m - a;
    let mut j = b - m;
    while i != j {
        if i > j {
            swap_range(v, m - i, m, j);
            i -= j;
        } else {
            swap_range(v, m - i, m + j - i, i);
            j -= i;
        }
    }
    swap_range(v, m - i, m, i);
}

fn swap_range(v: &mut [Value], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

#[cfg(test)]
mod tests;
