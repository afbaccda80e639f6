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
MIN_SHRINK and MAX_GROWTH of its original size (a rate the story implies, a step that divides by a quantity that
moves, within `plausibility.DERIVED_RATE_BAND`), and under the question's caps (`CheckedProgram.caps`: ages, ...).

Where a draw breaks a rule at some step, the values that feed that step (`program_flow.input_dependencies`) are
redrawn one at a time among all their choices before the draw is given up: "$20 shared among 4" then finds a new
total among the multiples of the new number of people, which independent draws rarely hit. A redraw is a draw like
any other (same choices, same rules, every rule checked again), so it only finds draws that were possible before.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise

from augmenters.numbers_in_text import TextNumber, replace_numbers
from augmenters.plausibility import DERIVED_RATE_BAND, within_caps
from augmenters.program_eval import DEFAULT_LIMITS, Limits, Number, Program, ProgramError, RunResult, run_program
from augmenters.program_flow import input_dependencies, quotient_steps

SAMPLE_TRIES = 600  # value draws tried per perturbation before giving up on the constraints
MAX_ANSWER_BITS = 64
DEFAULT_BAND = (0.75, 1.5)  # new values between x0.75 and x1.5 the original: the original's sizes are realistic
MAX_AGE = 100
MAX_RATIO_CHANGE = 2  # the ratio between two numbers of a kind changes at most this much
# a positive quantity of the program (each step and the answer) stays between these multiples of the original: the
# original's sizes are realistic, and inputs that each move x1.5 can multiply into a $770 pair of pants, or a
# difference of two ages grow from 5 to 11 years. x3/5-x5/3 (it was x0.4-x2.5) costs 33 of 3,500 train problems
# their question (x1/2-x2: 8); a written number moves up to x1.5, so one number alone can still move the answer fully.
MIN_SHRINK = Fraction(3, 5)
MAX_GROWTH = Fraction(5, 3)
# a step that divides by a quantity that moves (a rate, a share per item, a price per unit: `program_flow`) stays
# within a derived rate's band (augmenters.plausibility)
QUOTIENT_BAND = DERIVED_RATE_BAND
# where a step breaks a rule, up to REPAIR_ROUNDS redraws of one value that feeds it, each looking at up to
# REPAIR_SCAN of that value's choices; at most RUN_BUDGET program runs per perturbation in all
REPAIR_ROUNDS = 3
REPAIR_SCAN = 200
RUN_BUDGET = 3000


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


def _choice_rules(value: Fraction, style: TextNumber, band: tuple[float, float]) -> tuple[range, int, int, bool, bool]:
    """(the scaled values in the band, scale, current scaled value, whether a last 0 may be drawn, whether it must be a
    multiple of 5): what `sample_value` and `value_options` draw from."""
    low, high, step, scale = value_choices(value, style, band)
    current = int(value * scale)
    choices = range(low, high + 1, step)
    # "2.5" does not become "8.0": a written last decimal that was not 0 stays not 0
    trailing_zero_ok = style.decimals == 0 or current % 10 == 0 or len(choices) <= 10
    # a multiple of 5 stays one where there is a choice: "95 cents in nickels" does not become 94
    fives = current >= 10 and current % 5 == 0 and step < 5 and high - low >= 10
    return choices, scale, current, trailing_zero_ok, fives


def sample_value(
    value: Fraction, style: TextNumber, rng: random.Random, band: tuple[float, float] = DEFAULT_BAND
) -> Fraction:
    """A new value of the same kind and scale as `value`, different from it where there is any choice."""
    choices, scale, current, trailing_zero_ok, fives = _choice_rules(value, style, band)
    if len(choices) <= 1:
        return value
    for _ in range(50):
        new = choices[rng.randrange(len(choices))]
        if new != current and (trailing_zero_ok or new % 10 != 0) and (not fives or new % 5 == 0):
            return Fraction(new, scale)
    return value


def value_options(
    value: Fraction, style: TextNumber, rng: random.Random, band: tuple[float, float] = DEFAULT_BAND
) -> list[Fraction]:
    """Values `sample_value` may draw for `value` (and `value` itself), in random order; at most REPAIR_SCAN of them
    are looked at where the band holds many more."""
    choices, scale, current, trailing_zero_ok, fives = _choice_rules(value, style, band)
    if len(choices) <= 1:
        return [value]
    picked = rng.sample(choices, min(len(choices), REPAIR_SCAN))
    return [
        Fraction(n, scale)
        for n in picked
        if n == current or ((trailing_zero_ok or n % 10 != 0) and (not fives or n % 5 == 0))
    ]


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


def first_failure(
    original: RunResult, new: RunResult, caps: tuple[int, ...] = (), quotients: frozenset[str] = frozenset()
) -> str | None:
    """The first assigned name (in the original run's order; the answer is `answer`) whose new value breaks a rule of
    `keeps_constraints`, None if every one holds."""
    before, after = _profile(original.trace), _profile(new.trace)
    for name, (whole, nonneg, positive, places, last) in before.items():
        if name not in after:
            continue
        w, nn, pos, p, now = after[name]
        if (whole and not w) or (nonneg and not nn) or (positive and not pos) or p > max(2, places):
            return name
        low, high = QUOTIENT_BAND if name in quotients else (MIN_SHRINK, MAX_GROWTH)
        if positive and not last * low <= now <= last * high:
            return name
        if not within_caps(caps, last, now):
            return name
    a0, a1 = Fraction(original.answer), Fraction(new.answer)
    if (a0.denominator == 1 and a1.denominator != 1) or (a0 >= 0 > a1) or (a0 > 0 and a1 <= 0):
        return "answer"
    if a0 > 0 and not (a0 * MIN_SHRINK <= a1 <= a0 * MAX_GROWTH and within_caps(caps, a0, a1)):
        return "answer"
    return None if max(abs(a1.numerator).bit_length(), a1.denominator.bit_length()) <= MAX_ANSWER_BITS else "answer"


