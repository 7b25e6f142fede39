//! Cases of `staging/src/k8s.io/apimachinery/pkg/util/strategicpatch/patch_test.go`, on its
//! test type `MergeItem` (described here as the Go struct tags describe it), then on the real
//! types through the OpenAPI definitions.

use serde_json::{json, Value};

use super::*;

/// `MergeItem` and `RetainKeysMergeItem` of `patch_test.go`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fake {
    MergeItem,
    RetainKeysMergeItem,
    MergeItemList,
    IntList,
    MergeItemPtr,
    SimpleMap,
    Scalar,
    RawExtension,
}

fn meta(strategy: &str, key: &str) -> PatchMeta {
    PatchMeta {
        strategies: strategy.split(',').map(str::to_string).collect(),
        merge_key: key.to_string(),
    }
}

impl Lookup for Fake {
    fn for_struct(&self, key: &str) -> Result<(Self, PatchMeta)> {
        use Fake::*;
        let found = match (self, key) {
            (MergeItem | RetainKeysMergeItem, "name" | "value" | "other") => (Scalar, meta("", "")),
            (MergeItem | RetainKeysMergeItem, "mergingList") => {
                (MergeItemList, meta("merge", "name"))
            }
            (MergeItem | RetainKeysMergeItem, "nonMergingList") => (MergeItemList, meta("", "")),
            (MergeItem | RetainKeysMergeItem, "mergingIntList") => (IntList, meta("merge", "")),
            (MergeItem, "nonMergingIntList") => (IntList, meta("", "")),
            (MergeItem, "mergeItemPtr") => (MergeItemPtr, meta("merge", "name")),
            (MergeItem | RetainKeysMergeItem, "simpleMap") => (SimpleMap, meta("", "")),
            (MergeItem, "replacingItem") => (RawExtension, meta("replace", "")),
            (MergeItem, "retainKeysMap") => (RetainKeysMergeItem, meta("retainKeys", "")),
            (MergeItem, "retainKeysMergingList") => {
                (MergeItemList, meta("merge,retainKeys", "name"))
            }
            (MergeItem | RetainKeysMergeItem | RawExtension, _) => {
                let name = match self {
                    MergeItem => "MergeItem",
                    RetainKeysMergeItem => "RetainKeysMergeItem",
                    _ => "RawExtension",
                };
                return Err(Error::Other(format!(
                    "unable to find api field in struct {name} for the json field {}",
                    go_quote(key)
                )));
            }
            _ => {
                return Err(Error::Other(
                    "merging an object in json but data type is not struct, instead is: map".into(),
                ))
            }
        };
        Ok(found)
    }

    fn for_slice(&self, key: &str) -> Result<(Self, PatchMeta)> {
        let (field, meta) = self.for_struct(key)?;
        match field {
            Fake::MergeItemList | Fake::MergeItemPtr => Ok((Fake::MergeItem, meta)),
            Fake::IntList => Ok((Fake::Scalar, meta)),
            _ => Err(Error::Other(
                "expected slice or array type, but got: struct".into(),
            )),
        }
    }

    fn name(&self) -> String {
        match self {
            Fake::Scalar => "int".into(),
            Fake::SimpleMap => "map".into(),
            _ => "struct".into(),
        }
    }
}

fn smp(original: Value, patch: Value) -> Result<Value> {
    strategic_merge_patch(original, patch, &Fake::MergeItem)
}

fn ok(original: Value, patch: Value) -> Value {
    smp(original, patch).unwrap()
}

#[test]
fn merging_lists_of_scalars_are_a_union_without_duplicates() {
    // "unique scalars when merging lists".
    assert_eq!(
        ok(
            json!({"mergingIntList": [1, 2]}),
            json!({"mergingIntList": [2, 3]})
        ),
        json!({"mergingIntList": [1, 2, 3]})
    );
    // "preserve the order from the patch in a merging int list" (both cases).
    assert_eq!(
        ok(
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"mergingIntList": [3, 1, 2]})
        ),
        json!({"mergingIntList": [3, 1, 2]})
    );
    assert_eq!(
        ok(
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"mergingIntList": [3, 1]})
        ),
        json!({"mergingIntList": [2, 3, 1]})
    );
    // Lists without the merge strategy are replaced ("replace list of scalars").
    assert_eq!(
        ok(
            json!({"nonMergingIntList": [1, 2]}),
            json!({"nonMergingIntList": [2, 3]})
        ),
        json!({"nonMergingIntList": [2, 3]})
    );
}

