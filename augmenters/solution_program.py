"""A perturb program read off a GSM8K reference solution's calculator marks, with no model at all.

GSM8K solutions mark each calculation: "Natalia sold 48/2 = <<48/2=24>>24 clips in May ... 48+24 = <<48+24=72>>72".
Each mark becomes one statement, and every number in it becomes a name where we can tell what it is:

    x1 = 48              # a number written in the question: an input
    step1 = x1 / 2       # "2" is not in the question: a constant ("half") stays a literal
    step2 = x1 + step1   # "24" is the result of an earlier mark
    answer = step2       # the last mark, which must compute the gold answer

A number in a mark must be one of: the result of an earlier mark, a number written in the question, a percentage
of the question written as a fraction (20% as 0.2 becomes `x / 100`), a common constant (`CONSTANTS`: small
counts, 60 minutes, 52 weeks, 100 cents...) or a number the question's words give ("five", "a third"). The
problem gets no program when we cannot tell what a number is:
- `unexplained_number`: none of those, or a number the solution computes in prose ("100% - 40% = 60%") without
  a mark; as a literal it would not follow new inputs;
- `ambiguous_number`: both an earlier result and a number the question gives (written, or meant by a word such
  as "a third" or "percentage"), or the result of two different marks;
- `program_mismatch`: the last mark does not compute the gold answer (the solution ends in prose).
The program then goes through the same check as a model's (`perturb.check_program`): it must reproduce the gold
answer on the original numbers, and the numbers it may change are chosen there.

Parsing a mark uses `ast.parse` on its left side only to read the arithmetic; nothing is ever evaluated here.
"""

from __future__ import annotations

import ast
import re
from fractions import Fraction

from augmenters.numbers_in_text import find_numbers, implied_values
from augmenters.program_eval import DEFAULT_LIMITS, ProgramError
from core.answers import parse_number
from core.numbers import parse_decimal

_EQUALS_RE = re.compile(r"=\s*\$?\s*(\d[\d,]*(?:\.\d+)?)")
_ARITHMETIC = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.operator, ast.unaryop)

# Counts and unit sizes a solution uses without the question writing them: half, twice, a dozen, 60 minutes...
CONSTANTS = frozenset(
    [Fraction(n) for n in range(1, 13)]
    + [Fraction(n) for n in (16, 20, 24, 30, 31, 36, 52, 60, 100, 365, 1000, 3600)]
    + [Fraction(1, 2), Fraction(1, 4), Fraction(3, 4), Fraction(1, 10), Fraction(1, 20), Fraction(1, 100)]
)


def read_marks(calculations: list[str] | None) -> list[tuple[str, Fraction | None]]:
    """Calculator marks ("48/2=24") as (left side, the result written on the right, or None if unreadable)."""
    out = []
    for mark in calculations or []:
        left, _, right = mark.rpartition("=")
        out.append((left.strip(), parse_number(right) if left.strip() and "=" not in left else None))
    return out


