"""Monte-Carlo step labels (Math-Shepherd) and the best-of-N scorer built on them (`--scorer mc`).

A solution is split into steps (filters.scoring.split_steps). From each step prefix the backend rolls out `n`
completions in ONE request (n=N): the step's soft estimate is the share of rollouts that reach the gold answer,
its hard estimate whether any does. A prefix that already states its final answer ("The answer is: X") is scored
directly, with no rollout: 1 when X equals the gold answer, else 0.

How a rollout continues the prefix: none of our backends can continue a partial assistant turn (the local backend
renders the chat with a generation prompt that closes every turn, and the OpenAI chat API has no portable
"continue the last message" switch), so the continuation is asked for in the user turn: the problem, the steps so
far, and "continue from the next step". The worked examples beside the prompt show such continuations. A rollout
counts as reaching the gold only when it states its final answer explicitly and was not cut off by the token limit.

Neutral steps (some rollouts reach the gold, some do not) are what the scorer's `neutral` choice is about:
`soft` scores a step by its soft estimate, `positive` counts a neutral step as good (= the hard estimate) and
`negative` counts it as bad (a step is good only when every rollout reaches the gold).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from core.answers import answers_equal, explicit_answer
from core.errors import UserError
from core.llm.base import LLM, Completion, GenParams, Message, derived_seed
from filters.scoring import aggregate_steps, split_steps

NEUTRAL_CHOICES = ("soft", "positive", "negative")

CONTINUE_SYSTEM = (
    "You are a careful math tutor. You are given a word problem and the first steps of a solution. Continue the "
    "solution from the next step, one short step at a time, writing each calculation out. Do not repeat the given "
    "steps. Finish with a last line of the form 'The answer is: N' where N is a single number."
)

# Our own worked examples (not from GSM8K): the user turn gives the steps so far, the reply only what follows.
CONTINUE_SHOTS: list[tuple[str, str, str]] = [
    (
        "A baker fills 6 trays with 14 rolls each. She sells 50 rolls. How many rolls are left?",
        "She bakes 6 * 14 = 84 rolls.",
        "After selling 50 she has 84 - 50 = 34 rolls.\nThe answer is: 34",
    ),
    (
        "Omar reads 12 pages on Monday and twice as many on Tuesday. A chapter is 9 pages long. "
        "How many full chapters did he read over the two days?",
        "On Tuesday he reads 2 * 12 = 24 pages.\nIn total he reads 12 + 24 = 36 pages.",
        "That is 36 / 9 = 4 chapters.\nThe answer is: 4",
    ),
]


def continuation_user_turn(question: str, steps: list[str]) -> str:
    shown = "\n".join(steps)
    return f"Problem:\n{question.strip()}\n\nSteps so far:\n{shown}\n\nContinue the solution from the next step."


def continuation_messages(question: str, steps: list[str]) -> list[Message]:
    """System prompt, the worked continuations as earlier turns, then this problem and its steps so far."""
    messages: list[Message] = [{"role": "system", "content": CONTINUE_SYSTEM}]
    for shot_question, shot_steps, shot_rest in CONTINUE_SHOTS:
        messages += [
            {"role": "user", "content": continuation_user_turn(shot_question, shot_steps.split("\n"))},
            {"role": "assistant", "content": shot_rest},
        ]
    messages.append({"role": "user", "content": continuation_user_turn(question, steps)})
    return messages


def states_answer(text: str | None) -> bool:
    """True when the text states a final answer explicitly (not only a last number)."""
    return explicit_answer(text) is not None


def reaches_gold(text: str | None, gold: str, *, cut_off: bool = False) -> bool:
    """A text reaches the gold answer when it states its final answer, was not cut off, and that answer equals gold."""
    return not cut_off and answers_equal(gold, explicit_answer(text))


@dataclass
class StepLabels:
    """Per step of one solution: its text, soft and hard estimates, raw rollouts (none when scored directly)."""

    steps: list[str]
    soft: list[float] = field(default_factory=list)
    hard: list[bool] = field(default_factory=list)
    rollouts: list[list[dict]] = field(default_factory=list)

    def step_values(self, neutral: str = "soft") -> list[float]:
        """Step scores with neutral steps taken as `neutral` (soft, positive or negative)."""
        if neutral == "soft":
            return list(self.soft)
        if neutral == "positive":
            return [1.0 if s > 0 else 0.0 for s in self.soft]
        if neutral == "negative":
            return [1.0 if s >= 1.0 else 0.0 for s in self.soft]
        raise UserError(f"Unknown neutral-step choice {neutral!r}; choose one of {', '.join(NEUTRAL_CHOICES)}.")


def _raw(c: Completion) -> dict:
    return {"text": c.text, "finish_reason": c.finish_reason, "completion_tokens": c.completion_tokens}


async def label_steps(
    llm: LLM, question: str, gold: str, response: str, n: int, params_for: Callable[[int], GenParams]
) -> StepLabels:
    """Monte-Carlo labels of every step of `response`; `params_for(i)` gives the sampling params of prefix i.

    Every prefix that needs rollouts is one request with n completions; the requests of one solution run together.
    """
    if n < 1:
        raise UserError("The number of rollouts per step must be at least 1.")
    steps = split_steps(response)

    async def one(i: int) -> tuple[float, list[dict]]:
        prefix = steps[: i + 1]
        if states_answer(prefix[-1]):  # the prefix ends the solution: score it directly
            return (1.0 if reaches_gold(prefix[-1], gold) else 0.0), []
        completions = await llm.chat(continuation_messages(question, prefix), n=n, params=params_for(i))
        hits = sum(reaches_gold(c.text, gold, cut_off=c.finish_reason == "length") for c in completions)
        return hits / max(len(completions), 1), [_raw(c) for c in completions]

    results = await asyncio.gather(*(one(i) for i in range(len(steps))))
    return StepLabels(
        steps=steps,
        soft=[soft for soft, _ in results],
        hard=[soft > 0 for soft, _ in results],
        rollouts=[raw for _, raw in results],
    )


def rollout_params(seed: int, key: str, temperature: float, max_tokens: int) -> Callable[[int], GenParams]:
    """Params per prefix, the seed derived from the run seed, a key (the sample id) and the prefix index."""

    def params(i: int) -> GenParams:
        return GenParams(temperature=temperature, max_tokens=max_tokens, seed=derived_seed(seed, f"{key}:mc:{i}"))

    return params


class MonteCarloScorer:
    """`--scorer mc`: each row scored by its Monte-Carlo step values, aggregated (min, prod or last).

    Rows need a `target` (the answer to reach); a row without one gets no score (None), and best-of-N drops it as
    unscored.
    """

    name = "mc"

    def __init__(
        self,
        llm: LLM,
        *,
        n: int = 4,
        aggregate: str = "min",
        neutral: str = "soft",
        temperature: float = 0.7,
        max_tokens: int = 256,
        seed: int = 0,
    ) -> None:
        aggregate_steps([], aggregate)  # validates the name
        StepLabels([]).step_values(neutral)  # validates the choice
        if n < 1:
            raise UserError("--mc-n must be at least 1.")
        self.llm, self.n, self.aggregate, self.neutral = llm, n, aggregate, neutral
        self.temperature, self.max_tokens, self.seed = temperature, max_tokens, seed

    async def score_one(self, key: str, question: str, response: str, target: str | None) -> float | None:
        if target is None or not response:
            return None
        params = rollout_params(self.seed, key, self.temperature, self.max_tokens)
        labels = await label_steps(self.llm, question, target, response, self.n, params)
        return aggregate_steps(labels.step_values(self.neutral), self.aggregate)

    async def score(self, df: pl.DataFrame) -> list[float | None]:
        keys = df["id"].to_list() if "id" in df.columns else [str(i) for i in range(df.height)]
        targets = df["target"].to_list() if "target" in df.columns else [None] * df.height
        rows = zip(keys, df["query"].to_list(), df["response"].to_list(), targets, strict=True)
        return list(await asyncio.gather(*(self.score_one(k, q or "", r or "", t) for k, q, r, t in rows)))