#[test]
fn patch_directives_on_maps_replace_or_delete_them() {
    // "delete map from nested map".
    assert_eq!(
        ok(
            json!({"simpleMap": {"key1": 1, "key2": 1}}),
            json!({"simpleMap": {"$patch": "delete"}})
        ),
        json!({"simpleMap": {}})
    );
    // "delete all keys from map", "add key and delete all keys from map".
    assert_eq!(
        ok(json!({"name": 1, "value": 1}), json!({"$patch": "replace"})),
        json!({})
    );
    assert_eq!(
        ok(
            json!({"name": 1, "value": 1}),
            json!({"other": "a", "$patch": "replace"})
        ),
        json!({"other": "a"})
    );
    // A field tagged `patchStrategy:"replace"` is replaced, not merged.
    assert_eq!(
        ok(
            json!({"replacingItem": {"a": 1, "b": 2}}),
            json!({"replacingItem": {"b": 3}})
        ),
        json!({"replacingItem": {"b": 3}})
    );
    let e = smp(json!({"name": 1}), json!({"$patch": "shrink"})).unwrap_err();
    assert_eq!(
        e,
        Error::Other("unknown patch type: shrink in map: map[$patch:shrink]".into())
    );
}

#[test]
fn nulls_delete_and_maps_merge_recursively() {
    // "add field and delete field from map", "delete field from nested map".
    assert_eq!(
        ok(
            json!({"name": 1, "other": "a"}),
            json!({"name": null, "value": 1})
        ),
        json!({"other": "a", "value": 1})
    );
    assert_eq!(
        ok(
            json!({"simpleMap": {"key1": 1, "key2": 1, "other": "a"}}),
            json!({"simpleMap": {"key2": null}})
        ),
        json!({"simpleMap": {"key1": 1, "other": "a"}})
    );
    // A null with nothing to delete is dropped, also inside a value taken whole.
    assert_eq!(
        ok(
            json!({"name": "a"}),
            json!({"other": null, "mergeItemPtr": [{"name": "x", "value": null}]})
        ),
        json!({"name": "a", "mergeItemPtr": [{"name": "x"}]})
    );
}

#[test]
fn merging_lists_of_maps_merge_by_key_and_keep_the_patch_order() {
    // "preserve the order from the patch in a merging list".
    assert_eq!(
        ok(
            json!({"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]}),
            json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}, {"name": 2, "other": "x"}]})
        ),
        json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}, {"name": 2, "value": "b", "other": "x"}]})
    );
    // "... 2": items the patch leaves out keep their place among the live ones.
    assert_eq!(
        ok(
            json!({"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]}),
            json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}]})
        ),
        json!({"mergingList": [{"name": 2, "value": "b"}, {"name": 3, "value": "c"}, {"name": 1, "value": "a"}]})
    );
    // "merge empty merging lists".
    assert_eq!(
        ok(json!({"mergingList": []}), json!({"mergingList": []})),
        json!({"mergingList": []})
    );
}

#[test]
fn patch_directives_in_merging_lists_delete_or_replace() {
    // "delete all maps from merging list", and every duplicate goes
    // ("delete all duplicate entries in a merging list").
    assert_eq!(
        ok(
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "other": "b"}]}),
            json!({"mergingList": [{"name": 1, "$patch": "delete"}, {"name": 2, "$patch": "delete"}]})
        ),
        json!({"mergingList": []})
    );
    assert_eq!(
        ok(
            json!({"mergingList": [{"name": 1}, {"name": 1}, {"name": 2, "value": "a"}, {"name": 3}, {"name": 3}]}),
            json!({"mergingList": [{"name": 1, "$patch": "delete"}, {"name": 3, "$patch": "delete"}]})
        ),
        json!({"mergingList": [{"name": 2, "value": "a"}]})
    );
    // "delete all items from merging list".
    assert_eq!(
        ok(
            json!({"mergingList": [{"name": 1}, {"name": 2}]}),
            json!({"mergingList": [{"$patch": "replace"}]})
        ),
        json!({"mergingList": []})
    );
    // `$patch: replace` with other items makes them the list.
    assert_eq!(
        ok(
            json!({"mergingList": [{"name": 1}, {"name": 2}]}),
            json!({"mergingList": [{"name": 3}, {"$patch": "replace"}]})
        ),
        json!({"mergingList": [{"name": 3}]})
    );
    assert_eq!(
        smp(
            json!({"mergingList": [{"name": 1}]}),
            json!({"mergingList": [{"name": 1, "$patch": "merge"}]})
        )
        .unwrap_err(),
        Error::Other("merging lists cannot yet be specified in the patch".into())
    );
    assert_eq!(
        smp(
            json!({"mergingList": [{"name": 1}]}),
            json!({"mergingList": [{"value": 1, "$patch": "delete"}]})
        )
        .unwrap_err(),
        Error::Other(
            "map: map[$patch:delete value:1] does not contain declared merge key: name".into()
        )
    );
}

