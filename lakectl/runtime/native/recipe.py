"""How one service runs as a local process: fetch what it needs, prepare its data, launch it."""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

from lakectl.runtime.native.process import Launch

if TYPE_CHECKING:
    from lakectl.runtime.base import ServiceSpec, StackContext


class NativeRecipe(ABC):
    def __init__(self, stack: StackContext, spec: ServiceSpec) -> None:
        self.stack = stack
        self.spec = spec

    @property
    def data_dir(self) -> Path:
        return self.stack.data_root / self.spec.name

    def port(self, name: str = "main") -> int:
        return self.stack.port(self.spec, name)

    def java(self) -> str:
        """The Java its spec asks for (``ServiceSpec.java``: minimum and maximum major)."""
        from lakectl.runtime.native.java import find_java

        assert self.spec.java is not None, f"{self.spec.name} declares no Java"
        return find_java(*self.spec.java, jvm_dirs=self.stack.settings.jvm_dirs, cache_dir=self.stack.cache_dir)

    def class_data_sharing(self, java: str, classpath: list[Path], java_agent: bool = False) -> list[str]:
        """JVM flags for this service's CDS archive (see java.class_data_sharing); none when the
        ``class_data_sharing`` setting is off."""
        from lakectl.runtime.native.java import class_data_sharing

        if not self.stack.settings.class_data_sharing:
            return []
        # natively the archives live in the download cache, shared by every stack; a container's cache is
        # its image's, so compose keeps them in the stack's data dir (<state>/compose/cds), which outlives it
        root = self.stack.cache_dir if self.stack.kind == "native" else self.stack.data_root
        return class_data_sharing(root, self.spec.name, java, classpath, java_agent)

    def fetch(self) -> None:
        """Download and verify what the service needs into the cache (no-op when cached)."""

    def prepare(self) -> None:
        """One-time set-up of the data directory and config files; must be idempotent."""

    @abstractmethod
    def launch(self) -> Launch:
        """The command that runs the service in the foreground (lakectl detaches it)."""

    def purge(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)
