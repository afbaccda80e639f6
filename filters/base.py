"""Keep-or-drop decisions with a reason, applied to the rows a frame still keeps.

The idea of datatrove's `BaseFilter.filter` (keep, or drop with a reason), over a polars frame with SAMPLE_SCHEMA:
a filter decides only for rows with `keep == True`; rows dropped earlier keep their first reason and are never
resurrected, so the funnel can count each filter's drops on its own line.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl


def kept_mask(df: pl.DataFrame) -> pl.Series:
    """True for the rows still kept (a null `keep` counts as dropped)."""
    return df["keep"].fill_null(False)


def kept_rows(df: pl.DataFrame) -> pl.DataFrame:
    return df.filter(kept_mask(df))


def drop_where(df: pl.DataFrame, drop: Sequence[bool] | pl.Series, reason: str | Sequence[str | None]) -> pl.DataFrame:
    """Drop the still-kept rows where `drop` is True, with `reason` (one string, or one per row).

    `drop` and a per-row `reason` are aligned with every row of `df`; rows already dropped are left as they are.
    """
    drop_s = pl.Series("drop", list(drop), dtype=pl.Boolean).fill_null(False)
    if len(drop_s) != df.height:
        raise ValueError(f"drop mask has {len(drop_s)} values for {df.height} rows")
    reason_s = (
        pl.Series("r", [reason] * df.height, dtype=pl.String)
        if isinstance(reason, str)
        else pl.Series("r", list(reason), dtype=pl.String)
    )
    newly = kept_mask(df) & drop_s
    return df.with_columns(
        keep=pl.when(newly).then(False).otherwise(pl.col("keep")),
        reason=pl.when(newly).then(reason_s).otherwise(pl.col("reason")),
    )


def drop_ids(df: pl.DataFrame, reasons_by_row: dict[int, str]) -> pl.DataFrame:
    """Drop rows by position (index into `df`) with a reason each; only still-kept rows change."""
    reasons: list[str | None] = [None] * df.height
    for row, reason in reasons_by_row.items():
        reasons[row] = reason
    return drop_where(df, [r is not None for r in reasons], reasons)


def kept_positions(df: pl.DataFrame) -> list[int]:
    """Row positions of the still-kept rows, in frame order."""
    return [i for i, k in enumerate(kept_mask(df).to_list()) if k]


def set_scores(df: pl.DataFrame, positions: Sequence[int], scores: Sequence[float | None]) -> pl.DataFrame:
    """Store `scores` in the `score` column at row `positions` (None: unscored); other rows keep their score."""
    if len(positions) != len(scores):
        raise ValueError(f"{len(scores)} scores for {len(positions)} rows")
    column = df["score"].to_list()
    for pos, value in zip(positions, scores, strict=True):
        column[pos] = None if value is None else float(value)
    return df.with_columns(pl.Series("score", column, dtype=pl.Float64))
