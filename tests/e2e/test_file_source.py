"""A JSON-lines file feeding a pipeline (issue 16): Kafka Connect's FileStreamSource tails the file into the
pipeline's topic, the Bronze job checks each line against the Avro schema and writes it to Bronze (Iceberg and
Delta) or, when it does not fit, to the DLQ; dbt builds Silver. Lines appended while it runs arrive too; every good
line is in Bronze exactly once, every bad one in the DLQ exactly once.

The spec, the copied schema and the generated models are written into the checkout (as `pipeline add` does for a
user) and removed with `pipeline remove --purge` when the module ends."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.bronze_helpers import REPO, remove_paths, wait_for_summaries
from tests.e2e.conftest import cancel_active_jobs, report_artifact

pytestmark = pytest.mark.e2e

NAME = "e2e_file"
FIRST, LATER = 3000, 1000
SCHEMA = {"type": "record", "name": "Reading", "namespace": "e2e", "fields": [
    {"name": "reading_id", "type": "long"},
    {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["TEMP", "HUMIDITY"]}},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
    {"name": "read_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "qty", "type": ["null", "int"], "default": None},
    {"name": "note", "type": ["null", "string"], "default": None},
]}
# one per way a line can be wrong; each must land in the DLQ with its reason
BAD = [
    ("not json at all", "not a JSON object"),
    ("[1, 2, 3]", "not a JSON object"),
    ('{"reading_id": 1, "kind": "TEMP"', "not a JSON object"),  # cut short
    ('{"kind": "TEMP", "amount": 1, "read_at": 1}', "field reading_id"),  # the key missing
    ('{"reading_id": "7", "kind": "TEMP", "amount": 1, "read_at": 1}', "field reading_id"),  # a string
    ('{"reading_id": 8, "kind": "WIND", "amount": 1, "read_at": 1}', "field kind"),
    ('{"reading_id": 9, "kind": "TEMP", "amount": "abc", "read_at": 1}', "field amount"),
    ('{"reading_id": 10, "kind": "TEMP", "amount": 1, "read_at": "yesterday"}', "field read_at"),
    ('{"reading_id": 11, "kind": "TEMP", "amount": 1, "read_at": 1, "qty": 1.5}', "field qty"),
    ('{"reading_id": 12, "kind": "TEMP", "amount": 1, "read_at": 1, "note": 5}', "field note"),
]
BASE_MS = 1_780_000_000_000  # 2026-05-28


def good_line(i: int) -> str:
    """Good lines in every accepted shape: ISO text with and without an offset or epoch ms, decimals as numbers or
    strings, optional fields left out, null or set."""
    record: dict = {"reading_id": i, "kind": "TEMP" if i % 2 else "HUMIDITY", "amount": amount(i)}
    ms = BASE_MS + i * 1000
    if i % 3 == 0:
        record["read_at"] = ms
    else:
        from datetime import UTC, datetime, timedelta, timezone

        at = datetime.fromtimestamp(ms / 1000, UTC)
        record["read_at"] = (at.isoformat().replace("+00:00", "Z") if i % 3 == 1 else
                             at.astimezone(timezone(timedelta(hours=2))).isoformat())
    if i % 4 == 0:
        record["qty"] = i % 100
    elif i % 4 == 1:
        record["qty"] = None
    if i % 5 == 0:
        record["note"] = "ü'\"," if i % 10 == 0 else f"n{i}"
    return json.dumps(record)


def amount(i: int) -> str | float:
    text = f"{i % 1000}.{i % 100:02d}"
    return text if i % 2 else float(text)


def _generated() -> list[Path]:
    return [REPO / "schemas" / f"{NAME}.pipeline.toml", REPO / "schemas" / f"{NAME}.avsc",
            REPO / "dbt_project" / "models" / "pipelines" / NAME]


@pytest.fixture(scope="module")
def worker(stack):
    stack.ok("up", "connect", timeout=600)
    yield
    cancel_active_jobs(stack)
    if (REPO / "schemas" / f"{NAME}.pipeline.toml").exists():
        stack.lakectl("pipeline", "remove", NAME, "--purge", "-o", "json")
    remove_paths(_generated())


def _bronze(stack) -> dict[str, list]:
    out = {}
    for catalog in ("iceberg", "delta"):
        out[catalog] = stack.ok(
            "query", f"SELECT count(*), count(DISTINCT reading_id), CAST(sum(amount) AS varchar), "
                     f"CAST(min(read_at) AS varchar), count(qty), count(note) FROM {catalog}.bronze.{NAME}",
            "-o", "json").json()["rows"][0]
    return out


def _wait_for_bronze(stack, expected: int, timeout: float = 240) -> dict[str, list]:
    return wait_for_summaries(lambda: _bronze(stack), expected, timeout)


def test_bad_specs_are_one_line(stack, worker, tmp_path):
    from tests.e2e.test_pipelines import one_line_error

    schema = tmp_path / "nested.avsc"
    schema.write_text(json.dumps({"type": "record", "name": "N", "fields": [
        {"name": "id", "type": "long"}, {"name": "tags", "type": {"type": "array", "items": "string"}}]}))
    one_line_error(stack.lakectl("pipeline", "add", "e2e_file_refused", "--source", "file", "--schema", str(schema),
                                 "--file", str(tmp_path / "x.jsonl")), 2, "must be scalars")
    one_line_error(stack.lakectl("pipeline", "add", "e2e_file_refused", "--source", "file", "--schema", str(schema)),
                   2, "--file")
    assert not (REPO / "schemas" / "e2e_file_refused.pipeline.toml").exists()


def test_a_file_becomes_bronze_and_silver(stack, worker, tmp_path, request):
    started = time.monotonic()
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = round(time.monotonic() - started - sum(phases.values()))

    schema = tmp_path / "reading.avsc"
    schema.write_text(json.dumps(SCHEMA))
    data = tmp_path / "readings.jsonl"
    lines = [good_line(i) for i in range(1, FIRST + 1)]
    for n, (bad, _reason) in enumerate(BAD[:6]):  # bad lines among the good ones, and a blank line (skipped)
        lines.insert(100 + n * 400, bad)
    lines.insert(50, "   ")
    data.write_text("\n".join(lines) + "\n")

    stack.ok("pipeline", "add", NAME, "--source", "file", "--schema", str(schema), "--file", str(data),
             "--key", "reading_id", "--event-time", "read_at", "--partitions", "2")
    # Silver is built once, by the second apply (a dbt build is the slowest step on a loaded machine)
    first = stack.ok("pipeline", "apply", NAME, "--no-models", "-o", "json", timeout=900).json()[0]
    phase("apply")
    changes = " | ".join(first["changes"])
    for needle in (f"created topic {NAME} (2 partitions)", f"created topic {NAME}.dlq",
                   f"created connector file_{NAME}", f"submitted bronze_{NAME}"):
        assert needle in changes, changes

    # more lines while it runs, good and bad
    with data.open("a") as appended:
        more = [good_line(i) for i in range(FIRST + 1, FIRST + LATER + 1)]
        for n, (bad, _reason) in enumerate(BAD[6:]):
            more.insert(200 * n + 10, bad)
        appended.write("\n".join(more) + "\n")
    total = FIRST + LATER
    counts = _wait_for_bronze(stack, total)
    phase("bronze")
    expected_sum = sum(Decimal(str(amount(i))) for i in range(1, total + 1))
    for catalog, (rows, keys, amounts, earliest, qty, notes) in counts.items():
        assert (rows, keys) == (total, total), (catalog, counts)
        assert Decimal(amounts) == expected_sum, (catalog, amounts, expected_sum)
        assert earliest.startswith("2026-05-28 20:26:41"), (catalog, earliest)  # BASE_MS + 1 s, UTC
        assert qty == total // 4 and notes == total // 5, (catalog, counts)
    # ISO text with an offset lands as UTC: every row's read_at is its epoch ms
    off = stack.ok("query", f"SELECT count(*) FROM iceberg.bronze.{NAME} WHERE to_unixtime(read_at) * 1000 <> "
                            f"{BASE_MS} + reading_id * 1000", "-o", "json").json()["rows"][0][0]
    assert off == 0

    dead = stack.ok("consume", f"{NAME}.dlq", "--from-beginning", "--count", str(len(BAD) + 1), "--timeout", "5",
                    "--meta", "-o", "json").json_lines()
    assert sorted(d["value"] for d in dead) == sorted(b for b, _ in BAD), dead
    for d in dead:
        reason = next(r for b, r in BAD if b == d["value"])
        assert d["headers"]["lakectl.error"].startswith(reason), d

    phase("dlq")
    status = stack.ok("pipeline", "status", NAME, "--wait", "--timeout", "60", "-o", "json").json()
    assert status["connector"].startswith(f"file_{NAME}: RUNNING"), status
    assert status["job"]["state"] == "RUNNING" and status["lag"] == 0, status
    phase("status")
    again = stack.ok("pipeline", "apply", NAME, "-o", "json", timeout=600).json()[0]
    assert again["changes"] == [] and again["dbt"], again  # nothing to change; the models built
    silver = stack.ok("query", f"SELECT count(*), count(DISTINCT reading_id) FROM iceberg.silver.{NAME}",
                      "-o", "json").json()["rows"][0]
    assert silver == [total, total], silver
    phase("apply+dbt")

    stack.ok("job", "cancel", f"bronze_{NAME}", timeout=300)
    removed = stack.ok("pipeline", "remove", NAME, "--purge", "-o", "json").json()["removed"]
    assert f"connector file_{NAME} and its offsets" in removed, removed
    assert f"topic {NAME}.dlq" in removed, removed
    listed = stack.ok("connect", "list", "-o", "json").json()
    assert f"file_{NAME}" not in json.dumps(listed)
    phase("remove")
    report_artifact(request.config, f"file source: {total} good lines and {len(BAD)} bad ones (in the DLQ) through "
                                    f"Connect to Bronze and Silver in {time.monotonic() - started:.0f} s "
                                    f"(seconds per step: {phases})")
