#!/usr/bin/env python3
"""make test-fresh: `make demo` in a fresh clone inside a bare Debian 12 container, on a Docker engine of its own.

What a new user has: Debian 12 (bookworm, minbase) plus git, make, python3 and ca-certificates. This
script builds exactly that image without any image registry (debootstrap from the apt mirror this machine
uses, then `docker import`), clones the committed HEAD of this checkout inside it, and runs `make demo`
there. Nothing else is installed by hand: whatever `make demo` needs beyond those four packages, the
Makefile and lakectl must install themselves.

The Docker engine is Debian's `dockerd`, started here with its own data root, exec root, pidfile and
socket (so it never meets another engine), without touching the firewall (--iptables=false,
--ip6tables=false, --bridge=none: containers use the host network), and ALWAYS stopped at the end: a
running engine changes what `lakectl --runtime auto` picks for every later test. The firewall and links
are compared before and after and restored if anything changed anyway.

Runs with the host's python3 and the standard library only (it runs before any venv exists).
Environment:
  FRESH_SEED=1 (default)  seed the container with copies of the host's download caches (Maven ~/.m2,
                          pip and uv caches, lakectl's downloaded artifacts); never system packages,
                          never built venvs. FRESH_SEED=0: cold caches.
  FRESH_TARGET=demo       the make target run in the clone (default demo)
  FRESH_REF=HEAD          the commit to clone (default: this checkout's HEAD)
  FRESH_TIMEOUT=2700      seconds the container may run
  FRESH_DEBIAN_MIRROR     the Debian mirror for debootstrap when this machine's apt has no bookworm source
  LAKECTL_CACHE_DIR       where the engine's data, the base image tarball and the run's scratch live
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SUITE = "bookworm"
VARIANT = "minbase"
# Bump when the way the base is made changes: it is part of the cache key (the date never is).
BASE_RECIPE = f"debootstrap --variant={VARIANT} {SUITE}; tar --numeric-owner; docker import; v1"
BASE_IMAGE = f"lakectl/debian:{SUITE}"
FRESH_IMAGE = f"lakectl/fresh:{SUITE}"
# The container shares the host network, so the stack inside must not take ports a stack on the host
# (a developer's, or the e2e suite's 2xxxx ones) may hold: the e2e ports moved down by 7000.
PORTS = {"kafka": 22092, "kafka.controller": 22093, "schema-registry": 21085,
         "schema-registry.management": 22085, "postgres": 18432, "object-store": 22000,
         "flink-jobmanager": 21081, "flink-jobmanager.rpc": 19123, "flink-jobmanager.metrics": 22249,
         "flink-taskmanager.metrics": 22250, "flink-sql-gateway": 21083, "trino": 21080,
         "kafka.metrics": 22308, "prometheus": 22090, "airflow-api-server": 21088, "superset": 21091}
# What of lakectl's cache is a download cache (seeded) - not venvs, CDS archives, locks, builds made with
# javac/cargo (those must be made inside, or the test would hide a missing JDK), nor the engine itself.
LAKECTL_CACHE_SEEDED = ("maven", "dist", "superset")
# the whole container run (~7-8 min seeded or cold on 2 busy cores); FRESH_TIMEOUT=<seconds> to change
TIMEOUT = float(os.environ.get("FRESH_TIMEOUT") or 2700)

ENGINE_PROGRAMS = {"dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "runc", "docker-proxy"}

TIMINGS: list[tuple[str, float]] = []


def log(message: str) -> None:
    print(f"[fresh] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    log(f"{name} ...")
    start = time.monotonic()
    try:
        yield
    finally:
        took = time.monotonic() - start
        TIMINGS.append((name, took))
        log(f"{name}: {took:.1f} s")


def run(*args: str | Path, check: bool = True, capture: bool = False, env: dict | None = None,
        **kwargs) -> subprocess.CompletedProcess:
    if capture:
        kwargs["stdout"] = subprocess.PIPE
    return subprocess.run([str(a) for a in args], check=check, text=True, env=env, **kwargs)


def ensure_host_tools() -> None:
    """dockerd, debootstrap and iptables-save from Debian's packages, installed on the host when missing."""
    missing = [pkg for tool, pkg in (("dockerd", "docker.io"), ("debootstrap", "debootstrap"),
                                     ("iptables-save", "iptables")) if shutil.which(tool) is None]
    if missing:
        log(f"installing on the host: {' '.join(missing)}")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        run(*sudo, "apt-get", "update", "-q")
        run(*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", *missing,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def apt_mirror() -> str:
    """The Debian mirror this machine's apt uses for the suite (never written into the repository), or
    FRESH_DEBIAN_MIRROR on a machine whose apt has none (e.g. not Debian 12)."""
    if os.environ.get("FRESH_DEBIAN_MIRROR"):
        return os.environ["FRESH_DEBIAN_MIRROR"]
    sources = Path("/etc/apt/sources.list.d")
    deb822 = sorted(sources.glob("*.sources")) if sources.is_dir() else []
    for path in deb822:
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, flags=re.M))
            if "deb" in fields.get("Types", "").split() and SUITE in fields.get("Suites", "").split() \
                    and "main" in fields.get("Components", "").split():
                return fields["URIs"].split()[0]
    one_line = [Path("/etc/apt/sources.list"), *(sorted(sources.glob("*.list")) if sources.is_dir() else [])]
    for path in one_line:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
            if len(words) >= 4 and words[0] == "deb" and words[2] == SUITE and "main" in words[3:]:
                return words[1]
    raise SystemExit(f"[fresh] no apt source for Debian {SUITE} main in /etc/apt: set FRESH_DEBIAN_MIRROR")


