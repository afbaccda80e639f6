import asyncio
import random
import re
from fractions import Fraction

import pytest
from scripted_llm import ScriptedLLM

from augmenters import perturb
from augmenters.base import SOLVER_SYSTEM, AugmentConfig
from augmenters.numbers_in_text import find_numbers, format_like, replace_numbers
from augmenters.perturb import (
    PROGRAM_SYSTEM,
    check_program,
    extract_program,
)
from augmenters.perturb_draw import sample_perturbation, value_choices
from augmenters.program_eval import ProgramError, answer_string
from core.answers import answers_equal

NATALIA = {
    "id": "gsm8k-train-0",
    "question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?",
    "answer": "72",
    "solution": "Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips.",
    "source": "gsm8k",
    "calculations": ["48/2=24", "48+24=72"],
}
MODEL_PROGRAMS = AugmentConfig(perturb_programs="model")  # these tests are about the programs a model writes
NATALIA_PROGRAM = "april = 48\nmay = april / 2\nanswer = april + may"


# --- numbers in the question ------------------------------------------------------------------------------------


def test_a_number_that_appears_twice_is_replaced_in_both_places_and_nothing_else():
    text = "Tom packs 3 red and 3 blue bags of 12 apples. On the 2nd day he sells 5kg at 3:30 for $1,200.50."
    new = replace_numbers(text, {Fraction(3): Fraction(7)})
    assert new == "Tom packs 7 red and 7 blue bags of 12 apples. On the 2nd day he sells 5kg at 3:30 for $1,200.50."


def test_numbers_inside_words_and_other_notations_are_not_numbers():
    text = "The 2nd and 3rd runners, COVID-19, 5kg, 3:30, 1/2 cup, v1.2.3 and a 120-page book cost $1,200.50 or 25%."
    found = [(n.text, n.value, n.percent) for n in find_numbers(text)]
    assert found == [("120", 120, False), ("1,200.50", Fraction("1200.5"), False), ("25", 25, True)]
    assert replace_numbers(text, {Fraction(2): 9, Fraction(3): 9, Fraction(19): 9, Fraction(5): 9}) == text


def test_format_keeps_the_written_style():
    [money] = find_numbers("It costs $1,200.50 today.")
    assert format_like(Fraction(3000), money) == "3,000.00"
    assert format_like(Fraction("45.5"), money) == "45.50"
    with pytest.raises(ValueError):
        format_like(Fraction(1, 3), money)


# --- programs -----------------------------------------------------------------------------------------------------


def test_extract_program_from_a_fenced_reply_without_prints_or_prose():
    reply = "Here it is:\n```python\nx = 4\ny = x * 2\nanswer = y + 1\nprint(answer)\n```\nThe answer is 9."
    assert extract_program(reply) == "x = 4\ny = x * 2\nanswer = y + 1"
    assert extract_program("x = 4\nanswer = (x +\n    1)\nSo it is 5.") == "x = 4\nanswer = (x +\n    1)"
    assert extract_program("I cannot write code.") is None


def test_program_reproducing_gold_is_accepted_with_its_perturbable_inputs():
    checked = check_program(NATALIA_PROGRAM, NATALIA["question"], NATALIA["answer"])
    assert checked.groups == {Fraction(48): ["april"]}
    assert checked.original.answer == 72


def test_program_not_reproducing_gold_is_rejected():
    with pytest.raises(ProgramError) as rejected:
        check_program("april = 48\nmay = april * 2\nanswer = april + may", NATALIA["question"], NATALIA["answer"])
    assert rejected.value.reason == "program_mismatch"


def test_program_that_writes_a_computed_value_as_a_number_is_rejected():
    # Reproduces 72, but `may` would stay 24 whatever April's number becomes.
    source = "april = 48\nmay = 24\nanswer = april + may"
    with pytest.raises(ProgramError) as rejected:
        check_program(source, NATALIA["question"], NATALIA["answer"], NATALIA["calculations"])
    assert rejected.value.reason == "program_hardcodes_result" and "24" in str(rejected.value)
    with pytest.raises(ProgramError) as rejected:
        check_program("april = 48\nanswer = 72 + april - april", NATALIA["question"], NATALIA["answer"])
    assert rejected.value.reason == "program_hardcodes_result"  # the gold answer itself, even without a solution


