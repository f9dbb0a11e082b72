"""Schema checks of Kubernetes objects with kubeconform, offline: strict (no unknown fields, no duplicate
keys), against Kubernetes ``versions.KUBERNETES``'s schemas and the operators' CRDs, nothing fetched at
check time. What a schema cannot see (selectors vs labels, CEL rules) is the API server's dry-run's job
(``control_plane``)."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from lakectl.errors import ComponentError
from lakectl.runtime import versions
from lakectl.runtime.kubernetes import schemas, toolchain


@dataclass(frozen=True)
class Problem:
    """One object kubeconform refused (``status`` invalid) or could not check (``error``: no schema, no kind)."""

    kind: str
    name: str
    api_version: str
    status: str  # "invalid" | "error"
    message: str

    def one_line(self) -> str:
        what = f"{self.kind or '?'}/{self.name or '?'}" + (f" ({self.api_version})" if self.api_version else "")
        return f"{what}: {self.message}"

    def to_dict(self) -> dict:
        return asdict(self)


def schema_locations(cache_dir: Path) -> list[str]:
    """kubeconform's ``-schema-location`` templates: Kubernetes' kinds first, then the CRDs' (built when missing)."""
    return [f"{schemas.kubernetes_schemas(cache_dir)}/{schemas.KUBERNETES_TEMPLATE}",
            f"{schemas.crd_schemas(cache_dir)}/{schemas.CRD_TEMPLATE}"]


def _message(resource: dict) -> str:
    # the message names the deepest failing path ("... - at '/spec/x': additional properties 'y' not allowed");
    # validationErrors may stop at the top ("/spec: validation failed")
    msg = str(resource.get("msg") or "")
    deepest = re.search(r" at '([^']*)': (.*)$", msg)
    if deepest:
        return f"{deepest.group(1) or '/'}: {deepest.group(2)}"
    errors = resource.get("validationErrors") or []
    if errors:
        return "; ".join(f"{e.get('path') or '/'}: {e.get('msg')}" for e in errors)
    return msg or str(resource.get("status"))


def validate(objects: list[dict], cache_dir: Path) -> list[Problem]:
    """The problems kubeconform finds in ``objects`` (empty: all valid). The tools and schemas are fetched or
    built into ``cache_dir`` the first time (kubeconform needs ``go``)."""
    binary = toolchain.kubeconform(cache_dir)
    locations = schema_locations(cache_dir)
    # JSON is YAML: one document per object, so a check never depends on how PyYAML would quote a value
    documents = "".join(f"---\n{json.dumps(obj)}\n" for obj in objects)
    argv = [str(binary), "-strict", "-summary", "-output", "json", "-kubernetes-version", versions.KUBERNETES,
            *(arg for location in locations for arg in ("-schema-location", location)), "-"]
    done = subprocess.run(argv, input=documents, capture_output=True, text=True, check=False, timeout=300)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise ComponentError(f"kubeconform gave no report (exit {done.returncode}): "
                             f"{(done.stderr or done.stdout).strip()[:400]}") from None
    problems = []
    for resource in report.get("resources") or []:
        status = resource.get("status", "")
        if status in ("statusInvalid", "statusError"):
            problems.append(Problem(kind=resource.get("kind", ""), name=resource.get("name", ""),
                                    api_version=resource.get("version", ""),
                                    status="invalid" if status == "statusInvalid" else "error",
                                    message=_message(resource)))
    return problems
