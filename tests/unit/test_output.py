import json
from datetime import UTC, datetime
from decimal import Decimal

from lakectl.output import Output, OutputFormat, simple_table, to_json


def test_json_handles_decimals_and_times():
    data = {"price": Decimal("189.500000"), "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}
    assert json.loads(to_json(data)) == {"price": "189.500000", "at": "2026-01-02T03:04:05+00:00"}


def test_json_goes_to_stdout_progress_to_stderr(capsys):
    out = Output(OutputFormat.json)
    out.info("starting kafka")
    out.emit({"ok": True}, table=lambda d: "never used for json")
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"ok": True}
    assert "starting kafka" in captured.err and "starting" not in captured.out


def test_table_for_people(capsys):
    Output(OutputFormat.table).emit([{"name": "kafka", "state": "running"}],
                                    table=lambda rows: simple_table(rows, ["name", "state"]))
    text = capsys.readouterr().out
    assert "kafka" in text and "running" in text and "{" not in text


RED = "\x1b[31m"


def _rendered(capsys) -> str:
    Output(OutputFormat.table).emit({}, table=lambda d: "[red]alarm[/red]")
    return capsys.readouterr().out


def test_colour_on_a_terminal(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich: treat stdout as a terminal
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert _rendered(capsys) == f"{RED}alarm\x1b[0m\n"


def test_no_colour_when_not_a_tty(capsys, monkeypatch):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert _rendered(capsys) == "alarm\n"  # the markup rendered, without escape codes


def test_no_colour_on_a_terminal_when_no_color_is_set(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    assert _rendered(capsys) == "alarm\n"


def test_warnings_are_coloured_on_stderr_only_on_a_terminal(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    Output(OutputFormat.table).warn("disk almost full")
    coloured = capsys.readouterr()
    assert coloured.out == "" and "\x1b[" in coloured.err and "disk almost full" in coloured.err
    monkeypatch.setenv("NO_COLOR", "1")
    Output(OutputFormat.table).warn("disk almost full")
    assert capsys.readouterr().err == "warning: disk almost full\n"


def test_status_exit_code_json_still_printed(run, monkeypatch, isolated):
    # a started-but-dead service: status prints its JSON, then exits 3
    from lakectl.runtime.native.process import ProcessRecord

    run_dir = isolated / ".lakectl" / "run"
    run_dir.mkdir(parents=True)
    (isolated / ".lakectl" / "runtime").write_text("native\n")
    record = ProcessRecord("kafka", 2**22 - 7, 0.0, ["java"], "k.log", 0.0)
    (run_dir / "kafka.json").write_text(json.dumps(record.__dict__))
    result = run("status", "-o", "json")
    assert result.code == 3
    services = {s["name"]: s for s in json.loads(result.out)["services"]}
    assert services["kafka"]["state"] == "exited" and services["kafka"]["healthy"] is False
    assert services["postgres"]["state"] == "not-started"
