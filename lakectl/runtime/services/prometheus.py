"""Prometheus: scrapes the stack (Flink's reporters, Kafka's and Connect's JMX exporters, Trino, the registry).

Native: the ``prometheus`` binary of Debian's package (installed through apt when missing, without
its recommended node exporter). lakectl never uses the package's system service: it starts the
binary itself, detached like every service, with its own config and TSDB under the state dir and
the web UI and API on 127.0.0.1 only. On a machine where the package's own service runs, it holds
0.0.0.0:9090: stop it (``systemctl disable --now prometheus``) or move lakectl's port
(``ports.prometheus`` in lakectl.toml). Compose runs the same recipe in the ``lakectl/prometheus``
image.

The scrape config is one template (deploy/prometheus/prometheus.yml) rendered with the stack's
ports: every target is 127.0.0.1, in both runtimes (compose containers share the host's network).
Prometheus tolerates targets that are down, so it depends on nothing: ``lakectl up prometheus``
alone works and the targets turn up as their services start.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from string import Template

from lakectl.artifacts import debian_package
from lakectl.errors import ComponentError
from lakectl.paths import deploy_dir
from lakectl.runtime.base import LOCALHOST, ServiceSpec, StackContext
from lakectl.runtime.native.process import Launch
from lakectl.runtime.native.recipe import NativeRecipe
from lakectl.runtime.waiting import http_probe

PACKAGE = "prometheus"
BINARY = "/usr/bin/prometheus"
SCRAPE_INTERVAL_S = 10
RETENTION = "3d"


def binary() -> str:
    return shutil.which("prometheus") or BINARY


def native_targets(stack: StackContext) -> dict[str, str]:
    """host:port of every scrape target of the native stack (its ports, maybe moved in lakectl.toml)."""
    from lakectl.runtime.service_table import all_services

    specs = all_services()

    def at(service: str, port: str = "main") -> str:
        return f"{LOCALHOST}:{stack.port(specs[service], port)}"

    return {"prometheus": at("prometheus"), "flink_jobmanager": at("flink-jobmanager", "metrics"),
            "flink_taskmanager": at("flink-taskmanager", "metrics"), "kafka": at("kafka", "metrics"),
            "trino": at("trino"), "schema_registry": at("schema-registry", "management"),
            "targets_dir": str(targets_dir(stack))}


def targets_dir(stack: StackContext) -> Path:
    """Where optional services announce their scrape targets (file discovery). In the state dir, not in a
    service's data dir, so the path is the same natively and in compose (which mounts the state dir at its
    host path in every container)."""
    return stack.state_dir / "prometheus-targets"


def announce(stack: StackContext, job: str, address: str) -> None:
    """``job`` is scraped at ``address`` from now on (an optional service calls this when it starts): a service
    that was never started has no target at all, instead of one that is always down and fires ``up == 0``."""
    directory = targets_dir(stack)
    directory.mkdir(parents=True, exist_ok=True)
    staged = directory / f".{job}.json"
    staged.write_text(json.dumps([{"targets": [address]}]))
    staged.replace(directory / f"{job}.json")  # Prometheus watches the directory: never a half-written file


def withdraw(stack: StackContext, job: str) -> None:
    (targets_dir(stack) / f"{job}.json").unlink(missing_ok=True)


def render_config(targets: dict[str, str], scrape_interval_s: int = SCRAPE_INTERVAL_S) -> str:
    """deploy/prometheus/prometheus.yml with ``targets`` (and the intervals) filled in."""
    values = {**targets, "scrape_interval": f"{scrape_interval_s}s",
              "scrape_timeout": f"{max(1, scrape_interval_s - 2)}s"}
    template = Template((deploy_dir() / "prometheus" / "prometheus.yml").read_text())
    try:
        return template.substitute(values)
    except KeyError as exc:
        raise ComponentError(f"prometheus: the scrape config template needs {exc.args[0]}, "
                             "which lakectl does not set") from None


class PrometheusRecipe(NativeRecipe):
    @property
    def config_file(self) -> Path:
        return self.data_dir / "prometheus.yml"

    def fetch(self) -> None:
        debian_package(PACKAGE, BINARY, recommends=False)
        if not Path(binary()).exists():
            raise ComponentError(f"prometheus: no {BINARY}", hint=f"apt-get install -y {PACKAGE}")

    def prepare(self) -> None:
        (self.data_dir / "tsdb").mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(render_config(native_targets(self.stack)))

    def launch(self) -> Launch:
        return Launch(
            [binary(), f"--config.file={self.config_file}", f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
             f"--storage.tsdb.retention.time={RETENTION}", f"--web.listen-address={LOCALHOST}:{self.port()}",
             f"--web.external-url={SPEC.url(self.stack)}/"],
            cwd=self.data_dir,
        )


SPEC = ServiceSpec(
    name="prometheus",
    summary="Prometheus (metrics of Flink, Kafka, Trino, the registry)",
    ports={"main": 9090},
    probe=lambda stack: http_probe(SPEC.url(stack) + "/-/ready"),
    native=lambda stack: PrometheusRecipe(stack, SPEC),
    remote_url="prometheus.url",
)
