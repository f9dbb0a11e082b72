"""A local control plane (etcd + kube-apiserver on loopback, the operators' CRDs installed), started once per
session and stopped at the end however the session ends. The first run builds the binaries into the cache
(about 10 minutes on 2 cores; go is needed); later runs start in seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from lakectl.runtime.kubernetes.control_plane import ControlPlane, control_plane
from tests import kube_objects as k

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def plane() -> ControlPlane:
    with control_plane(k.cache_dir()) as running:
        sys.stderr.write(f"\ncontrol plane {running.server}: ready in {running.timings['ready']:.1f}s, "
                         f"CRDs established in {running.timings['crds']:.1f}s\n")
        yield running


@pytest.fixture(scope="session")
def client(plane):
    with plane.client() as kube:
        kube.apply([k.namespace()])
        yield kube


@dataclass
class Completed:
    code: int
    out: str
    err: str


@pytest.fixture
def lakectl(tmp_path, plane):
    """Run ``lakectl ARGS`` in a process of its own, in an empty project, with [kubernetes] kubeconfig pointing
    at the control plane (LAKECTL_KUBERNETES__KUBECONFIG)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LAKECTL_", "KUBECONFIG"))}
    env.update({"LAKECTL_KUBERNETES__KUBECONFIG": str(plane.kubeconfig),
                "LAKECTL_SECRETS_FILE": str(tmp_path / "no-secrets.toml"), "PYTHONPATH": str(REPO)})

    def run(*args: str, extra_env: dict | None = None) -> Completed:
        done = subprocess.run([sys.executable, "-m", "lakectl", *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, env={**env, **(extra_env or {})})
        return Completed(done.returncode, done.stdout, done.stderr)

    return run
