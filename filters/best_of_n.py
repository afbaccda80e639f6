"""Best-of-N selection by score, and the score-weighted vote that can label new (GSM_Muggle) questions.

Per parent problem and type, among the still-kept samples: a sample scored below `min_score` is dropped with
reason "below_min_score"; of the rest the `best_of` highest-scored are kept (ties in frame order) and the others
are dropped with reason "not_best_of_n".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import polars as pl

from core.answers import normalize_answer
from filters.base import drop_ids, kept_positions

BELOW_MIN_SCORE = "below_min_score"
NOT_BEST_OF_N = "not_best_of_n"
UNSCORED = "unscored"


def select_best_of_n(df: pl.DataFrame, *, best_of: int | None = None, min_score: float | None = None) -> pl.DataFrame:
    """Keep the top `best_of` (None or 0: all) by `score` per (parent_id, type), above `min_score` (None: any)."""
    scores, parents, types = df["score"].to_list(), df["parent_id"].to_list(), df["type"].to_list()
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    drops: dict[int, str] = {}
    for pos in kept_positions(df):
        if scores[pos] is None:
            drops[pos] = UNSCORED
        elif min_score is not None and scores[pos] < min_score:
            drops[pos] = BELOW_MIN_SCORE
        else:
            groups[(parents[pos], types[pos])].append(pos)
    if best_of:
        for members in groups.values():
            ranked = sorted(members, key=lambda p: (-scores[p], p))
            drops.update({pos: NOT_BEST_OF_N for pos in ranked[best_of:]})
    return drop_ids(df, drops)


def weighted_vote(answers: Sequence[str | None], weights: Sequence[float]) -> tuple[str | None, float]:
    """The answer with the largest total weight, and its share of all the weight (answers compared normalized).

    Example: weighted_vote(["12", "12.0", "15"], [0.2, 0.3, 0.9]) gives ("15", 0.64): one strong vote outweighs
    two weak ones.
    """
    totals: dict[str, float] = defaultdict(float)
    for answer, weight in zip(answers, weights, strict=True):
        key = normalize_answer(answer) if answer is not None else None
        if key is None:
            continue
        totals[key] += max(float(weight), 0.0)
    grand = sum(totals.values())
    if not totals or grand <= 0:
        return None, 0.0
    best = max(totals, key=lambda k: totals[k])
    return best, totals[best] / grand


def label_by_weighted_vote(df: pl.DataFrame, *, types: Sequence[str] = ("GSM_Muggle",), agreement: float = 0.5):
    """Set `target` of still-kept samples of `types` to the score-weighted vote over their question's samples.

    Samples of one question are the kept rows with the same parent, type and query. When the winning answer holds
    less than `agreement` of the weight, `target` becomes null (the answer check then drops them). `verified_by`
    becomes "weighted_vote". Rows need a `score` (run a scorer first).
    """
    queries, parents, row_types = df["query"].to_list(), df["parent_id"].to_list(), df["type"].to_list()
    answers, scores = df["answer"].to_list(), df["score"].to_list()
    targets, verified = df["target"].to_list(), df["verified_by"].to_list()
    groups: dict[tuple, list[int]] = defaultdict(list)
    for pos in kept_positions(df):
        if row_types[pos] in types:
            groups[(parents[pos], row_types[pos], queries[pos])].append(pos)
    for members in groups.values():
        label, share = weighted_vote([answers[p] for p in members], [scores[p] or 0.0 for p in members])
        for pos in members:
            targets[pos] = label if share >= agreement else None
            verified[pos] = "weighted_vote"
    return df.with_columns(
        pl.Series("target", targets, dtype=pl.String), pl.Series("verified_by", verified, dtype=pl.String)
    )
