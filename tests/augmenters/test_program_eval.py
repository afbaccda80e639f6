import time
from fractions import Fraction

import pytest

from augmenters.program_eval import (
    Limits,
    ProgramError,
    answer_string,
    evaluate,
    parse_program,
    run_program,
)

# Each hostile program must be refused with this reason, quickly.
HOSTILE = [
    ("import os\nanswer = 1", "import"),
    ("from os import system\nanswer = 1", "import"),
    ("answer = __import__('os')", "dunder_name"),
    ("x = 1\nanswer = x.__class__", "attribute_access"),
    ("x = 1\nanswer = x.real", "attribute_access"),
    ("__builtins__ = 1\nanswer = 1", "dunder_name"),
    ("answer = open('/etc/passwd')", "forbidden_call"),
    ("answer = eval('1+1')", "forbidden_call"),
    ("answer = exec('x=1')", "forbidden_call"),
    ("answer = getattr(1, 'real')", "forbidden_call"),
    ("f = lambda: 1\nanswer = 1", "lambda"),
    ("answer = max([i for i in range(10**12)])", "comprehension"),
    ("answer = max(1, sum(i for i in range(10**12)))", "comprehension"),
    ("answer = {i: i for i in range(10**12)}", "comprehension"),
    ("answer = 10**10**10", "exponent_too_large"),
    ("answer = 2**255 * 2**255", "number_too_large"),
    ("x = 99999999999\nanswer = " + " * ".join(["x"] * 30), "number_too_large"),
    ("while True:\n    pass\nanswer = 1", "unbounded_loop"),
    ("answer = 0\nfor i in range(10**12):\n    answer += 1", "loop_too_long"),
    ("answer = 0\nfor i in range(1000):\n    for j in range(1000):\n        answer += 1", "too_many_steps"),
    ("def f():\n    return 1\nanswer = 1", "definition"),
    ("class A:\n    pass\nanswer = 1", "definition"),
    ("answer = 'text'", "bad_literal"),
    ("xs = [1, 2]\nanswer = xs[0]", "subscript"),
    ("print(1)\nanswer = 1", "bare_expression"),
    ("answer = 1 / 0", "division_by_zero"),
    ("answer = y + 1", "undefined_name"),
    ("answer = (", "syntax_error"),
    ("x = 5", "no_answer"),
    ("if 1 > 2:\n    answer = 1", "no_answer"),
    ("answer = round(1, 10**6)", "bad_round"),
    ("min = 3\nanswer = min", "reserved_name"),
    ("answer = " + "-" * 5000 + "1", "program_too_large"),
    ("answer = " + "+".join(["1"] * 1500), "program_too_deep"),
    ("a = 1\n" * 800 + "answer = 1", "program_too_large"),
]


@pytest.mark.parametrize(("source", "reason"), HOSTILE, ids=[r for _, r in HOSTILE])
def test_hostile_programs_are_refused_with_a_reason_and_fast(source, reason):
    start = time.monotonic()
    with pytest.raises(ProgramError) as refused:
        evaluate(source)
    assert refused.value.reason == reason
    assert str(refused.value).startswith(f"{reason}: ") and len(str(refused.value)) > len(reason) + 5
    assert time.monotonic() - start < 2.0


def test_wall_time_limit_stops_a_long_program():
    loops = "answer = 0\nfor i in range(1000):\n    for j in range(1000):\n        answer += 1"
    with pytest.raises(ProgramError) as refused:
        evaluate(loops, limits=Limits(max_steps=10**9, timeout_s=0.05))
    assert refused.value.reason == "timeout"


def test_refusal_happens_before_anything_runs():
    # The division by zero comes first in the program, but the import is refused while validating.
    with pytest.raises(ProgramError) as refused:
        evaluate("x = 1 / 0\nimport os\nanswer = 1")
    assert refused.value.reason == "import"


def test_arithmetic_is_exact():
    assert evaluate("a = 0.1\nb = 0.2\nanswer = a + b") == Fraction(3, 10)
    assert evaluate("answer = 1 / 3 * 3") == 1
    assert isinstance(evaluate("answer = 6 / 3"), int)
    assert evaluate("answer = 7 // 2 + 7 % 2") == 4
    assert evaluate("answer = 2 ** -2") == Fraction(1, 4)
    assert evaluate("answer = -(3 - 5)") == 2


def test_allowed_functions_and_rounding():
    assert evaluate("answer = min(3, 1.5, 2) + max(1, 4)") == Fraction(11, 2)
    assert evaluate("answer = abs(-2.5)") == Fraction(5, 2)
    assert evaluate("answer = round(5 / 2)") == 2  # Python rounds half to even
    assert evaluate("answer = round(2.675, 2)") == Fraction(268, 100)  # exact: 2.675 is exactly halfway
    assert evaluate("answer = int(7 / 2) + floor(-0.5) + ceil(0.2)") == 3


