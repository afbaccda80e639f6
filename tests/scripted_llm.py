"""A scripted test double of the LLM protocol for unit tests of parsing and scheduling: answers come from a function.

Never the only test of a feature: tests of features also run the real SmolLM2 (see DESIGN.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from core.llm.base import Completion, GenParams, Message, UsageCounter


class ScriptedLLM:
    """`reply(messages, k)` returns the text of completion k; every call is recorded in `calls`."""

    def __init__(self, reply: Callable[[list[Message], int], str], name: str = "scripted") -> None:
        self.reply = reply
        self.name = name
        self.usage = UsageCounter()
        self.calls: list[tuple[list[Message], int, GenParams]] = []

    async def chat(self, messages: list[Message], n: int = 1, params: GenParams = GenParams()) -> list[Completion]:
        self.calls.append((messages, n, params))
        await asyncio.sleep(0)
        out = []
        for k in range(n):
            text = self.reply(messages, k)
            out.append(
                Completion(text=text, finish_reason="stop", prompt_tokens=1, completion_tokens=len(text.split()))
            )
        self.usage.add(out)
        return out

    def close(self) -> None:
        pass
