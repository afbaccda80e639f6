"""Find the numbers written with digits in a question, and write new values in their place (nothing else changes).

A number counts only when it stands on its own: "48", "1,200", "2.5", "$12", "25%", "120-page". Digits that are
part of a word or of another notation are left alone: "2nd", "5kg", "3pm", "COVID-19", "3:30", "1/2", "v1.2.3".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_NUMBER_RE = re.compile(
    r"(?<![\w.,/:])"  # not the tail of a word, decimal, list like "1,2", fraction or time
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?"
    r"(?![\w]|[.,/:]\d)"  # not the head of a word ("2nd"), a longer number, a fraction or a time
)
_PERCENT_RE = re.compile(r"\s*(?:%|percent\b|per cent\b)", re.IGNORECASE)


@dataclass(frozen=True)
class TextNumber:
    start: int
    end: int
    text: str
    value: Fraction
    decimals: int  # digits after the decimal point as written
    commas: bool  # written with thousands separators
    percent: bool  # followed by "%" or "percent"


def find_numbers(text: str) -> list[TextNumber]:
    """Every standalone number in `text`, in order."""
    found = []
    for m in _NUMBER_RE.finditer(text):
        start = m.start()
        if start >= 2 and text[start - 1] == "-" and text[start - 2].isalnum():
            continue  # "COVID-19", "A-4"
        digits = m.group("int").replace(",", "")
        frac = m.group("frac") or ""
        value = Fraction(f"{digits}.{frac}" if frac else digits)
        found.append(
            TextNumber(
                start=start,
                end=m.end(),
                text=m.group(0),
                value=value,
                decimals=len(frac),
                commas="," in m.group("int"),
                percent=bool(_PERCENT_RE.match(text, m.end())),
            )
        )
    return found


def format_like(value: Fraction | int, like: TextNumber) -> str:
    """`value` written the way `like` was: same decimal places, thousands commas where the original had them."""
    value = Fraction(value)
    scaled = value * 10**like.decimals
    if scaled.denominator != 1:
        raise ValueError(f"{value} cannot be written with {like.decimals} decimal places")
    whole, part = divmod(abs(scaled.numerator), 10**like.decimals)
    head = f"{whole:,}" if like.commas else str(whole)
    out = f"{head}.{str(part).rjust(like.decimals, '0')}" if like.decimals else head
    return ("-" if value < 0 else "") + out


def replace_numbers(text: str, new_values: dict[Fraction, Fraction | int]) -> str:
    """`text` with every standalone number whose value is a key of `new_values` rewritten to the mapped value."""
    pieces, last = [], 0
    for number in find_numbers(text):
        if number.value in new_values:
            pieces += [text[last : number.start], format_like(new_values[number.value], number)]
            last = number.end
    return "".join(pieces) + text[last:]
