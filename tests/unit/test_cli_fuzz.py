"""Property (issue 15, "No input breaks the CLI"): every command and group of lakectl, found in the Typer app
(a new command is covered without touching this file), run with generated arguments, options (the command's
own option names with generated values, unknown options, -o json, --debug, --help), files (empty, binary, one
huge line, invalid UTF-8, NUL bytes, a directory, missing; wherever a command takes a path, and on stdin) and
LAKECTL_* environment values (garbage, and generated secrets), always ends as the design says
(lakectl/errors.py, README "Commands"):

- the exit code is 0, 1, 2, 3 or 130;
- a failure is one line on stderr, ``lakectl: error: ...``, and it is the last line; lines before it are
  allowed, as progress (`up`, `demo`, `service fetch` log it on stderr off a terminal, by design), when none is
  another error line, a traceback or a warning; an error the boundary did not expect (its last resort,
  ``unexpected <Exception>``) is a bug like a traceback is;
- no traceback (nor a thread's, nor a Python warning) without --debug; with --debug a traceback may come before
  the line and librdkafka's own log lines may come after it (its threads write while the process ends);
- no secret (from the secrets file, LAKECTL_*_PASSWORD-style variables, or the stack's generated
  <state>/secrets.json) is ever printed, on stdout or stderr, --debug included.

Each invocation runs the real entry point (``lakectl.cli.main:main``, its boundary handler included) in a forked
child of this process: as fast as in-process (the libraries are imported once, here), yet every run has its own
fds 0-2 (caught at the fd level, as a terminal would see them: librdkafka and child processes write there),
environment, cwd, threads and interpreter state (warnings, logging and thread hooks as a plain ``python``
has them, not pytest's), and a hard time limit: a child still running after INVOCATION_LIMIT_S is killed with
its process group and the example fails as a hang. Each example runs SLOTS invocations side by side, each in
its own sandbox; examples are derandomized (the same runs every time) unless FUZZ_SEED is set, and
FUZZ_EXAMPLES=50 makes a longer hunt (the default keeps the file near a minute on 2 cores).

The sandbox: a copy of the checkout's shipped directories (paths.ROOT points there in the child, so `pipeline
add/remove` write nowhere else) holding a lakectl.toml whose profiles put every service on closed loopback ports
(free ports nothing listens on), LAKECTL_PORTS doing the same whatever config the run picks, a kubeconfig naming
a closed port, an empty download cache, DOCKER_HOST naming a socket that does not exist, HOME inside the
sandbox; in the child, Python's sockets refuse any port but those. Nothing is started, downloaded or built:
- ``NativeRuntime.fetch`` and ``.start_service`` raise ServiceUnavailable: `up`, `demo` and `service fetch`
  run up to the point where they would download artifacts or start a service;
- ``service run`` stops before it prepares the service's data (initdb, formatting Kafka's storage, setuid) and
  execs it; ``os.exec*`` raise as well;
- installers and downloaders (mvn, uv, pip, apt-get, dpkg, go, debootstrap) run as a command that fails, as
  they would offline; the docker CLI reaches no engine (`image build`, the compose runtime);
- `deploy apply/diff` reach the kubeconfig's closed port, every client the closed ports: calls fail fast.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import io
import json
import os
import re
import shutil
import signal
import socket
import sys
import time
import traceback
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from lakectl.cli.main import app

REPO = Path(__file__).resolve().parents[2]
EXIT_CODES = {0, 1, 2, 3, 130}
ERROR_PREFIX = "lakectl: error: "
INVOCATION_LIMIT_S = 30.0  # a hang, not a slow command: with closed ports and 1 s timeouts each run takes < 3 s
# examples per command (a group gets half); each example is SLOTS runs side by side. FUZZ_EXAMPLES=100: a longer hunt
EXAMPLES_PER_COMMAND = int(os.environ.get("FUZZ_EXAMPLES", "2"))
FUZZ_SEED = int(os.environ["FUZZ_SEED"]) if os.environ.get("FUZZ_SEED") else None  # else derandomized: same runs in CI
SLOTS = 2

# the libraries commands import on use, imported once here so that each forked child starts with them
PRELOAD = ("confluent_kafka", "confluent_kafka.admin", "fastavro", "httpx", "trino.dbapi", "yaml",
           "python_on_whales", "kubernetes.client", "kubernetes.config", "sqlparse", "psutil", "rich.console",
           "rich.table", "rich.live", "pydantic_settings")


# ---- the command tree ------------------------------------------------------------------------------------------

def _tree() -> list[tuple[tuple[str, ...], Any]]:
    """(path, command) for every group and every command under lakectl's root, the root itself first."""
    found: list[tuple[tuple[str, ...], Any]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        found.append((path, command))
        for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


TREE = _tree()
ROOT_COMMAND = TREE[0][1]


def _kind(param: Any) -> str:
    """flag, int, float, choice, path or text: what values a parameter takes (Typer's descriptor, else click's)."""
    if getattr(param, "is_flag", False):
        return "flag"
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None:
        if descriptor.is_choice:
            return "choice"
        if descriptor.is_path:
            return "path"
        annotation = descriptor.annotation
        if descriptor.is_list:
            annotation = (getattr(annotation, "__args__", None) or (str,))[0]
        return {int: "int", float: "float", bool: "flag"}.get(annotation, "text")
    name = getattr(getattr(param, "type", None), "name", "text").lower()
    return {"integer": "int", "float": "float", "choice": "choice", "path": "path", "boolean": "flag"}.get(name, "text")


def _choices(param: Any) -> list[str]:
    descriptor = getattr(param, "type_descriptor", None)
    values = descriptor.choices if descriptor is not None else getattr(param.type, "choices", ())
    return [getattr(v, "value", v) for v in values or ()]


def _is_group(command: Any) -> bool:
    return getattr(command, "commands", None) is not None


# ---- the sandbox -----------------------------------------------------------------------------------------------

SHIPPED = ("schemas", "dbt_project", "flink_jobs", "dags", "deploy")
READ_ONLY = ("lakectl", "Makefile", "pyproject.toml")
PROFILES = ("local", "remote", "k8s")


def _closed_ports(count: int) -> list[int]:
    """Loopback ports free right now (bound and released): nothing answers there, a connect is refused at once."""
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


CLOSED_PORTS = _closed_ports(40)


def _ports_table() -> dict[str, int]:
    """Every port of every service of the local stack (ports."<service>[.<name>]"), each on a closed port."""
    from lakectl.runtime.service_table import all_services

    keys = [spec.name if name == "main" else f"{spec.name}.{name}"
            for spec in all_services().values() for name in spec.ports]
    assert len(keys) < len(CLOSED_PORTS)
    return dict(zip(keys, CLOSED_PORTS[1:], strict=False))


PORTS = _ports_table()


def _toml_str(text: str) -> str:
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


@dataclass
class Sandbox:
    root: Path
    checkout: Path  # paths.ROOT in the child, the project (its lakectl.toml) and the cwd

    @property
    def state_dir(self) -> Path:
        return self.checkout / ".lakectl"

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.toml"

    def env(self, values: dict[str, str]) -> dict[str, str]:
        """The child's whole environment: a plain one pointing into the sandbox, then the generated values.

        LAKECTL_PORTS puts every port of the local stack on a closed one even when the generated values replace
        lakectl.toml (LAKECTL_CONFIG) or pick a profile without ports: the defaults (8080, 9092, ...) may be
        someone's running stack. Generated ports are laid over that table, never instead of it."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root / "home"),
            "TMPDIR": str(self.root / "tmp"), "LANG": "C.UTF-8", "DOCKER_HOST": f"unix://{self.root}/no-docker.sock",
            "KUBECONFIG": str(self.root / "kubeconfig"), "LAKECTL_SECRETS_FILE": str(self.secrets_file),
            "LAKECTL_PORTS": json.dumps(PORTS),
            **{k: self.placed(v) for k, v in values.items()},
        }
        try:
            generated = json.loads(env["LAKECTL_PORTS"])
        except ValueError:
            generated = None
        if isinstance(generated, dict):
            env["LAKECTL_PORTS"] = json.dumps({**PORTS, **generated})
        return env

    def placed(self, text: str) -> str:
        return text.replace(SANDBOX, str(self.root))


def _config(sandbox_root: Path) -> str:
    closed = CLOSED_PORTS[0]
    common = [
        'runtime = "native"', "timeout = 1", "request_timeout = 0.5",
        f"cache_dir = {_toml_str(str(sandbox_root / 'cache'))}", "jvm_dirs = []", "class_data_sharing = false",
    ]
    ports_table = "\n".join(f'"{key}" = {value}' for key, value in PORTS.items())
    kubeconfig = _toml_str(str(sandbox_root / "kubeconfig"))
    url = f"http://127.0.0.1:{closed}"
    lines = ['default_profile = "local"']
    for profile in PROFILES:
        lines += [f"[profiles.{profile}]", *common, f"[profiles.{profile}.ports]", ports_table,
                  f"[profiles.{profile}.kubernetes]", f"kubeconfig = {kubeconfig}"]
    # remote: every service named by its URL, with user names, so that the secrets are sent
    lines += [
        "[profiles.remote.kafka]", f'bootstrap_servers = "127.0.0.1:{closed}"', 'security_protocol = "SASL_PLAINTEXT"',
        'sasl_mechanism = "PLAIN"', 'sasl_username = "fuzz"',
        "[profiles.remote.registry]", f'url = "{url}"', 'username = "fuzz"',
        "[profiles.remote.object_store]", f'endpoint = "{url}"', 'access_key = "fuzz"',
        "[profiles.remote.catalog]", f'jdbc_url = "jdbc:postgresql://127.0.0.1:{closed}/iceberg"', 'user = "fuzz"',
        "[profiles.remote.flink]", f'url = "{url}"',
        "[profiles.remote.trino]", f'url = "https://127.0.0.1:{closed}"', "verify_tls = false",
        "[profiles.remote.prometheus]", f'url = "{url}"',
        "[profiles.remote.airflow]", f'url = "{url}"', 'username = "fuzz"',
        # k8s: the Flink jobs through the operator's resources, on the kubeconfig's (closed) API server
        "[profiles.k8s.flink]", 'backend = "kubernetes"',
    ]
    return "\n".join(lines) + "\n"


def _kubeconfig() -> str:
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "fuzz",
        "clusters": [{"name": "fuzz", "cluster": {"server": f"https://127.0.0.1:{CLOSED_PORTS[0]}",
                                                  "insecure-skip-tls-verify": True}}],
        "contexts": [{"name": "fuzz", "context": {"cluster": "fuzz", "user": "fuzz", "namespace": "lakehouse"}}],
        "users": [{"name": "fuzz", "user": {"token": "fuzz-token"}}],
    })


def _write_files(directory: Path) -> None:
    directory.mkdir()
    contents = {
        "empty": b"",
        "binary": bytes(range(256)) * 64,
        "huge-line": b'{"symbol": "' + b"A" * (4 * 2**20) + b'"}',  # 4 MiB, no newline
        "invalid-utf8.avsc": b'{"type": "record", "name": "\xff\xfe", "fields": []}\nSELECT \xc3\x28 FROM t\n',
        "invalid-utf8.sql": b"INSERT INTO t SELECT '\xc3\x28';\n",
        "nul.py": b"x = 1\x00\x00\n",
        "trade.avsc": (REPO / "schemas" / "trade.avsc").read_bytes(),
        "records.jsonl": b'{"symbol": "ACME", "price": 1.5}\n{"nope": \n',
        "query.sql": b"SELECT 1;\n",
        "objects.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n- [unbalanced\n",
        "job.py": b"raise SystemExit(3)\n",
    }
    for name, content in contents.items():
        (directory / name).write_bytes(content)
    (directory / "a-directory").mkdir()
    assert set(FILES) == {*contents, "a-directory", "missing.avsc"}


def _make_sandbox(root: Path) -> Sandbox:
    checkout = root / "checkout"
    checkout.mkdir()
    for name in SHIPPED:
        shutil.copytree(REPO / name, checkout / name, symlinks=True,
                        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", "__pycache__", ".lakectl"))
    for name in READ_ONLY:
        (checkout / name).symlink_to(REPO / name)
    (checkout / "lakectl.toml").write_text(_config(root))
    (root / "kubeconfig").write_text(_kubeconfig())
    for name in ("home", "cache", "tmp"):
        (root / name).mkdir()
    _write_files(root / "files")
    return Sandbox(root, checkout)


@pytest.fixture(scope="module")
def preloaded():
    """Every lakectl module and the libraries commands import on use, imported once: each child has them."""
    import importlib
    import pkgutil

    import lakectl

    modules = [m.name for m in pkgutil.walk_packages(lakectl.__path__, "lakectl.")
               if not m.name.startswith(("lakectl.flink_launcher", "lakectl.superset_app", "lakectl._ext",
                                         "lakectl.__main__"))]
    for name in (*PRELOAD, *modules):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


@pytest.fixture
def sandboxes(tmp_path_factory, preloaded) -> list[Sandbox]:
    """One sandbox per run slot: runs side by side never see each other's files."""
    return [_make_sandbox(tmp_path_factory.mktemp("fuzz")) for _ in range(SLOTS)]


# ---- generated input -------------------------------------------------------------------------------------------

def _names() -> list[str]:
    from lakectl import pipeline_spec
    from lakectl.runtime.images import DERIVED
    from lakectl.runtime.service_table import aliases, all_services

    pipelines = pipeline_spec.names()
    return sorted({*all_services(), *aliases(), *DERIVED, *pipelines, *(f"{p}-value" for p in pipelines),
                   "kafka", "stock_data_pipeline", "trades_pipeline", "bronze", "silver", "gold", "iceberg", "delta",
                   "kubernetes", "latest", "1", "-1", "0", "-", "BACKWARD", "FULL", "NONE", "nosuch",
                   "SELECT 1", "select * from bronze.trades", "{}", "[]", "null", "up", "rate(x[1m])"})


NAMES = _names()
TEXT_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
UNDECODABLE = st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF)  # argv bytes that are not UTF-8
garbage = st.one_of(
    st.text(TEXT_CHARS, max_size=30),
    st.text(st.one_of(TEXT_CHARS, UNDECODABLE), min_size=1, max_size=8),
    st.sampled_from(["", " ", "\n", "\r\n", "\t", "\x1b[2J", "a\nb", "'", '"', "\\", "%s", "{0}", "[red]x[/red]",
                     "../../etc/passwd", "x" * 20_000, "é" * 500, "\u2028", "=", "key=", "=value", "a=b", "--", "-"]),
    st.from_regex(r"-{1,2}[a-zA-Z][a-zA-Z-]{0,12}", fullmatch=True),  # looks like an option
)
SANDBOX = "@SANDBOX@"  # the sandbox's root in argv and env values (each run slot has its own sandbox)
FILES = ("empty", "binary", "huge-line", "invalid-utf8.avsc", "invalid-utf8.sql", "nul.py", "trade.avsc",
         "records.jsonl", "query.sql", "objects.yaml", "job.py", "a-directory", "missing.avsc")
