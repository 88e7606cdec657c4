"""Render deploy/k8s overlays the way `kubectl kustomize` does, for the features we use.

Each manifest validating on its own says nothing about what an overlay's patch makes of
it: a JSON patch can add a field the schema rejects, or miss its path. This renders an
overlay in Python (resources, `labels`, `images`, and `patches` with a target and an
inline JSON 6902 patch), so the result can be validated without a kustomize binary.
Anything else in a kustomization.yaml fails loudly instead of being skipped.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "labels", "images", "patches"}
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}


def render(folder: Path) -> list[dict[str, Any]]:
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise NotImplementedError(f"{folder}: kustomization fields not rendered: {unknown}")
    docs: list[dict[str, Any]] = []
    for res in spec.get("resources", []):
        path = folder / res
        if path.is_dir():
            docs += render(path)
        else:
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    for patch in spec.get("patches", []):
        apply_patch(docs, patch)
    for entry in spec.get("labels", []):
        add_labels(docs, entry)
    for image in spec.get("images", []):
        set_image(docs, image)
    return docs


def _matches(doc: dict[str, Any], target: dict[str, Any]) -> bool:
    for key, value in target.items():
        if key == "name":
            have = doc["metadata"]["name"]
        elif key == "kind":
            have = doc["kind"]
        else:
            raise NotImplementedError(f"patch target field {key!r}")
        if not re.fullmatch(str(value), have):  # kustomize matches names as anchored regexps
            return False
    return True


def apply_patch(docs: list[dict[str, Any]], patch: dict[str, Any]) -> None:
    if set(patch) - {"target", "patch"}:
        raise NotImplementedError(f"patch fields {set(patch) - {'target', 'patch'}}")
    ops = yaml.safe_load(patch["patch"])
    if not isinstance(ops, list):
        raise NotImplementedError("only JSON 6902 patches (a list of operations)")
    hits = [d for d in docs if _matches(d, patch["target"])]
    assert hits, f"patch target {patch['target']} matches no resource"
    for doc in hits:
        for op in ops:
            json_patch(doc, op)


def _pointer(path: str) -> list[str]:
    assert path.startswith("/"), path
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(doc: dict[str, Any], op: dict[str, Any]) -> None:
    """RFC 6902 add, replace and remove; a missing parent is an error, as in kustomize."""
    *parents, last = _pointer(op["path"])
    node: Any = doc
    for key in parents:
        try:
            node = node[int(key)] if isinstance(node, list) else node[key]
        except (KeyError, IndexError, ValueError):
            raise AssertionError(f"{op['path']}: no {key!r} in {doc['metadata']['name']}") from None
    kind = op["op"]
    value = copy.deepcopy(op.get("value"))
    if isinstance(node, list):
        if kind == "add":
            node.insert(len(node) if last == "-" else int(last), value)
        elif kind == "replace":
            node[int(last)] = value
        elif kind == "remove":
            del node[int(last)]
        else:
            raise NotImplementedError(kind)
        return
    if kind in {"replace", "remove"} and last not in node:
        raise AssertionError(f"{op['path']}: nothing to {kind} in {doc['metadata']['name']}")
    if kind in {"add", "replace"}:
        node[last] = value
    elif kind == "remove":
        del node[last]
    else:
        raise NotImplementedError(kind)


def add_labels(docs: list[dict[str, Any]], entry: dict[str, Any]) -> None:
    if set(entry) - {"pairs"}:  # includeSelectors / includeTemplates would reach further
        raise NotImplementedError(f"labels fields {set(entry) - {'pairs'}}")
    for doc in docs:
        doc["metadata"].setdefault("labels", {}).update(entry["pairs"])


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if doc["kind"] not in POD_KINDS:
        return []
    pod = doc["spec"]["template"]["spec"]
    return pod.get("initContainers", []) + pod.get("containers", [])


def set_image(docs: list[dict[str, Any]], image: dict[str, Any]) -> None:
    if set(image) - {"name", "newName", "newTag"}:
        raise NotImplementedError(f"images fields {set(image) - {'name', 'newName', 'newTag'}}")
    for doc in docs:
        for c in _containers(doc):
            ref = c["image"]
            cut = ref.rfind(":")
            name, tag = (ref[:cut], ref[cut + 1:]) if cut > ref.rfind("/") else (ref, "")
            if name != image["name"]:
                continue
            c["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}".rstrip(":")
