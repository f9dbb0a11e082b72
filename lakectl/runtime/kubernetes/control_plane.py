"""A throw-away Kubernetes control plane on loopback: etcd + kube-apiserver (built by ``toolchain``), no
controllers, no nodes. Enough for server-side dry-runs and applies: admission, defaulting, a Deployment
whose selector misses its labels, CRD schemas and their CEL rules, all answered by the real server.

    with control_plane(cache_dir) as plane:      # ready, CRDs established, in ~5 s once built
        client = KubernetesClient.from_kubeconfig(plane.kubeconfig, plane.context)

Ports are free ones in 15000-17999 (below the ephemeral range); data, certificates, logs and the kubeconfig
live in a temp dir removed at the end (kept with ``keep=True`` to read the logs). The API server makes its
own self-signed serving certificate (``--cert-dir``); clients authenticate with a static token in group
``system:masters`` (cluster-admin).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from lakectl.components.kubernetes import KubernetesClient
from lakectl.errors import ComponentError
from lakectl.polling import Deadline, Observation, poll_until
from lakectl.runtime.kubernetes import crds as crd_sources
from lakectl.runtime.kubernetes import toolchain

PORT_RANGE = (15000, 17999)
CONTEXT = "lakectl-check"


def free_ports(count: int, low: int = PORT_RANGE[0], high: int = PORT_RANGE[1]) -> list[int]:
    """``count`` ports in [low, high] nobody listens on now (random, so parallel runs rarely meet)."""
    import random

    candidates = list(range(low, high + 1))
    random.shuffle(candidates)
    found = []
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise ComponentError(f"no {count} free ports between {low} and {high}")


@dataclass
class ControlPlane:
    """A running etcd + kube-apiserver pair."""

    server: str  # https://127.0.0.1:PORT
    kubeconfig: Path
    context: str
    token: str
    ca_file: Path
    work_dir: Path
    timings: dict[str, float] = field(default_factory=dict)  # seconds: "ready", "crds"

    def client(self, timeout: float = 30.0) -> KubernetesClient:
        return KubernetesClient.from_kubeconfig(self.kubeconfig, self.context, timeout=timeout)


def _start(argv: list[str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        # its own session: stopped by process group; output to a file nobody has to drain
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def _stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def _tail(log: Path, lines: int = 3) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])[-500:]


def _service_account_key(work: Path) -> Path:
    """An ECDSA key the API server signs service-account tokens with (it refuses to start without one), and
    its public half beside it (``sa.pub``)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ComponentError("openssl is needed to make the test API server's service-account key",
                             hint="apt-get install openssl")
    key = work / "sa.key"
    done = subprocess.run([openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                           "-out", str(key)], capture_output=True, text=True, check=False)
    if done.returncode == 0:  # the server reads the public half from a file of its own
        done = subprocess.run([openssl, "pkey", "-in", str(key), "-pubout", "-out", str(work / "sa.pub")],
                              capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ComponentError(f"openssl could not make a service-account key: {done.stderr.strip()[-300:]}")
    return key


def _kubeconfig(path: Path, server: str, ca_file: Path, token: str, context: str) -> None:
    import yaml

    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": context, "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": f"{context}-admin", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": f"{context}-admin"}}],
    }))
    path.chmod(0o600)


