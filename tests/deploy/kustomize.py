"""A small, strict Kustomize renderer for the checks in tests/deploy (no kubectl offline).

It implements the subset of Kustomize that deploy/kubernetes uses and refuses any other field, so
a manifest change that needs more fails loudly here instead of being half rendered:
``resources`` (files and directories with a kustomization), ``namespace``, ``labels`` (with
``includeTemplates``), ``images``, ``replicas``, ``patches`` (strategic merge: maps merge, lists of
named items merge by ``name``, other lists are replaced, ``null`` deletes) and
``configMapGenerator``/``secretGenerator`` with ``literals`` and ``disableNameSuffixHash``.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "images",
    "replicas",
    "patches",
    "configMapGenerator",
    "secretGenerator",
}
#: Kinds that live outside namespaces (``namespace`` does not apply to them).
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}
SCALABLE = {"Deployment", "StatefulSet", "ReplicaSet"}
#: Where the pod template sits in each workload kind.
POD_TEMPLATE = {"Deployment": ("spec", "template"), "Job": ("spec", "template"), "StatefulSet": ("spec", "template")}


class KustomizeError(Exception):
    pass


Resource = dict[str, Any]


def render(directory: Path) -> list[Resource]:
    """The resources a ``kubectl kustomize directory`` would print (for the supported subset)."""
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise KustomizeError(f"{directory} has no kustomization.yaml")
    spec = yaml.safe_load(path.read_text())
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{path}: unsupported fields {sorted(unknown)}")

    resources: list[Resource] = []
    for entry in spec.get("resources", []):
        target = (directory / entry).resolve()
        if target.is_dir():
            resources.extend(render(target))
        elif target.is_file():
            resources.extend(doc for doc in yaml.safe_load_all(target.read_text()) if doc)
        else:
            raise KustomizeError(f"{path}: resource {entry} does not exist")
    for kind, key in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        resources.extend(_generate(kind, generator, path) for generator in spec.get(key, []))

    for patch in spec.get("patches", []):
        if set(patch) != {"path"}:
            raise KustomizeError(f"{path}: only file patches (`path:`) are supported, got {sorted(patch)}")
        for doc in yaml.safe_load_all((directory / patch["path"]).read_text()):
            target = _find(resources, doc["kind"], doc["metadata"]["name"], path)
            merged = strategic_merge(target, doc)
            resources[resources.index(target)] = merged
    for replica in spec.get("replicas", []):
        scaled = [r for r in resources if r["kind"] in SCALABLE and r["metadata"]["name"] == replica["name"]]
        if len(scaled) != 1:
            raise KustomizeError(f"{path}: replicas for {replica['name']!r} match {len(scaled)} workloads")
        scaled[0]["spec"]["replicas"] = replica["count"]
    for image in spec.get("images", []):
        _set_image(resources, image)
    for label in spec.get("labels", []):
        _add_labels(resources, label)
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = spec["namespace"]
    return resources


def strategic_merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        merged_list = copy.deepcopy(base)
        for item in patch:
            for index, existing in enumerate(merged_list):
                if existing["name"] == item["name"]:
                    merged_list[index] = strategic_merge(existing, item)
                    break
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, dict) and "name" in item for item in items)


def _find(resources: list[Resource], kind: str, name: str, where: Path) -> Resource:
    found = [r for r in resources if r["metadata"]["name"] == name and r["kind"] == kind]
    if len(found) != 1:
        raise KustomizeError(f"{where}: {kind} {name!r} matches {len(found)} resources")
    return found[0]


def _generate(kind: str, generator: dict[str, Any], where: Path) -> Resource:
    if not generator.get("options", {}).get("disableNameSuffixHash"):
        raise KustomizeError(f"{where}: generators need options.disableNameSuffixHash: true here")
    values = dict(literal.split("=", 1) for literal in generator.get("literals", []))
    resource: Resource = {"apiVersion": "v1", "kind": kind, "metadata": {"name": generator["name"]}}
    if kind == "Secret":
        resource["type"] = "Opaque"
        resource["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
    else:
        resource["data"] = values
    return resource


def _containers(resource: Resource) -> list[dict[str, Any]]:
    path = POD_TEMPLATE.get(resource["kind"])
    if path is None:
        return []
    pod = resource
    for key in path:
        pod = pod[key]
    spec = pod["spec"]
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def _set_image(resources: list[Resource], image: dict[str, Any]) -> None:
    for resource in resources:
        for container in _containers(resource):
            name = container["image"].split("@")[0].rsplit(":", 1)[0] if "/" in container["image"] else None
            if container["image"] != image["name"] and name != image["name"]:
                continue
            reference = image.get("newName", image["name"])
            if "digest" in image:
                reference += f"@{image['digest']}"
            elif "newTag" in image:
                reference += f":{image['newTag']}"
            container["image"] = reference


def _add_labels(resources: list[Resource], label: dict[str, Any]) -> None:
    if label.get("includeSelectors"):
        raise KustomizeError("labels.includeSelectors is not supported (selectors are immutable)")
    pairs = label["pairs"]
    for resource in resources:
        resource["metadata"].setdefault("labels", {}).update(pairs)
        path = POD_TEMPLATE.get(resource["kind"])
        if label.get("includeTemplates") and path is not None:
            template = resource
            for key in path:
                template = template[key]
            template.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
