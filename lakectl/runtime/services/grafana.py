"""Grafana: the dashboards of deploy/grafana (pipeline health, Kafka, Trino) on the stack's Prometheus.

Compose only: no package registry serves Grafana (it is neither on Maven Central, PyPI nor in
Debian's archive), so the native stack has no Grafana and ``lakectl up``/``open`` there say so.
Compose runs the ``grafana/grafana`` image with the datasource (Prometheus under the fixed uid
``lakectl-prometheus``) and the dashboards provisioned from deploy/grafana, anonymous viewers
allowed and the ``admin`` password from lakectl's 0600 env file. The dashboards' schema and every
panel's query are checked by the tests (tests/unit/test_grafana_dashboards.py against Grafana's
schema, tests/e2e/test_grafana_panels.py against the native stack's live Prometheus).
"""

from __future__ import annotations

from lakectl.runtime.base import ServiceSpec
from lakectl.runtime.waiting import http_probe

WHY_NOT_NATIVE = ("grafana runs only in the compose runtime (lakectl up --runtime compose): no package registry "
                  "serves Grafana, so the native stack has none")


SPEC = ServiceSpec(
    name="grafana",
    summary="Grafana (dashboards: pipeline health, Kafka, Trino; compose only)",
    ports={"main": 3000},
    probe=lambda stack: http_probe(SPEC.url(stack) + "/api/health"),
    native=None,
    depends_on=("prometheus",),
    not_native=WHY_NOT_NATIVE,
    secrets=("grafana_admin_password",),
)
