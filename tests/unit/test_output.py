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


def test_no_colour_when_not_a_tty(capsys):
    Output(OutputFormat.table).emit({"x": 1}, table=lambda d: "[bold]plain[/bold]")
    assert "\x1b[" not in capsys.readouterr().out


def test_status_exit_code_json_still_printed(run, monkeypatch, isolated):
    # a started-but-dead service: status prints its JSON, then exits 3
    import os

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
    assert os.environ.get("LAKECTL_RUNTIME") is None