def keeps_constraints(
    original: RunResult, new: RunResult, caps: tuple[int, ...] = (), quotients: frozenset[str] = frozenset()
) -> bool:
    """Every assigned quantity and the answer: whole stays whole, not negative stays not negative, positive stays
    positive and between MIN_SHRINK and MAX_GROWTH of what it was ("2 seconds to run 200 m" is not believable; a
    step of `quotients`, a rate the story implies, within QUOTIENT_BAND), and a value stays a decimal of at most
    max(2, its original places); the answer stays a sane size."""
    return first_failure(original, new, caps, quotients) is None


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


class _Drawer:
    """Draws for one checked program: a random draw of every value, then, where a step breaks a rule, a redraw of
    one value that feeds that step at a time, among all the values it may take (so "$20 shared among 4" finds a
    new total that the new number of people divides)."""

    def __init__(self, checked: CheckedProgram, band: tuple[float, float], limits: Limits) -> None:
        self.checked, self.band, self.limits = checked, band, limits
        self.deps = input_dependencies(checked.program)
        moving = {name for names in checked.groups.values() for name in names}
        self.quotients = quotient_steps(checked.program, moving, self.deps)
        self.order = {name: i for i, name in enumerate(dict.fromkeys(name for name, _ in checked.original.trace))}
        self.tied = {total: (a, b) for total, a, b in checked.sums}
        self.runs = 0

    def assemble(self, drawn: dict[Fraction, Fraction]) -> dict[Fraction, Fraction] | None:
        """The changed values of the question for the values drawn (tied totals are their parts' sum), or None
        where they break a rule that needs no run: a total out of its band, the order of the numbers, a cap."""
        checked, replacements = self.checked, dict(drawn)
        for total, a, b in checked.sums:  # ascending: a tied part is drawn before its total
            replacements[total] = replacements.get(a, a) + replacements.get(b, b)
        if not all(_within_choices(t, replacements[t], checked.styles[t], self.band) for t in self.tied):
            return None
        replacements = {v: new for v, new in replacements.items() if new != v}
        if not replacements or not keeps_order(checked.orders, replacements):
            return None
        if not all(within_caps(checked.caps, v, new) for v, new in replacements.items()):
            return None
        return replacements

    def run(self, replacements: dict[Fraction, Fraction]) -> tuple[dict[str, Number], RunResult, str | None] | None:
        """(new input values, the run, the first name that breaks a rule or None), None if the program fails."""
        values: dict[str, Number] = {}
        for v, new in replacements.items():
            for name in self.checked.groups[v]:
                values[name] = new.numerator if new.denominator == 1 else new
        self.runs += 1
        try:
            result = run_program(self.checked.program, values, self.limits)
        except ProgramError:
            return None
        return values, result, first_failure(self.checked.original, result, self.checked.caps, self.quotients)

    def feeds(self, value: Fraction, failing: str) -> bool:
        """Whether the question's `value` (or a total it is a part of) is an input of the step `failing`."""
        needs = self.deps.get(failing)
        if needs is None:
            return True
        totals = [value] + [t for t, parts in self.tied.items() if value in parts]
        return any(name in needs for v in totals for name in self.checked.groups[v])

    def repair(self, drawn: dict[Fraction, Fraction], failing: str, rng: random.Random) -> tuple | None:
        """A redraw of one value that feeds `failing`: one that keeps every rule if any, else one whose first broken
        rule comes later in the program; None if there is neither."""
        feeding = [v for v in drawn if self.feeds(v, failing)]
        rng.shuffle(feeding)
        progress = None
        for v in feeding:
            for new in value_options(v, self.checked.styles[v], rng, self.band):
                if self.runs >= RUN_BUDGET:
                    return progress
                if new == drawn[v]:
                    continue
                trial = {**drawn, v: new}
                replacements = self.assemble(trial)
                ran = self.run(replacements) if replacements is not None else None
                if ran is None:
                    continue
                if ran[2] is None:
                    return trial, replacements, ran
                if progress is None and self.order.get(ran[2], -1) > self.order.get(failing, -1):
                    progress = trial, replacements, ran
        return progress


def sample_perturbation(
    checked: CheckedProgram,
    question: str,
    rng: random.Random,
    limits: Limits = DEFAULT_LIMITS,
    tries: int = SAMPLE_TRIES,
    band: tuple[float, float] = DEFAULT_BAND,
) -> Perturbation | None:
    """New values that keep the constraints, the re-rendered question and its exact answer (None: no draw held).

    Each try draws every value at random; where a step then breaks a rule, up to REPAIR_ROUNDS redraws of one value
    that feeds it follow (`_Drawer.repair`); at most RUN_BUDGET program runs in all."""
    drawer = _Drawer(checked, band, limits)
    for _ in range(tries):
        if drawer.runs >= RUN_BUDGET:
            break
        tied = drawer.tied
        drawn = {v: sample_value(v, checked.styles[v], rng, band) for v in checked.groups if v not in tied}
        replacements = drawer.assemble(drawn)
        ran = drawer.run(replacements) if replacements is not None else None
        if ran is None:
            continue
        for _round in range(REPAIR_ROUNDS):
            if ran[2] is None:
                break
            fixed = drawer.repair(drawn, ran[2], rng)
            if fixed is None:
                break
            drawn, replacements, ran = fixed
        values, result, failing = ran
        if failing is None:
            env = {**checked.program.inputs, **values, **dict(result.trace)}
            return Perturbation(replace_numbers(question, replacements), values, result.answer, replacements, env)
    return None
