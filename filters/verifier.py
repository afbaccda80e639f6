"""Verifier scorer: ask an LLM backend whether a solution is correct; score = P("yes").

With logprobs (GenParams(logprobs=k)), P(yes) is the softmax over the yes/no variants among the top-k candidates of
the first generated token. A backend without logprobs (Completion.logprobs is None), or a first token whose top-k
holds neither yes nor no, falls back to sampling `samples` answers and scoring the share that say yes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re

import polars as pl

from core.errors import UserError
from core.llm.base import LLM, Completion, GenParams, Message

VERIFIER_SYSTEM = "You check the work of math students. You reply with a single word: yes or no."
VERIFIER_QUESTION = "Is this solution correct? Answer yes or no."
YES_WORDS = frozenset({"yes", "y", "correct", "true"})
NO_WORDS = frozenset({"no", "n", "incorrect", "wrong", "false"})
_FIRST_WORD_RE = re.compile(r"[a-z]+")


def verifier_messages(question: str, solution: str) -> list[Message]:
    return [
        {"role": "system", "content": VERIFIER_SYSTEM},
        {"role": "user", "content": f"Problem:\n{question}\n\nSolution:\n{solution}\n\n{VERIFIER_QUESTION}"},
    ]


def _word(token_or_text: str) -> str:
    m = _FIRST_WORD_RE.search(token_or_text.lower())
    return m.group(0) if m else ""


def p_yes_from_logprobs(top: dict[str, float]) -> float | None:
    """Softmax over the yes/no variants among one token's top candidates; None when neither appears."""
    yes = [lp for tok, lp in top.items() if _word(tok) in YES_WORDS]
    no = [lp for tok, lp in top.items() if _word(tok) in NO_WORDS]
    if not yes and not no:
        return None
    peak = max(yes + no)
    p_yes = sum(math.exp(lp - peak) for lp in yes)
    p_no = sum(math.exp(lp - peak) for lp in no)
    return p_yes / (p_yes + p_no)


def share_of_yes(completions: list[Completion]) -> float:
    if not completions:
        return 0.0
    return sum(_word(c.text) in YES_WORDS for c in completions) / len(completions)


def verifier_backend(generator: LLM, model: str) -> LLM:
    """A backend of the generator's kind (and server / engine options) serving `model` (--scorer-model)."""
    from core.llm import make_backend

    kind = type(generator).__name__
    if kind == "OpenAIBackend":
        return make_backend("openai", model=model, base_url=list(generator.base_urls))
    if kind == "VLLMBackend":  # the generator's engine is shut down first (core.llm.vllm_lease)
        return make_backend("vllm", model=model, **dataclasses.asdict(generator.options))
    if kind == "LocalBackend":
        return make_backend("local", model=model)
    raise UserError(f"--scorer verifier --scorer-model needs --backend local, openai or vllm, not {kind}.")


class VerifierScorer:
    name = "verifier"

    def __init__(
        self,
        llm: LLM,
        *,
        top_logprobs: int = 20,
        samples: int = 8,
        temperature: float = 1.0,
        owns_llm: bool = False,
    ) -> None:
        self.llm, self.top_logprobs, self.samples, self.temperature = llm, top_logprobs, samples, temperature
        self.owns_llm = owns_llm  # a backend built for --scorer-model: closed after scoring

    async def score_one(self, question: str, solution: str) -> float:
        messages = verifier_messages(question, solution)
        first = await self.llm.chat(
            messages, n=1, params=GenParams(temperature=0.0, max_tokens=1, logprobs=self.top_logprobs)
        )
        if first and first[0].logprobs:
            p = p_yes_from_logprobs(first[0].logprobs[0])
            if p is not None:
                return p
        sampled = await self.llm.chat(
            messages, n=self.samples, params=GenParams(temperature=self.temperature, max_tokens=3, seed=0)
        )
        return share_of_yes(sampled)

    async def score(self, df: pl.DataFrame) -> list[float]:
        pairs = zip(df["query"].to_list(), df["response"].to_list(), strict=True)
        try:
            return list(await asyncio.gather(*(self.score_one(q or "", r or "") for q, r in pairs)))
        finally:
            if self.owns_llm:
                self.llm.close()
