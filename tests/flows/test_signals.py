"""While a flow's function runs from the `flows` command, the command's SIGTERM handler stands, not Prefect's."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from flows import signals
from flows.outcome import fails_cleanly


def _prefects(signum, frame):  # a stand-in for Prefect's handler: an exception asyncio keeps inside a task
    raise RuntimeError("a signal exception that a background task would swallow")


def _commands(signum, frame):
    raise KeyboardInterrupt


@pytest.fixture
def prefect_handler_installed():
    before = signal.signal(signal.SIGTERM, _prefects)  # Prefect installs its handler before the flow function runs
    signals.register({signal.SIGTERM: _commands})
    try:
        yield
    finally:
        signals.register({})
        signal.signal(signal.SIGTERM, before)


def test_a_sigterm_while_a_background_task_runs_still_ends_the_flow(prefect_handler_installed):
    @fails_cleanly
    async def flow_function() -> str:
        async def background() -> None:  # e.g. a progress update nobody awaits
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)  # the signal lands while this task runs

        started.append(asyncio.ensure_future(background()))
        await asyncio.sleep(1)
        return "ran to the end"

    started: list[asyncio.Task] = []
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(flow_function())
    assert isinstance(started[0].exception(), KeyboardInterrupt)
    assert signal.getsignal(signal.SIGTERM) is _prefects  # Prefect's handler is back once the function ended


def test_without_the_command_the_handlers_are_left_alone():
    signals.register({})
    before = signal.getsignal(signal.SIGTERM)
    with signals.command_handlers():
        assert signal.getsignal(signal.SIGTERM) is before
