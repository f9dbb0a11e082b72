"""deploy/docker-compose.yml, generated from the service descriptions (``ServiceSpec``) alone.

``render(SERVICES)`` is the committed file; ``make compose-file`` (``python -m
lakectl.runtime.compose_file > deploy/docker-compose.yml``) rewrites it and a unit test fails while it
is stale. Nothing here reads the settings or a secret: whatever varies (image tags, paths, uid, ports,
profile) is a ``${...}`` that Compose interpolates from the 0600 env file lakectl writes at ``up``
(``lakectl.runtime.compose.write_env_file``).

Every container lakectl builds (``lakectl/<family>``, one image per component) runs ``lakectl service
run NAME``: the service's native recipe, unchanged, with the host's network, the checkout (read-only)
and the state dir mounted at their host paths. A service with no native recipe (Grafana) brings its
own compose service (``ServiceSpec.compose``); only the common parts are added to it here.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from lakectl.runtime.base import ServiceSpec

PROJECT = "lakectl"
ENV_FILE_HINT = "lakectl up writes it to <state dir>/compose.env"
IMAGE_HINT = "run lakectl up --runtime compose, which builds the images"
# where the image keeps lakectl's cache (Java runtimes, jars, venvs) baked in at build time
IMAGE_CACHE_DIR = "/opt/lakectl/cache"

HEADER = """\
# GENERATED from the service descriptions (lakectl/runtime/services, lakectl/runtime/compose_file.py):
# do not edit. Regenerate with `make compose-file` (python -m lakectl.runtime.compose_file >
# deploy/docker-compose.yml); tests/unit/test_compose_file.py fails while this file is stale.
#
# `lakectl up --runtime compose` runs it: it builds one image per component (lakectl/<family>), writes
# the env file every ${...} below comes from (<state dir>/compose.env, mode 0600) and starts the
# services one at a time (docker compose up --no-deps NAME), each once what it needs is ready, in the
# same order as the native runtime. depends_on below is for `docker compose up` by hand.
#
# Secrets are NOT in this file. Every container but Grafana runs lakectl (`lakectl service run NAME`:
# the service's native recipe, unchanged), which reads the stack's generated secrets from the state
# dir's secrets.json (0600), as natively; Grafana gets its admin password from the env file.
#
# Host networking: every container has network_mode: host, so each service binds exactly the
# 127.0.0.1 address and port it binds natively (no ports:, which host networking forbids, and no
# networks). Why: the Docker engine on our machines runs with --bridge=none; and the stack's addresses
# are the same in both runtimes, so lakectl on the host, a Flink job or an Airflow DAG configured
# natively runs unchanged.
#
# Paths: the checkout (read-only) and the state dir are mounted at their host paths, so a path that
# lakectl names on the host (a Flink job file, its 0600 context file) is the same in every container.
# Each service keeps its data under <state dir>/compose/<name>; the one named volume holds PostgreSQL's
# cluster when the containers run as root (the server user must reach it).
"""


def variable(name: str, default: str | None = None, required: str | None = None) -> str:
    """``${NAME}``, ``${NAME:-default}`` or ``${NAME:?message}``: interpolated by Compose from the env file."""
    if required is not None:
        return f"${{{name}:?{required}}}"
    if default is not None:
        return f"${{{name}:-{default}}}"
    return f"${{{name}}}"


def image_variable(family: str) -> str:
    """The env-file variable holding the tag of ``lakectl/<family>``, e.g. LAKECTL_IMAGE_SCHEMA_REGISTRY."""
    return "LAKECTL_IMAGE_" + family.upper().replace("-", "_")


def port_variable(spec: ServiceSpec, port: str = "main") -> str:
    """The env-file variable holding one of ``spec``'s ports (for containers that run no lakectl)."""
    suffix = "" if port == "main" else "_" + port.upper()
    return f"LAKECTL_{spec.name.upper().replace('-', '_')}{suffix}_PORT"


def builds_image(spec: ServiceSpec) -> bool:
    """Whether the container of ``spec`` runs a lakectl image (its native recipe); else it brings its own."""
    return spec.compose is None


def image_families(specs: Iterable[ServiceSpec]) -> list[str]:
    """The lakectl images ``specs`` run (``ServiceSpec.image_family``), each once, in order."""
    return list(dict.fromkeys(spec.image_family for spec in specs if builds_image(spec)))


def profiles(specs: Iterable[ServiceSpec]) -> list[str]:
    """The compose profiles ``specs`` name (a service under a profile is off for `docker compose up` by hand):
    those of the services that bring their own compose service, and an optional service's own name."""
    return sorted({profile for spec in specs for profile in _profiles(spec)})


def _profiles(spec: ServiceSpec) -> list[str]:
    if spec.compose:
        return list(spec.compose().get("profiles", []))
    return [spec.name] if spec.optional else []


def user() -> str:
    return (f"{variable('LAKECTL_UID', required=ENV_FILE_HINT)}:"
            f"{variable('LAKECTL_GID', required=ENV_FILE_HINT)}")


