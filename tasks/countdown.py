r"""Countdown: reach a target from 3-6 given numbers with + - * /, using every number exactly once.

`generate` builds each problem from a random expression over random numbers, so every target is reachable (the
expression is the reference `solution`). `verify` reads the model's expression (the last `\boxed{...}`, else an
`<answer>` tag, else a last `The answer is: ...` line) and checks it with the restricted evaluator of
augmenters.program_eval (never `eval`): only integer literals, parentheses and the four operations; each given
number used exactly once and no other number; exact arithmetic, so `7 / 2 * 2` is 7 and division by zero is refused.

Levels (`--problems countdown:LEVEL`): a count of numbers 3-6, or easy (3 numbers up to 10), medium (4 up to 25),
hard (5 up to 50). More numbers and larger ones make the search wider.
"""

from __future__ import annotations

import ast
import hashlib
import random
import re
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction

import polars as pl

from augmenters.program_eval import Limits, ProgramError, parse_program, run_program
from core.errors import UserError
from core.schemas import PROBLEM_SCHEMA

DEFAULT_N = 200
DEFAULT_LEVEL = "3"
# level -> (how many numbers, largest number)
LEVELS: dict[str, tuple[int, int]] = {
    "3": (3, 10),
    "4": (4, 25),
    "5": (5, 50),
    "6": (6, 100),
    "easy": (3, 10),
    "medium": (4, 25),
    "hard": (5, 50),
}
MAX_TARGET = 1000
_OPS = ("+", "-", "*", "/")
# Bounds on what a model's expression may be, far above any honest answer.
_LIMITS = Limits(max_source_chars=300, max_nodes=200, max_depth=40, max_bits=64, max_steps=400, timeout_s=0.2)

SCHEMA = pl.Schema({**PROBLEM_SCHEMA, "numbers": pl.List(pl.Int64), "target": pl.Int64, "difficulty": pl.String})


# --- generation ---------------------------------------------------------------------------------------------------


def _level(level: int | str) -> tuple[int, int]:
    key = str(level).strip().lower()
    if key not in LEVELS:
        raise UserError(f"Countdown has no level {level!r}; choose one of {', '.join(LEVELS)}.")
    return LEVELS[key]


def _combine(rng: random.Random, items: list[tuple[str, Fraction]]) -> tuple[str, Fraction] | None:
    """Join the (expression, value) items pairwise at random until one is left; None when a step is not clean
    (a negative or fractional intermediate value, a division by zero)."""
    items = list(items)
    while len(items) > 1:
        a, b = rng.sample(range(len(items)), 2)
        (ea, va), (eb, vb) = items[a], items[b]
        op = rng.choice(_OPS)
        if op == "/" and (vb == 0 or va % vb != 0):
            op = rng.choice(("+", "*"))
        value = {"+": va + vb, "-": va - vb, "*": va * vb, "/": va / vb if vb else None}[op]
        if value is None or value < 0 or value.denominator != 1:
            return None
        items = [x for i, x in enumerate(items) if i not in (a, b)] + [(f"({ea} {op} {eb})", value)]
    return items[0]


def _strip_outer(expr: str) -> str:
    if expr.startswith("(") and expr.endswith(")"):
        depth = 0
        for i, ch in enumerate(expr):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(expr) - 1:
                return expr
        return expr[1:-1]
    return expr


def make_problem(rng: random.Random, count: int, largest: int) -> tuple[list[int], int, str]:
    """(numbers, target, solution expression): numbers drawn from 1..largest, target the value of a random
    expression over all of them (a positive integer up to MAX_TARGET, not equal to one of the numbers)."""
    while True:
        numbers = [rng.randint(1, largest) for _ in range(count)]
        built = _combine(rng, [(str(x), Fraction(x)) for x in numbers])
        if built is None:
            continue
        expr, value = built
        if 0 < value <= MAX_TARGET and value not in numbers:
            return numbers, int(value), _strip_outer(expr)


def question_text(numbers: Sequence[int], target: int) -> str:
    listed = ", ".join(str(x) for x in numbers)
    return (
        f"Using the numbers {listed}, make {target}. Use each number exactly once and only the operations "
        "+, -, * and /, with parentheses as needed. Write the final expression (without the result) inside "
        "\\boxed{}, for example \\boxed{(8 - 2) * 5}."
    )


def generate(n: int, level: int | str = DEFAULT_LEVEL, seed: int = 0) -> pl.DataFrame:
    """`n` solvable Countdown problems, the same for the same (n, level, seed).

    >>> problems = generate(2, level=3, seed=0)
    >>> problems.height, problems["numbers"].list.len().to_list()
    (2, [3, 3])
    """
    if n <= 0:
        raise UserError("The number of Countdown problems must be positive.")
    count, largest = _level(level)
    rng = random.Random(f"countdown:{count}:{largest}:{seed}")
    rows: list[dict] = []
    seen: set[str] = set()
    for _ in range(50 * n):
        if len(rows) == n:
            break
        numbers, target, solution = make_problem(rng, count, largest)
        problem_id = "countdown-" + hashlib.sha256(f"{sorted(numbers)}={target}".encode()).hexdigest()[:16]
        if problem_id in seen:  # the same numbers and target drawn twice: one problem
            continue
        seen.add(problem_id)
        rows.append(
            {
                "id": problem_id,
                "question": question_text(numbers, target),
                "answer": str(target),
                "solution": solution,
                "source": f"countdown:{level}",
                "calculations": [],
                "numbers": numbers,
                "target": target,
                "difficulty": str(level),
            }
        )
    if len(rows) < n:
        raise UserError(f"Countdown level {level} has fewer than {n} distinct problems; ask for fewer.")
    return pl.DataFrame(rows, schema=SCHEMA)


