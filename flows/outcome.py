"""How a flow ends on a user's mistake: a Failed state with one sentence, not a traceback in the logs."""

from __future__ import annotations

import functools
import inspect
import typing
from typing import Any

from prefect.states import Failed, State

from core.errors import UserError
from flows import signals


def fails_cleanly(fn):
    """Put under @flow: a UserError raised in the flow ends the run Failed, with the sentence as its message; run
    from the `flows` command, SIGTERM and Ctrl-C keep the command's handling (flows.signals)."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def wrapper(*args, **kwargs):
            try:
                with signals.command_handlers():
                    return await fn(*args, **kwargs)
            except UserError as exc:
                return Failed(message=str(exc))

    else:

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                with signals.command_handlers():
                    return fn(*args, **kwargs)
            except UserError as exc:
                return Failed(message=str(exc))

    # Prefect builds its parameter model from the annotations; resolve them where the flow was written, since
    # names in string annotations (`from __future__ import annotations`) mean nothing in this module
    wrapper.__annotations__ = typing.get_type_hints(fn)
    wrapper.__signature__ = inspect.signature(fn, eval_str=True)
    return wrapper


async def result_of(state: State) -> Any:
    """The flow's return value, or the UserError of its one-sentence failure (other failures raise as they are)."""
    if state.is_failed() and state.message and not state.message.startswith("Flow run encountered an exception"):
        raise UserError(state.message)
    result = state.result()
    return await result if inspect.isawaitable(result) else result


def run_flow(flow, *args, **kwargs) -> Any:
    """Run a flow (sync or async) from the command line: its result, or its one-sentence failure as a UserError."""
    import asyncio

    state = flow(*args, return_state=True, **kwargs)
    if inspect.isawaitable(state):
        state = asyncio.run(state)
    return asyncio.run(result_of(state))
