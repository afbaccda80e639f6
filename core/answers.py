"""Final-answer extraction, normalization and equality for GSM8K-style math answers."""

from __future__ import annotations

import functools
import re
import threading
from fractions import Fraction

from core.numbers import MAX_DIGITS, NumberTooLarge, fraction_digits, parse_decimal, parse_int

__all__ = ["extract_answer", "normalize_answer", "parse_number", "number_refusal", "answers_equal"]

MV_TIMEOUT_S = 5  # math-verify timeout; only usable in the main thread (it relies on signal.alarm)
MV_MAX_CHARS = 400  # longer answers are not handed to math-verify (no gold answer is that long)

# --- extraction -------------------------------------------------------------------------------------------------
_ANSWER_IS_RE = re.compile(r"the answer is\s*:?[ \t]*([^\n]*)", re.IGNORECASE)
_HASH_RE = re.compile(r"####[ \t]*([^\n]*)")
_BOXED_RE = re.compile(r"\\boxed\s*\{")
_STATED_RE = re.compile(r"the answer is|####|\\boxed\s*\{", re.IGNORECASE)
_NUMBER_RE = re.compile(
    r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+|[eE][+-]?\d+)?(?![\w])"
    r"|(?<![\w.])-?\d+(?:\.\d+)?(?=[a-zA-Z])"  # number glued to a unit, e.g. "5kg"
)

# --- normalization ----------------------------------------------------------------------------------------------
_TEXT_CMD_RE = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_DROP_RE = re.compile(r"\\[$%]|[$€£]|\*\*|\\[,!;: ]|\\left|\\right")
_VAR_PREFIX_RE = re.compile(r"^[a-zA-Z]\w*\s*=\s*(?=[-+.\d\\])")
_UNIT_RE = re.compile(r"^([-+]?[\d.,/\s]*\d)(?:\s+|(?=(?!pi\b)[a-zA-Z]{2}))[a-zA-Z][a-zA-Z\s.'/-]*$")
_DEC_RE = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")
_FRAC_RE = re.compile(r"^([-+]?)(\d+)\s*/\s*(\d+)$")
_MIXED_RE = re.compile(r"^([-+]?)(\d+)\s+(\d+)\s*/\s*(\d+)$")
_LATEX_FRAC_RE = re.compile(r"^([-+]?)(?:(\d+)\s*)?\\[dt]?frac\s*(?:\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}|(\d)(\d))$")


def _last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` with balanced braces."""
    end = len(text)  # an earlier box can only close before a later unclosed one starts: keeps this linear
    for m in reversed(list(_BOXED_RE.finditer(text))):
        depth, start = 1, m.end()
        for i in range(start, end):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                return text[start:i].strip()
        end = m.start()
    return None


def _trim(ans: str) -> str:
    """Strip whitespace, trailing periods, surrounding `$` and markdown bold."""
    prev = None
    while prev != ans:
        prev, ans = ans, ans.strip().rstrip(".").strip("*$").strip()
    return ans


def extract_answer(text: str | None) -> str | None:
    """Raw final answer: last `The answer is`, else last `####`, else last `\\boxed{}`, else last number."""
    if not text or not text.strip():
        return None
    for regex in (_ANSWER_IS_RE, _HASH_RE):
        for m in reversed(list(regex.finditer(text))):
            if ans := _trim(m.group(1)):
                return ans
    if (boxed := _last_boxed(text)) is not None:
        return boxed.strip() or None
    nums = _NUMBER_RE.findall(text)
    return nums[-1] if nums else None


def _clean(ans: str) -> str:
    """Surface cleanup shared by normalize_answer and parse_number (keeps case)."""
    s = ans.strip()
    if "\\boxed" in s and (boxed := _last_boxed(s)) is not None:
        s = boxed
    s = _TEXT_CMD_RE.sub(r"\1", s)
    s = _DROP_RE.sub("", s)
    s = _trim(s)
    s = _VAR_PREFIX_RE.sub("", s)
    s = _THOUSANDS_RE.sub("", s)
    if s.endswith("%"):
        s = s[:-1].strip()
    if m := _UNIT_RE.match(s):
        s = m.group(1).strip()
    return s


