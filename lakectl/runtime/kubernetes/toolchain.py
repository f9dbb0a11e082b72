"""The programs that check Kubernetes manifests without a cluster, built from Go modules into the cache.

kubeconform (schema checks, offline), and a real kube-apiserver + etcd (server-side dry-runs: what a schema
cannot see, such as a Deployment whose selector misses its labels, or a CRD's CEL rules). Each is built once
per version with ``go`` (its own module proxy setting, GOPROXY, decides where modules come from) under
``nice``, into ``<cache>/build/<name>-<version>``: an interrupted build leaves nothing that looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lakectl.artifacts import cached_build, is_complete
from lakectl.errors import ComponentError
from lakectl.runtime import versions

# an older Go fetches the toolchain a module's `go` line asks for (GOTOOLCHAIN=auto)
GO_HINT = "install Go 1.21 or newer (apt-get install golang-go, or a Go release on PATH)"


def go_binary() -> str:
    """``go`` on PATH, else one clear line saying it is needed."""
    go = shutil.which("go")
    if go is None:
        raise ComponentError("Go (go) is needed to build the Kubernetes check tools (kubeconform, kube-apiserver, "
                             "etcd) from Go modules", hint=GO_HINT)
    return go


def go_env(work: Path | None = None) -> dict[str, str]:
    """The environment of lakectl's go commands: static binaries, no workspace, temp files in ``work``."""
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod -trimpath", "GOWORK": "off"}
    env.setdefault("GOTOOLCHAIN", "auto")  # a Go older than a module's `go` line fetches the toolchain it names
    if work is not None:
        env["GOTMPDIR"] = str(work)
    return env


def _run_go(args: Sequence[str], cwd: Path, what: str) -> str:
    done = subprocess.run(["nice", "-n", "19", go_binary(), *args], cwd=cwd, env=go_env(cwd),
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = [ln for ln in (done.stderr or done.stdout).strip().splitlines() if ln.strip()][-3:]
        raise ComponentError(f"{what}: go {' '.join(args[:2])} failed: {' | '.join(tail)[:600]}")
    return done.stdout


@dataclass(frozen=True)
class GoProgram:
    """A main package built from a wrapper module that requires ``module@version`` (plus ``requires``), with
    ``replaces`` (module -> "module version"), and the ``-X`` flags in ``ldflags``."""

    name: str
    module: str
    version: str
    package: str
    replaces: tuple[tuple[str, str], ...] = ()
    ldflags: tuple[str, ...] = ()

    def go_mod(self) -> str:
        lines = ["module lakectl.local/build", "", "go 1.24", "", f"require {self.module} {self.version}", ""]
        if self.replaces:
            lines += ["replace (", *(f"\t{old} => {new}" for old, new in self.replaces), ")", ""]
        return "\n".join(lines)


def build_go_program(cache_dir: Path, program: GoProgram) -> Path:
    """The built binary of ``program``, from the cache (built now when missing)."""

    def build(work: Path) -> Path:
        module_dir = work / "module"
        module_dir.mkdir()
        (module_dir / "go.mod").write_text(program.go_mod())
        # go get resolves the build list and writes go.sum (checksums from the checksum database, as go does)
        _run_go(["get", f"{program.package}@{program.version}"], module_dir, program.name)
        flags = " ".join(["-s", "-w", *(f"-X {flag}" for flag in program.ldflags)])
        out = work / "bin"
        out.mkdir()
        _run_go(["build", "-ldflags", flags, "-o", str(out / program.name), program.package], module_dir, program.name)
        return out

    target = cache_dir / "build" / f"{program.name}-{program.version.lstrip('v')}"
    cached_build(cache_dir, target, build, {"go": f"{program.module}@{program.version}", "package": program.package})
    return target / program.name


def _staging_replaces(kubernetes: str) -> tuple[tuple[str, str], ...]:
    """k8s.io/kubernetes requires its staging modules (k8s.io/api, ...) at v0.0.0 and replaces them with
    directories of its own repository, which a dependent module does not see: each is replaced here with the
    published tag of the same release (v1.37.2 -> v0.37.2)."""
    done = subprocess.run([go_binary(), "mod", "download", "-json", f"k8s.io/kubernetes@v{kubernetes}"],
                          env=go_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ComponentError(f"kube-apiserver: go mod download k8s.io/kubernetes@v{kubernetes} failed: "
                             f"{done.stderr.strip()[-400:]}")
    go_mod = Path(json.loads(done.stdout)["GoMod"]).read_text()
    staging_tag = "v0." + kubernetes.split(".", 1)[1]
    replaces = []
    for line in go_mod.splitlines():
        parts = line.split()
        if "=>" in parts and parts[-1].startswith("./staging/"):
            replaces.append((parts[0], f"{parts[0]} {staging_tag}"))
    if not replaces:
        raise ComponentError(f"kube-apiserver: k8s.io/kubernetes v{kubernetes}'s go.mod names no staging modules")
    return tuple(replaces)


def kube_apiserver(cache_dir: Path) -> Path:
    """kube-apiserver ``versions.KUBERNETES`` (about 8 minutes cold on 2 cores, then from the cache)."""
    version = versions.KUBERNETES
    target = cache_dir / "build" / f"kube-apiserver-{version}"
    if is_complete(target):  # without asking the module proxy for the staging modules' names again
        return target / "kube-apiserver"
    major, minor, _ = version.split(".")
    program = GoProgram(
        name="kube-apiserver", module="k8s.io/kubernetes", version=f"v{version}",
        package="k8s.io/kubernetes/cmd/kube-apiserver", replaces=_staging_replaces(version),
        # what `kube-apiserver --version` and /version report (the Kubernetes build sets the same variables)
        ldflags=tuple(f"k8s.io/component-base/version.{key}={value}" for key, value in (
            ("gitVersion", f"v{version}"), ("gitMajor", major), ("gitMinor", minor), ("gitTreeState", "clean"))),
    )
    return build_go_program(cache_dir, program)


def etcd(cache_dir: Path) -> Path:
    """etcd ``versions.ETCD``, the API server's store (about 1.5 minutes cold)."""
    return build_go_program(cache_dir, GoProgram(
        name="etcd", module="go.etcd.io/etcd/server/v3", version=f"v{versions.ETCD}",
        package="go.etcd.io/etcd/server/v3"))


def kubeconform(cache_dir: Path) -> Path:
    """kubeconform ``versions.KUBECONFORM`` (seconds to build)."""
    return build_go_program(cache_dir, GoProgram(
        name="kubeconform", module="github.com/yannh/kubeconform", version=f"v{versions.KUBECONFORM}",
        package="github.com/yannh/kubeconform/cmd/kubeconform"))
