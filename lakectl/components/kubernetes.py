"""One Kubernetes API server (REST, any version with server-side apply: 1.22+), through the ``kubernetes``
package's authentication (kubeconfig contexts: tokens, client certificates, exec plugins) and plain REST calls.

Objects are dicts as the API speaks them. Writes are server-side apply only (field manager ``lakectl``,
conflicts forced: lakectl owns what it renders). Kinds are found by discovery of their group/version, kept
for the client's life (looked up again once when a kind is missing: a CRD may have just been applied).

Errors: an unknown context or a missing kubeconfig -> ConfigError (exit 2) naming what there is; a server
that does not answer -> ServiceUnavailable (exit 3) with what was seen; a refusal -> KubernetesError (exit 1)
carrying the server's own message (a CEL rule's, "spec.selector: Invalid value ...").
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lakectl.errors import ComponentError, ConfigError, ServiceUnavailable

FIELD_MANAGER = "lakectl"
# what a diff of desired against live ignores: the server's bookkeeping, not anything lakectl renders
IGNORED_METADATA = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp")


class KubernetesError(ComponentError):
    """The API server refused a request; ``status`` is the HTTP status, ``reason`` the Status reason."""

    def __init__(self, message: str, *, status: int, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Kind:
    """Where a kind lives: its REST path pieces, from discovery."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


@dataclass(frozen=True)
class ObjectDiff:
    """How one desired object differs from the live one: ``action`` is create | update | unchanged, and
    ``changes`` lists the paths (``spec.replicas: 1 -> 2``)."""

    api_version: str
    kind: str
    namespace: str | None
    name: str
    action: str
    changes: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}" + (f" -n {self.namespace}" if self.namespace else "")

    def to_dict(self) -> dict:
        return asdict(self)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def kubeconfig_path(kubeconfig: Path | None) -> Path:
    """``kubeconfig``, else the first file of $KUBECONFIG, else ~/.kube/config (kubectl's order)."""
    if kubeconfig is not None:
        return Path(kubeconfig).expanduser()
    env = os.environ.get("KUBECONFIG")
    if env:
        return Path(env.split(os.pathsep)[0]).expanduser()
    return Path("~/.kube/config").expanduser()


def read_contexts(kubeconfig: Path) -> tuple[list[str], str | None]:
    """The context names of a kubeconfig file and its current context; ConfigError when it cannot be read."""
    import yaml

    try:
        document = yaml.safe_load(kubeconfig.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"kubeconfig {kubeconfig} not found",
                          hint="set [kubernetes] kubeconfig in lakectl.toml or KUBECONFIG") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"kubeconfig {kubeconfig} cannot be read: not UTF-8 text (byte {exc.start})") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"kubeconfig {kubeconfig} cannot be read: {_one_line(exc)}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"kubeconfig {kubeconfig} is not a kubeconfig (no mapping at the top)")
    names = [c.get("name") for c in document.get("contexts") or [] if isinstance(c, dict) and c.get("name")]
    return names, document.get("current-context") or None