def _parse_clean(s: str) -> Fraction | None:
    """Exact value of cleaned text, None if not numeric; NumberTooLarge if numeric past core.numbers' bounds (each
    part bounded as it is read, and the value they make: "1234… 5/6…" has a numerator as long as both parts)."""
    value = _parse_parts(s)
    if value is not None and fraction_digits(value) > MAX_DIGITS:
        raise NumberTooLarge(f"a number whose exact value needs more than {MAX_DIGITS} digits")
    return value


def _parse_parts(s: str) -> Fraction | None:
    sign = -1 if s.startswith("-") else 1
    if _DEC_RE.match(s):
        return parse_decimal(s)
    if m := _MIXED_RE.match(s):
        whole, num, den = parse_int(m[2]), parse_int(m[3]), parse_int(m[4])
        return sign * (whole + Fraction(num, den)) if den else None
    if m := _FRAC_RE.match(s):
        num, den = parse_int(m[2]), parse_int(m[3])
        return sign * Fraction(num, den) if den else None
    if m := _LATEX_FRAC_RE.match(s):
        num, den = parse_int(m[3] or m[5]), parse_int(m[4] or m[6])
        return sign * (parse_int(m[2] or "0") + Fraction(num, den)) if den else None
    return None


@functools.lru_cache(maxsize=1 << 16)  # pure; a run's filters and pass rates ask the same answers again
def parse_number(ans: str | None) -> Fraction | None:
    """Exact value of a numeric answer (percent kept as-is: "50%" -> 50), or None if not numeric."""
    if ans is None:
        return None
    s = _clean(ans)
    try:
        return _parse_clean(s) if s else None
    except NumberTooLarge:
        return None  # a number, but past the bounds: not one we can compare exactly


def number_refusal(ans: str | None) -> str | None:
    """Why `ans` is a number too large to read exactly (one sentence), or None (not a number, or a fine one)."""
    if ans is None:
        return None
    s = _clean(ans)
    try:
        _parse_clean(s)
    except NumberTooLarge as e:
        return str(e)
    return None


