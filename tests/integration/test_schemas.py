"""The schema contract on the real registry: BACKWARD compatibility, reasons, refusals."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_register_check_and_refuse(stack):
    subject = "contract-value"
    first = stack.ok("schema", "register", str(SCHEMAS / "trade.avsc"), "-s", subject, "-o", "json").json()
    assert first["version"] == 1

    # the registry's default for a new subject is BACKWARD (set by lakectl up on a fresh registry)
    assert stack.ok("schema", "compat", subject, "-o", "json").json()["compatibility"] == "BACKWARD"

    v2 = stack.lakectl("schema", "check", str(SCHEMAS / "trade_v2.avsc"), "-s", subject, "-o", "json")
    assert v2.code == 0 and v2.json()["compatible"] is True

    bad = stack.lakectl("schema", "check", str(SCHEMAS / "trade_incompatible.avsc"), "-s", subject, "-o", "json")
    assert bad.code == 1
    reasons = " ".join(bad.json()["messages"])
    assert "/fields/3/type" in reasons and "LONG" in reasons  # size: long -> string
    assert "currency" in reasons  # new field without default

    refused = stack.lakectl("schema", "register", str(SCHEMAS / "trade_incompatible.avsc"), "-s", subject)
    assert refused.code == 1
    assert "incompatible" in refused.err and "currency" in refused.err
    assert len(refused.err.strip().splitlines()) == 1

    second = stack.ok("schema", "register", str(SCHEMAS / "trade_v2.avsc"), "-s", subject, "-o", "json").json()
    assert second["version"] == 2 and second["id"] != first["id"]
    listed = {s["subject"]: s for s in stack.ok("schema", "list", "-o", "json").json()["subjects"]}
    assert listed[subject]["latest_version"] == 2
    got = stack.ok("schema", "get", subject, "--version", "1", "-o", "json").json()
    assert got["id"] == first["id"] and "conditions" not in {f["name"] for f in got["schema"]["fields"]}


def test_compat_read_and_set(stack):
    subject = "compat-value"
    stack.ok("schema", "register", str(SCHEMAS / "trade.avsc"), "-s", subject)
    assert stack.ok("schema", "compat", subject, "FULL", "-o", "json").json()["compatibility"] == "FULL"
    assert stack.ok("schema", "compat", subject, "-o", "json").json()["compatibility"] == "FULL"
    wrong = stack.lakectl("schema", "compat", subject, "SIDEWAYS")
    assert wrong.code == 2 and "unknown compatibility level" in wrong.err


def test_unknown_subject(stack):
    result = stack.lakectl("schema", "get", "nope-value")
    assert result.code == 1 and result.err.startswith("lakectl: error: schema registry:")
