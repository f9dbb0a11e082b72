"""lakectl produce under Ctrl-C / SIGTERM: the first signal asks the loops to stop (they deliver what
they accepted), a second one interrupts at once, and the handlers are restored afterwards."""

import os
import signal

import pytest

from lakectl.ops.produce import STOP, stop_on_signals


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_first_signal_sets_stop_instead_of_killing(signum):
    before = signal.getsignal(signum)
    with stop_on_signals() as stop:
        assert not stop.is_set()
        os.kill(os.getpid(), signum)
        assert stop.is_set()  # still alive: the handler only asked the loops to stop
        assert signal.getsignal(signum) in (signal.SIG_DFL, signal.default_int_handler)
    assert signal.getsignal(signum) is before


def test_a_second_ctrl_c_interrupts_at_once():
    with pytest.raises(KeyboardInterrupt), stop_on_signals():
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)


def test_stop_is_cleared_for_the_next_run():
    STOP.set()
    with stop_on_signals() as stop:
        assert not stop.is_set()