file_path = st.one_of(st.sampled_from(FILES).map(lambda name: f"{SANDBOX}/files/{name}"),
                      st.sampled_from(FILES).map(lambda name: f"../files/{name}"),  # relative to the cwd (checkout)
                      st.sampled_from(["schemas/trade.avsc", "flink_jobs", "dags", "-", "."]))
# waits, timeouts and durations stay small: a valid large one would only make the run wait as asked
WAITING = {"timeout", "duration"}
small_float = st.one_of(st.floats(-1, 1.5).map(repr), st.sampled_from(["0", "-0", "nan", "-nan", "1e-9", "0.1"]))
usual_int = st.integers(-2, 5).map(str)
odd_int = st.one_of(st.integers().map(str), st.sampled_from(["1e3", "0x10", "1_000", " 7", "", "∞", str(2**64)]))


def _large_number(text: str) -> bool:
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        return False
    return not value <= 2  # nan passes: a nan deadline must not wait forever either


def _relative_and_inside(text: str) -> bool:
    return not text.startswith(("/", "~")) and ".." not in text


class Noise:
    """How often a value is garbage instead of a plausible one, drawn once per invocation (0: none at all,
    so that a run gets past the parser to the code behind it; shrinking goes there too)."""

    LEVELS = (0, 10, 50)

    def __init__(self, percent: int) -> None:
        self.percent = percent

    def pick(self, usual: st.SearchStrategy, rare: st.SearchStrategy) -> st.SearchStrategy:
        if not self.percent:
            return usual
        return st.integers(0, 99).flatmap(lambda n: rare if n < self.percent else usual)

    def text(self) -> st.SearchStrategy[str]:
        return self.pick(st.sampled_from(NAMES), garbage)

    def path(self) -> st.SearchStrategy[str]:
        return self.pick(file_path, st.text(TEXT_CHARS, min_size=1, max_size=12).filter(_relative_and_inside))

    def value(self, param: Any) -> st.SearchStrategy[str]:
        kind = _kind(param)
        if kind == "int":
            return self.pick(usual_int, st.one_of(odd_int, garbage))
        if kind == "float":
            if param.name in WAITING:
                return self.pick(small_float, garbage.filter(lambda s: not _large_number(s)))
            return self.pick(st.one_of(small_float, st.floats(allow_nan=True, allow_infinity=True).map(repr)),
                             st.one_of(odd_int, garbage))
        if kind == "choice":
            choices = _choices(param)
            return self.pick(st.one_of(st.sampled_from(choices), st.sampled_from(choices).map(str.upper)), garbage)
        if kind == "path":
            return self.path()
        if param.name == "wait_for_topic":
            return self.text()
        return self.text()

    def option(self, param: Any) -> st.SearchStrategy[list[str]]:
        names = st.sampled_from([*param.opts, *getattr(param, "secondary_opts", [])])
        if _kind(param) == "flag":
            return names.map(lambda name: [name])
        one = st.tuples(names, self.value(param), st.booleans()).map(
            lambda t: [f"{t[0]}={t[1]}"] if t[2] and t[0].startswith("--") else [t[0], t[1]])
        if getattr(param, "multiple", False):
            return st.lists(one, min_size=1, max_size=3).map(lambda chunks: [t for c in chunks for t in c])
        return one

    def argument(self, param: Any) -> st.SearchStrategy[list[str]]:
        if param.nargs == -1:
            return st.lists(self.value(param), min_size=0, max_size=3)
        return self.value(param).map(lambda value: [value])


