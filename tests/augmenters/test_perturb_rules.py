"""The rules that make a perturbed problem right and sensible, one test per error class of issue 11, plus reply hygiene.

Every problem here is our own, written in GSM8K's form (question, solution text without the marks, the marks, the
gold answer); only the fuzz test at the end reads the bundled GSM8K sample.
"""

import asyncio
import random
from fractions import Fraction

import pytest

from augmenters import answer_aug, perturb
from augmenters.base import AugmentConfig, finish_response, reply_reason
from augmenters.numbers_in_text import find_numbers
from augmenters.perturb import check_program, program_from_marks, solution_for
from augmenters.perturb_draw import DEFAULT_BAND, keeps_order, sample_perturbation
from augmenters.program_eval import ProgramError, answer_string, run_program
from core.answers import explicit_answer
from core.datasets import load_problems
from core.llm.base import Completion, UsageCounter
from core.schemas import samples_frame
from filters.answer_check import check_answers


def _problem(question: str, solution: str, calculations: list[str], answer: str, pid: str = "own") -> dict:
    return {"id": pid, "question": question, "solution": solution, "calculations": calculations, "answer": answer}


def _draws(problem: dict, n: int = 30) -> list:
    outcome = program_from_marks(problem)
    assert outcome.checked is not None, outcome.reason
    draws = [sample_perturbation(outcome.checked, problem["question"], random.Random(seed)) for seed in range(n)]
    return [(p, outcome) for p in draws if p is not None]


# --- class 1: one written value standing for two quantities ------------------------------------------------------


def test_class1_a_value_used_for_two_operands_stays_fixed():
    # "2 hours each way": the solution's 2 * 2 is the drive and the two ways; neither may move with the other
    trip = _problem(
        "Nina drives 2 hours each way to the lake and swims 3 times as long as her total driving time. "
        "How many hours does the whole trip take?",
        "She drives 2*2 = 4 hours.\nShe swims 4*3 = 12 hours.\nThe trip takes 4+12 = 16 hours.",
        ["2*2=4", "4*3=12", "4+12=16"],
        "16",
    )
    draws = _draws(trip)
    assert draws
    for p, _ in draws:
        assert "2 hours each way" in p.question
        times = find_numbers(p.question)[1].value
        assert times != 3 and p.answer == 4 + 4 * times


def test_class1_half_of_one_number_equal_to_another_is_refused():
    # half of $12 is 6 and she saves for 6 days: the marks cannot tell the two 6s apart
    saving = _problem(
        "Tia gets $12 a day and saves half of it every day for 6 days. How much does she save?",
        "Half of $12 is $6.\nShe saves 6*6 = 36 dollars.",
        ["6*6=36"],
        "36",
    )
    assert program_from_marks(saving).checked is None
    # a prose calculation of 6 from 12 beside a mark computing 6 from the week: both cannot be the same quantity
    week = _problem(
        "Tia gets $12 a day and saves half of it on every day of the week but one. How much does she save?",
        "Half of $12 is (1/2)*$12 = $6\nShe saves on 7-1 = 6 days\nShe saves 6*6 = 36 dollars",
        ["7-1=6", "6*6=36"],
        "36",
    )
    outcome = program_from_marks(week)
    assert outcome.checked is None or not outcome.checked.groups


# --- class 2: literals that should have been inputs ------------------------------------------------------------


def test_class2_a_number_worked_out_in_prose_is_refused_for_marks_and_model_programs():
    pens = _problem(
        "Ben has 2 red pens, twice as many blue pens and 3 more green pens than blue ones. How many pens?",
        "He has 1+4+5 = 10 pens.",
        ["1+4+5=10"],
        "10",
    )
    assert program_from_marks(pens).reason == "unexplained_literal"
    with pytest.raises(ProgramError) as refused:
        check_program("red = 2\nanswer = 1 + red * 2 + 5", pens["question"], "10")
    assert refused.value.reason == "unexplained_literal"


