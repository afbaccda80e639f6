"""Programs read off a reference solution's calculator marks, and the numbers a perturbation must leave alone.

The problems here are our own, written in GSM8K's form; only the loader test reads the bundled GSM8K sample.
"""

import asyncio
import random
from fractions import Fraction

import pytest
from scripted_llm import ScriptedLLM

from augmenters import perturb
from augmenters.base import AugmentConfig
from augmenters.numbers_in_text import find_numbers, implied_values, word_numbers
from augmenters.perturb import check_program, program_from_marks, write_program
from augmenters.perturb_draw import sample_perturbation
from augmenters.program_eval import ProgramError, answer_string, parse_program, run_program
from augmenters.solution_program import program_from_solution
from core.datasets import load_problems

BAKER = {
    "id": "baker",
    "question": "A baker fills 6 trays with 14 rolls each. She sells 50 rolls and gives half of the rest away. "
    "How many rolls does she keep?",
    "answer": "17",
    "solution": "She bakes 6*14 = 84 rolls.\nAfter selling she has 84-50 = 34.\nShe keeps 34/2 = 17.",
    "calculations": ["6*14=84", "84-50=34", "34/2=17"],
}


def _program(question: str, calculations: list[str], gold: str, solution: str | None = None) -> str:
    return program_from_solution(question, solution, calculations, gold)


def test_marks_become_a_program_over_the_question_numbers():
    source = _program(BAKER["question"], BAKER["calculations"], "17")
    assert source == "x1 = 6\nx2 = 14\nx3 = 50\nstep1 = x1 * x2\nstep2 = step1 - x3\nstep3 = step2 / 2\nanswer = step3"
    checked = check_program(source, BAKER["question"], "17", BAKER["calculations"])
    assert checked.original.answer == 17
    assert sorted(checked.groups) == [6, 14, 50]


def test_a_percentage_written_as_a_fraction_follows_the_question():
    question = "A box holds 40 pens and 25% of them are red. How many pens are not red?"
    source = _program(question, ["40*.25=10", "40-10=30"], "30")
    assert "step1 = x1 * (x2 / 100)" in source
    program = parse_program(source)
    assert run_program(program, {"x1": 80, "x2": 75}).answer == 20


@pytest.mark.parametrize(
    ("question", "calculations", "solution", "reason"),
    [
        # 17 comes from nowhere the question shows
        ("Ana has 5 bags of 8 apples. How many apples?", ["5*8=40", "40-17=23"], None, "unexplained_literal"),
        # 60 is worked out in prose, not as arithmetic we can read, and equals a number of the question
        (
            "40% of a class failed. How many of the 60 students passed?",
            ["60*60/100=36"],
            "All but 40% passed, which makes = 60% passed.\n60 x 60/100 = 36",
            "unexplained_number",
        ),
        # 16 is both a number of the question and the result of the second mark, and two readings both hold
        (
            "He buys 2 big and 2 small pies. A big one has 16 slices, a small one 8. How many plates of 16 slices?",
            ["2*16=32", "2*8=16", "32+16=48", "48/16=3"],
            None,
            "ambiguous_number",
        ),
        # 240 is the result of two different marks: the last one could mean either
        (
            "Of 800 files he deletes 70%. Of 400 more he deletes 3/5. How many useful files are left?",
            ["70/100*800=560", "800-560=240", "3/5*400=240", "400-240=160", "160+240=400"],
            None,
            "ambiguous_number",
        ),
        # 3 is a result and also what "a third" stands for
        ("Liz has 9 kg of flour, uses 6 kg, then a third of the rest.", ["9-6=3", "3/3=1"], None, "ambiguous_number"),
        # 0.75 may be a constant or the result 75 as a share
        (
            "A farm has 25 cows and 50 sheep. Three quarters of all the animals are sold. How many are sold?",
            ["25+50=75", "75*0.75=56.25"],
            None,
            "ambiguous_number",
        ),
        # the solution ends in prose (1000 - 300 - 150 = 550): the last mark is not the answer
        (
            "He spends 30% of $1000 on food and 15% on rent.",
            ["30*.01*1000=300", "15*.01*1000=150"],
            None,
            "program_mismatch",
        ),
        ("Ana has 5 bags of 8 apples. How many apples?", [], None, "no_marks"),
        ("Ana has 5 bags of 8 apples. How many apples?", ["5x8=40"], None, "unreadable_mark"),
        ("Ana has 5 bags of 8 apples. How many apples?", ["__import__('os')=40"], None, "unreadable_mark"),
        ("Ana has 5 bags of 8 apples. How many apples?", ["5*8=forty"], None, "unreadable_mark"),
    ],
)
def test_marks_that_cannot_be_read_safely_give_no_program(question, calculations, solution, reason):
    gold = "550" if reason == "program_mismatch" else (calculations[-1].split("=")[-1] if calculations else "40")
    with pytest.raises(ProgramError) as refused:
        _program(question, calculations, gold, solution)
    assert refused.value.reason == reason


