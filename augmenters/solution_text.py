"""The reference solution's text, rewritten for new values: what each number it writes shows, and the rewrite.

`shown_numbers` maps each number written in the solution's text to the quantity it shows (a mark's result, an
input, a percentage as a share, or nothing that changes), refusing where the text cannot be told apart or would go
stale ("twice" for a factor that changes); `write_solution` puts the new values in.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import TYPE_CHECKING

from augmenters.numbers_in_text import word_values
from augmenters.program_eval import Number, ProgramError, answer_string
from core.answers import parse_number

if TYPE_CHECKING:
    from augmenters.solution_program import _Reader

EQUALS_RE = re.compile(r"=\s*\$?\s*(\d[\d,]*(?:\.\d+)?)")
SOLUTION_NUMBER_RE = re.compile(
    r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])|(?<![\d.,])\d+(?:\.\d+)?(?!\d)|(?<![\d.,])\.\d+(?!\d)"
)
PROSE_LEFT_RE = re.compile(r"[\d\s.,+\-*/x×÷()$%]*$")


# words of a solution that say a factor: if the factor's value changes, the word is stale
_FACTOR_WORDS = {"twice": Fraction(2), "double": Fraction(2), "doubled": Fraction(2), "triple": Fraction(3),
                 "tripled": Fraction(3), "thrice": Fraction(3), "quadruple": Fraction(4)}  # fmt: skip


def shown_numbers(
    solution: str | None, reader: _Reader, frozen: set[str]
) -> tuple[dict[Fraction, tuple[str, Fraction] | None], set[str], dict[int, tuple[str, Fraction] | None]]:
    """What each number written in the solution's text shows, so it can be rewritten for new values; and the
    inputs whose value the text also writes as a constant (they must stay fixed)."""
    shown: dict[Fraction, tuple[str, Fraction] | None] = {}
    to_freeze: set[str] = set()
    at: dict[int, tuple[str, Fraction] | None] = {}
    aligned = _aligned(solution or "", reader, frozen)
    if any(c.isdigit() for c in SOLUTION_NUMBER_RE.sub(" ", solution or "")):
        raise ProgramError("unexplained_number", "the solution writes a number in a form we cannot rewrite")
    changing = set(reader.results) | {v for v, name in reader.inputs.items() if name not in frozen}
    # "Two zones", "24 dozen", or "He gets paid twice a month" for the question's "2 times a month": the word
    # would stay while the number changes. An input the words name stays fixed; a computed value refuses.
    said = word_values(solution or "") | {
        f for w, f in _FACTOR_WORDS.items() if re.search(rf"\b{w}\b", solution or "", re.I)
    }
    if stale := said & changing:
        if stale & set(reader.results):
            raise ProgramError("stale_solution_text", f"the solution's words say {min(stale)}, a value that changes")
        to_freeze |= {reader.inputs[v] for v in stale}
    for m in SOLUTION_NUMBER_RE.finditer(solution or ""):
        value = Fraction(m.group().replace(",", ""))
        # "$15 x 5" where the question's $ is on the 5: the text pairs units and numbers otherwise than the
        # question does, and rewriting it would print "$30 x 5"
        if (solution or "")[max(0, m.start() - 2) : m.start()].strip().endswith("$") and value in reader.counts_only:
            name = reader.inputs[value]
            if name not in frozen:
                raise ProgramError("stale_solution_text", f"the solution writes ${m.group()}, a count in the question")
        if value in shown:
            continue
        meanings: set[tuple[str, Fraction] | None] = set()
        if value in reader.results and value not in reader.repeated:
            meanings.add((reader.results[value], Fraction(1)))
        if value in reader.inputs:
            name = reader.inputs[value]
            meanings.add(None if name in frozen else (name, Fraction(1)))
        if value in reader.percents:
            meanings.add((reader.percents[value], Fraction(1, 100)))
        if value in reader.constants or (value in reader.allowed and not meanings):
            meanings.add(None)
        if value in reader.decided:  # a result that a word's value may also be: only its calculations tell
            meanings.add(None)
        if value in reader.repeated:
            raise ProgramError("ambiguous_number", f"{value} is the result of more than one calculation")
        if not meanings:
            raise ProgramError("unexplained_number", f"the solution writes {m.group()}, which nothing explains")
        inputs = {meaning for meaning in meanings if meaning is not None and meaning[0] in reader.literals}
        if len(meanings) == 2 and None in meanings and len(inputs) == 1 and inputs.pop()[1] == 1:
            to_freeze.add(reader.inputs[value])
            meanings = {None}
        if len(meanings) > 1:
            if m.start() in aligned and aligned[m.start()] in meanings:
                at[m.start()] = aligned[m.start()]  # this one occurrence is read off its calculation
                continue
            raise ProgramError("ambiguous_number", f"the solution's {m.group()} may show more than one quantity")
        shown[value] = meanings.pop()
    return shown, to_freeze, at


def _aligned(solution: str, reader: _Reader, frozen: set[str]) -> dict[int, tuple[str, Fraction] | None]:
    """Offset of each number written in a calculation of the text ("3 x 4 = 12") that matches the next mark in
    order (same result; the text's operands the mark's last ones) -> what the mark's number there stands for."""
    out: dict[int, tuple[str, Fraction] | None] = {}
    k = 0
    for m in EQUALS_RE.finditer(solution):
        left = PROSE_LEFT_RE.search(solution[: m.start()])
        written = [
            (n.start(), Fraction(n.group().replace(",", "")))
            for n in SOLUTION_NUMBER_RE.finditer(solution, left.start(), m.start())
        ]
        result = parse_number(m.group(1))
        for j in range(k, len(reader.mark_leaves)):
            leaves, mark_result, step = reader.mark_leaves[j]
            tail = leaves[len(leaves) - len(written) :] if written else []
            if mark_result != result or not written or [v for v, _ in tail] != [v for _, v in written]:
                continue
            for (start, _), (_, meaning) in zip(written, tail, strict=True):
                out[start] = None if meaning is not None and meaning[0] in frozen else meaning
            out[m.start(1)] = (step, Fraction(1))
            k = j + 1
            break
    return out


def format_like_written(value: Fraction, written: str) -> str:
    """`value` written like `written` was: thousands commas, and as many decimals where they fit."""
    places = len(written.partition(".")[2])
    if places and (value * 10**places).denominator == 1:
        whole, part = divmod(abs(value * 10**places).numerator, 10**places)
        head = f"{whole:,}" if "," in written else str(whole)
        return ("-" if value < 0 else "") + f"{head}.{str(part).rjust(places, '0')}"
    if value.denominator == 1 and "," in written:
        return f"{value.numerator:,}"
    return answer_string(value)


def write_solution(
    solution: str,
    shown: dict[Fraction, tuple[str, Fraction] | None],
    env: dict[str, Number],
    at: dict[int, tuple[str, Fraction] | None] | None = None,
) -> str:
    """The reference solution's text with every number it writes replaced by that quantity's value in `env`
    (`at`: what the number at an offset shows, where its value alone cannot tell)."""

    def new(m: re.Match) -> str:
        if at and m.start() in at:
            meaning = at[m.start()]
        else:
            meaning = shown.get(Fraction(m.group().replace(",", "")))
        if meaning is None:
            return m.group()
        name, factor = meaning
        return format_like_written(Fraction(env[name]) * factor, m.group())

    return SOLUTION_NUMBER_RE.sub(new, solution)