def test_class2_a_written_count_used_as_a_literal_stays_fixed():
    question = "Kim makes 5 return trips to a farm 12 km away. How many km does she drive?"
    checked = check_program("distance = 12\nanswer = 5 * 2 * distance", question, "120")
    assert list(checked.groups) == [12]  # 5 is a literal of the program and "return trip" gives the 2


# --- class 3: a percentage used as a divisor --------------------------------------------------------------------


def test_class3_a_percentage_enters_only_as_a_percentage():
    bag = _problem(
        "Mia buys a bag for $40 and accessories for 10% of the price of the bag. How much does she spend?",
        "The accessories cost 40/10 = 4 dollars.\nShe spends 40+4 = 44 dollars.",
        ["40/10=4", "40+4=44"],
        "44",
    )
    assert program_from_marks(bag).reason == "percent_as_number"
    with pytest.raises(ProgramError) as refused:
        check_program("bag = 40\nshare = 10\nanswer = bag + bag / share", bag["question"], "44")
    assert refused.value.reason == "percent_as_number"
    checked = check_program("bag = 40\nshare = 10\nanswer = bag + bag * share / 100", bag["question"], "44")
    for seed in range(20):
        p = sample_perturbation(checked, bag["question"], random.Random(seed))
        bag_price, share = (n.value for n in find_numbers(p.question))
        assert p.answer == bag_price + bag_price * share / 100


# --- class 4: a wrong reference answer ----------------------------------------------------------------------------


def test_a_result_no_later_mark_uses_refuses_the_problem():
    # the reference goes on from a rounded copy of its result ($12 of $12.25), which new prices would not follow;
    # the 12 passes for a constant because "month" may stand for 12
    coins = _problem(
        "Ben had $30 for the month and spent $17.75 on a kite. He has only quarters left. "
        "How many quarters does he have?",
        "He has $30 - $17.75 = $12.25 left.\nThere are 4 quarters in $1.00 so $12 is 12 x 4 = 48 quarters.\n"
        "25 cents is 1 quarter.\nSo he has 48 quarters + 1 quarter = 49 quarters.",
        ["30-17.75=12.25", "12*4=48", "48+1=49"],
        "49",
    )
    assert program_from_marks(coins).reason == "unused_result"


def test_class4_a_count_the_marks_never_use_refuses_the_problem():
    # the reference forgot the 2 later packs (gold 18, not 30): its marks never use the 2
    stickers = _problem(
        "Zoe buys 3 packs of 6 stickers and later 2 more packs. How many stickers does she have?",
        "She has 3*6 = 18 stickers.",
        ["3*6=18"],
        "18",
    )
    assert program_from_marks(stickers).reason == "unused_number"
    # the last mark does not compute the gold answer
    wrong = _problem("Ana has 5 bags of 8 apples. How many apples?", "5*8 = 40", ["5*8=40"], "45")
    assert program_from_marks(wrong).reason == "program_mismatch"


# --- class 5: new numbers that make the question ambiguous --------------------------------------------------------


def test_class5_order_between_numbers_is_kept_so_a_difference_keeps_its_sign():
    ages = _problem(
        "Rita is 42 years old and her niece is 12 years old. How many years older than her niece is Rita?",
        "Rita is 42-12 = 30 years older.",
        ["42-12=30"],
        "30",
    )
    draws = _draws(ages)
    assert len(draws) > 10
    for p, _ in draws:
        rita, niece = (n.value for n in find_numbers(p.question))
        assert rita > niece and p.answer == rita - niece > 0


def test_class5_a_count_the_other_numbers_fix_is_refused():
    # "the other 5" is what 10 - 4 - 1 leaves: new values for the others would contradict it
    question = "A box holds 10 pens: 4 red, 1 black and the other 5 blue. Sam buys 3 boxes. How many blue pens?"
    with pytest.raises(ProgramError) as refused:
        check_program("box = 10\nred = 4\nboxes = 3\nanswer = boxes * (box - red - 1)", question, "15")
    assert refused.value.reason == "derived_number"