@contextlib.contextmanager
def control_plane(cache_dir: Path, *, install_crds: bool = True, timeout: float = 120.0,
                  keep: bool = False) -> Iterator[ControlPlane]:
    """Start etcd + kube-apiserver (built into ``cache_dir`` when missing), wait until /readyz answers ok,
    apply the operators' CRDs (``install_crds``) and wait until they are Established; stopped (and the
    temp dir removed unless ``keep``) when the block ends, however it ends."""
    etcd_binary, apiserver_binary = toolchain.etcd(cache_dir), toolchain.kube_apiserver(cache_dir)
    crd_objects = crd_sources.load_crds(cache_dir) if install_crds else []
    work = Path(tempfile.mkdtemp(prefix="lakectl-kube-"))
    procs: list[subprocess.Popen] = []
    try:
        started = time.monotonic()
        etcd_client, etcd_peer, secure = free_ports(3)
        token = secrets.token_hex(24)
        (work / "tokens.csv").write_text(f'{token},lakectl-admin,lakectl-admin,"system:masters"\n')
        (work / "tokens.csv").chmod(0o600)
        sa_key = _service_account_key(work)
        etcd_url = f"http://127.0.0.1:{etcd_client}"
        procs.append(_start([
            str(etcd_binary), "--name", "lakectl", "--data-dir", str(work / "etcd"),
            "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-cluster", f"lakectl=http://127.0.0.1:{etcd_peer}",
            "--log-level", "warn", "--unsafe-no-fsync",  # a scratch store: durability buys nothing here
        ], work / "etcd.log"))
        cert_dir = work / "certs"
        procs.append(_start([
            str(apiserver_binary), f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={secure}",
            f"--cert-dir={cert_dir}", f"--token-auth-file={work / 'tokens.csv'}", "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={work / 'sa.pub'}", f"--service-account-signing-key-file={sa_key}",
            "--service-cluster-ip-range=10.96.0.0/16",
            # no kubernetes Service endpoints to keep: a loopback address is refused as an endpoint
            "--endpoint-reconciler-type=none", "--enable-priority-and-fairness=false", "--profiling=false",
        ], work / "kube-apiserver.log"))
        server = f"https://127.0.0.1:{secure}"
        ca_file = cert_dir / "apiserver.crt"
        deadline = Deadline(timeout)

        def ready() -> Observation[bool]:
            for proc, name in zip(procs, ("etcd", "kube-apiserver"), strict=True):
                if proc.poll() is not None:
                    raise ComponentError(f"{name} exited with {proc.returncode} while starting: "
                                         f"{_tail(work / f'{name}.log')}")
            try:
                answer = httpx.get(f"{server}/readyz", headers={"Authorization": f"Bearer {token}"},
                                   verify=False, timeout=2.0)
            except httpx.HTTPError as exc:
                return Observation(False, detail=f"{server}/readyz: {type(exc).__name__}")
            return Observation(answer.status_code == 200 and ca_file.is_file(), True,
                               detail=f"/readyz {answer.status_code}: {answer.text.strip()[-200:]}")

        poll_until(ready, timeout=deadline, what=f"kube-apiserver at {server}", interval=0.2,
                   hint=f"logs in {work}")
        kubeconfig = work / "kubeconfig"
        _kubeconfig(kubeconfig, server, ca_file, token, CONTEXT)
        plane = ControlPlane(server, kubeconfig, CONTEXT, token, ca_file, work)
        plane.timings["ready"] = time.monotonic() - started
        if crd_objects:
            installed = time.monotonic()
            with plane.client() as client:
                install(client, crd_objects, deadline)
            plane.timings["crds"] = time.monotonic() - installed
        yield plane
    finally:
        for proc in reversed(procs):
            _stop(proc)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def install(client: KubernetesClient, crd_objects: list[dict], timeout: float | Deadline = 60.0) -> None:
    """Server-side apply ``crd_objects`` and wait until the server serves each (condition Established)."""
    client.apply(crd_objects)
    names = [crd["metadata"]["name"] for crd in crd_objects]

    def established() -> Observation[bool]:
        pending = []
        for name in names:
            live = client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name) or {}
            conditions = {c.get("type"): c.get("status") for c in (live.get("status") or {}).get("conditions") or []}
            if conditions.get("Established") != "True":
                pending.append(name)
        return Observation(not pending, True, detail=f"not established yet: {', '.join(pending)}")

    poll_until(established, timeout=timeout, what="CRDs established", interval=0.2)
    client.forget_kinds()
