"""Exact dedup: of samples of one problem with the same normalized question and response, keep the first."""

from __future__ import annotations

import polars as pl

from filters.base import drop_where, kept_mask
from filters.text import normalize_text


def drop_exact_duplicates(df: pl.DataFrame) -> pl.DataFrame:
    """Rows are taken in frame order; sort the frame first (the flow sorts by parent, type, variant)."""
    seen: set[tuple[str, str, str]] = set()
    duplicate = []
    for keep, parent, query, response in zip(
        kept_mask(df).to_list(), df["parent_id"], df["query"], df["response"], strict=True
    ):
        key = (parent, normalize_text(query), normalize_text(response))
        duplicate.append(keep and key in seen)
        if keep:
            seen.add(key)
    return drop_where(df, duplicate, "duplicate")
