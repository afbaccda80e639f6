"""Bounded exact parsing of number text: the size is checked from the text's shape BEFORE anything is computed.

`Fraction("1e99999999")` or `int("9" * 5000)` would build a huge value (or raise past Python's 4300-digit limit)
before any limit could apply. Here the digits and the exponent are counted first, so a number from a model, a file
or an option is either read exactly within `max_digits` or refused at once with a `NumberTooLarge` that says why.

    >>> parse_decimal("12.50")
    Fraction(25, 2)
    >>> parse_decimal("1e99999999")
    Traceback (most recent call last):
    core.numbers.NumberTooLarge: 1e99999999 needs more than 100 digits; numbers here have at most 100
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = [
    "MAX_DIGITS",
    "NumberTooLarge",
    "decimal_digits",
    "fraction_digits",
    "parse_decimal",
    "parse_int",
    "too_large_reason",
]

MAX_DIGITS = 100  # digits of an exact value's numerator or denominator (GSM8K answers have at most ~10)

# [sign] digits [. digits] [e [sign] digits]: the shape Fraction and float accept for plain decimals
_DECIMAL_RE = re.compile(r"([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?")
_INT_RE = re.compile(r"[-+]?\d+")


class NumberTooLarge(ValueError):
    """A number whose exact value would need more than the allowed digits; str() is the reason, one sentence."""


def _short(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:10]}...{text[-6:]} ({len(text)} characters)"


def decimal_digits(text: str) -> int | None:
    """Digits of the numerator or denominator of the exact value of decimal `text` (an upper bound), or None if
    `text` is not a plain decimal. Cheap: only lengths are computed, never the value."""
    m = _DECIMAL_RE.fullmatch(text.strip().replace("_", ""))
    if m is None or not (m[2] or m[3]):
        return None
    whole, frac, exp_text = m[2], m[3] or "", m[4]
    digits = len((whole + frac).lstrip("0")) or 1
    if exp_text is None:
        exponent = 0
    else:
        if len(exp_text.lstrip("+-").lstrip("0")) > 6:  # past a million: no need to read it
            return 10**7
        exponent = int(exp_text)
    shift = exponent - len(frac)  # value = int(whole + frac) * 10**shift
    return digits + shift if shift >= 0 else max(digits, 1 - shift)


def too_large_reason(text: str, max_digits: int = MAX_DIGITS) -> str | None:
    """Why decimal `text` cannot be read within `max_digits` (one sentence), or None if it can or is not a decimal."""
    digits = decimal_digits(text)
    if digits is None or digits <= max_digits:
        return None
    return f"{_short(text.strip())} needs more than {max_digits} digits; numbers here have at most {max_digits}"


def parse_decimal(text: str, max_digits: int = MAX_DIGITS) -> Fraction:
    """Exact value of a plain decimal ("12", "-0.25", "3.", ".5", "1.5e3"); ValueError if `text` is not one,
    NumberTooLarge (a ValueError) if its exact value needs more than `max_digits` digits."""
    if decimal_digits(text) is None:
        raise ValueError(f"{_short(text.strip())!r} is not a decimal number")
    if reason := too_large_reason(text, max_digits):
        raise NumberTooLarge(reason)
    s = text.strip().replace("_", "")
    return Fraction(s[:-1] if s.endswith(".") else s)


def parse_int(text: str, max_digits: int = MAX_DIGITS) -> int:
    """int(text) for a plain integer, refused (NumberTooLarge) past `max_digits` digits before converting."""
    s = text.strip()
    if not _INT_RE.fullmatch(s):
        raise ValueError(f"{_short(s)!r} is not a whole number")
    if len(s.lstrip("+-").lstrip("0")) > max_digits:
        raise NumberTooLarge(f"{_short(s)} has more than {max_digits} digits; numbers here have at most {max_digits}")
    return int(s)


def fraction_digits(x: Fraction | int) -> int:
    """Digits of the larger of numerator and denominator (from bit lengths: cheap for any size)."""
    f = Fraction(x)
    bits = max(abs(f.numerator).bit_length(), f.denominator.bit_length())
    return bits * 30103 // 100000 + 1
