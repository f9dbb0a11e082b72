"""JSON schemas kubeconform validates against, offline, in the cache.

- Kubernetes' own kinds: PyPI ``kubernetes-validate`` ships strict schemas for 1.25-1.37 (111 MB in all):
  only the pinned minor's ``-local-strict`` directory is kept (~6 MB). Its files carry an https ``$id`` and refer
  to ``/api/_definitions.json``, which a validator would resolve on the network: the ``$id`` is dropped and
  the reference made relative to the file, so everything resolves from the directory.
- The operators' kinds: each served version of each CRD's ``openAPIV3Schema`` converted as openapi2jsonschema
  does (``nullable`` -> a "null" type, int-or-string -> either, and strict: ``additionalProperties: false``
  wherever the CRD lists properties and does not keep unknown fields), as ``<group>/<kind>_<version>.json``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from lakectl.artifacts import cached_build, pip_install
from lakectl.errors import ComponentError
from lakectl.runtime import versions
from lakectl.runtime.kubernetes import crds

# kubeconform's -schema-location templates for the two directories
KUBERNETES_TEMPLATE = "{{ .ResourceKind }}{{ .KindSuffix }}.json"
CRD_TEMPLATE = "{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"


def kubernetes_minor() -> str:
    """``1.37`` for KUBERNETES 1.37.2: kubernetes-validate ships one schema set per minor (``v1.37.0``)."""
    return ".".join(versions.KUBERNETES.split(".")[:2])


def kubernetes_schemas(cache_dir: Path) -> Path:
    """The strict JSON schemas of Kubernetes ``kubernetes_minor()`` (from ``versions.KUBERNETES_VALIDATE``)."""
    requirement = f"kubernetes-validate=={versions.KUBERNETES_VALIDATE}"
    directory = f"v{kubernetes_minor()}.0-local-strict"

    def build(work: Path) -> Path:
        pip_install(sys.executable, ["--no-deps", "--only-binary", ":all:", "--target", str(work / "site"),
                                     requirement], "kubernetes-validate")
        source = work / "site" / "kubernetes_validate" / "kubernetes-json-schema" / directory
        if not source.is_dir():
            raise ComponentError(f"{requirement} has no schemas for Kubernetes {kubernetes_minor()}")
        out = work / "schemas"
        out.mkdir()
        for path in source.glob("*.json"):
            schema = json.loads(path.read_text())
            schema.pop("$id", None)
            text = json.dumps(schema, separators=(",", ":")).replace('"/api/_definitions.json#', '"_definitions.json#')
            (out / path.name).write_text(text)
        shutil.rmtree(work / "site")
        return out

    target = cache_dir / "build" / f"kubernetes-schemas-{kubernetes_minor()}-{versions.KUBERNETES_VALIDATE}"
    return cached_build(cache_dir, target, build, {"pypi": [requirement], "directory": directory})


def _strict(schema: Any) -> Any:
    """openapi2jsonschema's conversion of one OpenAPI v3 schema node (and those below it), strict."""
    if not isinstance(schema, dict):
        return schema
    node = dict(schema)
    if isinstance(node.get("properties"), dict):
        node["properties"] = {name: _strict(child) for name, child in node["properties"].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            node[key] = _strict(node[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            node[key] = [_strict(child) for child in node[key]]
    if node.pop("x-kubernetes-int-or-string", False):
        node.pop("type", None)
        node["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if node.pop("nullable", False) and isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
    if ("properties" in node and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        node["additionalProperties"] = False
    return node


def crd_json_schemas(crd: dict) -> dict[str, dict]:
    """``{"<group>/<kind>_<version>.json": schema}`` for each served version of ``crd``."""
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"].lower()
    out = {}
    for version in crd["spec"]["versions"]:
        if not version.get("served", True):
            continue
        schema = _strict(version["schema"]["openAPIV3Schema"])
        # apiVersion, kind and metadata are the API server's business in a CRD schema: type them here
        properties = schema.setdefault("properties", {})
        properties.setdefault("apiVersion", {"type": "string"})
        properties.setdefault("kind", {"type": "string"})
        properties.setdefault("metadata", {"type": "object"})
        out[f"{group}/{kind}_{version['name']}.json"] = schema
    return out


def crd_schemas(cache_dir: Path) -> Path:
    """The JSON schemas of every CRD ``crds.crd_files`` gives, keyed by the CRD files' content."""
    files = crds.crd_files(cache_dir)
    key = hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()[:12]

    def build(work: Path) -> Path:
        out = work / "schemas"
        for crd in crds.load_crds(cache_dir):
            for name, schema in crd_json_schemas(crd).items():
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                (out / name).write_text(json.dumps(schema, separators=(",", ":")))
        return out

    return cached_build(cache_dir, cache_dir / "build" / f"crd-schemas-{key}", build,
                        {"crds": [p.name for p in files]})