class _Namer(ast.NodeTransformer):
    """Rewrites the numbers of one mark as names: earlier results, inputs, percentages; constants stay numbers."""

    def __init__(self, question: str, prose_results: set[Fraction]) -> None:
        written = find_numbers(question)
        self.inputs: dict[Fraction, str] = {}  # value written in the question -> input name
        self.literals: dict[str, str] = {}  # input name -> its number as written, without thousands commas
        for number in written:
            if number.value not in self.inputs:
                self.inputs[number.value] = f"x{len(self.inputs) + 1}"
                self.literals[self.inputs[number.value]] = number.text.replace(",", "")
        self.percents = {n.value / 100: self.inputs[n.value] for n in written if n.percent}
        self.implied = implied_values(question)  # "twice", "a third", "percentage", "five"...
        self.allowed = CONSTANTS | self.implied
        self.results: dict[Fraction, str] = {}  # result written in a mark -> the step that computed it
        self.expressions: dict[Fraction, str] = {}  # result -> the expression of that step
        self.repeated: set[Fraction] = set()  # results of more than one mark: we cannot tell which is meant
        self.prose_results = prose_results  # results of calculations written without a mark (none of a mark's)
        self.used: set[str] = set()
        self.mark = ""

    def name_for(self, value: Fraction) -> str | None:
        if value in self.repeated:
            raise ProgramError("ambiguous_number", f"{value} is the result of more than one calculation")
        if value in self.prose_results:
            raise ProgramError("unexplained_number", f"{value} is computed in the solution's prose, without a mark")
        if value in self.results:
            if value in self.inputs or value in self.implied:
                raise ProgramError("ambiguous_number", f"{value} is both a result and a number the question gives")
            return self.results[value]
        if value in self.inputs:
            self.used.add(self.inputs[value])
            return self.inputs[value]
        if value in self.percents:
            self.used.add(self.percents[value])
            return f"({self.percents[value]} / 100)"
        if value * 100 in self.results:  # 0.75 after "100 - 25 = 75": a constant, or that result as a share?
            raise ProgramError("ambiguous_number", f"{value} may be a constant or an earlier result / 100")
        if value in self.allowed:
            return None
        raise ProgramError("unexplained_number", f"{value} is neither in the question nor computed by a mark")

    def rewrite(self, mark: str) -> str:
        self.mark = mark
        try:  # bounded like a program: a 3,000-term mark would exhaust the stack of ast.parse / visit / unparse
            if len(mark) > DEFAULT_LIMITS.max_source_chars // 4:
                raise ValueError("too long")
            tree = ast.parse(mark, mode="eval")
            if not all(isinstance(n, _ARITHMETIC) for n in ast.walk(tree)):
                raise ValueError("not arithmetic")
            return ast.unparse(self.visit(tree))
        except ProgramError:
            raise
        except (Exception, RecursionError, MemoryError):  # noqa: BLE001 - any failure means: not a usable mark
            raise ProgramError("unreadable_mark", f"a calculator mark is not arithmetic: {mark[:60]!r}") from None

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if not isinstance(node.value, int | float) or isinstance(node.value, bool):
            raise ProgramError("unreadable_mark", f"a calculator mark is not arithmetic: {self.mark!r}")
        name = self.name_for(parse_decimal(ast.get_source_segment(self.mark, node) or repr(node.value)))
        return ast.copy_location(ast.parse(name, mode="eval").body, node) if name else node


def prose_results(solution: str | None) -> set[Fraction]:
    """Every number written right after an "=" in a solution ("100% - 40% = 60%" gives 60)."""
    values = {parse_number(m) for m in _EQUALS_RE.findall(solution or "")}
    return {v for v in values if v is not None}


def program_from_solution(question: str, solution: str | None, calculations: list[str] | None, gold: str) -> str:
    """Program source for `question` built from its solution's calculator marks (`PROBLEM_SCHEMA.calculations`,
    "48/2=24" each); a ProgramError(reason) when it cannot be built. `solution` is the solution's text without
    the marks: a number computed there without a mark ("100% - 40% = 60%") and used by a mark is refused."""
    marks = read_marks(calculations)
    if not marks:
        raise ProgramError("no_marks", "the reference solution has no calculator marks")
    namer = _Namer(question, prose_results(solution) - {result for _, result in marks})
    steps: list[str] = []
    for i, (left, result) in enumerate(marks, start=1):
        if result is None:
            raise ProgramError("unreadable_mark", f"calculator mark {i} has no number after '='")
        expression = namer.rewrite(left)
        if namer.expressions.setdefault(result, expression) != expression:
            namer.repeated.add(result)
        steps.append(f"step{i} = {expression}")
        namer.results.setdefault(result, f"step{i}")
    if marks[-1][1] != parse_number(gold):
        raise ProgramError("program_mismatch", f"the last calculator mark does not compute the gold answer {gold}")
    header = [f"{name} = {namer.literals[name]}" for name in namer.inputs.values() if name in namer.used]
    return "\n".join(header + steps + [f"answer = step{len(steps)}"])
