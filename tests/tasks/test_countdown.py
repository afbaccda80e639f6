"""Countdown: the generator only makes solvable problems; the verifier accepts legal expressions and refuses
illegal and hostile ones without running anything but the restricted evaluator."""

from __future__ import annotations

import pytest

from core.errors import UserError
from tasks import countdown
from tasks.countdown import check_expression, countdown_reward, extract_expression, generate, verify
from tasks.registry import task_problems, task_rewards

NUMS, TARGET = [3, 5, 7], 20


@pytest.mark.parametrize(
    "text",
    [
        r"\boxed{(7 - 3) * 5}",
        r"First 7 - 3 = 4, then 4 * 5 = 20. So \boxed{(7 - 3) \times 5 = 20}.",
        "<answer>5 * (7 - 3)</answer>",
        "The answer is: (7-3)*5",
        r"\boxed{\left(7 - 3\right) \cdot 5}",
    ],
)
def test_legal_expressions_are_accepted(text):
    assert verify(text, numbers=NUMS, target=TARGET)


def test_exact_arithmetic_and_division():
    assert verify(r"\boxed{(5 + 7) / 3}", numbers=NUMS, target=4)
    assert verify(r"\boxed{7 / 2 * 2 + 0 * 1}", numbers=[7, 2, 2, 0, 1], target=7)  # exact: 7 / 2 * 2 is 7


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("(7 - 3) * 5 + 3 - 3", "numbers differ"),  # a number twice (3 three times)
        ("(7 - 3) * 5 * 1", "numbers differ"),  # a foreign number
        ("7 * 3", "numbers differ: missing 5"),  # a number missing
        ("7 + 5 + 3", "equals 15, not 20"),  # wrong value
        ("5 / (7 - 7) + 3", "numbers differ"),  # 7 twice
    ],
)
def test_illegal_expressions_are_refused(expr, reason):
    result = check_expression(expr, NUMS, TARGET)
    assert result is not None and result.startswith(reason)
    assert not verify(rf"\boxed{{{expr}}}", numbers=NUMS, target=TARGET)


def test_division_by_zero_is_refused():
    assert check_expression("5 / (3 - 3) + 7", [5, 3, 3, 7], 20) == "refused: division_by_zero"


@pytest.mark.parametrize(
    "expr",
    [
        "2 ** 3 ** 1000",  # huge exponent: ** is not an allowed operation
        "9 ** 9 ** 9",
        "(" * 3000 + "1" + ")" * 3000,  # deep nesting
        "-(" * 100 + "1" + ")" * 100,
        "__import__('os').system('true')",
        "open(3)",
        "x.real + 3",
        "[3][0] + 5 + 7",
        "lambda: 3",
        "3 if 5 else 7",
        "3 < 5 < 7",
        "3.0 * 5 + 7",
        "True + 3 + 5 + 7",
        "3 // 5 + 7",
        "3 % 5 + 7",
        "-3 + 5 + 7",
        "'3' + 5",
        "3 + 5\nanswer = 20",
        "3; 5",
        "a = 3",
    ],
)
def test_hostile_expressions_are_refused_quickly(expr):
    result = check_expression(expr, NUMS, TARGET)
    assert result is not None
    assert not verify(rf"\boxed{{{expr}}}", numbers=NUMS, target=TARGET)


def test_extract_expression():
    assert extract_expression(r"try \boxed{1 + 2} then \boxed{(7 - 3) * 5}") == "(7 - 3) * 5"
    assert extract_expression(r"\boxed{7 \div 7}") == "7 / 7"
    assert extract_expression("I could not find one.") is None
    assert not verify("I could not find one.", numbers=NUMS, target=TARGET)
    assert not verify(r"\boxed{20}", numbers=NUMS, target=TARGET)  # the target alone is no solution


@pytest.mark.parametrize("level", ["3", "4", "5", "6", "easy", "medium", "hard"])
def test_generator_makes_only_solvable_problems(level):
    problems = generate(150, level=level, seed=7)
    assert problems.height == 150 and problems["id"].n_unique() == 150
    count = countdown.LEVELS[level][0]
    for row in problems.iter_rows(named=True):
        assert len(row["numbers"]) == count
        assert 0 < row["target"] <= countdown.MAX_TARGET and row["answer"] == str(row["target"])
        assert str(row["numbers"][0]) in row["question"] and str(row["target"]) in row["question"]
        assert check_expression(row["solution"], row["numbers"], row["target"]) is None, row


def test_generator_is_seeded():
    assert generate(20, level=4, seed=3).equals(generate(20, level=4, seed=3))
    assert not generate(20, level=4, seed=3).equals(generate(20, level=4, seed=4))


def test_bad_level_and_count_are_user_errors():
    with pytest.raises(UserError, match="no level"):
        generate(3, level="impossible")
    with pytest.raises(UserError, match="positive"):
        generate(0)


def test_registry_routes_countdown_and_rewards_take_columns():
    problems = task_problems("countdown:4", n=6, seed=1)
    assert problems.height == 6 and set(problems["difficulty"]) == {"4"}
    assert task_problems("countdown").height == countdown.DEFAULT_N
    rewards = task_rewards("countdown")
    rows = problems.to_dicts()
    completions = [[{"role": "assistant", "content": rf"\boxed{{{r['solution']}}}"}] for r in rows]
    kwargs = {key: [r[key] for r in rows] for key in rows[0]}
    assert rewards["countdown"](completions, **kwargs) == [1.0] * 6
    assert rewards["countdown_format"](["no box"] + completions[1:], **kwargs) == [0.0] + [0.1] * 5
    assert countdown_reward(["\\boxed{1}"], numbers=[[1, 2, 3]], target=[6]) == [0.0]