def host_ca_certs() -> list[Path]:
    """Extra CA certificates this machine trusts (e.g. an HTTPS-intercepting egress proxy's)."""
    return sorted(Path("/usr/local/share/ca-certificates").glob("**/*.crt"))


# ---- the Docker engine -------------------------------------------------------------------------------------

def _firewall() -> dict[str, str]:
    state = {}
    for tool in ("iptables-save", "ip6tables-save"):
        if shutil.which(tool):
            out = run(tool, check=False, capture=True, stderr=subprocess.DEVNULL).stdout or ""
            state[tool] = "\n".join(line for line in out.splitlines() if not line.startswith("#"))
    return state


def _strip_counters(text: str) -> str:
    return re.sub(r" \[\d+:\d+\]", "", text)


def _links() -> set[str]:
    return set(Path("/sys/class/net").iterdir()) if Path("/sys/class/net").is_dir() else set()


def _reset_input(saved: str, current: str) -> str:
    """iptables-restore input that brings every table back to what was saved: a table absent then is reset
    to its built-in chains with policy ACCEPT (iptables-restore flushes each table it is given and deletes
    its user-defined chains, e.g. DOCKER)."""
    saved_tables = set(re.findall(r"^\*(\S+)", saved, flags=re.M))
    blocks = [saved] if saved.strip() else []
    table = None
    for line in current.splitlines():
        if line.startswith("*"):
            table = line[1:]
            if table not in saved_tables:
                blocks.append(line)
        elif table and table not in saved_tables:
            chain = re.match(r"^:(\S+) (\S+)", line)
            if chain and chain.group(2) != "-":
                blocks.append(f":{chain.group(1)} ACCEPT [0:0]")
            elif line == "COMMIT":
                blocks.append("COMMIT")
    return "\n".join(blocks) + "\n"