def test_inputs_not_in_the_text_or_ambiguous_with_a_literal_stay_fixed():
    question = "A box holds 4 pens. Sam buys 4 boxes and 10 more pens. How many pens does he have?"
    # `boxes` is 4 and 4 also appears as a literal: the text cannot tell the two 4s apart, so 4 stays.
    checked = check_program("boxes = 4\nextra = 10\nminutes = 60\nanswer = boxes * 4 + extra", question, "26")
    assert checked.groups == {Fraction(10): ["extra"]}
    with pytest.raises(ProgramError) as rejected:
        check_program("hours = 2\nanswer = hours * 60", "How many minutes are in two hours?", "120")
    assert rejected.value.reason == "no_perturbable_inputs"


# --- sampling new values --------------------------------------------------------------------------------------------


def test_value_sampling_is_deterministic_for_a_seed():
    checked = check_program(NATALIA_PROGRAM, NATALIA["question"], NATALIA["answer"])
    draws = [sample_perturbation(checked, NATALIA["question"], random.Random(seed)) for seed in range(20)]
    again = [sample_perturbation(checked, NATALIA["question"], random.Random(seed)) for seed in range(20)]
    assert draws == again
    assert len({d.values["april"] for d in draws}) > 5  # different seeds give different values


def test_sampled_values_respect_kind_scale_and_wholeness():
    checked = check_program(NATALIA_PROGRAM, NATALIA["question"], NATALIA["answer"])
    for seed in range(50):
        p = sample_perturbation(checked, NATALIA["question"], random.Random(seed))
        april = p.values["april"]
        assert isinstance(april, int) and 24 <= april <= 96 and april != 48  # within x0.5 to x2
        assert april % 2 == 0  # `may = april / 2` was whole, so it must stay whole
        assert p.answer == april + april // 2
        assert p.question == NATALIA["question"].replace("48", str(april))


def test_constraints_keep_answers_whole_and_not_negative():
    question = "Ann has 30 stickers and gives away 24. She shares the rest among 3 friends. How many does each get?"
    checked = check_program("have = 30\ngiven = 24\nfriends = 3\nanswer = (have - given) / friends", question, "2")
    for seed in range(40):
        p = sample_perturbation(checked, question, random.Random(seed))
        assert p is not None
        have = p.values.get("have", 30)
        given = p.values.get("given", 24)
        friends = p.values.get("friends", 3)
        assert have - given >= 0 and (have - given) % friends == 0
        assert p.answer == (have - given) // friends


def test_decimals_and_percentages_keep_their_form():
    question = "A shirt costs $12.50 and is 30% off. What is the price now?"
    checked = check_program("price = 12.50\noff = 30\nanswer = price * (100 - off) / 100", question, "8.75")
    # x0.75 to x1.5 of $12.50 (the default band), cents stay multiples of 10 as in 12.50
    assert value_choices(Fraction("12.5"), checked.styles[Fraction("12.5")]) == (940, 1875, 10, 100)
    for seed in range(20):
        p = sample_perturbation(checked, question, random.Random(seed))
        assert re.fullmatch(r"A shirt costs \$\d+\.\d\d and is \d+% off\. What is the price now\?", p.question)
        assert p.values.get("off", 30) <= 100
        assert p.answer == Fraction(p.values.get("price", Fraction("12.5"))) * (100 - p.values.get("off", 30)) / 100


# --- the augmenter, with a scripted model --------------------------------------------------------------------------


def _scripted(program_reply: str, wrong_solutions: bool = False) -> ScriptedLLM:
    def reply(messages, k):
        if messages[0]["content"] == PROGRAM_SYSTEM:
            return program_reply
        assert messages[0]["content"] == SOLVER_SYSTEM
        april = int(re.search(r"to (\d+) of", messages[-1]["content"]).group(1))
        result = april + april // 2 + (k + 1 if wrong_solutions else 0)
        steps = f"In May she sold {april} / 2 = {april // 2}.\nIn total {april} + {april // 2} = {result}."
        return f"{steps}\nThe answer is: {result}"

    return ScriptedLLM(reply)


