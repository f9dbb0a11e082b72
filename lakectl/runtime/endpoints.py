"""What the local stack offers a client beyond addresses (``Runtime.endpoint`` gives those): the
credentials it generated, its Iceberg catalog database, its SQL Gateway and Flink's python jar.

``lakectl.context`` uses it where a profile sets nothing else. Every answer is computed on use: a
secret exists only once the stack was started, and Flink's python jar needs FLINK_HOME assembled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lakectl.components.object_store import S3Location
    from lakectl.runtime.base import Runtime


@dataclass(frozen=True)
class JdbcCatalogAccess:
    """The Iceberg JDBC catalog's database: where it is and who may write it."""

    jdbc_url: str
    user: str
    password: str


class LocalEndpoints:
    """The local stack (native or compose) as a client sees it."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def object_store(self) -> S3Location:
        from lakectl.runtime.services import object_store

        return object_store.location(self.runtime.stack)

    def iceberg_catalog(self) -> JdbcCatalogAccess:
        from lakectl.runtime.services import flink, postgres

        stack = self.runtime.stack
        return JdbcCatalogAccess(flink.catalog_jdbc_url(stack), postgres.SUPERUSER, stack.secret("postgres_password"))

    def postgres_admin(self) -> tuple[str, int, str, str]:
        """The local PostgreSQL's host, port, superuser and its password."""
        from lakectl.runtime.base import LOCALHOST
        from lakectl.runtime.services import postgres

        stack = self.runtime.stack
        return LOCALHOST, stack.port(postgres.SPEC), postgres.SUPERUSER, stack.secret("postgres_password")

    def sql_gateway_url(self) -> str:
        return self.runtime.url("flink-sql-gateway")

    def flink_python_jar(self) -> Path:
        """flink-python's jar (its PythonDriver runs PyFlink jobs) from the local Flink distribution."""
        from lakectl.errors import ComponentError
        from lakectl.runtime.services import flink

        jars = sorted((flink.flink_home(self.runtime.stack) / "opt").glob("flink-python-*.jar"))
        if not jars:
            raise ComponentError("flink: no flink-python jar in the Flink distribution's opt/")
        return jars[0]

    def airflow_password(self) -> str:
        from lakectl.runtime.services import airflow

        return self.runtime.stack.secret(airflow.PASSWORD)
