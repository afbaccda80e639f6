"""The answer check: a sample is verified when the answer parsed from its response equals its target.

Drops with `no_answer` (nothing parseable) or `wrong_answer`; a verified sample gets `verified_by` naming what
its target came from (the gold answer, the masked number, a majority vote, an exact program).
"""

from __future__ import annotations

import polars as pl

from core.answers import answers_equal
from filters.base import drop_where, kept_mask

VERIFIED_BY = {
    "GSM_AnsAug": "gold",
    "GSM_Rephrased": "gold",
    "GSM_SV": "masked_number",
    "GSM_FOBAR": "masked_number",
    "GSM_Muggle": "majority",
    "GSM_Perturbed": "program",
}


def check_answers(df: pl.DataFrame) -> pl.DataFrame:
    kept = kept_mask(df).to_list()
    answers, targets, types = df["answer"].to_list(), df["target"].to_list(), df["type"].to_list()
    no_answer = [k and a is None for k, a in zip(kept, answers, strict=True)]
    df = drop_where(df, no_answer, "no_answer")
    wrong = [k and a is not None and not answers_equal(t, a) for k, a, t in zip(kept, answers, targets, strict=True)]
    df = drop_where(df, wrong, "wrong_answer")
    # a kept row is verified (by what its type's target came from, unless a stage said so already);
    # a row this check dropped is not, whatever an earlier labelling stage wrote
    by = pl.Series([VERIFIED_BY.get(t, "target") for t in types], dtype=pl.String)
    failed = pl.Series(no_answer, dtype=pl.Boolean) | pl.Series(wrong, dtype=pl.Boolean)
    return df.with_columns(
        verified_by=pl.when(kept_mask(df))
        .then(pl.coalesce(pl.col("verified_by"), by))
        .when(failed)
        .then(None)
        .otherwise(pl.col("verified_by"))
    )