def _maybe(strategy: st.SearchStrategy[list[str]], likely: bool) -> st.SearchStrategy[list[str]]:
    """The tokens, or none: 9 times in 10 when ``likely`` (a required parameter), else half the time."""
    return st.integers(0, 9).flatmap(lambda n: strategy if n < (9 if likely else 5) else st.just([]))


@st.composite
def argv_for(draw, path: tuple[str, ...], command: Any, noise: Noise) -> list[str]:
    front: list[str] = []
    for param in ROOT_COMMAND.params:  # --profile/-p, --debug: before the command
        if getattr(param, "param_type_name", "") == "option" and draw(st.integers(0, 3)) == 0:
            if param.name == "profile":
                front += [draw(st.sampled_from(param.opts)), draw(noise.pick(st.sampled_from(PROFILES), garbage))]
            else:
                front += draw(noise.option(param))
    options: list[list[str]] = []
    positionals: list[str] = []
    if _is_group(command):
        positionals += draw(_maybe(st.lists(noise.text(), min_size=1, max_size=2), likely=False))
    else:
        for param in command.params:
            if getattr(param, "param_type_name", "") == "argument":
                positionals += draw(_maybe(noise.argument(param), likely=param.required))
            else:
                options.append(draw(_maybe(noise.option(param), likely=param.required)))
    extras: list[list[str]] = []
    if noise.percent and draw(st.integers(0, 3)) == 0:
        extras = draw(st.lists(st.one_of(
            garbage.map(lambda g: [g]),
            st.from_regex(r"--[a-z][a-z-]{0,10}", fullmatch=True).map(lambda o: [o]),  # an unknown option
            st.tuples(st.from_regex(r"--[a-z]{1,8}", fullmatch=True), garbage).map(list),
            st.just(["--debug"]),  # after the command: not its option
            st.just(["--help"]),
            st.just(["--"]),
        ), min_size=1, max_size=2))
    chunks = draw(st.permutations(options))  # an option and its value stay together
    chunks.insert(draw(st.integers(0, len(chunks))), positionals)
    for extra in extras:
        chunks.insert(draw(st.integers(0, len(chunks))), extra)
    return [*front, *path, *(token for chunk in chunks for token in chunk)]


