"""New values for a perturbed problem that a careful reader believes, and the exact answer for them.

Each perturbable value of the question (`CheckedProgram.groups`) gets a new value:
- of the same kind and scale: integers stay integers, decimals keep their places ("2.5" does not become "8.0"),
  round numbers stay as round where there is choice;
- in a band around the original (`DEFAULT_BAND`: x0.75 to x1.5), at least 2 for a count;
- within what the words allow: a percentage at most 100, "5 days a week" under 7, an age at most 100, and the
  word cues of `augmenters.plausibility` (a rate per unit moves less, a tax stays a tax);
- in the same order as the other numbers of its kind (plain, money, percentage): if a < b before, a' < b' after.
Then the program runs on them, and the draw holds only when every quantity it assigns (each operation of a
program from marks) stays whole / not negative / positive / a short decimal where the original's was, between
x0.4 and x2.5 of its original size, and under the question's caps (`CheckedProgram.caps`: ages, scores, ...).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise

from augmenters.numbers_in_text import TextNumber, replace_numbers
from augmenters.plausibility import within_caps
from augmenters.program_eval import DEFAULT_LIMITS, Limits, Number, Program, ProgramError, RunResult, run_program

SAMPLE_TRIES = 600  # value draws tried per perturbation before giving up on the constraints
MAX_ANSWER_BITS = 64
DEFAULT_BAND = (0.75, 1.5)  # new values between x0.75 and x1.5 the original: the original's sizes are realistic
MAX_AGE = 100
MAX_RATIO_CHANGE = 2  # the ratio between two numbers of a kind changes at most this much
# a positive quantity of the program (each step and the answer) stays between these multiples of the original: the
# original's sizes are realistic, and inputs that each move x1.5 can multiply into a $770 pair of pants
MIN_SHRINK = Fraction(2, 5)
MAX_GROWTH = Fraction(5, 2)


@dataclass(frozen=True)
class CheckedProgram:
    program: Program
    original: RunResult
    groups: dict[Fraction, list[str]]  # original value -> names of the inputs that move together
    styles: dict[Fraction, TextNumber]  # original value -> how it is written in the question (max decimals)
    # the question's distinct values per kind (plain, money, percentage), ascending: their order is kept
    orders: tuple[tuple[Fraction, ...], ...] = ()
    caps: tuple[int, ...] = ()  # every quantity at most a cap in the original stays so (augmenters.plausibility)
    # (total, a, b): a value of the question that is the sum of two others ("8 men and 6 women, all 14") is drawn
    # as their sum, so the new question stays consistent however the program uses it
    sums: tuple[tuple[Fraction, Fraction, Fraction], ...] = ()


def tied_sums(written: list[TextNumber], groups: dict[Fraction, list[str]]) -> tuple[tuple[Fraction, ...], ...]:
    """(total, a, b) for each perturbable value of the question that is the sum of two other values of the same
    kind it writes, ascending; a ProgramError if one is the sum of two pairs (we could not tell which it totals)."""
    kinds = {n.value: (n.percent, n.money) for n in written}
    out = []
    for total in sorted(groups):
        pairs = [
            (a, b)
            for a in sorted(kinds)
            for b in sorted(kinds)
            if a < b < total and a + b == total and kinds[a] == kinds[b] == kinds.get(total)
        ]
        if len(pairs) > 1:
            raise ProgramError(
                "ambiguous_number", f"{total} is the sum of more than one pair of the question's numbers"
            )
        out += [(total, *pairs[0])] if pairs else []
    return tuple(out)


def number_orders(written: list[TextNumber]) -> tuple[tuple[Fraction, ...], ...]:
    """The distinct values of the question per kind, ascending (a value of two kinds is left out: it stays)."""
    kinds: dict[str, set[Fraction]] = {}
    for number in written:
        kind = "percent" if number.percent else "money" if number.money else "plain"
        kinds.setdefault(kind, set()).add(number.value)
    return tuple(tuple(sorted(values)) for values in kinds.values() if len(values) > 1)


def value_choices(value: Fraction, style: TextNumber, band: tuple[float, float] = DEFAULT_BAND) -> tuple[int, ...]:
    """(low, high, step, scale): new values are multiples of step in [low, high], divided by scale."""
    if style.band is not None:  # a rate per unit moves less (augmenters.plausibility)
        band = (max(band[0], style.band[0]), min(band[1], style.band[1]))
    scale = 10**style.decimals
    n = int(value * scale)
    digits = len(str(n))
    zeros = len(str(n)) - len(str(n).rstrip("0"))
    low = max(-(-n * Fraction(band[0]).limit_denominator(1000) // 1), 2 if style.decimals == 0 else 1)
    high = int(n * Fraction(band[1]).limit_denominator(1000))
    if style.percent and value <= 100:  # a share stays a share: under 100% if it was
        high = min(high, (100 if value == 100 else 99) * scale)
    if style.most is not None and value <= style.most:
        # "5 days a week" stays a working week: a count under its period's size stays under it (7 would mean daily)
        high = min(high, (style.most if value == style.most else style.most - 1) * scale)
    if style.age:
        high = min(high, MAX_AGE * scale)
    step = 10 ** min(zeros, digits - 1)
    while step > 1 and (high // step - -(-low // step)) < 3:  # too few round values: allow less round ones
        step //= 10
    low = -(-low // step) * step
    return low, high, step, scale


def sample_value(
    value: Fraction, style: TextNumber, rng: random.Random, band: tuple[float, float] = DEFAULT_BAND
) -> Fraction:
    """A new value of the same kind and scale as `value`, different from it where there is any choice."""
    low, high, step, scale = value_choices(value, style, band)
    options = (high - low) // step + 1
    current = int(value * scale)
    if options <= 1:
        return value
    # "2.5" does not become "8.0": a written last decimal that was not 0 stays not 0
    trailing_zero_ok = style.decimals == 0 or current % 10 == 0 or options <= 10
    # a multiple of 5 stays one where there is a choice: "95 cents in nickels" does not become 94
    fives = current >= 10 and current % 5 == 0 and step < 5 and high - low >= 10
    for _ in range(50):
        new = low + step * rng.randrange(max(options, 1))
        if new != current and (trailing_zero_ok or new % 10 != 0) and (not fives or new % 5 == 0):
            return Fraction(new, scale)
    return value


def _within_choices(value: Fraction, new: Fraction, style: TextNumber, band: tuple[float, float]) -> bool:
    """Whether `new` lies where `sample_value` could have drawn it (band, caps of the words), as a value written
    with the same decimals."""
    low, high, _, scale = value_choices(value, style, band)
    return (new * scale).denominator == 1 and low <= new * scale <= high


def _decimals(x: Fraction) -> int | None:
    """Decimal places of `x` written out, None if it does not terminate."""
    d, places = x.denominator, 0
    while d % 10 == 0 or d % 2 == 0 or d % 5 == 0:
        d = d // 10 if d % 10 == 0 else d // 2 if d % 2 == 0 else d // 5
        places += 1
    if d != 1:
        return None
    while (x * 10**places).denominator != 1:
        places += 1
    while places and (x * 10 ** (places - 1)).denominator == 1:
        places -= 1
    return places


def _profile(trace: list[tuple[str, Number]]) -> dict[str, tuple[bool, bool, bool, int, Fraction]]:
    """Per assigned name: (always whole, never negative, always positive, most decimal places or 99, last value)."""
    out: dict[str, tuple[bool, bool, bool, int, Fraction]] = {}
    for name, value in trace:
        whole, nonneg, positive, places, _ = out.get(name, (True, True, True, 0, Fraction(0)))
        x = Fraction(value)
        d = _decimals(x)
        places = max(places, 99 if d is None else d)
        out[name] = (whole and x.denominator == 1, nonneg and x >= 0, positive and x > 0, places, x)
    return out


def keeps_constraints(original: RunResult, new: RunResult, caps: tuple[int, ...] = ()) -> bool:
    """Every assigned quantity and the answer: whole stays whole, not negative stays not negative, positive stays
    positive and at least a quarter of what it was ("2 seconds to run 200 m" is not believable), and a value
    stays a decimal of at most max(2, its original places); the answer stays a sane size."""
    before, after = _profile(original.trace), _profile(new.trace)
    for name, (whole, nonneg, positive, places, last) in before.items():
        if name not in after:
            continue
        w, nn, pos, p, now = after[name]
        if (whole and not w) or (nonneg and not nn) or (positive and not pos) or p > max(2, places):
            return False
        if positive and not last * MIN_SHRINK <= now <= last * MAX_GROWTH:
            return False
        if not within_caps(caps, last, now):
            return False
    a0, a1 = Fraction(original.answer), Fraction(new.answer)
    if (a0.denominator == 1 and a1.denominator != 1) or (a0 >= 0 > a1) or (a0 > 0 and a1 <= 0):
        return False
    if a0 > 0 and not (a0 * MIN_SHRINK <= a1 <= a0 * MAX_GROWTH and within_caps(caps, a0, a1)):
        return False
    return max(abs(a1.numerator).bit_length(), a1.denominator.bit_length()) <= MAX_ANSWER_BITS


def keeps_order(orders: tuple[tuple[Fraction, ...], ...], replacements: dict[Fraction, Fraction]) -> bool:
    """Each kind's values stay in the same strict order after the replacements, and no two of them drift apart
    or together by more than MAX_RATIO_CHANGE ("75 mph in a 30 mph zone" does not become 124 in a 20 zone)."""
    for values in orders:
        new = [replacements.get(v, v) for v in values]
        if any(a >= b for a, b in pairwise(new)):
            return False
        for i, j in pairwise(range(len(values))):
            if values[i] > 0:
                change = (new[j] / new[i]) / (values[j] / values[i])
                if not 1 / MAX_RATIO_CHANGE <= change <= MAX_RATIO_CHANGE:
                    return False
    return True


@dataclass(frozen=True)
class Perturbation:
    question: str
    values: dict[str, Number]  # new values of the inputs that changed
    answer: Number  # exact answer of the new question, from the program
    replacements: dict[Fraction, Fraction] = field(default_factory=dict)  # original value -> new value in the text
    env: dict[str, Number] = field(default_factory=dict)  # every name's value in the new run (inputs and steps)


def sample_perturbation(
    checked: CheckedProgram,
    question: str,
    rng: random.Random,
    limits: Limits = DEFAULT_LIMITS,
    tries: int = SAMPLE_TRIES,
    band: tuple[float, float] = DEFAULT_BAND,
) -> Perturbation | None:
    """New values that keep the constraints, the re-rendered question and its exact answer (None: no draw held)."""
    for _ in range(tries):
        tied = {total for total, _, _ in checked.sums}
        replacements = {v: sample_value(v, checked.styles[v], rng, band) for v in checked.groups if v not in tied}
        for total, a, b in checked.sums:  # ascending: a tied part is drawn before its total
            replacements[total] = replacements.get(a, a) + replacements.get(b, b)
        if not all(_within_choices(total, replacements[total], checked.styles[total], band) for total in tied):
            continue
        replacements = {v: new for v, new in replacements.items() if new != v}
        if not replacements or not keeps_order(checked.orders, replacements):
            continue
        if not all(within_caps(checked.caps, v, new) for v, new in replacements.items()):
            continue
        values: dict[str, Number] = {}
        for v, new in replacements.items():
            for name in checked.groups[v]:
                values[name] = new.numerator if new.denominator == 1 else new
        try:
            result = run_program(checked.program, values, limits)
        except ProgramError:
            continue
        if keeps_constraints(checked.original, result, checked.caps):
            env = {**checked.program.inputs, **values, **dict(result.trace)}
            return Perturbation(replace_numbers(question, replacements), values, result.answer, replacements, env)
    return None
