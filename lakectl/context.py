"""The one context the root callback builds (``ctx.obj``): settings, the runtime, and a factory for
each component's client, pointed at the profile's remote services or else at the local stack.

Everything is lazy: ``lakectl --help`` loads no settings and imports no client library. Only the
CLI holds a ``LakeContext``; operations (``lakectl.ops``) receive the typed clients and inputs it
builds, never the context itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakectl.components.airflow import AirflowClient
    from lakectl.components.connect import ConnectWorker
    from lakectl.components.dbt import TrinoEndpoint
    from lakectl.components.flink import FlinkClient
    from lakectl.components.flink_operator import FlinkOperator
    from lakectl.components.kafka import KafkaClient
    from lakectl.components.kubernetes import KubernetesClient
    from lakectl.components.lakehouse import Lakehouse
    from lakectl.components.object_store import S3Location
    from lakectl.components.prometheus import Prometheus
    from lakectl.components.registry import SchemaRegistry
    from lakectl.components.sql_gateway import SqlGateway
    from lakectl.components.trino import TrinoClient
    from lakectl.ops.dbt import DbtTarget
    from lakectl.ops.jobs import JobCluster
    from lakectl.ops.jobs_kubernetes import KubernetesJobs
    from lakectl.ops.pipeline_cdc import CdcStack
    from lakectl.runtime.base import Runtime
    from lakectl.runtime.endpoints import LocalEndpoints
    from lakectl.settings import LoadedSettings


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


@dataclass
class LakeContext:
    profile: str | None = None
    debug: bool = False
    flags: dict[str, Any] = field(default_factory=dict)

    def override(self, **flags: Any) -> None:
        """Command-line flags: the top layer of the settings (call before first use)."""
        self.flags.update({k: v for k, v in flags.items() if v is not None})
        for cached in ("loaded", "runtime", "local"):
            self.__dict__.pop(cached, None)

    @cached_property
    def loaded(self) -> LoadedSettings:
        from lakectl.settings import load_settings

        return load_settings(self.profile, self.flags)

    @property
    def settings(self):
        return self.loaded.settings

    @property
    def state_dir(self) -> Path:
        return Path(self.loaded.state_dir)

    @cached_property
    def runtime(self) -> Runtime:
        from lakectl.runtime.select import choose_kind, make_runtime

        return make_runtime(self.loaded, choose_kind(self.loaded))

    @cached_property
    def local(self) -> LocalEndpoints:
        """The local stack's services: what a setting left unset falls back to."""
        from lakectl.runtime.endpoints import LocalEndpoints

        return LocalEndpoints(self.runtime)

    # addresses: a profile's setting (ServiceSpec.remote_url, e.g. trino.url) wins, else the local stack's
    # streaming: Kafka and the schema registry
    def bootstrap_servers(self) -> str:
        return self.runtime.endpoint("kafka")

    def registry_url(self) -> str:
        return self.runtime.endpoint("schema-registry")

    def kafka(self) -> KafkaClient:
        from lakectl.components.kafka import KafkaClient, quiet_logger

        config = self.settings.kafka.client_config(self.bootstrap_servers())
        if not self.debug:  # failures surface as one-line errors; librdkafka's own log only with --debug
            config["logger"] = quiet_logger()
        return KafkaClient(config, timeout=self.settings.request_timeout)

    def registry(self) -> SchemaRegistry:
        from lakectl.components.registry import SchemaRegistry

        reg = self.settings.registry
        auth = (reg.username, _secret(reg.password) or "") if reg.username else None
        return SchemaRegistry.connect(self.registry_url(), auth=auth, timeout=self.settings.request_timeout)

    # the lakehouse: object store, Iceberg catalog, Flink
    def s3(self) -> S3Location:
        from lakectl.components.object_store import S3Location

        store = self.settings.object_store
        if not store.endpoint:
            return self.local.object_store()
        if not (store.access_key and store.secret_key):
            from lakectl.errors import ConfigError

            raise ConfigError("object_store.endpoint is set but access_key / secret_key are not",
                              hint="set LAKECTL_OBJECT_STORE__ACCESS_KEY and LAKECTL_OBJECT_STORE__SECRET_KEY")
        return S3Location(store.endpoint, store.bucket, store.access_key, store.secret_key.get_secret_value(),
                          store.region)

    def catalog(self) -> dict[str, str]:
        """The Iceberg JDBC catalog: jdbc_url, user, password, warehouse (an s3:// URI), name."""
        cat = self.settings.catalog
        warehouse = self.s3().uri("iceberg")
        if cat.jdbc_url:
            return {"jdbc_url": cat.jdbc_url, "user": cat.user or "", "password": _secret(cat.password) or "",
                    "warehouse": warehouse, "name": cat.name}
        local = self.local.iceberg_catalog()
        return {"jdbc_url": local.jdbc_url, "user": local.user, "password": local.password, "warehouse": warehouse,
                "name": cat.name}

    def lakehouse(self) -> Lakehouse:
        from lakectl.components.lakehouse import Lakehouse

        return Lakehouse(self.s3(), self.catalog())

    def flink_url(self) -> str:
        return self.runtime.endpoint("flink-jobmanager")

    # Kafka Connect
    def connect_url(self) -> str:
        """connect.url when set, else the local stack's worker (``lakectl up connect``)."""
        return self.runtime.endpoint("connect")

    def connect_worker(self) -> ConnectWorker:
        from lakectl.components.connect import ConnectWorker

        return ConnectWorker.connect(self.connect_url(), timeout=self.settings.request_timeout)

    def connect_placeholders(self) -> Mapping[str, str]:
        """What ``${...}`` in a connector file may name; each is computed only when a file uses it."""
        from lakectl.ops.placeholders import Lazy

        reg = self.settings.registry
        return Lazy({
            "bootstrap_servers": self.bootstrap_servers,
            "registry_url": self.registry_url,
            "registry.username": lambda: reg.username or "",
            "registry.password": lambda: _secret(reg.password) or "",
            "catalog.jdbc_url": lambda: self.catalog()["jdbc_url"],
            "catalog.user": lambda: self.catalog()["user"],
            "catalog.password": lambda: self.catalog()["password"],
        })

    def cdc_stack(self) -> CdcStack:
        """What a postgres-cdc pipeline's apply drives: its database as a user allowed to set up replication
        (the local stack's superuser unless the spec names another), the Connect worker, generated passwords."""
        from lakectl.components.postgres import PgAccess
        from lakectl.ops.pipeline_cdc import CdcStack

        def admin(spec) -> PgAccess:
            cdc = spec.cdc
            if cdc.admin_user is None:
                host, port, user, password = self.local.postgres_admin()
                return PgAccess(host, port, user, password)
            host, port = (cdc.host, cdc.port) if cdc.host else self.local.postgres_admin()[:2]
            return PgAccess(host, port, cdc.admin_user, self.runtime.stack.secret(cdc.admin_password_secret))

        return CdcStack(admin=admin, password=self.runtime.stack.generated_secret, connect=self.connect_worker,
                        placeholders=self.connect_placeholders)

    def flink(self) -> FlinkClient:
        from lakectl.components.flink import FlinkClient

        conf = self.settings.flink
        return FlinkClient.connect(self.flink_url(), token=_secret(conf.token), verify=conf.verify_tls,
                                   timeout=self.settings.request_timeout)

    def sql_gateway(self) -> SqlGateway:
        from lakectl.components.sql_gateway import SqlGateway

        conf = self.settings.flink
        return SqlGateway.connect(self.local.sql_gateway_url(), token=_secret(conf.token), verify=conf.verify_tls,
                                  timeout=max(self.settings.request_timeout, 30.0))

    def job_cluster(self) -> JobCluster:
        """Where `job submit` / `job ensure` send jobs, and the connections a job is handed."""
        from lakectl.ops.jobs import JobCluster, JobConnections

        conf = self.settings.flink

        def connections() -> JobConnections:
            from lakectl.job_context import kafka_properties

            kafka, registry = self.settings.kafka, self.settings.registry
            security = kafka_properties(kafka.security_protocol, kafka.sasl_mechanism, kafka.sasl_username,
                                        _secret(kafka.sasl_password), kafka.ssl_ca_location)
            user_info = f"{registry.username}:{_secret(registry.password) or ''}" if registry.username else None
            return JobConnections(self.bootstrap_servers(), self.registry_url(), conf.checkpoint_interval_s,
                                  self.catalog(), self.s3(), kafka=security or None, registry_user_info=user_info)

        return JobCluster(flink=self.flink(), open_connections=connections, state_dir=self.state_dir,
                          parallelism=conf.parallelism, python_jar=self.local.flink_python_jar,
                          sql_gateway=self.sql_gateway)

    # serving: Trino
    def trino_url(self) -> str:
        return self.runtime.endpoint("trino")

    def trino(self, *, catalog: str | None = None, schema: str | None = None) -> TrinoClient:
        from lakectl.components.trino import TrinoClient

        conf = self.settings.trino
        return TrinoClient.connect(
            self.trino_url(), user=conf.user, catalog=catalog or conf.catalog, schema=schema or conf.default_schema,
            password=_secret(conf.password), jwt=_secret(conf.jwt), verify=conf.verify_tls,
            timeout=max(self.settings.request_timeout, 60.0))

    def trino_endpoint(self) -> TrinoEndpoint:
        from lakectl.components.dbt import TrinoEndpoint

        return TrinoEndpoint.from_settings(self.settings.trino, self.trino_url())

    def dbt_target(self) -> DbtTarget:
        """What `lakectl dbt` runs against: Trino, and where dbt keeps its files."""
        from lakectl.ops.dbt import DbtTarget

        return DbtTarget(self.trino_endpoint(), self.state_dir / "dbt", self.settings.request_timeout,
                         trino=self.trino, s3=self.s3)

    # deploying: one Kubernetes API server (a kubeconfig context)
    def kubernetes(self, context: str | None = None) -> KubernetesClient:
        """A client of ``context`` (else [kubernetes] context, else the kubeconfig's current one)."""
        from lakectl.components.kubernetes import KubernetesClient

        conf = self.settings.kubernetes
        return KubernetesClient.from_kubeconfig(conf.kubeconfig, context or conf.context,
                                                timeout=max(self.settings.request_timeout, 30.0))

    # observing: Prometheus
    def prometheus_url(self) -> str:
        return self.runtime.endpoint("prometheus")

    def prometheus(self) -> Prometheus:
        from lakectl.components.prometheus import Prometheus

        return Prometheus.connect(self.prometheus_url(), verify=self.settings.prometheus.verify_tls,
                                  timeout=self.settings.request_timeout)

    # orchestrating: Airflow
    def airflow_url(self) -> str:
        return self.runtime.endpoint("airflow-api-server")

    def airflow(self) -> AirflowClient:
        from lakectl.components.airflow import AirflowClient

        conf = self.settings.airflow
        if conf.password:
            password = conf.password.get_secret_value()
        elif conf.url:
            from lakectl.errors import ConfigError

            raise ConfigError("airflow.url is set but airflow.password is not",
                              hint="set LAKECTL_AIRFLOW__PASSWORD or put it in the secrets file")
        else:
            password = self.local.airflow_password()
        return AirflowClient.connect(self.airflow_url(), username=conf.username or "admin", password=password,
                                     verify=conf.verify_tls, timeout=max(self.settings.request_timeout, 30.0))

    # Kubernetes: `lakectl deploy` and the kubernetes job backend
    def flink_operator(self) -> FlinkOperator:
        from lakectl.components.flink_operator import FlinkOperator

        return FlinkOperator(self.kubernetes(), self.settings.kubernetes.namespace)

    def kubernetes_jobs(self) -> KubernetesJobs:
        from lakectl.ops.jobs_kubernetes import KubernetesJobs

        return KubernetesJobs(self.flink_operator(), self.loaded)
