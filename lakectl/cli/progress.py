"""What `up` and `demo` show while they work: each download into the cache, then every service's state.

On a terminal: one live display on stderr, redrawn as things change (downloads in flight with their
time, finished ones with their size; a table of services: waiting, starting, ready after N s, failed).
Elsewhere (a pipe, a CI log): one line per event, so the log says what was fetched, how big it was and
when each service was ready ("kafka ready" lines, which bench/p4_up.py reads). Never on stdout, so
``-o json`` stays clean.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from lakectl.output import Output

STATE_STYLE = {"waiting": "dim", "starting": "yellow", "ready": "green", "failed": "bold red"}


def _size(size: int) -> str:
    return f"{size / 2**20:,.1f} MB" if size >= 2**20 else f"{size / 2**10:,.0f} kB"


class StackProgress:
    """A progress callback (``progress(message)``) and an artifact fetch listener in one.

    ``log`` decides which plain messages become lines off a terminal (service events and downloads
    always do, when ``service_lines``)."""

    def __init__(self, out: Output, message: str, *, log: Callable[[str], bool] = lambda _m: True,
                 service_lines: bool = True) -> None:
        self.out = out
        self.live_mode = out.err.is_terminal
        self.message = message
        self.log = log
        self.service_lines = service_lines
        self.downloads: dict[str, dict[str, Any]] = {}
        self.services: dict[str, Any] = {}  # name -> its latest ServiceEvent
        self._lock = threading.Lock()  # fetches report from a thread pool
        self._live: Any = None

    # -- the progress callback ------------------------------------------------------------
    def __call__(self, message: str) -> None:
        from lakectl.runtime.base import ServiceEvent

        if isinstance(message, ServiceEvent):
            with self._lock:
                self.services[message.service] = message
            if not self.live_mode and self.service_lines and message.state in ("starting", "ready"):
                self.out.info(message)
        else:
            self.message = message
            if not self.live_mode and self.log(message):
                self.out.info(message)

    # -- the fetch listener (lakectl.artifacts.reporting) ------------------------------------
    def fetching(self, name: str, kind: str) -> None:
        with self._lock:
            self.downloads[name] = {"kind": kind, "started": time.monotonic(), "size": None, "seconds": None,
                                    "done": False}
        if not self.live_mode:
            self.out.info(f"fetching {name} ({kind})")

    def fetched(self, name: str, kind: str, size: int | None, seconds: float) -> None:
        with self._lock:
            self.downloads[name] = {"kind": kind, "started": None, "size": size, "seconds": seconds, "done": True}
        if not self.live_mode:
            self.out.info(f"fetched {name} ({kind}): " + (f"{_size(size)} " if size is not None else "")
                          + f"in {seconds:.1f} s")

    # -- drawing --------------------------------------------------------------------------
    def __enter__(self) -> StackProgress:
        if self.live_mode:
            from rich.live import Live

            # redrawn from the current state 4 times a second: elapsed times tick without any event
            self._live = Live(console=self.out.err, refresh_per_second=4, transient=True, get_renderable=self._render)
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
            summary = self._summary()
            if summary:
                self.out.info(summary)

    def _summary(self) -> str:
        """What stays on the terminal once the live display is gone: what was fetched, and how long."""
        done = [(n, d) for n, d in self.downloads.items() if d["done"]]
        if not done:
            return ""
        total = sum(d["size"] or 0 for _, d in done)
        return f"fetched {len(done)} artifact(s), {_size(total)}: " + ", ".join(
            f"{n} ({_size(d['size']) + ', ' if d['size'] is not None else ''}{d['seconds']:.0f} s)" for n, d in done)

    def _render(self):
        from rich.console import Group
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        parts: list[Any] = [Spinner("dots", text=Text(self.message))]  # plain text: no markup in a message
        with self._lock:
            downloads = dict(self.downloads)
            services = dict(self.services)
        if downloads:
            table = Table(title="downloads", title_justify="left", show_edge=False, pad_edge=False)
            for column in ("artifact", "from", "progress"):
                table.add_column(column)
            now = time.monotonic()
            for name, d in downloads.items():
                size = f"{_size(d['size'])} " if d["size"] is not None else ""
                state = f"{size}in {d['seconds']:.1f} s" if d["done"] else f"fetching… {now - d['started']:.0f} s"
                table.add_row(name, d["kind"], state)
            parts.append(table)
        if services:
            table = Table(title="services", title_justify="left", show_edge=False, pad_edge=False)
            for column in ("service", "state", "after"):
                table.add_column(column)
            for name, event in services.items():
                after = f"{event.seconds:.1f} s" if event.state in ("ready", "failed") else ""
                table.add_row(name, f"[{STATE_STYLE[event.state]}]{event.state}[/]", after)
            parts.append(table)
        return Group(*parts)