def data_dir(spec: ServiceSpec) -> str:
    """Where ``spec`` keeps its data in compose, as a host path (``<state dir>/compose/<name>``)."""
    return f"{variable('LAKECTL_STATE_DIR')}/compose/{spec.name}"


def _lakectl_service(spec: ServiceSpec) -> dict[str, Any]:
    project, state = variable("LAKECTL_PROJECT_DIR"), variable("LAKECTL_STATE_DIR")
    return {
        "image": f"lakectl/{spec.image_family}:{variable(image_variable(spec.image_family), required=IMAGE_HINT)}",
        "pull_policy": "never",  # built by lakectl, never on a registry
        "command": ["lakectl", "service", "run", spec.name],
        "init": True,
        "user": user(),
        "network_mode": "host",
        "environment": {
            "LAKECTL_PROJECT_DIR": variable("LAKECTL_PROJECT_DIR", required=ENV_FILE_HINT),
            "PYTHONPATH": project,
            "LAKECTL_STATE_DIR": variable("LAKECTL_STATE_DIR", required=ENV_FILE_HINT),
            "LAKECTL_CACHE_DIR": IMAGE_CACHE_DIR,
            "LAKECTL_RUNTIME": "compose",
            "LAKECTL_PROFILE": variable("LAKECTL_PROFILE", default="local"),
            "LAKECTL_CONFIG": variable("LAKECTL_CONFIG", default=""),
            "LAKECTL_PORTS": variable("LAKECTL_PORTS", default="{}"),
            "HOME": "/tmp",
        },
        "volumes": [f"{project}:{project}:ro", f"{state}:{state}"],
        "healthcheck": {
            # the probe the readiness loop uses; each is a Python process (~0.5 CPU-s), hence the long
            # interval: at 15 s, thirteen of them took a fifth of a core (lakectl up waits on its own probes)
            "test": ["CMD", "lakectl", "service", "probe", spec.name],
            "interval": "30s",
            "timeout": "10s",
            "start_period": "120s",
            "retries": 3,
        },
    }


def service(spec: ServiceSpec) -> dict[str, Any]:
    """The compose service of ``spec`` (its name is ``spec.name``)."""
    definition = _lakectl_service(spec) if builds_image(spec) else {**spec.compose(), "network_mode": "host"}
    if builds_image(spec) and spec.optional:
        definition["profiles"] = [spec.name]
    if spec.start_dependencies:
        definition["depends_on"] = {name: {"condition": "service_healthy"} for name in spec.start_dependencies}
    definition["stop_grace_period"] = f"{spec.stop_grace_s}s"
    if spec.restart:
        definition["restart"] = "unless-stopped"
    if spec.container_data:
        definition["volumes"] = [*definition.get("volumes", []), f"{volume(spec)}:{spec.container_data}"]
    return definition


def volume(spec: ServiceSpec) -> str:
    """The named volume of ``spec.container_data`` (compose prefixes it with the project: lakectl_<name>-data)."""
    return f"{spec.name}-data"


def render(specs: Sequence[ServiceSpec]) -> str:
    """deploy/docker-compose.yml for ``specs``: deterministic, a function of the specs alone."""
    lines = [HEADER, f"name: {PROJECT}", "", "services:"]
    for index, spec in enumerate(specs):
        if index:
            lines.append("")
        lines.append(f"  # {spec.summary}")
        lines.append(f"  {spec.name}:")
        lines += _block(service(spec), 4)
    volumes = [volume(spec) for spec in specs if spec.container_data]
    if volumes:
        lines += ["", "volumes:", *(f"  {name}: {{}}" for name in volumes)]
    return "\n".join(lines) + "\n"


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _scalar(value: Any) -> str:
    # JSON scalars are YAML scalars (strings double-quoted: Compose interpolates ${...} inside them)
    return json.dumps(value, ensure_ascii=False)


def _block(mapping: dict[str, Any], indent: int) -> list[str]:
    """A mapping as block YAML: nested mappings as blocks, lists of scalars in flow style."""
    pad, lines = " " * indent, []
    for key, value in mapping.items():
        name = key if _PLAIN_KEY.match(key) else _scalar(key)
        if isinstance(value, dict):
            lines.append(f"{pad}{name}:")
            lines += _block(value, indent + 2)
        elif isinstance(value, list):
            if all(not isinstance(item, dict | list) for item in value) and len(_scalar(value)) + indent < 100:
                lines.append(f"{pad}{name}: [{', '.join(_scalar(item) for item in value)}]")
            else:
                lines.append(f"{pad}{name}:")
                lines += [f"{pad}  - {_scalar(item)}" for item in value]
        else:
            lines.append(f"{pad}{name}: {_scalar(value)}")
    return lines


def main() -> None:
    from lakectl.runtime.services import SERVICES

    sys.stdout.write(render(SERVICES))


if __name__ == "__main__":
    main()
