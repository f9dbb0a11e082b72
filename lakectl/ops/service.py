"""One service at a time, in the foreground: what each compose container runs (``lakectl service run``),
its healthcheck (``service probe``), and fetching a service's artifacts ahead of time (``service fetch``,
which the image build runs). The recipe is the native one: a container runs exactly what ``lakectl up``
runs natively, with the same settings, so the two runtimes cannot drift apart."""

from __future__ import annotations

import fcntl
import os
import pwd
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn

from lakectl.errors import UsageError
from lakectl.runtime.base import RuntimeKind, ServiceSpec, StackContext
from lakectl.runtime.waiting import ProbeResult
from lakectl.settings import LoadedSettings


def stack_of(loaded: LoadedSettings) -> StackContext:
    """This process's view of the stack: ``LAKECTL_RUNTIME=compose`` inside a compose container."""
    kind: RuntimeKind = "compose" if os.environ.get("LAKECTL_RUNTIME") == "compose" else "native"
    return StackContext(loaded, kind)


def spec_named(name: str) -> ServiceSpec:
    from lakectl.runtime.service_table import all_services, unknown_service

    services = all_services()
    if name not in services:
        raise unknown_service(name, services)
    spec = services[name]
    if spec.native is None:
        raise UsageError(spec.not_native or f"{name} has no lakectl recipe")
    return spec


def run(loaded: LoadedSettings, name: str) -> NoReturn:
    """Prepare ``name``'s data and config, then become its process (exec): signals reach it directly."""
    spec = spec_named(name)
    stack = stack_of(loaded)
    stack.ensure_secrets()  # the host's `up` made them; the state dir is shared, so this only reads
    _ensure_passwd_entry()
    recipe = spec.native(stack)  # type: ignore[misc]
    with _preparing(stack, spec):
        recipe.prepare()
        launch = recipe.launch()
    env = dict(launch.env if launch.env is not None else os.environ)
    if launch.cwd is not None:
        os.chdir(launch.cwd)
    if launch.user and os.geteuid() == 0:
        account = pwd.getpwnam(launch.user)
        os.initgroups(account.pw_name, account.pw_gid)
        os.setgid(account.pw_gid)
        os.setuid(account.pw_uid)
        env["HOME"] = account.pw_dir
    os.execvpe(launch.argv[0], launch.argv, env)


@contextmanager
def _preparing(stack: StackContext, spec: ServiceSpec) -> Iterator[None]:
    """One container of a group prepares at a time. Natively the readiness loop prepares services one
    after the other; compose starts the Airflow (or Flink) containers together, and they share one home in
    the state dir: the api-server's database migration must be over before the scheduler looks."""
    lock = stack.data_root / f".prepare-{spec.group or spec.name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:  # the state dir is one filesystem for every container: flock holds
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ensure_passwd_entry() -> None:
    """A container runs as the host user's uid, which the image does not know; PostgreSQL's initdb (and
    Python's getpass) need a passwd entry, so one is added (the image leaves /etc/passwd writable)."""
    uid = os.getuid()
    try:
        pwd.getpwuid(uid)
    except KeyError:
        try:
            with open("/etc/passwd", "a") as passwd:
                passwd.write(f"lakectl:x:{uid}:{os.getgid()}:lakectl:{os.environ.get('HOME', '/tmp')}:/bin/sh\n")
        except OSError:
            pass  # not writable: the service may still run


def probe(loaded: LoadedSettings, name: str, timeout: float) -> ProbeResult:
    from lakectl.runtime.service_table import all_services, unknown_service

    services = all_services()
    if name not in services:
        raise unknown_service(name, services)
    return services[name].probe(stack_of(loaded))(timeout)


def fetch(loaded: LoadedSettings, names: Sequence[str], progress: Callable[[str], None]) -> list[str]:
    """Download and build what ``names`` need into the cache (everything is cached afterwards)."""
    from lakectl.runtime.native.runtime import NativeRuntime
    from lakectl.runtime.service_table import expand, for_runtime

    specs = [spec_named(name) for name in expand(names)]
    stack = stack_of(loaded)
    NativeRuntime(stack, for_runtime("native")).fetch(specs, progress)
    return [spec.name for spec in specs]
