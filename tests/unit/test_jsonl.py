from lakectl.ops.produce.loop import share_of
from lakectl.ops.produce.sources import read_jsonl


def test_read_jsonl_reports_bad_lines(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"symbol": "AAPL", "a": 1}\n\nnot json\n[1, 2]\n{"b": 2}\n')
    rows = list(read_jsonl(path, "symbol"))
    assert [r[3] for r in rows] == ["in.jsonl:1", "in.jsonl:3", "in.jsonl:4", "in.jsonl:5"]
    assert rows[0][0] == b"AAPL" and rows[0][4] is None
    assert rows[1][1] is None and rows[1][4].startswith("not JSON")
    assert "not a JSON object" in rows[2][4]
    assert rows[3][0] is None


def test_shares_add_up():
    assert sum(share_of(100_001, 4, i) for i in range(4)) == 100_001
    assert share_of(None, 4, 0) is None
