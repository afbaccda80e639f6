"""Text keys the dedup and decontamination filters compare: normalized text, the numbers in it, word n-grams."""

from __future__ import annotations

import re
import unicodedata

_WORD_RE = re.compile(r"\w+")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_SPACE_RE = re.compile(r"\s+")


def normalize_text(text: str | None) -> str:
    """Lowercase, unicode-normalized (curly quotes become straight), whitespace collapsed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    return _SPACE_RE.sub(" ", text.lower()).strip()


def numbers_in(text: str | None) -> frozenset[str]:
    """The set of numbers written in digits (thousands commas dropped): texts that differ here ask different things."""
    if not text:
        return frozenset()
    out = set()
    for raw in _NUMBER_RE.findall(text):
        num = raw.replace(",", "")
        if "." in num:
            num = num.rstrip("0").rstrip(".")
        out.add(num.lstrip("0") or "0")
    return frozenset(out)


def words(text: str | None) -> list[str]:
    return _WORD_RE.findall(normalize_text(text))


def word_ngrams(text: str | None, n: int) -> set[tuple[str, ...]]:
    """Word n-grams of the normalized text; a text shorter than n words gives its whole word tuple."""
    w = words(text)
    if not w:
        return set()
    if len(w) < n:
        return {tuple(w)}
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}