class KubernetesClient:
    """A typed client of one API server (one kubeconfig context)."""

    def __init__(self, api_client: Any, *, context: str, timeout: float = 30.0) -> None:
        self._api = api_client
        self.context = context
        self.server = api_client.configuration.host
        self.timeout = timeout
        self._kinds: dict[tuple[str, str], Kind] = {}
        self._discovered: set[str] = set()

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path | None = None, context: str | None = None, *,
                        timeout: float = 30.0) -> KubernetesClient:
        """A client of ``context`` (None: the kubeconfig's current context) in ``kubeconfig``
        (None: $KUBECONFIG, else ~/.kube/config). Nothing is sent yet."""
        from kubernetes import client, config

        path = kubeconfig_path(kubeconfig)
        if kubeconfig is None and context is None and not path.exists() and os.environ.get("KUBERNETES_SERVICE_HOST"):
            # inside a pod (an Airflow task driving FlinkDeployments): the pod's service account
            return cls.in_cluster(timeout=timeout)
        names, current = read_contexts(path)
        chosen = context or current
        if chosen is None:
            raise ConfigError(f"kubeconfig {path} has no current context; name one of: {', '.join(names) or 'none'}",
                              hint="--context NAME or [kubernetes] context")
        if chosen not in names:
            raise ConfigError(f"kubeconfig {path} has no context {chosen!r}; "
                              f"its contexts: {', '.join(names) or 'none'}")
        configuration = client.Configuration()
        try:
            config.load_kube_config(config_file=str(path), context=chosen, client_configuration=configuration,
                                    persist_config=False)
        except (config.ConfigException, OSError, ValueError) as exc:
            raise ConfigError(f"kubeconfig {path}, context {chosen!r}: {_one_line(exc)}") from None
        configuration.retries = 1  # a refused connection is reported at once, not after urllib3's three tries
        return cls(client.ApiClient(configuration), context=chosen, timeout=timeout)

    @classmethod
    def in_cluster(cls, *, token_file: Path | None = None, ca_file: Path | None = None,
                   timeout: float = 30.0) -> KubernetesClient:
        """A client of the cluster this process runs in, as its pod's service account (KUBERNETES_SERVICE_HOST
        and _PORT, the mounted token and CA; other files for tests)."""
        from kubernetes import client, config
        from kubernetes.config.incluster_config import (
            SERVICE_CERT_FILENAME,
            SERVICE_TOKEN_FILENAME,
            InClusterConfigLoader,
        )

        configuration = client.Configuration()
        try:
            InClusterConfigLoader(token_filename=str(token_file or SERVICE_TOKEN_FILENAME),
                                  cert_filename=str(ca_file or SERVICE_CERT_FILENAME)).load_and_set(configuration)
        except config.ConfigException as exc:
            raise ConfigError(f"in-cluster Kubernetes configuration: {_one_line(exc)}",
                              hint="outside a pod, set [kubernetes] kubeconfig or KUBECONFIG") from None
        configuration.retries = 1
        return cls(client.ApiClient(configuration), context="in-cluster", timeout=timeout)

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> KubernetesClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the wire ---

    def request(self, method: str, path: str, body: Any = None, *, query: Iterable[tuple[str, str]] = (),
                content_type: str = "application/json", what: str = "") -> dict | None:
        """One REST call; the JSON answer (None for 404 on a GET). Errors as the module docstring says."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            request = self._api.param_serialize(method, path, query_params=list(query), header_params=headers,
                                                body=body, auth_settings=["BearerToken"])
            response = self._api.call_api(*request, _request_timeout=self.timeout)
            response.read()
            status, data = response.status, response.data
        except ApiException as exc:  # the REST layer raises for TLS trouble (status 0) and some refusals
            if not exc.status:
                raise self._unavailable(str(exc.reason or exc)) from None
            status, body_text = exc.status, exc.body or exc.reason or ""
            data = body_text if isinstance(body_text, bytes) else str(body_text).encode()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unavailable(str(getattr(exc, "reason", None) or exc)) from None
        if 200 <= status < 300:
            return json.loads(data) if data else {}
        if status == 404 and method == "GET":
            return None
        raise self._refused(status, data, what or f"{method} {path}")

    def _unavailable(self, seen: str) -> ServiceUnavailable:
        return ServiceUnavailable(f"Kubernetes API server {self.server} (context {self.context}) did not answer: "
                                  f"{_one_line(seen)[:300]}")

    def _refused(self, status: int, data: bytes, what: str) -> KubernetesError:
        try:
            answer = json.loads(data)
        except (ValueError, TypeError):
            answer = {"message": data.decode(errors="replace")[:300]}
        reason = answer.get("reason", "") if isinstance(answer, dict) else ""
        message = answer.get("message", "") if isinstance(answer, dict) else str(answer)
        if status in (401, 403):
            return KubernetesError(f"{what}: refused by {self.server} ({status} {reason}): {_one_line(message)}",
                                   status=status, reason=reason)
        return KubernetesError(f"{what}: {_one_line(message) or reason or status}", status=status, reason=reason)

    # --- discovery ---

    def version(self) -> dict:
        """The server's /version (a cheap reachability probe)."""
        return self.request("GET", "/version") or {}

    def kind(self, api_version: str, kind: str) -> Kind:
        """Where ``kind`` of ``api_version`` lives; KubernetesError when the server does not serve it."""
        key = (api_version, kind)
        if key not in self._kinds:
            self._discover(api_version, again=api_version in self._discovered)
        if key not in self._kinds:
            raise KubernetesError(f"{kind} ({api_version}) is not served by {self.server} "
                                  "(is its CRD installed?)", status=404, reason="NotFound")
        return self._kinds[key]

    def _discover(self, api_version: str, again: bool = False) -> None:
        path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        listing = self.request("GET", path) or {}
        self._discovered.add(api_version)
        for resource in listing.get("resources", []):
            if "/" not in resource["name"]:  # not a subresource (deployments/status)
                self._kinds[(api_version, resource["kind"])] = Kind(api_version, resource["kind"], resource["name"],
                                                                    resource["namespaced"])

    def forget_kinds(self) -> None:
        """Drop what discovery found (after CRDs change)."""
        self._kinds.clear()
        self._discovered.clear()

    def _locate(self, obj: dict, namespace: str | None) -> tuple[Kind, str | None, str]:
        api_version, kind_name = obj.get("apiVersion"), obj.get("kind")
        metadata = obj.get("metadata") or {}
        name = metadata.get("name")
        if not api_version or not kind_name or not name:
            raise KubernetesError("an object without apiVersion, kind or metadata.name: "
                                  f"{_one_line(json.dumps(obj))[:200]}", status=422, reason="Invalid")
        kind = self.kind(api_version, kind_name)
        ns = (metadata.get("namespace") or namespace) if kind.namespaced else None
        if kind.namespaced and not ns:
            raise KubernetesError(f"{kind_name}/{name}: no namespace given", status=422, reason="Invalid")
        return kind, ns, name

    # --- verbs ---

    def apply(self, objects: Iterable[dict], *, namespace: str | None = None, dry_run: bool = False) -> list[dict]:
        """Server-side apply of each object in order (field manager ``lakectl``, conflicts forced); the objects as
        the server has them (or would have them, ``dry_run``). Stops at the first refusal."""
        applied = []
        for obj in objects:
            kind, ns, name = self._locate(obj, namespace)
            body = obj if not ns or (obj.get("metadata") or {}).get("namespace") == ns else \
                {**obj, "metadata": {**obj["metadata"], "namespace": ns}}
            query = [("fieldManager", FIELD_MANAGER), ("force", "true")] + ([("dryRun", "All")] if dry_run else [])
            applied.append(self.request("PATCH", kind.path(ns, name), body, query=query,
                                        content_type="application/apply-patch+yaml",
                                        what=f"{kind.kind}/{name}") or {})
        return applied

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        """The live object, or None when there is none."""
        found = self.kind(api_version, kind)
        return self.request("GET", found.path(namespace if found.namespaced else None, name))

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None) -> list[dict]:
        found = self.kind(api_version, kind)
        query = [("labelSelector", label_selector)] if label_selector else []
        answer = self.request("GET", found.path(namespace if found.namespaced else None), query=query) or {}
        return answer.get("items", [])

    def create(self, obj: dict, *, namespace: str | None = None, dry_run: bool = False) -> dict:
        kind, ns, name = self._locate(obj, namespace)
        query = [("fieldManager", FIELD_MANAGER)] + ([("dryRun", "All")] if dry_run else [])
        return self.request("POST", kind.path(ns), obj, query=query, what=f"{kind.kind}/{name}") or {}

    def patch(self, api_version: str, kind: str, name: str, patch: dict, namespace: str | None = None, *,
              dry_run: bool = False) -> dict:
        """A JSON merge patch (RFC 7386) of one object (e.g. a FlinkDeployment's spec.job.state)."""
        found = self.kind(api_version, kind)
        query = [("fieldManager", FIELD_MANAGER)] + ([("dryRun", "All")] if dry_run else [])
        return self.request("PATCH", found.path(namespace if found.namespaced else None, name), patch, query=query,
                            content_type="application/merge-patch+json", what=f"{kind}/{name}") or {}

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete one object (its dependents in the background); False when it was not there."""
        found = self.kind(api_version, kind)
        try:
            self.request("DELETE", found.path(namespace if found.namespaced else None, name),
                         {"propagationPolicy": "Background"}, what=f"{kind}/{name}")
        except KubernetesError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def diff(self, objects: Iterable[dict], *, namespace: str | None = None) -> list[ObjectDiff]:
        """What applying ``objects`` would change: a server-side apply dry-run of each compared with the live
        object (the server's bookkeeping and status ignored); an absent object is "create"."""
        out = []
        for obj in objects:
            kind, ns, name = self._locate(obj, namespace)
            live = self.request("GET", kind.path(ns, name))
            if live is None:
                out.append(ObjectDiff(kind.api_version, kind.kind, ns, name, "create"))
                continue
            [would_be] = self.apply([obj], namespace=namespace, dry_run=True)
            changes = changed_paths(comparable(live), comparable(would_be))
            out.append(ObjectDiff(kind.api_version, kind.kind, ns, name, "update" if changes else "unchanged",
                                  changes))
        return out


def comparable(obj: dict) -> dict:
    """``obj`` without what the server keeps for itself (status, managedFields, resourceVersion, ...)."""
    out = {key: value for key, value in obj.items() if key != "status"}
    metadata = {key: value for key, value in (obj.get("metadata") or {}).items() if key not in IGNORED_METADATA}
    out["metadata"] = metadata
    return out


def changed_paths(before: Any, after: Any, path: str = "") -> list[str]:
    """The dotted paths where ``after`` differs from ``before`` (``spec.replicas: 1 -> 2``)."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes = []
        for key in sorted(set(before) | set(after), key=str):
            child = f"{path}.{key}" if path else str(key)
            if key not in after:
                changes.append(f"{child}: removed")
            elif key not in before:
                changes.append(f"{child}: added {_short(after[key])}")
            else:
                changes += changed_paths(before[key], after[key], child)
        return changes
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [c for i, (b, a) in enumerate(zip(before, after, strict=True))
                for c in changed_paths(b, a, f"{path}[{i}]")]
    return [] if before == after else [f"{path}: {_short(before)} -> {_short(after)}"]


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."