# --- class 6: unrealistic values -----------------------------------------------------------------------------------


def test_class6_new_values_stay_in_the_band_and_keep_conversions_and_ages():
    run = _problem(
        "One mile equals 1.6 km. Kai is 40 years old and runs 5 miles a day. How many km does he run in 10 days?",
        "He runs 5*10 = 50 miles.\nThat is 50*1.6 = 80 km.",
        ["5*10=50", "50*1.6=80"],
        "80",
    )
    outcome = program_from_marks(run)
    assert outcome.reason == "unused_number"  # the age is never used
    run["question"] = run["question"].replace("Kai is 40 years old and runs", "Kai runs")
    for p, _ in _draws(run):
        assert "equals 1.6 km" in p.question
        for old, new in p.replacements.items():
            assert DEFAULT_BAND[0] * old <= new <= DEFAULT_BAND[1] * old


def test_class6_taking_away_never_exceeds_what_there_is_and_nothing_drops_to_zero():
    cards = _problem(
        "Leo has 30 cards and gives 24 of them to his sister. How many cards does he keep?",
        "He keeps 30-24 = 6 cards.",
        ["30-24=6"],
        "6",
    )
    draws = _draws(cards, 60)
    assert draws
    for p, _ in draws:
        have, given = (n.value for n in find_numbers(p.question))
        assert have > given and p.answer == have - given >= Fraction(6, 4)  # at least a quarter of the original


def test_class6_a_stack_the_words_call_bigger_stays_bigger():
    pancakes = _problem(
        "A short stack has 3 pancakes and a big stack has 5 pancakes. Jo orders 2 short stacks and 4 big stacks. "
        "How many pancakes does she get?",
        "Short stacks: 2*3 = 6 pancakes.\nBig stacks: 4*5 = 20 pancakes.\nIn all 6+20 = 26 pancakes.",
        ["2*3=6", "4*5=20", "6+20=26"],
        "26",
    )
    orders = program_from_marks(pancakes).checked.orders
    assert keeps_order(orders, {}) and not keeps_order(orders, {Fraction(3): Fraction(6)})
    for p, _ in _draws(pancakes):
        short, big, _, _ = (n.value for n in find_numbers(p.question))
        assert short < big


# --- solutions written from the reference -------------------------------------------------------------------------


def test_the_reference_solution_is_rewritten_with_the_new_numbers():
    baker = _problem(
        "A baker fills 6 trays with 14 rolls each. She sells 50 rolls. How many rolls are left?",
        "She bakes 6*14 = 84 rolls.\nShe has 84-50 = 34 rolls left.",
        ["6*14=84", "84-50=34"],
        "34",
    )
    for p, outcome in _draws(baker):
        trays, rolls, sold = (n.value for n in find_numbers(p.question))
        text = solution_for(baker, outcome.marks, p)
        baked = trays * rolls
        assert text == (
            f"She bakes {trays}*{rolls} = {baked} rolls.\nShe has {baked}-{sold} = {baked - sold} rolls left.\n"
            f"The answer is: {answer_string(p.answer)}"
        )


def test_augment_offline_keeps_rows_verified_by_the_program():
    baker = _problem(
        "A baker fills 6 trays with 14 rolls each. She sells 50 rolls. How many rolls are left?",
        "She bakes 6*14 = 84 rolls.\nShe has 84-50 = 34 rolls left.",
        ["6*14=84", "84-50=34"],
        "34",
    )
    rows = asyncio.run(perturb.augment(baker, _NoModel(), AugmentConfig(perturb_programs="solution")))
    assert len(rows) == 2 and all(r["keep"] and r["verified_by"] == "program" for r in rows)
    checked = check_answers(samples_frame(rows))
    assert checked["keep"].to_list() == [True, True]
    for row in rows:
        assert row["response"].endswith(f"The answer is: {row['target']}") and row["answer"] == row["target"]


