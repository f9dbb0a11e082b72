"""A Python application lakectl runs natively from its own virtualenv (Airflow, Superset): the venv in
the cache keyed by its pins, its home in the state dir, its CLI, and its metadata migrations."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lakectl.artifacts import cache_lock, pinned_venv, pinned_venv_name
from lakectl.errors import ComponentError

if TYPE_CHECKING:
    from lakectl.runtime.base import StackContext


@dataclass(frozen=True)
class PythonApp:
    name: str  # its CLI's name in the venv's bin/, and its home's name
    version: str
    # the pins of its venv (its pins clash with lakectl's and each other's: one venv each)
    requirements: tuple[str, ...]

    def venv(self, stack: StackContext) -> Path:
        return pinned_venv(stack.cache_dir, f"{self.name}-{self.version}", self.requirements)

    def venv_name(self) -> str:
        """Its venv's directory name under ``<cache>/venvs`` (what ``venv`` makes; computed without making it)."""
        return pinned_venv_name(f"{self.name}-{self.version}", self.requirements)

    def image_bin(self, cache_dir: str, command: str | None = None) -> str:
        """Its CLI (or ``command``) in an image whose lakectl cache is ``cache_dir`` (the compose family images)."""
        return f"{cache_dir}/venvs/{self.venv_name()}/bin/{command or self.name}"

    def bin(self, stack: StackContext, command: str | None = None) -> Path:
        return self.venv(stack) / "bin" / (command or self.name)

    def home(self, stack: StackContext) -> Path:
        return stack.data_root / self.name

    def run(self, stack: StackContext, args: Sequence[str], env: dict[str, str]) -> None:
        """Its CLI with ``args``; ComponentError with the last lines it printed when it fails."""
        done = subprocess.run([str(self.bin(stack)), *args], env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = [ln for ln in (done.stderr or done.stdout).strip().splitlines() if ln.strip()][-2:]
            raise ComponentError(f"{self.name}: {self.name} {' '.join(args)} failed: {' | '.join(tail)[:500]}")

    def ensure_migrated(self, stack: StackContext, revision: Callable[[], str], migrate: Callable[[], None],
                        create: Callable[[], bool] | None = None) -> None:
        """``migrate`` the metadata database unless its schema ``revision`` is the one recorded after this
        version's last migration (a cheap query instead of a slow CLI start). ``create`` may make a new
        database ready by other means (returns True when it did). One at a time per stack."""
        home = self.home(stack)
        marker = home / f".migrated-{self.version}"
        with cache_lock(stack.cache_dir, f"{self.name}-migrate-{hashlib.sha256(str(home).encode()).hexdigest()[:8]}"):
            if create is not None and create():
                marker.write_text(revision())
                return
            if marker.is_file() and marker.read_text().strip() == revision():
                return
            migrate()
            marker.write_text(revision())