class Engine:
    """A dockerd of our own: own data root, exec root, pidfile and socket; no firewall, no bridge."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.pidfile = root / "dockerd.pid"
        self.exec_root = root / "exec"
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{self.socket}", "DOCKER_BUILDKIT": "0",
                    "DOCKER_CONFIG": str(root / "client-config")}
        self.process: subprocess.Popen | None = None

    def docker(self, *args: str | Path, check: bool = True, capture: bool = False, **kw):
        return run("docker", *args, check=check, capture=capture, env=self.env, **kw)

    def __enter__(self) -> Engine:
        started = time.monotonic()
        self.dockerd_before = self._dockerd_pids()
        self.firewall_before = _firewall()
        self.links_before = _links()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "client-config").mkdir(exist_ok=True)
        self._sweep()  # a previous run that died hard: its engine goes first
        logfile = (self.root / "dockerd.log").open("ab")
        self.process = subprocess.Popen(
            ["dockerd", "--data-root", str(self.root / "data"), "--exec-root", str(self.exec_root),
             "--pidfile", str(self.pidfile), "-H", f"unix://{self.socket}", "--iptables=false",
             "--ip6tables=false", "--bridge=none", "--ip-masq=false"],
            stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        logfile.close()
        deadline = time.monotonic() + 60
        while self.docker("version", check=False, capture=True, stderr=subprocess.DEVNULL).returncode:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise SystemExit(f"[fresh] dockerd did not answer on {self.socket}: see {self.root}/dockerd.log")
            time.sleep(0.5)
        TIMINGS.append(("engine start", time.monotonic() - started))
        return self

    def __exit__(self, *exc) -> None:
        started = time.monotonic()
        if self.process is not None:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                ids = self.docker("ps", "-aq", check=False, capture=True, timeout=30).stdout.split()
                if ids:
                    self.docker("rm", "-f", *ids, check=False, capture=True, timeout=120)
            self._stop_pid(self.process.pid)
            self.process = None
        self._sweep()
        self._restore_host()
        TIMINGS.append(("engine stop and host check", time.monotonic() - started))

    @staticmethod
    def _dockerd_pids() -> set[int]:
        out = run("pgrep", "-x", "dockerd", check=False, capture=True).stdout
        return {int(p) for p in out.split()}

    @staticmethod
    def _stop_pid(pid: int) -> None:
        if pid <= 0:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def _ours(self, proc: Path) -> bool:
        """An engine process (dockerd, containerd, a shim) with an argument inside this engine's root."""
        try:
            args = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            return False
        inside = f"{self.root}/"
        return Path(args[0]).name in ENGINE_PROGRAMS and any(
            arg.startswith(inside) or f"={inside}" in arg or f"://{inside}" in arg for arg in args[1:])

    def _sweep(self) -> None:
        """Anything of this engine still alive (dockerd, containerd, shims) or still mounted goes."""
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit() and int(proc.name) != os.getpid() and self._ours(proc):
                log(f"stopping leftover engine process {proc.name}")
                self._stop_pid(int(proc.name))
        marker = f"{self.root}/"
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                  if line.split()[1].startswith(marker)]
        for mount in sorted(mounts, key=len, reverse=True):
            run("umount", "-l", mount, check=False)
        self.pidfile.unlink(missing_ok=True)
        self.socket.unlink(missing_ok=True)

    def _restore_host(self) -> None:
        after = _firewall()
        for tool, saved in self.firewall_before.items():
            if _strip_counters(after.get(tool, "")) != _strip_counters(saved):
                log(f"{tool}: the firewall changed while the engine ran; restoring it")
                restore = tool.replace("-save", "-restore")
                run(restore, input=_reset_input(saved, after.get(tool, "")), check=False)
        for link in _links() - self.links_before:
            log(f"deleting network link {link.name} the engine left")
            run("ip", "link", "delete", link.name, check=False)
        left = self._dockerd_pids() - self.dockerd_before
        if left:
            raise SystemExit(f"[fresh] dockerd still running after the test: pids {sorted(left)}")
        log("engine stopped; firewall and links as before")


# ---- images ------------------------------------------------------------------------------------------------

