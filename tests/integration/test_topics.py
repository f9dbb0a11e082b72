"""Topic CRUD against the real broker."""

import pytest

pytestmark = pytest.mark.integration


def test_topic_crud(stack):
    created = stack.ok("topic", "create", "crud-t", "--partitions", "3", "--config", "retention.ms=3600000",
                       "-o", "json").json()
    assert created["created"] and created["partitions"] == 3
    names = [t["name"] for t in stack.ok("topic", "list", "-o", "json").json()["topics"]]
    assert "crud-t" in names
    described = stack.ok("topic", "describe", "crud-t", "-o", "json").json()
    assert [p["partition"] for p in described["partitions"]] == [0, 1, 2]
    assert described["config"]["retention.ms"] == "3600000"
    assert described["messages"] == 0

    again = stack.lakectl("topic", "create", "crud-t")
    assert again.code == 1 and "already exists" in again.err
    assert stack.ok("topic", "create", "crud-t", "--if-not-exists", "-o", "json").json()["created"] is False

    stack.ok("topic", "delete", "crud-t")
    missing = stack.lakectl("topic", "describe", "crud-t")
    assert missing.code == 2 and "does not exist" in missing.err


def test_bad_topic_config_is_usage_error(stack):
    result = stack.lakectl("topic", "create", "bad-cfg", "--config", "retention.ms=soon")
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1