# settings (LAKECTL_<SECTION>__<KEY>, and the sections themselves as JSON) and what selects among them
def _setting_env() -> dict[str, Any]:
    from lakectl.settings import Settings

    names: dict[str, Any] = {}

    def walk(model: Any, prefix: str) -> None:
        for name, info in model.model_fields.items():
            key = f"{prefix}{name.upper()}"
            annotation = info.annotation
            names[key] = annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                walk(annotation, key + "__")

    walk(Settings, "LAKECTL_")
    return names


SETTING_ENV = _setting_env()
SELECTORS = ("LAKECTL_PROFILE", "LAKECTL_CONFIG", "LAKECTL_DEBUG", "LAKECTL_SECRETS_FILE", "LAKECTL_CACHE_SEED")
PATH_ENV = {"LAKECTL_STATE_DIR", "LAKECTL_CACHE_DIR", "LAKECTL_KUBERNETES__KUBECONFIG", "LAKECTL_CONFIG",
            "LAKECTL_KAFKA__SSL_CA_LOCATION", "LAKECTL_SECRETS_FILE", "LAKECTL_CACHE_SEED"}
WAITING_ENV = {"LAKECTL_TIMEOUT", "LAKECTL_REQUEST_TIMEOUT"}
# the settings that address a service: never a port something may listen on
ADDRESS_ENV = {"LAKECTL_KAFKA__BOOTSTRAP_SERVERS", "LAKECTL_REGISTRY__URL", "LAKECTL_OBJECT_STORE__ENDPOINT",
               "LAKECTL_CATALOG__JDBC_URL", "LAKECTL_FLINK__URL", "LAKECTL_TRINO__URL", "LAKECTL_PROMETHEUS__URL",
               "LAKECTL_AIRFLOW__URL"}
