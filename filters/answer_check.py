"""The answer check: a sample is verified when the answer parsed from its response equals its target.

Drops with `no_answer` (nothing parseable), `no_explicit_answer` (a response that never states its answer with
`The answer is`, `####` or `\\boxed{}`: a number it merely ends with may parse, but is not kept) or `wrong_answer`;
a verified sample gets `verified_by` naming what its target came from (the gold answer, the masked number, a
majority vote, an exact program). Replies cut off by max_tokens are dropped `truncated` where they are made
(`augmenters.base.reply_reason`), since only the backend knows the finish reason.
"""

from __future__ import annotations

import polars as pl

from core.answers import answers_equal, explicit_answer
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
    responses = df["response"].to_list()
    unstated = [
        k and not n and r is not None and explicit_answer(r) is None
        for k, n, r in zip(kept, no_answer, responses, strict=True)
    ]
    df = drop_where(df, unstated, "no_explicit_answer")
    kept = [k and not u for k, u in zip(kept, unstated, strict=True)]
    wrong = [k and a is not None and not answers_equal(t, a) for k, a, t in zip(kept, answers, targets, strict=True)]
    df = drop_where(df, wrong, "wrong_answer")
    # a kept row is verified (by what its type's target came from, unless a stage said so already);
    # a row this check dropped is not, whatever an earlier labelling stage wrote
    by = pl.Series([VERIFIED_BY.get(t, "target") for t in types], dtype=pl.String)
    failed = [n or u or w for n, u, w in zip(no_answer, unstated, wrong, strict=True)]
    return df.with_columns(
        verified_by=pl.when(kept_mask(df))
        .then(pl.coalesce(pl.col("verified_by"), by))
        .when(pl.Series(failed, dtype=pl.Boolean))
        .then(None)
        .otherwise(pl.col("verified_by"))
    )
