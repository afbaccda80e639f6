"""The one small protocol every LLM backend speaks: chat messages in, `n` completions out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


def derived_seed(seed: int | None, key: str) -> int:
    """A request's seed from the run's seed and a key naming the request (a replay asks with the same seed)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class GenParams:
    """Sampling settings of one request; requests with equal params can share a batch."""

    temperature: float = 0.7
    max_tokens: int = 256
    top_p: float = 1.0
    seed: int | None = None
    logprobs: int | None = None  # top-k logprobs per generated token, where the backend has them


@dataclass
class Completion:
    text: str
    finish_reason: str  # "stop" or "length"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # per generated token: {token_text: logprob} of the top alternatives (None: backend has none)
    logprobs: list[dict[str, float]] | None = None


@dataclass
class UsageCounter:
    """Tokens and calls a backend has served, for throughput figures and stats.json."""

    calls: int = 0
    completions: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    failures: int = 0
    extra: dict = field(default_factory=dict)

    def add(self, completions: list[Completion]) -> None:
        self.calls += 1
        self.completions += len(completions)
        for c in completions:
            self.prompt_tokens += c.prompt_tokens
            self.completion_tokens += c.completion_tokens


@runtime_checkable
class LLM(Protocol):
    """What augmenters, scorers and evaluation await. Batching is the backend's job."""

    name: str  # model name recorded in each sample's `model` column
    usage: UsageCounter

    async def chat(self, messages: list[Message], n: int = 1, params: GenParams = GenParams()) -> list[Completion]:
        """Return `n` completions of the conversation."""
        ...

    def close(self) -> None:
        """Release threads, engines and connections."""
        ...
