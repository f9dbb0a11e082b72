"""Fill the caches that `make test`'s later stages need, while the unit tests run (one core, little network).

  python -m tests.prefetch kube       the control plane's Go builds (kube-apiserver, etcd, kubeconform), the
                                      operators' CRDs and the Kubernetes JSON schemas (tests/kubernetes)
  python -m tests.prefetch services   every service the session stack starts, through `lakectl service
                                      fetch` (tests/integration, tests/e2e)

Nothing here is a test: each stage would build or download the same on first use, under the same cache
locks, so a stage that starts before its prefetch has finished waits for the lock instead of doing the work
twice. On a cold machine this takes the downloads and the Go builds (about 10 minutes on 2 cores) off the
critical path; on a warm one both commands return in seconds.
"""

from __future__ import annotations

import subprocess
import sys
import time

from tests import kube_objects


def kube() -> None:
    from lakectl.runtime.kubernetes import crds, schemas, toolchain

    cache = kube_objects.cache_dir()
    for step in (toolchain.kubeconform, toolchain.etcd, toolchain.kube_apiserver, crds.crd_files,
                 schemas.kubernetes_schemas, schemas.crd_schemas):
        started = time.monotonic()
        step(cache)
        print(f"{step.__module__.rsplit('.', 1)[-1]}.{step.__name__}: {time.monotonic() - started:.0f} s", flush=True)


def services() -> None:
    from lakectl.runtime.service_table import for_runtime

    names = list(for_runtime("native"))  # what tests/conftest.py's session stack starts
    subprocess.run([sys.executable, "-m", "lakectl", "service", "fetch", *names, "-o", "json"], check=True)


if __name__ == "__main__":
    what = sys.argv[1:] or ["kube", "services"]
    for name in what:
        {"kube": kube, "services": services}[name]()
