"""Writes definitions-v1.35.json: the OpenAPI definitions of the kinds the emulator serves.

Source: `_definitions.json` of the `kubernetes-validate` package (PyPI), directory
`kubernetes-json-schema/v1.35.0-local`, itself generated from the OpenAPI document that
Kubernetes v1.35.0 publishes. The JSON Schema spellings of that file are turned back into
OpenAPI v2 ones (`"type": ["string", "null"]` -> `"type": "string"`, `#/$defs/` ->
`#/definitions/`, IntOrString and Quantity as kube-openapi writes them), descriptions are
dropped, and only definitions reachable from the served kinds are kept.

Usage: python3 trim.py PATH/TO/_definitions.json > definitions-v1.35.json
"""

import json
import sys

ROOTS = [
    "io.k8s.api.core.v1.Namespace",
    "io.k8s.api.core.v1.ResourceQuota",
    "io.k8s.api.core.v1.LimitRange",
    "io.k8s.api.core.v1.ServiceAccount",
    "io.k8s.api.core.v1.Service",
    "io.k8s.api.core.v1.Secret",
    "io.k8s.api.core.v1.ConfigMap",
    "io.k8s.api.core.v1.PersistentVolumeClaim",
    "io.k8s.api.core.v1.Pod",
    "io.k8s.api.networking.v1.NetworkPolicy",
    "io.k8s.api.rbac.v1.Role",
    "io.k8s.api.rbac.v1.RoleBinding",
    "io.k8s.api.rbac.v1.ClusterRole",
    "io.k8s.api.rbac.v1.ClusterRoleBinding",
    "io.k8s.api.apps.v1.StatefulSet",
    "io.k8s.api.apps.v1.Deployment",
    "io.k8s.api.policy.v1.PodDisruptionBudget",
    "io.k8s.api.batch.v1.CronJob",
    "io.k8s.api.batch.v1.Job",
    "io.k8s.api.coordination.v1.Lease",
    "io.k8s.api.storage.v1.StorageClass",
    "io.k8s.api.apps.v1.ControllerRevision",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
]

# kube-openapi's own definitions of the types with custom JSON marshalling.
SPECIAL = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "type": "string",
        "format": "int-or-string",
    },
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
}


def convert(node):
    if isinstance(node, list):
        return [convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("description", "$schema", "$id"):
            continue
        if key == "type" and isinstance(value, list):
            kinds = [v for v in value if v != "null"]
            value = kinds[0] if len(kinds) == 1 else kinds
        if key == "$ref":
            value = value.replace("#/$defs/", "#/definitions/")
        out[key] = convert(value)
    return out


def refs(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                found.add(value.rsplit("/", 1)[1])
            else:
                refs(value, found)
    elif isinstance(node, list):
        for n in node:
            refs(n, found)


def main():
    defs = json.load(open(sys.argv[1]))["$defs"]
    keep, todo = set(), list(ROOTS)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        found = set()
        refs(defs[name], found)
        todo.extend(found - keep)
    out = {}
    for name in sorted(keep):
        d = SPECIAL.get(name) or convert(defs[name])
        props = d.get("properties", {})
        # apiVersion and kind carry no enum in the published document.
        for field in ("apiVersion", "kind"):
            if field in props:
                props[field].pop("enum", None)
        out[name] = d
    json.dump(out, sys.stdout, indent=None, separators=(",", ":"), sort_keys=True)
    sys.stdout.write("\n")


main()
