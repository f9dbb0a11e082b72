"""Every service lakectl runs, one module each; ``SERVICES`` lists them.

Adding a service = a module here whose ``SPEC`` (a ``ServiceSpec``) says everything about it, and
its line in ``SERVICES``. Both runtimes, ``doctor``, ``open`` and the test port tables read it
from there. The order is the display and default start order; dependencies come from each spec.
"""

from __future__ import annotations

from lakectl.runtime.services import (
    airflow,
    connect,
    flink,
    grafana,
    kafka,
    object_store,
    postgres,
    prometheus,
    schema_registry,
    superset,
    trino,
)

SERVICES = (
    postgres.SPEC,
    kafka.SPEC,
    schema_registry.SPEC,
    connect.SPEC,
    object_store.SPEC,
    *flink.SPECS,
    trino.SPEC,
    prometheus.SPEC,
    *airflow.SPECS,
    grafana.SPEC,
    superset.SPEC,
)