def _key(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _image_label(engine: Engine, image: str) -> str | None:
    done = engine.docker("image", "inspect", image, "--format", '{{index .Config.Labels "lakectl.key"}}',
                         check=False, capture=True, stderr=subprocess.DEVNULL)
    return done.stdout.strip() if done.returncode == 0 else None


def _umount_under(path: Path) -> None:
    for line in reversed(Path("/proc/mounts").read_text().splitlines()):
        mount = line.split()[1]
        if mount == str(path) or mount.startswith(f"{path}/"):
            run("umount", "-l", mount, check=False)


def base_image(engine: Engine, cache: Path) -> str:
    """Debian minbase from debootstrap, imported as lakectl/debian:bookworm; cached as an image and a tarball."""
    key = _key(BASE_RECIPE)
    if _image_label(engine, BASE_IMAGE) == key:
        log(f"{BASE_IMAGE} present (key {key})")
        return key
    tarball = cache / f"debian-{SUITE}-{VARIANT}-{key}.tar"
    if not tarball.exists():
        rootfs = cache / f"rootfs-{key}.tmp"
        _umount_under(rootfs)
        shutil.rmtree(rootfs, ignore_errors=True)
        with step("debootstrap"):
            run("debootstrap", f"--variant={VARIANT}", SUITE, rootfs, apt_mirror(),
                stdout=subprocess.DEVNULL)
        _umount_under(rootfs)
        partial = tarball.with_suffix(".tar.tmp")
        run("tar", "--numeric-owner", "-C", rootfs, "-cf", partial, ".")
        partial.rename(tarball)  # the rename marks it complete: an interrupted run leaves only .tmp
        shutil.rmtree(rootfs, ignore_errors=True)
    with step("docker import"):
        engine.docker("import", "--change", f"LABEL lakectl.key={key}", "--change", 'CMD ["bash"]',
                      tarball, BASE_IMAGE, capture=True)
    return key


def fresh_image(engine: Engine, base_key: str, scratch: Path) -> None:
    """The base plus git, make, python3, ca-certificates and this machine's extra CA certificates."""
    context = scratch / "image"
    (context / "certs").mkdir(parents=True)
    certs = host_ca_certs()
    for cert in certs:
        shutil.copy2(cert, context / "certs" / cert.name)
    dockerfile = (HERE / "Dockerfile").read_text()
    key = _key(base_key, dockerfile, *(c.read_bytes() for c in certs))
    if _image_label(engine, FRESH_IMAGE) == key:
        log(f"{FRESH_IMAGE} present (key {key})")
        return
    (context / "Dockerfile").write_text(dockerfile)
    with step("image build (git, make, python3, ca-certificates)"):
        engine.docker("build", "--network", "host", "--build-arg", f"BASE={BASE_IMAGE}", "--label",
                      f"lakectl.key={key}", "-t", FRESH_IMAGE, context, stdout=subprocess.DEVNULL)


# ---- the run -----------------------------------------------------------------------------------------------

def seed(scratch: Path, lakectl_cache: Path) -> Path:
    """Copies of the host's download caches, laid out as the container's /root (its .m2 and .cache).

    Hard links (no bytes copied) make a read-only lower layer of an overlay mount whose upper layer takes
    every write from the container, so the host's files are never changed; where overlayfs is not available,
    a plain copy."""
    lower = scratch / "seed-lower"
    copies = [(Path.home() / ".m2" / "repository", Path(".m2") / "repository"),
              (Path(os.environ.get("PIP_CACHE_DIR", Path.home() / ".cache" / "pip")), Path(".cache") / "pip"),
              (Path(os.environ.get("UV_CACHE_DIR", Path.home() / ".cache" / "uv")), Path(".cache") / "uv")]
    copies += [(lakectl_cache / name, Path(".cache") / "lakectl" / name) for name in LAKECTL_CACHE_SEEDED]
    home = scratch / "home"
    for sub in ("seed-upper", "seed-work", "home"):
        (scratch / sub).mkdir()
    for source, relative in copies:
        if source.is_dir():
            (lower / relative).parent.mkdir(parents=True, exist_ok=True)
            if run("cp", "-al", source, lower / relative, check=False, stderr=subprocess.DEVNULL).returncode:
                shutil.rmtree(lower / relative, ignore_errors=True)
                run("cp", "-a", source, lower / relative)
    options = f"lowerdir={lower},upperdir={scratch / 'seed-upper'},workdir={scratch / 'seed-work'}"
    if run("mount", "-t", "overlay", "overlay", "-o", options, home, check=False).returncode:
        log("overlayfs not available: copying the caches instead")
        shutil.rmtree(home)
        run("cp", "-a", lower, home)
    for top in (".m2", ".cache"):
        (home / top).mkdir(exist_ok=True)
    return home


def parse_inside_times(logfile: Path) -> None:
    for line in logfile.read_text(errors="replace").splitlines():
        match = re.match(r"^\[fresh-inside\] (.+): (\d+(?:\.\d+)?) s \(exit (\d+)\)", line)
        if match:
            TIMINGS.append((f"  inside: {match.group(1)}" + ("" if match.group(3) == "0" else " FAILED"),
                            float(match.group(2))))


def _terminate(signum, frame) -> None:
    # a CI timeout or `kill` must still stop the engine: SystemExit unwinds through every finally/__exit__
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    lakectl_cache = Path(os.environ.get("LAKECTL_CACHE_DIR") or Path.home() / ".cache" / "lakectl").expanduser()
    cache = lakectl_cache / "fresh"
    cache.mkdir(parents=True, exist_ok=True)
    ref = os.environ.get("FRESH_REF", "HEAD")
    commit = run("git", "-C", REPO, "rev-parse", ref, capture=True).stdout.strip()
    for old in sorted(cache.glob("run-*"), key=lambda p: p.stat().st_mtime)[:-4]:  # keep the last runs' logs
        _umount_under(old)
        shutil.rmtree(old, ignore_errors=True)
    scratch = cache / f"run-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "out").mkdir(parents=True)
    ensure_host_tools()
    code = 1
    try:
        with Engine(lakectl_cache / "docker") as engine:
            base_key = base_image(engine, cache)
            fresh_image(engine, base_key, scratch)
            # a bundle of the ref (HEAD: cloned detached at this checkout's commit); uncommitted changes stay out
            run("git", "-C", REPO, "bundle", "create", scratch / "repo.bundle", ref, stderr=subprocess.DEVNULL)
            seeded = os.environ.get("FRESH_SEED", "1") != "0"
            if seeded:
                with step("seed download caches (copies)"):
                    home = seed(scratch, lakectl_cache)
            else:
                home = scratch / "home"
                for top in (".m2", ".cache"):
                    (home / top).mkdir(parents=True)
            mounts = [f"{scratch / 'repo.bundle'}:/seed/repo.bundle:ro", f"{HERE / 'inside.sh'}:/seed/inside.sh:ro",
                      f"{scratch / 'out'}:/out"]
            mounts += [f"{home / top}:/root/{top}" for top in (".m2", ".cache")]
            log(f"make {os.environ.get('FRESH_TARGET', 'demo')} in a clone of {commit[:12]} "
                f"({'seeded' if seeded else 'cold'} caches); output in {scratch / 'out' / 'inside.log'}")
            name = f"lakectl-fresh-{os.getpid()}"
            with step("container run (clone + make)"):
                try:
                    code = engine.docker(
                        "run", "--rm", "--name", name, "--network", "host", "--shm-size", "1g",
                        *(arg for mount in mounts for arg in ("-v", mount)),
                        "-e", f"LAKECTL_PORTS={json.dumps(PORTS)}", "-e", f"FRESH_REF={ref}",
                        "-e", f"FRESH_TARGET={os.environ.get('FRESH_TARGET', 'demo')}",
                        FRESH_IMAGE, "bash", "/seed/inside.sh", check=False, timeout=TIMEOUT).returncode
                except subprocess.TimeoutExpired:
                    log(f"the container ran longer than {TIMEOUT:.0f} s (FRESH_TIMEOUT): stopped")
                    code = 124
            parse_inside_times(scratch / "out" / "inside.log")
    finally:
        print("\n[fresh] timings", file=sys.stderr)
        for name, took in TIMINGS:
            print(f"[fresh]   {name:<60} {took:7.1f} s", file=sys.stderr)
        (scratch / "out" / "timings.json").write_text(json.dumps(TIMINGS, indent=1))
        # keep the log and timings; drop the seeded copies
        _umount_under(scratch / "home")
        for sub in ("home", "seed-upper", "seed-work", "seed-lower"):
            shutil.rmtree(scratch / sub, ignore_errors=True)
        shutil.rmtree(scratch / "image", ignore_errors=True)
        (scratch / "repo.bundle").unlink(missing_ok=True)
    log(f"make demo in the bare container: {'passed' if code == 0 else f'FAILED (exit {code})'}; "
        f"log: {scratch / 'out' / 'inside.log'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
