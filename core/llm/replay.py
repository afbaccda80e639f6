"""Replay: one (problem, augmenter) pair's view of a backend that answers from the journal's stored replies.

A request is keyed by a hash of (model, messages, n, sampling params). The i-th time a pair asks a key, the i-th
stored reply to that key answers it, when there is one; otherwise the backend does, and its reply is journaled
(with the pair) before it is returned. So re-running a finished pair with a changed parser or filter rebuilds its
samples from the model's old replies with no model call, while a request the old run never made still goes out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Callable

from core.llm.base import LLM, Completion, GenParams, Message, UsageCounter


def request_key(model: str, messages: list[Message], n: int, params: GenParams) -> str:
    """A stable hash of everything that shapes a reply."""
    blob = json.dumps(
        {"model": model, "messages": messages, "n": n, "params": dataclasses.asdict(params)},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def completion_record(c: Completion) -> dict:
    record = {
        "text": c.text,
        "finish_reason": c.finish_reason,
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
    }
    if c.logprobs is not None:
        record["logprobs"] = c.logprobs
    return record


def completion_from(record: dict) -> Completion:
    fields = {f.name for f in dataclasses.fields(Completion)}
    return Completion(**{k: v for k, v in record.items() if k in fields})


class ReplayLLM:
    """A pair's view of `inner`: stored replies first, new ones recorded through `record(key, completions)`."""

    def __init__(
        self,
        inner: LLM,
        stored: dict[str, list[list[dict]]] | None,
        record: Callable[[str, list[dict]], None],
    ) -> None:
        self.inner, self.name = inner, inner.name
        self.usage = UsageCounter()  # only what this pair asked the model
        self.replayed = 0  # requests answered from the journal
        self._stored = stored or {}
        self._record = record
        self._asked: Counter[str] = Counter()

    async def chat(self, messages: list[Message], n: int = 1, params: GenParams = GenParams()) -> list[Completion]:
        key = request_key(self.name, messages, n, params)
        index = self._asked[key]
        self._asked[key] += 1
        earlier = self._stored.get(key, [])
        if index < len(earlier):
            self.replayed += 1
            return [completion_from(c) for c in earlier[index]]
        completions = await self.inner.chat(messages, n=n, params=params)
        self.usage.add(completions)
        self._record(key, [completion_record(c) for c in completions])
        return completions

    def close(self) -> None:
        pass