class _NoModel:
    """A backend that must not be asked: the reference solutions need no model."""

    name = "none"
    usage = UsageCounter()

    async def chat(self, messages, n=1, params=None):
        raise AssertionError("no model call expected")

    def close(self) -> None:
        pass


# --- reply hygiene ---------------------------------------------------------------------------------------------------


class _CutOff:
    """Replies that end in the right number, but cut off by max_tokens."""

    name = "cutoff"
    usage = UsageCounter()

    async def chat(self, messages, n=1, params=None):
        return [Completion(text="She bakes 6 * 14 = 84 rolls and has 84 - 50 = 34", finish_reason="length")] * n

    def close(self) -> None:
        pass


def test_a_truncated_reply_is_dropped_even_when_its_last_number_is_right():
    problem = _problem("A baker fills 6 trays with 14 rolls each. She sells 50. How many are left?", "", [], "34")
    rows = asyncio.run(answer_aug.augment(problem, _CutOff(), AugmentConfig(ansaug_n=2)))
    assert [r["reason"] for r in rows] == ["truncated", "truncated"] and not any(r["keep"] for r in rows)
    assert reply_reason(Completion("so 34", "stop")) == "no_explicit_answer"
    assert reply_reason(Completion("so 34\nThe answer is: 34", "stop")) is None


def test_an_answer_line_is_never_duplicated_and_never_guessed():
    assert finish_response("84 - 50 = 34. The answer is: 34", "34") == "84 - 50 = 34. The answer is: 34"
    assert finish_response("84 - 50 = 34\n#### 34", "34") == "84 - 50 = 34\n#### 34\nThe answer is: 34"
    assert finish_response("84 - 50 = 34", "34") == "84 - 50 = 34"
    assert explicit_answer("84 - 50 = 34") is None and explicit_answer("so \\boxed{34}.") == "34"
    rows = [
        {
            "id": str(i),
            "parent_id": "p",
            "type": "GSM_AnsAug",
            "variant": "s",
            "query": "q",
            "response": response,
            "answer": "34",
            "target": "34",
            "original_question": "q",
            "model": "m",
            "verified_by": None,
            "score": None,
            "keep": True,
            "reason": None,
        }  # fmt: skip
        for i, response in enumerate(["84 - 50 = 34", "84 - 50 = 34\nThe answer is: 34"])
    ]
    checked = check_answers(samples_frame(rows))
    assert checked["reason"].to_list() == ["no_explicit_answer", None]
    assert checked["verified_by"].to_list() == [None, "gold"]


# --- fuzz: the draw invariants over the bundled sample ---------------------------------------------------------------


def test_draw_invariants_hold_over_the_bundled_sample():
    problems = load_problems("sample").to_dicts()
    cfg = AugmentConfig(perturb_n=3, seed=7)
    checked_draws = 0
    for problem in problems:
        outcome = program_from_marks(problem)
        if outcome.checked is None:
            continue
        original = dict(outcome.checked.original.trace)
        for p in perturb.draw_perturbations(problem, outcome.checked, cfg):
            if p is None:
                continue
            checked_draws += 1
            assert keeps_order(outcome.checked.orders, p.replacements)
            for old, new in p.replacements.items():
                assert DEFAULT_BAND[0] * old <= new <= DEFAULT_BAND[1] * old and new != old
            rerun = dict(run_program(outcome.checked.program, p.values).trace)
            for name, before in original.items():
                after = Fraction(rerun[name])
                assert Fraction(before).denominator != 1 or after.denominator == 1, (problem["id"], name)
                assert before < 0 or after >= 0, (problem["id"], name)
            text = solution_for(problem, outcome.marks, p)
            assert "<<" not in text and text.endswith(f"The answer is: {answer_string(p.answer)}")
    assert checked_draws > 150  # most of the sample's problems with a program give draws