#[test]
fn a_merging_list_item_without_its_merge_key_is_an_error() {
    // "missing merge key should error out".
    assert_eq!(
        smp(
            json!({"mergingList": [{"name": 1, "value": "a"}]}),
            json!({"mergingList": [{"value": "b"}]})
        )
        .unwrap_err(),
        Error::Other("map: map[value:b] does not contain declared merge key: name".into())
    );
}

#[test]
fn set_element_order_orders_the_merged_list() {
    // "merge lists of maps" (three-way result on the current object).
    assert_eq!(
        ok(
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 4}, {"name": 1}, {"name": 2}, {"name": 3}],
                "mergingList": [{"name": 4, "value": 4}, {"name": 3, "value": 3}]
            })
        ),
        json!({"mergingList": [
            {"name": 4, "value": 4},
            {"name": 1, "other": "a"},
            {"name": 2, "value": 2, "other": "b"},
            {"name": 3, "value": 3}
        ]})
    );
    // "$setElementOrder contains item that is not present in the list to be merged".
    assert_eq!(
        ok(
            json!({"mergingList": [{"name": 1}, {"name": 3}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 3}, {"name": 2}, {"name": 1}],
                "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]
            })
        ),
        json!({"mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]})
    );
    // ... of ints, with no list in the patch.
    assert_eq!(
        ok(
            json!({"mergingIntList": [1, 3]}),
            json!({"$setElementOrder/mergingIntList": [3, 2, 1]})
        ),
        json!({"mergingIntList": [3, 1]})
    );
    // "should check if order in $setElementOrder and patch list match".
    let e = smp(
        json!({"mergingList": [{"name": 1}, {"name": 3}, {"name": 2}]}),
        json!({
            "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
            "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]
        }),
    )
    .unwrap_err();
    assert_eq!(
        e,
        Error::Other(
            "The order in patch list:\n[map[name:3 value:3] map[name:1 value:1]]\n doesn't match $setElementOrder list:\n[map[name:1] map[name:2] map[name:3]]\n".into()
        )
    );
    assert_eq!(
        smp(
            json!({"mergingIntList": [1]}),
            json!({"$setElementOrderX/mergingIntList": [1]})
        )
        .unwrap_err(),
        Error::BadRequest(ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST)
    );
}