def test_augment_makes_perturbed_rows_with_exact_targets():
    cfg = AugmentConfig(perturb_n=3, muggle_k=2, perturb_programs="model")
    llm = _scripted(f"```python\n{NATALIA_PROGRAM}\n```")
    rows = asyncio.run(perturb.augment(NATALIA, llm, cfg))
    assert [r["variant"] for r in rows] == ["draw0", "draw1", "draw2"]
    assert len({r["query"] for r in rows}) == 3
    for row in rows:
        april = int(re.search(r"to (\d+) of", row["query"]).group(1))
        assert row["type"] == "GSM_Perturbed" and row["keep"] and row["reason"] is None
        assert row["target"] == answer_string(Fraction(3 * april, 2)) == row["answer"]
        assert row["response"].endswith(f"The answer is: {row['target']}")
        assert row["score"] == 1.0 and row["verified_by"] is None
    assert asyncio.run(perturb.augment(NATALIA, _scripted(f"```python\n{NATALIA_PROGRAM}\n```"), cfg)) == rows


def test_augment_keeps_wrong_solutions_for_the_answer_filter_to_drop():
    rows = asyncio.run(perturb.augment(NATALIA, _scripted(NATALIA_PROGRAM, wrong_solutions=True), MODEL_PROGRAMS))
    assert all(r["answer"] != r["target"] and r["score"] == 0.0 for r in rows)


@pytest.mark.parametrize(
    ("program_reply", "reason"),
    [
        ("I think the answer is 72.", "no_program"),
        ("```python\nimport os\nanswer = 72\n```", "program_refused"),
        ("```python\napril = 48\nanswer = april / 0\n```", "program_error"),
        ("```python\napril = 48\nanswer = april * 2\n```", "program_mismatch"),
        ("```python\napril = 48\nmay = 24\nanswer = april + may\n```", "program_hardcodes_result"),
        ("```python\nclips = 36\nanswer = clips * 2\n```", "no_perturbable_inputs"),
        ("```python\nfriends = 6\nanswer = friends * 12\n```", "unexplained_literal"),
    ],
)
def test_augment_reports_why_a_problem_has_no_program(program_reply, reason):
    rows = asyncio.run(perturb.augment(NATALIA, _scripted(program_reply), MODEL_PROGRAMS))
    assert len(rows) == 1
    assert rows[0]["reason"] == reason and rows[0]["keep"] is False and rows[0]["variant"] == "program"


# --- the augmenter, with the real bundled model --------------------------------------------------------------------


@pytest.mark.slow
def test_augment_with_the_bundled_model():
    from core.llm import make_backend

    llm = make_backend("local")
    try:
        cfg = AugmentConfig(perturb_n=1, perturb_k=2, max_tokens=96)
        rows = asyncio.run(perturb.augment(NATALIA, llm, cfg))  # the program comes from the marks
        written = asyncio.run(perturb.program_from_model(NATALIA, llm, cfg))  # and one from the model
    finally:
        llm.close()
    reference, row = rows  # the rewritten reference solution, then the model's
    assert reference["model"] == perturb.REFERENCE_MODEL and reference["verified_by"] == "program"
    assert row["type"] == "GSM_Perturbed" and row["model"] == llm.name and row["variant"] == "draw0:model"
    april = int(re.search(r"to (\d+) of", row["query"]).group(1))
    assert april != 48 and row["target"] == answer_string(Fraction(3 * april, 2))
    assert (row["score"] > 0) == (row["answer"] is not None and answers_equal(row["answer"], row["target"]))
    # the 135M model rarely writes a usable program: then it says why
    assert written.origin == "model"
    assert (written.checked is None) == (written.reason in {"no_program", "program_refused", "program_error",
                                                            "program_mismatch", "program_hardcodes_result",
                                                            "no_perturbable_inputs"})  # fmt: skip


def test_the_article_before_a_rewritten_number_fits_it():
    text = "She bought a 12 piece pizza and an 8-hour pass. A 18 dollar tip? It costs a $50 bill."
    new = replace_numbers(text, {Fraction(12): 80, Fraction(8): 10, Fraction(18): 11, Fraction(50): 80})
    assert new == "She bought an 80 piece pizza and a 10-hour pass. An 11 dollar tip? It costs a $80 bill."
    import doctest

    from augmenters import numbers_in_text

    assert doctest.testmod(numbers_in_text).failed == 0