SECTION_ENV = {name for name, annotation in SETTING_ENV.items() if hasattr(annotation, "model_fields")}
ENV_NAMES = sorted({*SETTING_ENV, *SELECTORS})


def _literal_values(annotation: Any) -> list[str]:
    import typing

    values: list[str] = []
    for arg in typing.get_args(annotation) or ():
        values += _literal_values(arg) if typing.get_args(arg) else []
    if typing.get_origin(annotation) is typing.Literal:
        values += [str(v) for v in typing.get_args(annotation)]
    return values


secret_text = st.text(st.one_of(st.characters(min_codepoint=0x21, max_codepoint=0x7E),
                                st.sampled_from(list(" éß中🙂\\\"'@:/%#?&="))), min_size=4, max_size=16)


@st.composite
def secret(draw) -> str:
    """A password nobody else prints: a distinctive marker, a unique core, then generated punctuation."""
    core = draw(st.text("abcdefghijkmnpqrstuvwxyz23456789", min_size=10, max_size=10))
    return f"Zq{core}{draw(secret_text)}"


def _address(port: int) -> st.SearchStrategy[str]:
    return st.sampled_from([
        f"http://127.0.0.1:{port}", f"https://127.0.0.1:{port}/x", f"127.0.0.1:{port}", "http://[::1",
        "http://127.0.0.1:99999999", "ftp://127.0.0.1/", f"jdbc:postgresql://127.0.0.1:{port}/db", "http://",
        f"http://u@127.0.0.1:{port}", f"127.0.0.1:{port},127.0.0.1:{port}"])


def _no_host(text: str) -> bool:
    """Garbage that names no host in any comma-separated part: '0' would be 0.0.0.0 on a default port (9092,
    8081, ...), where someone's stack may listen; `topic delete` must never reach it."""
    return ":" not in text and all(not re.fullmatch(r"[A-Za-z0-9.\-\[\]]*", part) for part in text.split(","))