#[test]
fn delete_from_primitive_list_removes_every_copy() {
    // "delete items in lists of scalars", "delete all duplicate items in lists of scalars",
    // "add and delete items in lists of scalars" (three-way results).
    assert_eq!(
        ok(
            json!({"mergingIntList": [1, 2, 3, 4]}),
            json!({"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]})
        ),
        json!({"mergingIntList": [1, 2, 4]})
    );
    assert_eq!(
        ok(
            json!({"mergingIntList": [1, 2, 3, 3, 4]}),
            json!({"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]})
        ),
        json!({"mergingIntList": [1, 2, 4]})
    );
    assert_eq!(
        ok(
            json!({"mergingIntList": [1, 2, 3, 4]}),
            json!({
                "$setElementOrder/mergingIntList": [1, 2, 4],
                "$deleteFromPrimitiveList/mergingIntList": [3],
                "mergingIntList": [4]
            })
        ),
        json!({"mergingIntList": [1, 2, 4]})
    );
    // It deletes whatever the field's strategy (kubernetes#110472), and never adds.
    assert_eq!(
        ok(
            json!({"nonMergingIntList": [1, 2]}),
            json!({"$deleteFromPrimitiveList/nonMergingIntList": [2, 5]})
        ),
        json!({"nonMergingIntList": [1]})
    );
    assert_eq!(
        ok(
            json!({"name": "a"}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [2]})
        ),
        json!({"name": "a"})
    );
    assert_eq!(
        smp(
            json!({"mergingIntList": [1]}),
            json!({"$deleteFromPrimitiveListX/mergingIntList": [1]})
        )
        .unwrap_err(),
        Error::BadRequest(ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST)
    );
}

#[test]
fn retain_keys_clears_the_fields_it_does_not_name() {
    // "retainKeys map can ... when no retainKeys directive present".
    assert_eq!(
        ok(
            json!({"retainKeysMap": {"name": "foo", "value": "a"}}),
            json!({"retainKeysMap": {"value": "b"}})
        ),
        json!({"retainKeysMap": {"name": "foo", "value": "b"}})
    );
    // With the directive, fields it does not list go.
    assert_eq!(
        ok(
            json!({"retainKeysMap": {"name": "foo", "value": "a", "other": "x"}}),
            json!({"retainKeysMap": {"$retainKeys": ["name", "value"], "value": "b"}})
        ),
        json!({"retainKeysMap": {"name": "foo", "value": "b"}})
    );
    // Inside a `merge,retainKeys` list too.
    assert_eq!(
        ok(
            json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "a", "other": "x"}]}),
            json!({"retainKeysMergingList": [{"name": "foo", "$retainKeys": ["name", "other"]}]})
        ),
        json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "other": "x"}]})
    );
    // A field the patch sets must be listed.
    assert_eq!(
        smp(
            json!({"retainKeysMap": {"name": "foo"}}),
            json!({"retainKeysMap": {"$retainKeys": ["name"], "value": "b"}})
        )
        .unwrap_err(),
        Error::BadRequest(ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS)
    );
    assert_eq!(
        smp(
            json!({"retainKeysMap": {"name": "foo"}}),
            json!({"retainKeysMap": {"$retainKeys": "name"}})
        )
        .unwrap_err(),
        Error::BadRequest(ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS)
    );
}

#[test]
fn directives_in_values_taken_whole_are_dropped() {
    // kubernetes#117568: a new field keeps no `$patch` maps.
    assert_eq!(
        ok(
            json!({"name": "a"}),
            json!({"mergingList": [{"name": 1}, {"name": 2, "$patch": "delete"}]})
        ),
        json!({"name": "a", "mergingList": [{"name": 1}]})
    );
    assert_eq!(
        ok(
            json!({"name": "a"}),
            json!({"simpleMap": {"$patch": "delete"}})
        ),
        json!({"name": "a"})
    );
}

#[test]
fn type_mismatches_and_lists_of_lists() {
    // Different types: the patch's value wins.
    assert_eq!(
        ok(json!({"name": "a"}), json!({"name": {"x": 1}})),
        json!({"name": {"x": 1}})
    );
    assert_eq!(
        smp(
            json!({"mergingIntList": [[1]]}),
            json!({"mergingIntList": [[2]]})
        )
        .unwrap_err(),
        Error::Unprocessable(ERR_NO_LIST_OF_LISTS)
    );
    assert_eq!(
        smp(
            json!({"mergingIntList": [1]}),
            json!({"mergingIntList": ["a"]})
        )
        .unwrap_err(),
        Error::Other("list element types are not identical: [[1] [a]]".into())
    );
    assert_eq!(
        smp(
            json!({"mergeItemPtr": {"name": "x"}}),
            json!({"mergeItemPtr": {"name": "y"}})
        )
        .unwrap(),
        json!({"mergeItemPtr": {"name": "y"}})
    );
    assert_eq!(
        smp(
            json!({"replacingItem": {"a": 1}, "unknown": {"a": 1}}),
            json!({"unknown": {"b": 2}})
        )
        .unwrap_err(),
        Error::Other(
            "unable to find api field in struct MergeItem for the json field \"unknown\"".into()
        )
    );
}

#[test]
fn go_stable_sort_matches_go_for_its_inconsistent_comparison() {
    // With a comparison that is true whenever an item is not in the order list, Go's
    // insertion sort moves each such item to the front of its block.
    let mut v: Vec<Value> = (0..5).map(|i| json!(i)).collect();
    go_stable_sort(&mut v, |_, _| true);
    assert_eq!(v, vec![json!(4), json!(3), json!(2), json!(1), json!(0)]);
    let mut v: Vec<Value> = (0..45).rev().map(|i| json!(i)).collect();
    go_stable_sort(&mut v, |a, b| a.as_i64() < b.as_i64());
    assert_eq!(v, (0..45).map(|i| json!(i)).collect::<Vec<_>>());
}

