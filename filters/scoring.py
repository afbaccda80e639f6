"""What every best-of-N scorer shares: the `Scorer` protocol, step splitting and step-score aggregation.

A scorer gives one float per row of the frame it is handed (higher is better):
  - orm      (filters/orm.py): a sequence-classification reward model on the chat (question, solution);
  - prm-qwen / prm-shepherd (filters/prm.py): process reward models, one score per step, aggregated;
  - verifier (filters/verifier.py): any of our LLM backends asked whether the solution is correct, P(yes).
Units differ (an ORM gives a raw logit, the others a probability), so --min-score is in the scorer's units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import polars as pl

from core.errors import UserError

SCORERS = ("orm", "prm-qwen", "prm-shepherd", "verifier", "mc")
AGGREGATES = ("min", "prod", "last")


@runtime_checkable
class Scorer(Protocol):
    name: str

    async def score(self, df: pl.DataFrame) -> list[float]:
        """One score per row of `df` (its `query` and `response`)."""
        ...


def split_steps(response: str | None) -> list[str]:
    """Reasoning steps of a response: paragraphs when it has blank lines, else its non-empty lines."""
    text = (response or "").strip()
    if not text:
        return []
    chunks = text.split("\n\n") if "\n\n" in text else text.split("\n")
    return [c.strip() for c in chunks if c.strip()]


def aggregate_steps(step_scores: Sequence[float], how: str = "min") -> float:
    """Solution score from step scores: the weakest step (min), all steps together (prod) or the last step."""
    if how not in AGGREGATES:
        raise UserError(f"Unknown step aggregation {how!r}; choose one of {', '.join(AGGREGATES)}.")
    if not step_scores:
        return 0.0
    if how == "min":
        return float(min(step_scores))
    if how == "last":
        return float(step_scores[-1])
    return float(math.prod(step_scores))


def make_scorer(
    name: str,
    model: str | None = None,
    *,
    llm=None,
    aggregate: str = "min",
    trust_remote_code: bool = False,
    **options,
) -> Scorer:
    """Build a scorer by name. `model` (--scorer-model) is a local folder or Hub id; the verifier asks `llm`, or
    with `model` that model on the same kind of backend. `trust_remote_code` lets a checkpoint's own model class
    load (Qwen2.5-Math-PRM, InternLM2-Reward)."""
    if name == "verifier":
        from filters.verifier import VerifierScorer, verifier_backend

        if llm is None:
            raise UserError("The verifier scorer needs an LLM backend; choose --backend (and a model) for it.")
        if model and model != llm.name:
            return VerifierScorer(verifier_backend(llm, model), owns_llm=True, **options)
        return VerifierScorer(llm, **options)
    if name == "mc":  # Monte-Carlo step labels from rollouts of the generation backend (filters/mc_labels.py)
        from filters.mc_labels import MonteCarloScorer

        if llm is None:
            raise UserError("The mc scorer rolls out with an LLM backend; choose --backend (and a model) for it.")
        return MonteCarloScorer(llm, aggregate=aggregate, **options)
    if name not in SCORERS:
        raise UserError(f"Unknown scorer {name!r}; choose one of {', '.join(SCORERS)}.")
    if not model:
        raise UserError(f"The {name} scorer needs --scorer-model (a local model folder or a Hub id).")
    if name == "orm":
        from filters.orm import RewardModelScorer

        return RewardModelScorer(model, trust_remote_code=trust_remote_code, **options)
    from filters.prm import MathShepherdPRM, QwenStylePRM

    cls = QwenStylePRM if name == "prm-qwen" else MathShepherdPRM
    return cls(model, aggregate=aggregate, trust_remote_code=trust_remote_code, **options)
