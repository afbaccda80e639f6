"""One function per filter stage, taking the flow's options, for the augment flow to call in a few lines.

Order in the flow: answer check -> score_stage / best_of_n_stage -> exact dedup -> near_dedup_stage ->
decontaminate_stage. Each returns the frame with `keep`/`reason` (and `score`) updated on still-kept rows only.
Pass one `Embedder` to both embedding stages so each query is encoded once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from core.errors import UserError
from core.llm.base import LLM
from filters.base import kept_positions, set_scores
from filters.best_of_n import label_by_weighted_vote, select_best_of_n
from filters.decontaminate import DEFAULT_NGRAM, Decontaminator, load_eval_sets
from filters.decontaminate import DEFAULT_THRESHOLD as DECONTAMINATE_THRESHOLD
from filters.decontaminate import decontaminate as drop_contaminated
from filters.near_dedup import DEFAULT_THRESHOLD as DEDUP_THRESHOLD
from filters.near_dedup import near_dedup
from filters.scoring import SCORERS, Scorer, make_scorer

if TYPE_CHECKING:
    from core.embeddings import Embedder

_loaded_scorers: dict[tuple, Scorer] = {}  # model-backed scorers load once per process


def get_scorer(
    scorer: str,
    scorer_model: str | None,
    *,
    llm: LLM | None = None,
    prm_aggregate: str = "min",
    trust_remote_code: bool = False,
    **options,
) -> Scorer:
    if scorer == "verifier":
        return make_scorer("verifier", scorer_model, llm=llm)
    if scorer == "mc":  # options: n, neutral, temperature, max_tokens, seed (filters.mc_labels.MonteCarloScorer)
        return make_scorer("mc", None, llm=llm, aggregate=prm_aggregate, **options)
    key = (scorer, scorer_model, prm_aggregate, trust_remote_code)
    if key not in _loaded_scorers:
        _loaded_scorers[key] = make_scorer(
            scorer, scorer_model, aggregate=prm_aggregate, trust_remote_code=trust_remote_code
        )
    return _loaded_scorers[key]


def check_options(
    *, scorer: str | None, best_of: int | None, min_score: float | None, dedup_threshold: float | None, decontaminate
) -> None:
    """Raise UserError for bad filter options before any generation starts (bad eval paths included)."""
    if scorer is not None and scorer not in SCORERS:
        raise UserError(f"Unknown scorer {scorer!r}; choose one of {', '.join(SCORERS)}.")
    if scorer is None and (best_of or min_score is not None):
        raise UserError(
            "--best-of and --min-score need a scorer; add --scorer one of: orm, prm-qwen, prm-shepherd, verifier, mc."
        )
    if best_of is not None and best_of < 0:
        raise UserError("--best-of must be a positive number of samples to keep per problem and type.")
    if dedup_threshold is not None and not 0.0 < dedup_threshold <= 1.0:
        raise UserError("--dedup-threshold must be a cosine similarity in (0, 1], e.g. 0.98.")
    load_eval_sets(decontaminate)


async def score_stage(df: pl.DataFrame, scorer: Scorer) -> pl.DataFrame:
    """Score every still-kept row and store it in `score` (dropped rows keep theirs)."""
    positions = kept_positions(df)
    if not positions:
        return df
    scores = await scorer.score(df[positions])
    return set_scores(df, positions, scores)


async def best_of_n_stage(
    df: pl.DataFrame,
    *,
    scorer: str | None,
    scorer_model: str | None = None,
    best_of: int | None = None,
    min_score: float | None = None,
    llm: LLM | None = None,
    prm_aggregate: str = "min",
) -> pl.DataFrame:
    """--scorer/--scorer-model/--best-of/--min-score: score kept rows, then keep the top k per (parent, type).

    No scorer: the frame comes back unchanged. The verifier scorer asks `llm` (the generation backend, or one built
    from --scorer-model by the flow).
    """
    if scorer is None:
        return df
    df = await score_stage(df, get_scorer(scorer, scorer_model, llm=llm, prm_aggregate=prm_aggregate))
    return select_best_of_n(df, best_of=best_of, min_score=min_score)


def muggle_label_stage(df: pl.DataFrame, *, agreement: float = 0.5) -> pl.DataFrame:
    """After scoring: label GSM_Muggle questions by score-weighted vote (sets `target`, before the answer check)."""
    return label_by_weighted_vote(df, agreement=agreement)


def near_dedup_stage(
    df: pl.DataFrame,
    *,
    dedup_threshold: float | None = DEDUP_THRESHOLD,
    problems: pl.DataFrame | None = None,
    embedder: Embedder | None = None,
) -> pl.DataFrame:
    """--dedup-threshold: drop near-duplicates within the samples and of the source `problems` (None: skip)."""
    if dedup_threshold is None:
        return df
    sources = problems["question"].to_list() if problems is not None else None
    return near_dedup(df, threshold=dedup_threshold, source_questions=sources, embedder=embedder)


def decontaminate_stage(
    df: pl.DataFrame,
    *,
    decontaminate: str | list[str] | None,
    threshold: float = DECONTAMINATE_THRESHOLD,
    ngram: int = DEFAULT_NGRAM,
    embedder: Embedder | None = None,
) -> pl.DataFrame:
    """--decontaminate gsm8k-test,PATH,...: drop samples overlapping those eval sets (None or empty: skip)."""
    eval_sets = load_eval_sets(decontaminate)
    if not eval_sets or not kept_positions(df):  # nothing to check: do not embed the eval sets
        return df
    questions = [q for qs in eval_sets.values() for q in qs]
    return drop_contaminated(df, Decontaminator(questions, ngram=ngram, threshold=threshold, embedder=embedder))