def _env_value(name: str, noise: Noise) -> st.SearchStrategy[str]:
    from lakectl.settings import SECRET_KEYS

    dotted = name.removeprefix("LAKECTL_").lower().replace("__", ".")
    if dotted in SECRET_KEYS:
        return secret()
    if name in PATH_ENV:
        return noise.path()
    if name == "LAKECTL_JVM_DIRS":
        return noise.pick(st.lists(file_path, max_size=2).map(json.dumps), noise.path())
    if name in WAITING_ENV:
        return noise.pick(small_float, garbage.filter(lambda s: not _large_number(s)))
    if name == "LAKECTL_DEBUG":
        return st.sampled_from(["1", "0", "true", ""])
    if name == "LAKECTL_PROFILE":
        return noise.pick(st.sampled_from(PROFILES), garbage)
    if name == "LAKECTL_PORTS":
        port = noise.pick(st.sampled_from(CLOSED_PORTS), st.one_of(st.sampled_from([0, -1, 65536, 2**40]), garbage))
        return st.dictionaries(st.sampled_from(["kafka", "trino", "postgres", "nosuch", ""]), port, max_size=2).map(
            json.dumps)
    if name in ADDRESS_ENV:
        return noise.pick(_address(CLOSED_PORTS[0]), garbage.filter(_no_host))
    if name in SECTION_ENV:
        return noise.pick(st.sampled_from(['{}', '[]', '{"url": 1}', '{"nosuch": 1}', "{", "null"]), garbage)
    realistic = [*_literal_values(SETTING_ENV.get(name)), "true", "false", "1", "0", "-1", "[]", "{}"]
    return noise.pick(st.sampled_from(realistic), garbage)


@st.composite
def invocation(draw, path: tuple[str, ...], command: Any) -> dict[str, Any]:
    """One run: argv, LAKECTL_* env values and what stdin holds."""
    noise = Noise(draw(st.sampled_from(Noise.LEVELS)))
    pairs = st.sampled_from(ENV_NAMES).flatmap(lambda name: st.tuples(st.just(name), _env_value(name, noise)))
    return {"argv": draw(argv_for(path, command, noise)), "env": dict(draw(st.lists(pairs, max_size=3))),
            "stdin": draw(st.one_of(st.none(), st.sampled_from(FILES)))}


# ---- one invocation --------------------------------------------------------------------------------------------

@dataclass
class Run:
    argv: list[str]
    env: dict[str, str]
    code: int
    out: bytes
    err: bytes
    seconds: float
    hung: bool = False
    secrets: list[str] = field(default_factory=list)

    @property
    def debug(self) -> bool:
        return "--debug" in self.argv or self.env.get("LAKECTL_DEBUG") == "1"

    def describe(self) -> str:
        env = {k: v for k, v in self.env.items() if k.startswith("LAKECTL_") and k != "LAKECTL_SECRETS_FILE"}
        return (f"lakectl {self.argv!r}\nenv {env!r}\nexit {self.code} after {self.seconds:.1f} s\n"
                f"--- stdout\n{self.out[-3000:].decode('utf-8', 'backslashreplace')}\n"
                f"--- stderr\n{self.err[-6000:].decode('utf-8', 'backslashreplace')}")


OFFLINE = ("mvn", "uv", "pip", "pip3", "apt-get", "apt", "dpkg", "go", "debootstrap", "curl", "wget")


class _Exec(BaseException):
    """os.exec* in the sandbox: the command would have become another program here."""


