"""The `flows` command's signal handlers stay in force while a flow's own function runs.

While a flow runs, Prefect replaces the SIGTERM handler with one that raises its TerminationSignal, a BaseException
that asyncio keeps inside whichever task was running when the signal came. When nobody awaits that task (a
background task), the signal is lost and the run goes on: on a loaded machine, 4 of 12 SIGTERMs sent mid-run were
lost that way (the process then ran to its end, or waited on a server). The command's handler (flows.cli) raises
KeyboardInterrupt, which asyncio lets out of any task, and ends the process within seconds, journal intact. So the
`flows` command registers its handlers here, and `fails_cleanly` (flows.outcome) puts them back for the time the
flow's function runs. A flow run any other way (a deployment's runner) keeps Prefect's handling.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_command_handlers: dict[int, Callable] = {}


def register(handlers: dict[int, Callable]) -> None:
    """The handlers the `flows` command installed (an empty dict when it restores the previous ones)."""
    _command_handlers.clear()
    _command_handlers.update(handlers)


@contextmanager
def command_handlers() -> Iterator[None]:
    """Within: the `flows` command's handlers, if it registered any and this is the main thread."""
    if not _command_handlers or threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {signum: signal.signal(signum, handler) for signum, handler in _command_handlers.items()}
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
