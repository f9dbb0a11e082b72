"""poll_until: returns the value once done, raises with the last observation on timeout."""

from __future__ import annotations

import pytest

from lakectl.errors import ServiceUnavailable
from lakectl.polling import Deadline, Observation, poll_until


def test_returns_the_value_when_done() -> None:
    calls = iter([Observation(False, detail="starting"), Observation(False, detail="still"), Observation(True, 7)])
    assert poll_until(lambda: next(calls), timeout=5, what="the thing", interval=0.01) == 7


def test_timeout_names_what_and_the_last_observation() -> None:
    with pytest.raises(ServiceUnavailable) as caught:
        poll_until(lambda: Observation(False, detail="state RESTARTING"), timeout=0.05, what="job x RUNNING",
                   interval=0.01)
    assert "job x RUNNING not done after 0.05s" in caught.value.message
    assert "last: state RESTARTING" in caught.value.message


def test_a_shared_deadline_that_has_passed_still_polls_once() -> None:
    deadline = Deadline(0)
    assert poll_until(lambda: Observation(True, "ok"), timeout=deadline, what="x") == "ok"


def test_check_may_raise_to_end_early() -> None:
    def check() -> Observation[None]:
        raise ValueError("job FAILED")

    with pytest.raises(ValueError, match="FAILED"):
        poll_until(check, timeout=5, what="x")
