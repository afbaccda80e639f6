"""Exact dedup: of samples of one problem with the same normalized question and response, keep the first.

The equation variant (RFT, "reasoning paths with the same list of equations are the same path"): of the
still-kept samples of one question, keep the first of those whose sequence of equations is the same, whatever
words surround the equations. Equations are normalized before comparing: spaces, `$`, thousands commas and trailing
zeros go, `×` / `x` / `÷` become `*` / `/`, and the operands of a flat sum or product are put in order, so
`4 x 3 = 12` and `3*4=12` are one equation. A response with no equation is left to the exact dedup.
"""

from __future__ import annotations

import re

import polars as pl

from filters.base import drop_where, kept_mask
from filters.text import normalize_text

EQUATION_DUPLICATE = "duplicate_equations"

_NUM = r"\$?\d+(?:,\d{3})*(?:\.\d+)?%?"
_OPERAND = rf"\(*\s*{_NUM}\s*\)*"
_OP = r"\s*[-+*/×xX÷]\s*"
_EQUATION_RE = re.compile(rf"(?<![\w.])({_OPERAND}(?:{_OP}{_OPERAND})+)\s*=\s*({_NUM})(?![\w])")
_NUM_RE = re.compile(r"\d+(?:\.\d+)?")
_OPS = {"×": "*", "x": "*", "X": "*", "÷": "/"}


def _number(text: str) -> str:
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.lstrip("0") or "0"


def normalize_equation(lhs: str, rhs: str) -> str:
    """One equation as a canonical string: `3 * $4.00 = 12` -> `3*4=12`; flat sums and products in operand order."""
    lhs = re.sub(r"[\s$%]|(?<=\d),(?=\d{3})", "", lhs)
    lhs = "".join(_OPS.get(ch, ch) for ch in lhs)
    lhs = _NUM_RE.sub(lambda m: _number(m.group(0)), lhs)
    rhs = _number(re.sub(r"[\s$%,]", "", rhs))
    if "(" not in lhs:
        for op in "+*":
            parts = lhs.split(op)
            if len(parts) > 1 and all(_NUM_RE.fullmatch(p) for p in parts):
                lhs = op.join(sorted(parts, key=lambda p: (float(p), p)))
    return f"{lhs}={rhs}"


def equation_signature(response: str | None) -> tuple[str, ...]:
    """The response's equations in order, normalized; empty when it writes none."""
    if not response:
        return ()
    return tuple(normalize_equation(m.group(1), m.group(2)) for m in _EQUATION_RE.finditer(response))


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


def drop_equation_duplicates(df: pl.DataFrame) -> pl.DataFrame:
    """Drop still-kept rows whose (problem, question, equation sequence) an earlier kept row has, in frame order.

    Run it after the answer check, so only correct paths are compared (RFT dedups correct reasoning paths).
    """
    seen: set[tuple] = set()
    duplicate = []
    for keep, parent, query, response in zip(
        kept_mask(df).to_list(), df["parent_id"], df["query"], df["response"], strict=True
    ):
        signature = equation_signature(response)
        key = (parent, normalize_text(query), signature)
        duplicate.append(bool(keep and signature and key in seen))
        if keep and signature:
            seen.add(key)
    return drop_where(df, duplicate, EQUATION_DUPLICATE)