# --- verification -------------------------------------------------------------------------------------------------

_BOXED = "\\boxed{"
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_ANSWER_LINE = re.compile(r"answer is\s*:?\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_SYMBOLS = {"\\times": "*", "\\cdot": "*", "\\div": "/", "×": "*", "·": "*", "÷": "/", "−": "-", "\\left": "",
            "\\right": "", "$": ""}  # fmt: skip


def _last_boxed(text: str) -> str | None:
    start = text.rfind(_BOXED)
    if start < 0:
        return None
    depth, i = 1, start + len(_BOXED)
    for j in range(i, len(text)):
        depth += text[j] == "{"
        depth -= text[j] == "}"
        if depth == 0:
            return text[i:j]
    return None


def extract_expression(text: str) -> str | None:
    r"""The expression a reply gives: the last `\boxed{}`, else the last `<answer>` tag, else a last "answer is" line;
    a trailing `= result` is dropped and LaTeX operators are read as + - * /.

    >>> extract_expression(r"So \boxed{(7 - 3) \times 5 = 20}"), extract_expression("no idea")
    ('(7 - 3) * 5', None)
    """
    found = _last_boxed(text)
    if found is None:
        tags = _ANSWER_TAG.findall(text)
        found = tags[-1] if tags else None
    if found is None:
        lines = _ANSWER_LINE.findall(text)
        found = lines[-1] if lines else None
    if found is None:
        return None
    for symbol, replacement in _SYMBOLS.items():
        found = found.replace(symbol, replacement)
    found = found.replace("{", "(").replace("}", ")").split("=")[0].strip().rstrip(".")
    return found or None


def check_expression(expr: str, numbers: Sequence[int], target: int) -> str | None:
    """None when `expr` uses each of `numbers` exactly once, no other number, only + - * / and equals `target`;
    else why not (a short reason).

    >>> check_expression("(7 - 3) * 5", [3, 5, 7], 20), check_expression("7 * 3", [3, 5, 7], 21)
    (None, 'numbers differ: missing 5')
    """
    if "\n" in expr or ";" in expr:
        return "not one expression"
    try:
        program = parse_program(f"answer = {expr}", _LIMITS)
    except ProgramError as exc:
        return f"refused: {exc.reason}"
    if len(program.tree.body) != 1 or not isinstance(program.tree.body[0], ast.Assign):
        return "not one expression"
    used: list[int] = []
    for node in ast.walk(program.tree.body[0].value):
        if isinstance(node, ast.BinOp):
            if not isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
                return f"operation {type(node.op).__name__} is not allowed"
        elif isinstance(node, ast.Constant):
            if type(node.value) is not int:
                return f"{node.value!r} is not a whole number"
            used.append(node.value)
        elif not isinstance(node, ast.Add | ast.Sub | ast.Mult | ast.Div):
            return f"{type(node).__name__} is not allowed"
    given, seen = Counter(int(x) for x in numbers), Counter(used)
    if seen != given:
        missing = sorted((given - seen).elements())
        extra = sorted((seen - given).elements())
        parts = ([f"missing {', '.join(map(str, missing))}"] if missing else []) + (
            [f"not given or used too often: {', '.join(map(str, extra))}"] if extra else []
        )
        return "numbers differ: " + "; ".join(parts)
    try:
        value = run_program(program, limits=_LIMITS).answer
    except ProgramError as exc:
        return f"refused: {exc.reason}"
    return None if value == target else f"equals {value}, not {target}"


def verify(text: str, numbers: Sequence[int] | None = None, target: int | str | None = None, **row) -> bool:
    r"""Is `text` a correct Countdown solution for the row's `numbers` and `target`?

    >>> verify(r"7 - 3 = 4, 4 * 5 = 20. \boxed{(7 - 3) * 5}", numbers=[3, 5, 7], target=20)
    True
    """
    if numbers is None or target is None or text is None:
        return False
    expr = extract_expression(text)
    return expr is not None and check_expression(expr, numbers, int(target)) is None


# --- rewards (TRL's signature) ------------------------------------------------------------------------------------


def _text(completion: str | list[dict[str, str]]) -> str:
    if isinstance(completion, str):
        return completion
    return completion[-1]["content"] if completion else ""


def countdown_reward(
    completions: Sequence, numbers: Sequence[Sequence[int]], target: Sequence[int], **kwargs
) -> list[float | None]:
    r"""1.0 when the completion's expression uses each number once and equals the target, else 0.0.

    >>> countdown_reward([r"\boxed{(7 - 3) * 5}", r"\boxed{7 * 3}"], numbers=[[3, 5, 7]] * 2, target=[20, 20])
    [1.0, 0.0]
    """
    return [
        1.0 if verify(_text(c), numbers=nums, target=t) else 0.0
        for c, nums, t in zip(completions, numbers, target, strict=True)
    ]


def countdown_format_reward(completions: Sequence, **kwargs) -> list[float | None]:
    r"""0.1 when the completion gives an expression in `\boxed{}` (right or wrong), else 0.0.

    >>> countdown_format_reward([r"\boxed{3 + 5}", "I give up"])
    [0.1, 0.0]
    """
    return [0.1 if _last_boxed(_text(c)) else 0.0 for c in completions]


REWARDS = {"countdown": countdown_reward, "countdown_format": countdown_format_reward}
