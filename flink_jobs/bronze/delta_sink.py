"""Attach lakectl's exactly-once Delta sink (Java, ``io.lakectl.flink.delta.DeltaSinks``) to a PyFlink table.

The jar built from ``flink_jobs/delta_sink`` must be on Flink's classpath (lib/). The sink is added to the
table environment's StreamExecutionEnvironment, so the job runs with ``env.execute()`` (Table API inserts go
in the same job through ``statement_set.attach_as_datastream()`` first).
"""

from __future__ import annotations

from pyflink.java_gateway import get_gateway


def attach_delta_sink(t_env, table, path: str, options: dict[str, str]) -> None:
    """Write ``table`` to the Delta table at ``path`` (``s3://``/``s3a://``/``file:``).

    ``options``: ``app-id`` (required, stable across restores), optional ``partition-columns``
    (comma-separated), ``timestamp-encoding`` (``int96`` or ``int64-micros``) and Hadoop settings such as
    ``fs.s3a.endpoint``, ``fs.s3a.access.key``, ``fs.s3a.secret.key``, ``fs.s3a.path.style.access``.
    """
    gateway = get_gateway()
    j_options = gateway.jvm.java.util.HashMap()
    for key, value in options.items():
        j_options.put(str(key), str(value))
    gateway.jvm.io.lakectl.flink.delta.DeltaSinks.attach(t_env._j_tenv, table._j_table, path, j_options)