def test_words_and_other_notations_give_values_a_perturbation_leaves_alone():
    assert word_numbers("Twenty-four cats, three hundred dogs and five birds") == {24, 300, 5}
    implied = implied_values("They split it in the ratio 2:5, eat 1/2 of it twice a week on the 3rd day, 40% off")
    assert {2, 5, 1, 3, 7, 52, 100} <= implied
    assert 40 not in implied
    assert 200 not in implied_values("It costs $1,200.50 and 2.5 kg weigh more.")  # digits of a standalone number


def test_unit_counts_are_bounded_by_their_period():
    found = {n.value: n.most for n in find_numbers("He works 5 days a week, 9 hours per day and 300 days a year.")}
    assert found == {5: 7, 9: 24, 300: 365}
    question = "She runs 5 days a week for 30 minutes. How many minutes does she run in 4 weeks?"
    checked = check_program("days = 5\nminutes = 30\nanswer = days * minutes * 4", question, "600")
    draws = [sample_perturbation(checked, question, random.Random(seed)) for seed in range(40)]
    assert all(p.values.get("days", 5) <= 7 for p in draws if p)
    assert {p.values.get("days") for p in draws if p} - {None}  # the day count did move


def test_a_value_written_twice_or_meant_by_a_word_stays_fixed():
    question = "She collects 15 coins each hour for 3 hours and gives 15 of them away. Her brother collects twice as "
    question += "many, 2 coins a minute. How many coins does she keep?"
    checked = check_program("per_hour = 15\nhours = 3\ngiven = 15\nanswer = per_hour * hours - given", question, "30")
    assert list(checked.groups) == [3]


def test_fifty_percent_stays_fixed():
    question = "Of 40 games, 50% cost $4 and the rest cost $2. How much did they all cost?"
    source = "games = 40\nshare = 50\nhalf = games * share / 100\nanswer = half * 4 + half * 2"
    checked = check_program(source, question, "120")
    assert sorted(checked.groups) == [40]


def test_decimals_keep_a_nonzero_last_digit():
    question = "A pen costs $2.5 and a pad costs $4. What do 3 pens and a pad cost?"
    checked = check_program("pen = 2.5\npad = 4\npens = 3\nanswer = pens * pen + pad", question, "11.5")
    texts = [sample_perturbation(checked, question, random.Random(seed)).question for seed in range(30)]
    assert not any(".0 and" in t for t in texts)


def test_program_from_marks_perturbs_exactly():
    outcome = program_from_marks(BAKER)
    assert outcome.origin == "solution" and outcome.reason is None
    for seed in range(10):
        p = sample_perturbation(outcome.checked, BAKER["question"], random.Random(seed))
        trays, rolls, sold = (n.value for n in find_numbers(p.question))
        assert Fraction(p.answer) == (trays * rolls - sold) / 2 and (trays * rolls - sold) % 2 == 0


def _counting_llm(program_reply: str) -> ScriptedLLM:
    return ScriptedLLM(lambda messages, k: program_reply)


def test_the_model_is_asked_only_when_the_marks_give_no_program():
    llm = _counting_llm("```python\ntrays = 6\nrolls = 14\nsold = 50\nanswer = (trays * rolls - sold) / 2\n```")
    outcome = asyncio.run(write_program(BAKER, llm, AugmentConfig()))
    assert outcome.origin == "solution" and not llm.calls
    unmarked = {**BAKER, "calculations": []}
    outcome = asyncio.run(write_program(unmarked, llm, AugmentConfig()))
    assert outcome.origin == "model" and outcome.reason is None and len(llm.calls) == 1
    outcome = asyncio.run(write_program(unmarked, llm, AugmentConfig(perturb_programs="solution")))
    assert outcome.checked is None and outcome.reason == "no_marks"


def test_program_origins_are_checked():
    assert perturb.program_origins("model, solution") == ("model", "solution")
    for bad in ("", "solution,teacher"):
        with pytest.raises(ValueError, match="comma list of solution, model"):
            perturb.program_origins(bad)


def test_the_loader_keeps_the_calculator_marks():
    natalia = load_problems("sample", limit=1).row(0, named=True)
    assert natalia["calculations"] == ["48/2=24", "48+24=72"]
    assert "<<" not in natalia["solution"]
    outcome = program_from_marks(natalia)
    assert answer_string(outcome.checked.original.answer) == natalia["answer"] == "72"
