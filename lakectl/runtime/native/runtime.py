"""The native runtime: every service as a local process bound to 127.0.0.1."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from lakectl.runtime.base import Runtime, ServiceSpec, ServiceStatus
from lakectl.runtime.native.process import ProcessManager
from lakectl.runtime.readiness import POLL_INTERVAL_S, bring_up

STATUS_PROBE_TIMEOUT_S = 0.8


class NativeRuntime(Runtime):
    kind = "native"

    @property
    def processes(self) -> ProcessManager:
        return ProcessManager(self.stack.state_dir)

    def fetch(self, services: Sequence[ServiceSpec], progress: Callable[[str], None]) -> None:
        """Make sure every artifact is cached; on a cold cache this is the slow part."""
        recipes = [spec.native(self.stack) for spec in services]
        progress("fetching artifacts: " + ", ".join(s.name for s in services))
        with ThreadPoolExecutor(max_workers=4) as pool:
            for future in [pool.submit(recipe.fetch) for recipe in recipes]:
                future.result()

    def up(
        self, services: Sequence[ServiceSpec], timeout: float, progress: Callable[[str], None]
    ) -> list[ServiceStatus]:
        self.fetch(services, progress)
        progress(f"starting {len(services)} service(s)")
        self.stack.ensure_secrets()
        bring_up(self, services, timeout, progress)  # artifacts are fetched: the deadline counts from here
        return self.status(services)

    # what the readiness loop needs from this runtime
    def start_service(self, spec: ServiceSpec) -> bool:
        manager = self.processes
        if manager.running(spec.name):
            return False
        self.check_ports(spec)
        recipe = spec.native(self.stack)
        recipe.prepare()
        launch = recipe.launch()
        if spec.restart:
            from lakectl.runtime.native.supervise import wrap

            launch = wrap(launch, spec.name)
        manager.start(spec.name, launch)
        return True

    def exited(self, specs: Sequence[ServiceSpec]) -> dict[str, str]:
        manager = self.processes
        return {spec.name: f"{spec.name} exited while starting; last lines of {manager.log_path(spec.name)}: "
                + " | ".join(manager.tail(spec.name, 5).splitlines())
                for spec in specs if manager.running(spec.name) is None}

    def log_location(self, spec: ServiceSpec) -> str:
        return str(self.processes.log_path(spec.name))

    def down(self, services: Sequence[ServiceSpec], purge: bool, progress: Callable[[str], None]) -> None:
        manager = self.processes
        for spec in reversed(services):
            if manager.record(spec.name):
                progress(f"stopping {spec.name}")
                manager.stop(spec.name)
        if purge:
            for spec in services:
                spec.native(self.stack).purge()
                manager.log_path(spec.name).unlink(missing_ok=True)
            if len(services) == len(self.services):
                shutil.rmtree(self.stack.data_root, ignore_errors=True)

    def status(self, services: Sequence[ServiceSpec]) -> list[ServiceStatus]:
        with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
            return list(pool.map(self._status_of, services))

    def _status_of(self, spec: ServiceSpec) -> ServiceStatus:
        manager = self.processes
        record = manager.record(spec.name)
        status = ServiceStatus(
            name=spec.name,
            state="not-started",
            healthy=None,
            url=spec.url(self.stack),
            runtime=self.kind,
            log=str(manager.log_path(spec.name)),
        )
        if record is None:
            return status
        if record.process() is None:
            status.state, status.healthy, status.detail = "exited", False, "process is gone; see its log"
            return status
        result = spec.probe(self.stack)(STATUS_PROBE_TIMEOUT_S)
        status.state = "running"
        status.healthy = result.ok
        status.detail = result.detail
        status.pid = record.pid
        status.uptime_s = round(time.time() - record.started_at, 1)
        status.rss_mb = round(record.rss_bytes() / 2**20, 1)
        return status

    def logs(self, spec: ServiceSpec, tail: int | None, follow: bool) -> Iterator[str]:
        path = self.processes.log_path(spec.name)
        if not path.exists():
            return
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            lines = handle.readlines()
            yield from (lines[-tail:] if tail else lines)
            while follow:
                line = handle.readline()
                if line:
                    yield line
                else:
                    time.sleep(POLL_INTERVAL_S)