def _fmt_decimal(x: Fraction) -> str | None:
    """Exact decimal string of x, or None if x has no terminating decimal expansion."""
    d, twos, fives = x.denominator, 0, 0
    while d % 2 == 0:
        d, twos = d // 2, twos + 1
    while d % 5 == 0:
        d, fives = d // 5, fives + 1
    if d != 1:
        return None
    k = max(twos, fives)
    digits = str(abs(x.numerator) * 10**k // x.denominator).rjust(k + 1, "0")
    out = (digits[:-k] + "." + digits[-k:]).rstrip("0").rstrip(".") if k else digits
    return ("-" if x < 0 else "") + out


def normalize_answer(ans: str | None) -> str | None:
    """Canonical answer string: numbers as "1234.5" / "3/2" / "2", other answers stripped and lowercased."""
    if ans is None:
        return None
    s = _clean(ans)
    try:
        x = _parse_clean(s) if s else None
    except NumberTooLarge:
        x = None  # kept as text; answers_equal never calls it equal to anything
    if x is None:
        return s.lower()
    if x.denominator == 1:
        return str(x.numerator)
    if "/" not in s and "frac" not in s and (dec := _fmt_decimal(x)) is not None:
        return dec
    return f"{x.numerator}/{x.denominator}"


_HUGE_RE = re.compile(rf"\d{{{MAX_DIGITS + 1}}}|(?:\^|\*\*|\d[eE])\s*\{{?\s*[-+]?\d{{4}}")
# what math-verify may see: commands that cannot make sympy compute without end, powers with a small plain exponent
_SAFE_COMMANDS = frozenset(
    "frac dfrac tfrac sqrt pi cdot times div left right text textbf textrm mathrm mathbf mbox circ degree".split()
)
_COMMAND_RE = re.compile(r"\\([a-zA-Z]+)")
_POWER_RE = re.compile(r"\^|\*\*")
_SMALL_POWER_RE = re.compile(r"(?:\^|\*\*)\s*(?:\{\s*-?\d{1,2}\s*\}|-?\d{1,2}(?![\d.])|[a-zA-Z](?![a-zA-Z]))")
_CALL_RE = re.compile(r"[a-zA-Z]{2,}\s*[(\[]")


def _symbolic_ok(text: str) -> bool:
    """Small enough for math-verify, whose timeouts cannot stop sympy inside one big computation (and work only in the
    main thread): short, no number past MAX_DIGITS digits, no factorial, no function call, only LaTeX commands that
    compute nothing big, and at most one power, of a plain exponent under 100."""
    if len(text) > MV_MAX_CHARS or _HUGE_RE.search(text) or "!" in text or _CALL_RE.search(text):
        return False
    if any(command not in _SAFE_COMMANDS for command in _COMMAND_RE.findall(text)):
        return False
    powers = len(_POWER_RE.findall(text))
    return powers == 0 or (powers == 1 and _SMALL_POWER_RE.search(text) is not None)


def _math_verify_equal(gold: str, pred: str) -> bool:
    """Symbolic comparison via math-verify; signal-based timeouts only in the main thread."""
    if not (_symbolic_ok(gold) and _symbolic_ok(pred)):
        return False
    try:
        from math_verify import parse, verify
        from math_verify.errors import TimeoutException
    except ImportError:
        return False
    t = MV_TIMEOUT_S if threading.current_thread() is threading.main_thread() else None
    try:
        g = parse(f"${gold}$", parsing_timeout=t)
        p = parse(f"${pred}$", parsing_timeout=t)
        return bool(g and p and verify(g, p, timeout_seconds=t))
    except (Exception, TimeoutException):
        return False


@functools.lru_cache(maxsize=1 << 16)  # pure; the answer check and the pass rates compare the same pairs
def answers_equal(a: str | None, b: str | None) -> bool:
    """True if answers a (gold) and b (prediction) denote the same value; exact on numbers, math-verify otherwise."""
    if a is None or b is None:
        return False
    xa, xb = parse_number(a), parse_number(b)
    if xa is not None and xb is not None:
        return xa == xb
    if number_refusal(a) or number_refusal(b):
        return False  # a number past the bounds is never compared (nor handed to math-verify)
    na, nb = normalize_answer(a), normalize_answer(b)
    if not na or not nb:
        return False
    if na == nb:
        return True
    return _math_verify_equal(_clean(a), _clean(b))


def last_statement_start(text: str | None) -> int | None:
    """Where the text's last answer statement (`The answer is`, `####`, `\\boxed{`) starts; None when it has none."""
    starts = [m.start() for m in _STATED_RE.finditer(text or "")]
    return starts[-1] if starts else None


def explicit_answer(text: str | None) -> str | None:
    """The final answer only where `text` states it, read from its last statement (`The answer is`, `####` or
    `\\boxed{}`) on; None when it states none or its last statement is cut off before an answer. No fallback to the
    last number: a reply that merely ends in a number states nothing.

    >>> explicit_answer("The answer is 5"), explicit_answer(r"The answer is 5, no: \\boxed{6}")
    ('5', '6')
    >>> explicit_answer("I got 5"), explicit_answer("The answer is 5. Let me check again. The answer is:")
    (None, None)
    """
    start = last_statement_start(text)
    if start is None:
        return None
    last = text[start:]
    for regex in (_ANSWER_IS_RE, _HASH_RE):
        if (m := regex.match(last)) and (ans := _trim(m.group(1))):
            return ans
    boxed = _last_boxed(last)
    return boxed.strip() or None if boxed is not None else None
