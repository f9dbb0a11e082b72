"""Grafana: the dashboards of deploy/grafana (pipeline health, Kafka, Trino) on the stack's Prometheus.

Compose only: no package registry serves Grafana (it is neither on Maven Central, PyPI nor in
Debian's archive), so the native stack has no Grafana and ``lakectl up``/``open`` there say so.
Compose runs the official ``grafana/grafana`` image (the one container that runs no lakectl) with the
host's network like every other, on 127.0.0.1 at its port, the datasource (the stack's Prometheus on
127.0.0.1 under the fixed uid ``lakectl-prometheus``) and the dashboards provisioned from
deploy/grafana, anonymous viewers allowed and the ``admin`` password from lakectl's 0600 env file.
The dashboards' schema and every panel's query are checked by the tests
(tests/unit/test_grafana_dashboards.py against Grafana's schema, tests/e2e/test_grafana_panels.py
against the native stack's live Prometheus).
"""

from __future__ import annotations

from typing import Any

from lakectl.runtime.base import ServiceSpec
from lakectl.runtime.services import prometheus
from lakectl.runtime.waiting import http_probe

WHY_NOT_NATIVE = ("grafana runs only in the compose runtime (lakectl up --runtime compose): no package registry "
                  "serves Grafana, so the native stack has none")
# the version the grafana-foundation-sdk the dashboards are checked against is generated for (11.6)
IMAGE = "grafana/grafana:11.6.3"
# where deploy/grafana/provisioning/dashboards/lakectl.yml reads the dashboards from
DASHBOARDS = "/etc/grafana/dashboards/lakectl"
PROFILE = "grafana"


def _compose() -> dict[str, Any]:
    """Its compose service (lakectl.runtime.compose_file adds host networking, depends_on, stop grace)."""
    from lakectl.runtime import compose_file as cf

    port = cf.variable(cf.port_variable(SPEC), default=str(SPEC.ports["main"]))
    return {
        "image": IMAGE,
        "profiles": [PROFILE],
        "user": cf.user(),
        "environment": {
            "GF_SERVER_HTTP_ADDR": "127.0.0.1",
            "GF_SERVER_HTTP_PORT": port,
            "GF_SECURITY_ADMIN_USER": "admin",
            "GF_SECURITY_ADMIN_PASSWORD": cf.variable("LAKECTL_GRAFANA_ADMIN_PASSWORD", required=cf.ENV_FILE_HINT),
            "GF_AUTH_ANONYMOUS_ENABLED": "true",
            "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
            "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH": f"{DASHBOARDS}/pipeline.json",
            # the datasource's URL in deploy/grafana/provisioning/datasources/prometheus.yml
            "LAKECTL_PROMETHEUS_PORT": cf.variable(cf.port_variable(prometheus.SPEC),
                                                   default=str(prometheus.SPEC.ports["main"])),
        },
        "volumes": [
            "./grafana/provisioning:/etc/grafana/provisioning:ro",
            f"./grafana/dashboards:{DASHBOARDS}:ro",
            f"{cf.data_dir(SPEC)}:/var/lib/grafana",
        ],
        "healthcheck": {
            "test": ["CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}/api/health"],
            "interval": "5s",
            "timeout": "5s",
            "retries": 24,
        },
    }


SPEC = ServiceSpec(
    name="grafana",
    summary="Grafana (dashboards: pipeline health, Kafka, Trino; compose only)",
    ports={"main": 3000},
    probe=lambda stack: http_probe(SPEC.url(stack) + "/api/health"),
    native=None,
    depends_on=("prometheus",),
    not_native=WHY_NOT_NATIVE,
    secrets=("grafana_admin_password",),
    compose=_compose,
)