def _sandboxed(checkout: Path) -> None:
    """In the child: paths.ROOT is the sandbox's checkout; nothing is started, downloaded or exec'd."""
    import subprocess

    import lakectl.paths
    from lakectl.errors import ServiceUnavailable
    from lakectl.ops import service as service_ops
    from lakectl.runtime.native.runtime import NativeRuntime

    original_root = lakectl.paths.ROOT
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("lakectl") and getattr(module, "ROOT", None) == original_root:
            module.ROOT = checkout

    def no_start(*_args: Any, **_kwargs: Any) -> Any:
        raise ServiceUnavailable("fuzz sandbox: no service is fetched or started here")

    NativeRuntime.fetch = no_start
    NativeRuntime.start_service = no_start
    service_ops._preparing = no_start

    def no_exec(*_args: Any, **_kwargs: Any) -> Any:
        raise _Exec

    for name in ("execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe"):
        setattr(os, name, no_exec)

    # belt and braces for Python's own sockets (httpx, requests, the kubernetes client): a port that is not one of
    # the sandbox's closed ports is refused as a closed one would be; librdkafka and libpq only ever get those
    original_connect, original_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def sandbox_port(sock: socket.socket, address: Any) -> bool:
        return sock.family not in (socket.AF_INET, socket.AF_INET6) or address[1] in CLOSED_PORTS

    def connect(sock: socket.socket, address: Any) -> None:
        if not sandbox_port(sock, address):
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused (fuzz sandbox)")
        original_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        return original_connect_ex(sock, address) if sandbox_port(sock, address) else errno.ECONNREFUSED

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex

    original_init = subprocess.Popen.__init__

    def offline_popen(self: Any, args: Any, *rest: Any, **kwargs: Any) -> None:
        argv = [args] if isinstance(args, str | bytes | os.PathLike) else list(args)
        words = [os.path.basename(str(a)) for a in argv]
        if words and words[0] == "nice":
            words = [w for w in words[1:] if not w.startswith("-") and not w.isdigit()]
        python_module = len(words) > 2 and words[0].startswith("python") and words[1] == "-m"
        if words and (words[0] in OFFLINE or (python_module and words[2] in ("pip", "venv", "ensurepip"))):
            kwargs.pop("executable", None)
            args = ["/bin/sh", "-c", "echo 'offline (fuzz sandbox)' >&2; exit 1"]
        original_init(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = offline_popen


def _plain_interpreter() -> None:
    """In the child: warnings, logging and hooks as a plain ``python`` has them, not as pytest set them."""
    import logging
    import threading
    import warnings

    warnings.resetwarnings()
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.simplefilter("ignore", category)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")

    def show(message: Any) -> None:
        sys.stderr.write(warnings.formatwarning(message.message, message.category, message.filename,
                                                message.lineno, message.line))

    warnings._showwarnmsg_impl = show  # pytest's catch_warnings records them instead
    warnings.showwarning = warnings._showwarning_orig
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    threading.excepthook = threading.__excepthook__
    sys.excepthook = sys.__excepthook__
    sys.unraisablehook = sys.__unraisablehook__
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _child(sandbox: Sandbox, argv: list[str], env: dict[str, str], stdin: Path | None, out: Path, err: Path) -> None:
    code = 1
    try:
        os.setpgid(0, 0)
        for fd, path, flags in ((0, stdin or Path(os.devnull), os.O_RDONLY),
                                (1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                (2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
            opened = os.open(path, flags, 0o600)
            os.dup2(opened, fd)
            os.close(opened)
        # what python gives a process under a UTF-8 locale: strict stdout/stdin, backslashreplace stderr
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8", errors="strict")
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="strict")
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace",
                                      line_buffering=True)
        os.environ.clear()
        os.environ.update(env)
        os.chdir(sandbox.checkout)
        sys.argv = ["lakectl", *argv]
        _plain_interpreter()
        _sandboxed(sandbox.checkout)
        from lakectl.cli.main import main

        try:
            main()
            code = 0
        except SystemExit as exc:  # as the interpreter ends on it
            if exc.code is None or isinstance(exc.code, int):
                code = (exc.code or 0) & 0xFF
            else:
                sys.stderr.write(f"{exc.code}\n")
                code = 1
        except _Exec:
            code = 0
        except BaseException:  # escaped the boundary: the interpreter prints it and exits 1
            traceback.print_exc()
            code = 1
        import threading

        shutdown = getattr(threading, "_shutdown", None)  # the interpreter joins non-daemon threads at exit
        if shutdown is not None:
            shutdown()
        try:
            sys.stdout.flush()
        except Exception:  # the interpreter reports a failed flush at exit as exit 120
            traceback.print_exc()
            code = 120
        sys.stderr.flush()
    except BaseException:  # the harness itself failed: say so on the real stderr
        try:
            os.write(2, traceback.format_exc().encode())
        finally:
            code = 99
    finally:
        os._exit(code)


def _start(sandbox: Sandbox, inv: dict[str, Any]) -> tuple[int, float]:
    argv = [sandbox.placed(token) for token in inv["argv"]]
    env = sandbox.env(inv["env"])
    stdin = sandbox.root / "files" / inv["stdin"] if inv["stdin"] else None
    if stdin is not None and not stdin.is_file():
        stdin = None
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()  # the child's collections leave the parent's objects alone: fewer pages copied
    pid = os.fork()
    if pid == 0:
        _child(sandbox, argv, env, stdin, sandbox.root / "out", sandbox.root / "err")
    gc.unfreeze()
    return pid, time.monotonic()


def run_all(sandboxes: list[Sandbox], invocations: list[dict[str, Any]]) -> list[Run]:
    """Each invocation in its own sandbox, side by side; a child past INVOCATION_LIMIT_S is killed (a hang)."""
    started = [_start(sandbox, inv) for sandbox, inv in zip(sandboxes, invocations, strict=False)]
    status: dict[int, tuple[int, float, bool]] = {}
    while len(status) < len(started):
        for pid, since in started:
            if pid in status:
                continue
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                status[pid] = (code, time.monotonic() - since, False)
            elif time.monotonic() - since > INVOCATION_LIMIT_S:
                os.killpg(pid, signal.SIGKILL)
                status[pid] = (os.waitpid(pid, 0)[1], time.monotonic() - since, True)
        time.sleep(0.005)
    runs = []
    for sandbox, inv, (pid, _) in zip(sandboxes, invocations, started, strict=False):
        with contextlib.suppress(ProcessLookupError, PermissionError):  # what it left behind in its process group
            os.killpg(pid, signal.SIGKILL)
        code, seconds, hung = status[pid]
        runs.append(Run(inv["argv"], inv["env"], os.waitstatus_to_exitcode(code), (sandbox.root / "out").read_bytes(),
                        (sandbox.root / "err").read_bytes(), seconds, hung))
    return runs


# ---- the property ----------------------------------------------------------------------------------------------

TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^Exception in thread|^Exception ignored in", re.M)
WARNING = re.compile(r"^\S.*:\d+: \w*Warning: ", re.M)  # what warnings.showwarning prints


def _leaks(run: Run) -> list[str]:
    found = []
    for value in run.secrets:
        core = value[:12]  # the marker and the unique core: a secret cut, quoted or escaped still shows it
        forms = {value, core, json.dumps(value)[1:-1], urllib.parse.quote(value, safe=""),
                 urllib.parse.quote_plus(value), value.encode("unicode_escape").decode()}
        if any(form.encode("utf-8", "surrogateescape") in output for output in (run.out, run.err) for form in forms):
            found.append(value)
    return found


def check(run: Run) -> None:
    what = run.describe()
    assert not run.hung, f"hung (killed after {INVOCATION_LIMIT_S:.0f} s):\n{what}"
    assert run.code != 99, f"the test harness failed in the child:\n{what}"
    assert run.code in EXIT_CODES, f"exit code {run.code} is not one of {sorted(EXIT_CODES)}:\n{what}"
    assert not _leaks(run), f"a secret was printed ({_leaks(run)}):\n{what}"
    err = run.err.decode("utf-8", "backslashreplace")
    if not run.debug:
        assert not TRACEBACK.search(err), f"a traceback without --debug:\n{what}"
        assert not WARNING.search(err), f"a Python warning on stderr without --debug:\n{what}"
    lines = err.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    errors = [i for i, line in enumerate(lines) if line.startswith(ERROR_PREFIX)]
    if run.code == 0:
        assert not errors, f"exit 0 with an error line:\n{what}"
        return
    if run.debug:  # tracebacks, and the libraries' own logs (librdkafka's threads may still write after the line)
        assert len(errors) == 1, f"exit {run.code}: stderr must hold one '{ERROR_PREFIX}' line:\n{what}"
    else:
        assert errors == [len(lines) - 1], f"exit {run.code}: stderr must end with one '{ERROR_PREFIX}' line:\n{what}"
    line = lines[errors[0]]
    assert "\r" not in line, f"the error line holds a carriage return:\n{what}"
    assert not line.startswith(f"{ERROR_PREFIX}unexpected "), f"an error lakectl did not expect:\n{what}"


def _write_private(path: Path, text: str) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _place_secrets(sandbox: Sandbox, settings_secrets: dict[str, str], stack_secrets: dict[str, str]) -> None:
    """The secrets file (mode 0600; every secret setting under every profile) and <state>/secrets.json, the
    local stack's generated passwords as `up` writes them."""
    lines = []
    for profile in PROFILES:
        sections: dict[str, list[str]] = {}
        for dotted, value in settings_secrets.items():
            section, key = dotted.split(".")
            sections.setdefault(section, []).append(f"{key} = {_toml_str(value)}")
        for section, keys in sections.items():
            lines += [f"[profiles.{profile}.{section}]", *keys]
    _write_private(sandbox.secrets_file, "\n".join(lines) + "\n")
    sandbox.state_dir.mkdir(exist_ok=True)
    _write_private(sandbox.state_dir / "secrets.json", json.dumps(stack_secrets))


def _secrets() -> st.SearchStrategy[dict[str, dict[str, str]]]:
    from lakectl.runtime.service_table import stack_secret_names
    from lakectl.settings import SECRET_KEYS

    stack_names = [n for n in stack_secret_names() if not n.endswith("_key_id")]  # an access key id is no secret
    return st.fixed_dictionaries({"settings": st.fixed_dictionaries({key: secret() for key in sorted(SECRET_KEYS)}),
                                  "stack": st.fixed_dictionaries({name: secret() for name in stack_names})})


def _env_secrets(env: dict[str, str]) -> list[str]:
    from lakectl.settings import SECRET_KEYS

    return [v for k, v in env.items() if k.removeprefix("LAKECTL_").lower().replace("__", ".") in SECRET_KEYS]


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("path", "command"), TREE, ids=[" ".join(path) or "lakectl" for path, _ in TREE])
def test_no_input_breaks_the_cli(sandboxes, path, command):
    # a group only dispatches (its own input is a subcommand name): fewer runs than a command
    examples = max(1, EXAMPLES_PER_COMMAND // 2) if _is_group(command) else EXAMPLES_PER_COMMAND

    @settings(max_examples=examples, deadline=None, derandomize=FUZZ_SEED is None, database=None,
              suppress_health_check=list(HealthCheck))
    @seed(FUZZ_SEED)
    @given(st.lists(invocation(path, command), min_size=SLOTS, max_size=SLOTS), _secrets())
    def property_(invocations: list[dict[str, Any]], secrets: dict[str, dict[str, str]]) -> None:
        for sandbox in sandboxes:
            _place_secrets(sandbox, secrets["settings"], secrets["stack"])
        for run in run_all(sandboxes, invocations):
            run.secrets = [*secrets["settings"].values(), *secrets["stack"].values(), *_env_secrets(run.env)]
            check(run)

    property_()