def test_conditionals_comparisons_and_bounded_loops():
    source = """
eggs = 24
boxes = eggs // 6
if boxes > 3 and not boxes == 10:
    bonus = 2
elif boxes > 1:
    bonus = 1
else:
    bonus = 0
total = 0
for day in range(7):
    if day == 5:
        break
    total += boxes
answer = total + bonus if 1 < boxes <= 4 else -1
"""
    assert evaluate(source) == 4 * 5 + 2


def test_inputs_are_the_literal_assignments_assigned_once():
    program = parse_program("apples = 48\nprice = 0.25\nrate = 2\nrate = 3\nhalf = apples / 2\nanswer = half * price")
    assert program.inputs == {"apples": 48, "price": Fraction(1, 4)}
    assert 2 in program.literals and 3 in program.literals and 48 not in program.literals


def test_run_with_new_inputs_and_trace():
    program = parse_program("apples = 48\nmay = apples / 2\nanswer = apples + may")
    assert run_program(program).answer == 72
    result = run_program(program, {"apples": 50})
    assert result.answer == 75
    assert result.trace == [("apples", 50), ("may", 25), ("answer", 75)]
    with pytest.raises(ProgramError) as refused:
        run_program(program, {"pears": 3})
    assert refused.value.reason == "bad_inputs"


def test_negative_input_literal():
    program = parse_program("temperature = -5\nanswer = temperature + 12")
    assert program.inputs == {"temperature": -5}
    assert run_program(program).answer == 7


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (12, "12"),
        (Fraction(19, 2), "9.5"),
        (Fraction(-1, 4), "-0.25"),
        (Fraction(1, 3), "1/3"),
        (Fraction(1, 20), "0.05"),
    ],
)
def test_answer_string(value, text):
    assert answer_string(value) == text


# --- issue 17: whatever the program, only a ProgramError leaves, quickly --------------------------------------


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("x = 1e99999999\nanswer = x", "number_too_large"),  # took minutes at parse time before
        ("x = 1e9999999\nanswer = x", "number_too_large"),
        ("x = 1e-80000\nanswer = x", "number_too_large"),
        ("x = 0x" + "f" * 100 + "\nanswer = x", "number_too_large"),
        ("x = 3\nanswer = 0\nfor i in range(0, x, 0):\n    answer = answer + 1", "bad_range"),  # was ValueError
        ("answer = 0\nfor i in range(2 ** 63):\n    answer = 1", "loop_too_long"),  # was OverflowError
        ("answer = 0\nfor i in range(-(2 ** 200), 0):\n    answer = 1", "loop_too_long"),
        ("answer = 0\nfor i in range(10, 0, -1):\n    answer = answer + i", None),
        ("answer = " + "+".join(["1"] * 3000), "program_too_large"),
        ("answer = " + "-" * 150 + "1", "program_too_deep"),
    ],
)
def test_hostile_programs_end_in_a_program_error(source, reason):
    started = time.monotonic()
    if reason is None:
        assert evaluate(source) == 55
    else:
        with pytest.raises(ProgramError) as info:
            evaluate(source)
        assert info.value.reason == reason
    assert time.monotonic() - started < 1.0


def test_a_chained_mark_of_3000_terms_is_an_unreadable_mark_not_a_recursion_error():
    from augmenters.solution_program import program_from_solution

    mark = "+".join(["1"] * 3000) + "=3000"
    with pytest.raises(ProgramError) as info:
        program_from_solution("Tom has 1 apple.", "...", [mark], "3000")
    assert info.value.reason == "unreadable_mark"
    with pytest.raises(ProgramError) as info:
        program_from_solution("Tom has 1 apple.", "...", ["1e99999999*1=5"], "5")
    assert info.value.reason == "unreadable_mark"


def test_any_runtime_failure_is_a_program_error(monkeypatch):
    import augmenters.program_eval as program_eval

    def broken(*_):
        raise MemoryError

    monkeypatch.setattr(program_eval._Machine, "binop", broken)
    with pytest.raises(ProgramError) as info:
        evaluate("x = 2\nanswer = x + 1")
    assert info.value.reason == "evaluation_failed"


def test_a_refused_candidate_lets_the_next_one_be_tried():
    import asyncio

    from scripted_llm import ScriptedLLM

    from augmenters import perturb
    from augmenters.base import AugmentConfig

    problem = {
        "id": "p-natalia",
        "question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
        "How many clips did Natalia sell altogether in April and May?",
        "answer": "72",
        "solution": "Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips.",
        "calculations": ["48/2=24", "48+24=72"],
    }
    candidates = [
        "```python\napril = 48\nanswer = 0\nfor i in range(0, april, 0):\n    answer = 1\n```",
        "```python\napril = 1e99999999\nanswer = april\n```",
        "```python\napril = 48\nmay = april / 2\nanswer = april + may\n```",
    ]
    llm = ScriptedLLM(lambda messages, k: candidates[k])
    outcome = asyncio.run(perturb.program_from_model(problem, llm, AugmentConfig(perturb_programs="model")))
    assert outcome.checked is not None and outcome.source.endswith("answer = april + may")
