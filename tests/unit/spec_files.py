"""Pipeline spec files written and parsed as lakectl reads them: what the spec tests of each source share."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakectl import pipeline_spec
from lakectl.errors import UsageError


def spec_from(directory: Path, text: str, name: str) -> pipeline_spec.PipelineSpec:
    path = directory / f"{name}{pipeline_spec.SUFFIX}"
    path.write_text(text)
    return pipeline_spec.parse(path)


def refused(directory: Path, text: str, name: str, *needles: str) -> None:
    """The spec is refused with one line holding every needle."""
    with pytest.raises(UsageError) as caught:
        spec_from(directory, text, name)
    line = caught.value.one_line()
    assert "\n" not in line
    for needle in needles:
        assert needle in line, line
