"""The one context the root callback builds: settings, output, runtime and component factories.

Everything is lazy: ``lakectl --help`` loads no settings and imports no client library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakectl.components.airflow import AirflowClient
    from lakectl.components.flink import FlinkClient
    from lakectl.components.kafka import KafkaClient
    from lakectl.components.object_store import S3Location
    from lakectl.components.prometheus import Prometheus
    from lakectl.components.registry import SchemaRegistry
    from lakectl.components.trino import TrinoClient
    from lakectl.runtime.base import Runtime
    from lakectl.settings import LoadedSettings


@dataclass
class AppContext:
    profile: str | None = None
    debug: bool = False
    flags: dict[str, Any] = field(default_factory=dict)

    def override(self, **flags: Any) -> None:
        """Command-line flags: the top layer of the settings (call before first use)."""
        self.flags.update({k: v for k, v in flags.items() if v is not None})
        self.__dict__.pop("loaded", None)
        self.__dict__.pop("runtime", None)

    @cached_property
    def loaded(self) -> LoadedSettings:
        from lakectl.settings import load_settings

        return load_settings(self.profile, self.flags)

    @property
    def settings(self):
        return self.loaded.settings

    @cached_property
    def runtime(self) -> Runtime:
        from lakectl.runtime.select import choose_kind, make_runtime

        return make_runtime(self.loaded, choose_kind(self.loaded))

    # endpoints: the profile's remote URLs win; otherwise the local stack's
    def bootstrap_servers(self) -> str:
        return self.settings.kafka.bootstrap_servers or self.runtime.url("kafka")

    def registry_url(self) -> str:
        return self.settings.registry.url or self.runtime.url("schema-registry")

    def kafka(self) -> KafkaClient:
        from lakectl.components.kafka import KafkaClient
        from lakectl.runtime.waiting import quiet_logger

        config = self.settings.kafka.client_config(self.bootstrap_servers())
        if not self.debug:  # failures surface as one-line errors; librdkafka's own log only with --debug
            config["logger"] = quiet_logger()
        return KafkaClient(config, timeout=self.settings.request_timeout)

    def registry(self) -> SchemaRegistry:
        from lakectl.components.registry import SchemaRegistry

        reg = self.settings.registry
        auth = (reg.username, reg.password.get_secret_value() if reg.password else "") if reg.username else None
        return SchemaRegistry.connect(self.registry_url(), auth=auth, timeout=self.settings.request_timeout)

    # the lakehouse: object store, Iceberg catalog, Flink
    def s3(self) -> S3Location:
        from lakectl.components.object_store import S3Location

        store = self.settings.object_store
        if store.endpoint:
            if not (store.access_key and store.secret_key):
                from lakectl.errors import ConfigError

                raise ConfigError("object_store.endpoint is set but access_key / secret_key are not",
                                  hint="set LAKECTL_OBJECT_STORE__ACCESS_KEY and LAKECTL_OBJECT_STORE__SECRET_KEY")
            return S3Location(store.endpoint, store.bucket, store.access_key,
                              store.secret_key.get_secret_value(), store.region)
        from lakectl.runtime.services import object_store

        return object_store.location(self.runtime.stack)

    def catalog(self) -> dict[str, str]:
        """The Iceberg JDBC catalog: jdbc_url, user, password, warehouse (an s3:// URI)."""
        cat = self.settings.catalog
        warehouse = self.s3().uri("iceberg")
        if cat.jdbc_url:
            return {"jdbc_url": cat.jdbc_url, "user": cat.user or "",
                    "password": cat.password.get_secret_value() if cat.password else "", "warehouse": warehouse,
                    "name": cat.name}
        from lakectl.runtime.services import flink, postgres

        stack = self.runtime.stack
        return {"jdbc_url": flink.catalog_jdbc_url(stack), "user": postgres.SUPERUSER,
                "password": stack.secret("postgres_password"), "warehouse": warehouse, "name": cat.name}

    def flink_url(self) -> str:
        return self.settings.flink.url or self.runtime.url("flink-jobmanager")

    def flink(self) -> FlinkClient:
        from lakectl.components.flink import FlinkClient

        conf = self.settings.flink
        return FlinkClient.connect(self.flink_url(), token=conf.token.get_secret_value() if conf.token else None,
                                   verify=conf.verify_tls, timeout=self.settings.request_timeout)

    # serving: Trino
    def trino_url(self) -> str:
        return self.settings.trino.url or self.runtime.url("trino")

    def trino(self, *, catalog: str | None = None, schema: str | None = None) -> TrinoClient:
        from lakectl.components.trino import TrinoClient

        conf = self.settings.trino
        return TrinoClient.connect(
            self.trino_url(), user=conf.user, catalog=catalog or conf.catalog, schema=schema or conf.default_schema,
            password=conf.password.get_secret_value() if conf.password else None,
            jwt=conf.jwt.get_secret_value() if conf.jwt else None, verify=conf.verify_tls,
            timeout=max(self.settings.request_timeout, 60.0))

    # observing: Prometheus
    def prometheus_url(self) -> str:
        return self.settings.prometheus.url or self.runtime.url("prometheus")

    def prometheus(self) -> Prometheus:
        from lakectl.components.prometheus import Prometheus

        return Prometheus.connect(self.prometheus_url(), verify=self.settings.prometheus.verify_tls,
                                  timeout=self.settings.request_timeout)

    # orchestrating: Airflow
    def airflow_url(self) -> str:
        return self.settings.airflow.url or self.runtime.url("airflow-api-server")

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
            from lakectl.runtime.services import airflow

            password = self.runtime.stack.secret(airflow.PASSWORD)
        return AirflowClient.connect(self.airflow_url(), username=conf.username or "admin", password=password,
                                     verify=conf.verify_tls, timeout=max(self.settings.request_timeout, 30.0))
