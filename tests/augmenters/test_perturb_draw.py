"""Draws for perturbed problems (augmenters.perturb_draw): draws that keep a division whole, derived rates held to a
rate's band, and a seeded fuzz test that every accepted draw keeps every rule. Every problem here is our own."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

import augmenters.perturb_draw as draw
from augmenters.numbers_in_text import find_numbers
from augmenters.perturb import check_program, program_from_marks
from augmenters.program_eval import ProgramError, answer_string, parse_program, run_program
from augmenters.program_flow import input_dependencies, quotient_steps


def _problem(question: str, solution: str, calculations: list[str], answer: str) -> dict:
    return {"id": "own", "question": question, "solution": solution, "calculations": calculations, "answer": answer}


BAKERY = _problem(
    "A bakery bakes 3,024 rolls for a fair. The rolls are packed equally into 42 crates, and each crate is split "
    "equally among 8 stalls. How many rolls does each stall get from one crate?",
    "Each crate holds 3024/42 = 72 rolls.\nEach stall gets 72/8 = 9 rolls from one crate.",
    ["3024/42=72", "72/8=9"],
    "9",
)

SHIRTS = _problem(
    "It takes Mia 30 minutes to fold 12 shirts. How many minutes does it take her to fold 20 shirts?",
    "Mia takes 30/12 = 2.5 minutes for one shirt.\nFor 20 shirts she takes 2.5*20 = 50 minutes.",
    ["30/12=2.5", "2.5*20=50"],
    "50",
)


def _checked(problem: dict) -> draw.CheckedProgram:
    outcome = program_from_marks(problem)
    assert outcome.checked is not None, outcome.reason
    return outcome.checked


# --- draws that respect division --------------------------------------------------------------------------------


def test_a_draw_that_needs_a_divisor_finds_one(monkeypatch: pytest.MonkeyPatch) -> None:
    checked = _checked(BAKERY)
    # seeds where 600 independent draws find no total that both new divisors divide
    seeds = [3, 11]
    for seed in seeds:
        p = draw.sample_perturbation(checked, BAKERY["question"], random.Random(seed))
        assert p is not None
        rolls, crates, stalls = (n.value for n in find_numbers(p.question)[:3])
        assert (rolls, crates, stalls) != (3024, 42, 8)
        assert (rolls / crates).denominator == 1 and (rolls / crates / stalls).denominator == 1
        assert p.answer == rolls / crates / stalls
    monkeypatch.setattr(draw, "REPAIR_ROUNDS", 0)  # the draws as they were: every value at random, then checked
    for seed in seeds:
        assert draw.sample_perturbation(checked, BAKERY["question"], random.Random(seed)) is None


def test_the_inputs_of_each_step_are_known() -> None:
    checked = _checked(BAKERY)
    deps = input_dependencies(checked.program)
    assert deps["step1"] == {"x1", "x2"}
    assert deps["answer"] == {"x1", "x2", "x3"}
    program = parse_program(
        "a = 12\nb = 30\nc = 45\nt = 0\nfor i in range(3):\n    t = t + a\nif b > 20:\n    t = t + c\nanswer = t"
    )
    assert input_dependencies(program)["t"] == {"a", "b", "c"}  # a condition feeds what it guards


# --- derived rates a reader believes ------------------------------------------------------------------------------


def test_a_quotient_of_two_moving_quantities_is_a_rate() -> None:
    checked = _checked(SHIRTS)
    moving = {name for names in checked.groups.values() for name in names}
    assert quotient_steps(checked.program, moving) == {"step1"}  # minutes per shirt; 30/60 or "half" would not be
    program = parse_program("m = 30\nanswer = m / 60 * 2")
    assert quotient_steps(program, {"m"}) == frozenset()


def test_the_time_per_item_stays_within_a_rates_band() -> None:
    checked = _checked(SHIRTS)
    # 30 minutes for 12 shirts read as 24 minutes for 16: each number within its band, the time per shirt x0.6
    slower = run_program(checked.program, {"x1": 24, "x2": 16})
    assert draw.first_failure(checked.original, slower, quotients=frozenset()) is None
    assert draw.first_failure(checked.original, slower, quotients=frozenset({"step1"})) == "step1"
    low, high = draw.QUOTIENT_BAND
    rates = []
    for seed in range(30):
        p = draw.sample_perturbation(checked, SHIRTS["question"], random.Random(seed))
        assert p is not None
        minutes, shirts, _ = (n.value for n in find_numbers(p.question))
        rate = minutes / shirts
        assert Fraction(5, 2) * low <= rate <= Fraction(5, 2) * high
        rates.append(rate)
    assert len(set(rates)) >= 3  # the rate still moves


PAGES = _problem(
    "Tom read 40 pages on Monday and 55 pages on Tuesday. Each page takes him 3 minutes. How many more minutes did "
    "he read on Tuesday than on Monday?",
    "On Tuesday he read 55-40 = 15 more pages.\nThat is 15*3 = 45 more minutes.",
    ["55-40=15", "15*3=45"],
    "45",
)


def test_a_difference_of_two_written_numbers_stays_near_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    checked = _checked(PAGES)
    # 40 and 55 read as 30 and 60: each within its band and in order, but 15 more pages became 30
    apart = run_program(checked.program, {"x1": 30, "x2": 60})
    assert draw.first_failure(checked.original, apart) == "step1"
    with monkeypatch.context() as m:  # the band it had (x0.4-x2.5) let it through
        m.setattr(draw, "MIN_SHRINK", Fraction(2, 5))
        m.setattr(draw, "MAX_GROWTH", Fraction(5, 2))
        assert draw.first_failure(checked.original, apart) is None
    differences = set()
    for seed in range(30):
        p = draw.sample_perturbation(checked, PAGES["question"], random.Random(seed))
        assert p is not None
        monday, tuesday = (n.value for n in find_numbers(p.question)[:2])
        assert 15 * draw.MIN_SHRINK <= tuesday - monday <= 15 * draw.MAX_GROWTH
        differences.add(tuesday - monday)
    assert len(differences) >= 3


# --- every accepted draw keeps every rule (seeded fuzz) ----------------------------------------------------------

_NAMES = ["apples", "pears", "plums", "figs"]


def _random_program(rng: random.Random) -> tuple[str, str, list[int], set[str]]:
    """(source, question, written values, steps that divide by a moving quantity) of a random straight program."""
    k = rng.randint(2, 4)
    values = sorted(rng.sample(range(3, 400), k))
    lines = [f"x{i + 1} = {v}" for i, v in enumerate(values)]
    names, quotients = [f"x{i + 1}" for i in range(k)], set()
    for s in range(rng.randint(1, 4)):
        a, b = rng.sample(names, 2)
        op = rng.choice("+-*/")
        name = f"s{s + 1}"
        lines.append(f"{name} = {a} {op} {b}")
        if op == "/":
            quotients.add(name)
        names.append(name)
    lines.append(f"answer = {names[-1]}")
    question = "A shop has " + ", ".join(f"{v} {_NAMES[i]}" for i, v in enumerate(values)) + ". How many in all?"
    return "\n".join(lines), question, values, quotients


def _rules_hold(checked: draw.CheckedProgram, p: draw.Perturbation, values: list[int], quotients: set[str]) -> None:
    """Every rule, checked here from the definitions, not with the module's own checker."""
    new = [p.replacements.get(Fraction(v), Fraction(v)) for v in values]
    assert all(a < b for a, b in zip(new, new[1:], strict=False))  # the order of the numbers
    for v, n in zip(values, new, strict=True):
        assert n.denominator == 1 and 2 <= n and Fraction(3, 4) * v <= n <= Fraction(3, 2) * v  # kind and band
    rerun = run_program(checked.program, p.values)
    assert rerun.answer == p.answer
    before, after = dict(checked.original.trace), dict(rerun.trace)
    for name, old in before.items():
        now = Fraction(after[name])
        old = Fraction(old)
        if old.denominator == 1:
            assert now.denominator == 1, name
        if old >= 0:
            assert now >= 0, name
        if old > 0:
            low, high = draw.QUOTIENT_BAND if name in quotients else (draw.MIN_SHRINK, draw.MAX_GROWTH)
            assert old * low <= now <= old * high, name


def test_fuzz_every_accepted_draw_keeps_every_rule() -> None:
    rng = random.Random(2024)
    accepted = programs = 0
    while programs < 60:
        source, question, values, quotients = _random_program(rng)
        try:
            gold = answer_string(run_program(parse_program(source)).answer)  # the program's own answer
            checked = check_program(source, question, gold)
        except ProgramError:
            continue
        if len(checked.groups) != len(values):
            continue
        programs += 1
        for seed in range(3):
            p = draw.sample_perturbation(checked, question, random.Random(seed), tries=40)
            if p is not None:
                accepted += 1
                _rules_hold(checked, p, values, quotients)
    assert accepted > 60
