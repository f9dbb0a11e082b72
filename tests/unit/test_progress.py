"""What `up` and `demo` show while they work: a line per event off a terminal, a live table on one."""

from __future__ import annotations

import io
import threading

from lakectl import artifacts
from lakectl.cli.progress import StackProgress
from lakectl.output import Output
from lakectl.runtime.base import ServiceEvent


def test_service_events_read_as_the_old_messages():
    ready = ServiceEvent("kafka", "ready", 8.25)
    assert ready == "kafka ready" and ready.service == "kafka" and ready.seconds == 8.25
    assert ServiceEvent("trino", "starting", 0.1) == "starting trino"


def test_off_a_terminal_each_download_and_service_is_one_line(capsys, tmp_path):
    out = Output()
    with StackProgress(out, "starting the stack") as progress, artifacts.reporting(progress):
        progress("fetching artifacts: kafka")
        def download(work):
            (work / "lib").mkdir()
            (work / "lib" / "a.jar").write_bytes(b"x" * 3 * 2**20)
            return work

        entry = artifacts.cached_build(tmp_path, tmp_path / "maven" / "kafka-4.1.2", download,
                                       {"maven": ["org.apache.kafka"]})
        artifacts.cached_build(tmp_path, entry, lambda work: work, {"maven": []})  # a cache hit: silent
        progress(ServiceEvent("kafka", "waiting", 0.0))
        progress(ServiceEvent("kafka", "starting", 0.1))
        progress(ServiceEvent("kafka", "ready", 7.5))
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "fetching artifacts: kafka"
    assert lines[1] == "fetching kafka-4.1.2 (maven)"
    assert lines[2].startswith("fetched kafka-4.1.2 (maven): 3.0 MB in ")
    assert lines[3:] == ["starting kafka", "kafka ready"]  # waiting is not worth a line


def test_the_demo_logs_only_its_stage_lines(capsys):
    with StackProgress(Output(), "demo", log=lambda m: m.startswith("["), service_lines=False) as progress:
        progress("[1] up: starting the stack")
        progress(ServiceEvent("kafka", "ready", 7.5))
        progress("bronze.trades: iceberg 10 of 100")
    assert capsys.readouterr().err.splitlines() == ["[1] up: starting the stack"]


def test_on_a_terminal_one_live_display_shows_downloads_and_services():
    from rich.console import Console

    out = Output()
    screen = io.StringIO()
    out.__dict__["err"] = Console(file=screen, force_terminal=True, width=100)
    progress = StackProgress(out, "starting the stack")
    assert progress.live_mode
    progress.fetching("trino-476", "maven")
    reporter = threading.Thread(target=progress.fetched, args=("trino-476", "maven", 5 * 2**20, 2.0))
    reporter.start()  # fetches report from a thread pool
    reporter.join()
    progress.fetching("flink-1.20.5", "pypi")
    progress(ServiceEvent("postgres", "ready", 1.25))
    progress(ServiceEvent("trino", "starting", 2.0))
    screen_console = Console(file=io.StringIO(), width=100)
    screen_console.print(progress._render())
    drawn = screen_console.file.getvalue()
    assert "trino-476" in drawn and "5.0 MB in 2.0 s" in drawn and "fetching… " in drawn
    assert "postgres" in drawn and "ready" in drawn and "1.2 s" in drawn and "starting" in drawn
    with progress:  # the live display starts and stops; what was fetched stays on screen
        pass
    assert "fetched 1 artifact(s), 5.0 MB: trino-476 (5.0 MB, 2 s)" in screen.getvalue()


def test_a_fetch_without_files_of_its_own_says_no_size(capsys):
    with StackProgress(Output(), "starting the stack") as progress:
        progress.fetching("postgresql", "apt")
        progress.fetched("postgresql", "apt", None, 12.0)
    assert capsys.readouterr().err.splitlines()[-1] == "fetched postgresql (apt): in 12.0 s"
