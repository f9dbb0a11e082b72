from __future__ import annotations

from pathlib import Path

import pytest

from lakectl.cli.main import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test sees the developer's lakectl.toml, secrets, env or caches."""
    for name in list(__import__("os").environ):
        if name.startswith("LAKECTL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LAKECTL_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def run(capsys):
    """Invoke the CLI through its real entry point (the boundary handler included)."""

    def invoke(*args: str) -> Result:
        with pytest.raises(SystemExit) as exited:
            main(list(args))
        captured = capsys.readouterr()
        return Result(int(exited.value.code or 0), captured.out, captured.err)

    return invoke