/// The real types, with their metadata from the OpenAPI definitions.
fn real(def: &str, original: Value, patch: Value) -> Result<Value> {
    strategic_merge_patch(original, patch, &OpenApi::definition(def).unwrap())
}

#[test]
fn containers_merge_by_name_and_finalizers_are_a_union() {
    let sts = json!({
        "metadata": {"name": "db", "finalizers": ["a", "b"]},
        "spec": {"template": {"spec": {"containers": [
            {"name": "postgres", "image": "postgres:16", "env": [{"name": "A", "value": "1"}]}
        ]}}}
    });
    let patched = real(
        "io.k8s.api.apps.v1.StatefulSet",
        sts,
        json!({
            "metadata": {"finalizers": ["b", "c"]},
            "spec": {"template": {"spec": {"containers": [
                {"name": "exporter", "image": "exporter:1"},
                {"name": "postgres", "env": [{"name": "B", "value": "2"}]}
            ]}}}
        }),
    )
    .unwrap();
    assert_eq!(patched["metadata"]["finalizers"], json!(["a", "b", "c"]));
    assert_eq!(
        patched["spec"]["template"]["spec"]["containers"],
        json!([
            {"name": "exporter", "image": "exporter:1"},
            // A new item comes before the live ones (`mergeSortedSlice`).
            {"name": "postgres", "image": "postgres:16", "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]}
        ])
    );
    // Lists without a strategy (tolerations) are replaced; volumes `merge,retainKeys` by name.
    let pod = json!({"spec": {
        "tolerations": [{"key": "a"}],
        "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}]
    }});
    let patched = real(
        "io.k8s.api.core.v1.Pod",
        pod,
        json!({"spec": {
            "tolerations": [{"key": "b"}],
            "volumes": [{"name": "data", "$retainKeys": ["name", "persistentVolumeClaim"], "persistentVolumeClaim": {"claimName": "x"}}]
        }}),
    )
    .unwrap();
    assert_eq!(patched["spec"]["tolerations"], json!([{"key": "b"}]));
    assert_eq!(
        patched["spec"]["volumes"],
        json!([
            {"name": "data", "persistentVolumeClaim": {"claimName": "x"}},
            {"name": "cfg", "configMap": {"name": "c"}}
        ])
    );
}

#[test]
fn real_types_answer_the_real_errors() {
    assert_eq!(
        real(
            "io.k8s.api.apps.v1.StatefulSet",
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [{"image": "nginx"}]}}}})
        )
        .unwrap_err(),
        Error::Other("map: map[image:nginx] does not contain declared merge key: name".into())
    );
    // A Deployment's strategy is `retainKeys`: switching to Recreate drops rollingUpdate.
    assert_eq!(
        real(
            "io.k8s.api.apps.v1.Deployment",
            json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
        )
        .unwrap(),
        json!({"spec": {"strategy": {"type": "Recreate"}}})
    );
    // A PodDisruptionBudget's selector is `replace`.
    assert_eq!(
        real(
            "io.k8s.api.policy.v1.PodDisruptionBudget",
            json!({"spec": {"selector": {"matchLabels": {"a": "1"}}}}),
            json!({"spec": {"selector": {"matchExpressions": [{"key": "b", "operator": "Exists"}]}}})
        )
        .unwrap(),
        json!({"spec": {"selector": {"matchExpressions": [{"key": "b", "operator": "Exists"}]}}})
    );
    // `$setElementOrder` of a field that is not a list.
    assert_eq!(
        real(
            "io.k8s.api.core.v1.ConfigMap",
            json!({}),
            json!({"$setElementOrder/data": []})
        )
        .unwrap_err(),
        Error::Other("expected slice or array type, but got: struct".into())
    );
    assert_eq!(
        real(
            "io.k8s.api.core.v1.ConfigMap",
            json!({"data": {"a": "b"}}),
            json!({"$setElementOrder/data": []})
        )
        .unwrap_err(),
        Error::Other("expected a []interface {}, but received a map[string]interface {}".into())
    );
    assert_eq!(
        real(
            "io.k8s.api.apps.v1.ControllerRevision",
            json!({"data": {"spec": {"a": 1}}}),
            json!({"data": {"spec": {"b": 2}}})
        )
        .unwrap_err(),
        Error::Other(
            "unable to find api field in struct RawExtension for the json field \"spec\"".into()
        )
    );
}
