"""A perturb program read off a GSM8K reference solution's calculator marks, with no model at all.

GSM8K solutions mark each calculation: "Natalia sold 48/2 = <<48/2=24>>24 clips in May ... 48+24 = <<48+24=72>>72".
Each mark becomes statements (one per operation, so that every intermediate quantity is named and checked when
new values are drawn), and every number in it becomes a name where we can tell what it is:

    x1 = 48              # a number written in the question: an input
    step1 = x1 / 2       # "2" is not written in the question, but "half" says it: a literal
    step2 = x1 + step1   # "24" is the result of an earlier mark
    answer = step2       # the last mark, which must compute the gold answer

A number in a mark must be one of: the result of an earlier mark, a number written in the question, a percentage
of the question written as a fraction (20% as 0.2 becomes `x / 100`), or a literal a word of the question gives
(`allowed_literals`: "half" 2, "a week" 7, "an hour" 60, "each way" 2, "five" 5, "%" 100, and 1). Anything else
refuses the problem, with a reason, rather than guess:
- `unexplained_literal`: a number neither the question, a word of it nor a mark explains ("1 + 4 + 5" worked out
  in prose);
- `unexplained_number`: a number the solution computes in prose ("100% - 40% = 60%") without a mark, or a number
  of the solution's text that follows nothing we know (the written solution could not be updated);
- `ambiguous_number`: both an earlier result and a number the question gives, or the result of two marks;
- `percent_as_number`: a number written with "%" used other than as a percentage ("30% of the price" as `x / 10`);
- `unused_number`: a number written in the question that no mark uses - a distractor at best, a sign of a wrong
  reference solution at worst (GSM8K has a few);
- `program_mismatch`: the last mark does not compute the gold answer (the solution ends in prose).
A small number written once but used as more than one operand ("a 2-hour drive each way" as `2 * 2`) cannot be
told apart from a count the words imply: it stays fixed (written into the program as a literal, not an input).

The solution's text is kept with a map from each number written in it to the quantity it shows (`MarkProgram.shown`),
so that a perturbed question gets its reference solution rewritten with the new values
(`augmenters.solution_text`; percentages are checked by `augmenters.percent_use`).
Parsing a mark uses `ast.parse` on its left side only to read the arithmetic; nothing is ever evaluated here.
"""

from __future__ import annotations

import ast
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from augmenters.numbers_in_text import find_numbers, implied_values, word_numbers
from augmenters.percent_use import computes_percent, is_percent_form, percent_misused
from augmenters.program_eval import DEFAULT_LIMITS, ProgramError, answer_string, parse_program, run_program
from augmenters.solution_text import EQUALS_RE, PROSE_LEFT_RE, shown_numbers
from core.answers import parse_number
from core.numbers import parse_decimal

_ARITHMETIC = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.operator, ast.unaryop)
# values that may be a count a word implies as well as a written quantity: one written value used twice is frozen
_COUNTLIKE = frozenset([Fraction(n) for n in range(13)] + [Fraction(n) for n in (16, 24, 30, 36, 52, 60, 100, 365)])
_HUNDRED = Fraction(100)
_CENTS_RE = re.compile(r"\s*cents?\b", re.I)


def allowed_literals(question: str) -> set[Fraction]:
    """Numbers a program may use without the question writing them: what its words stand for ("half" 2 and 1/2,
    "a week" 7, "%" 100, "five" 5, "three quarters" 3/4), and 1."""
    implied = implied_values(question) | {Fraction(1)}
    counts = word_numbers(question) | {Fraction(1)}
    return implied | {Fraction(p) / q for q in implied if q > 1 for p in counts if p < q}


def read_marks(calculations: list[str] | None) -> list[tuple[str, Fraction | None]]:
    """Calculator marks ("48/2=24") as (left side, the result written on the right, or None if unreadable)."""
    out = []
    for mark in calculations or []:
        left, _, right = mark.rpartition("=")
        out.append((left.strip(), parse_number(right) if left.strip() and "=" not in left else None))
    return out


def prose_results(solution: str | None) -> set[Fraction]:
    """Every number written right after an "=" in a solution ("100% - 40% = 60%" gives 60)."""
    values = {parse_number(m) for m in EQUALS_RE.findall(solution or "")}
    return {v for v in values if v is not None}


_OPERATOR_RE = re.compile(r"\d\s*\)?\s*[-+*/]\s*\(?\s*\d")


def prose_equations(solution: str | None) -> list[tuple[Fraction, str]]:
    """Calculations the solution writes in plain arithmetic ("64/4 = 16 units", "30% + 40% = 70%"), marked or not:
    (result, left side as a mark would write it), in order."""
    found: list[tuple[Fraction, str]] = []
    for m in EQUALS_RE.finditer(solution or ""):
        left = PROSE_LEFT_RE.search(solution[: m.start()]).group()
        left = left.lstrip(" .,+-*/x×÷)").replace("$", "").replace("%", "").replace(",", "")
        left = left.replace("×", "*").replace("÷", "/").replace("x", "*").strip()
        result = parse_number(m.group(1))
        if result is not None and _OPERATOR_RE.search(left):
            found.append((result, left))
    return found


def _operands(left: str, quantities: set[Fraction]) -> tuple[Fraction, ...]:
    """The quantities a calculation uses (numbers of the question and results; all its numbers if none), sorted:
    "12 / 2" and "0.5 * 12" both use 12; "(1/2) * 12" and "7 - 1" do not use the same."""
    numbers = [Fraction(n) for n in re.findall(r"\d+(?:\.\d+)?|\.\d+", left)]
    return tuple(sorted([n for n in numbers if n in quantities] or numbers))


def _computed_twice(
    marks: list[tuple[str, Fraction | None]], prose: list[tuple[Fraction, str]], written: set[Fraction]
) -> set[Fraction]:
    """Results that two calculations of other quantities give ("half of 12 = 6" and "7 - 1 = 6 days")."""
    calculations = [(r, left) for left, r in marks if r is not None] + prose
    quantities = written | {r for r, _ in calculations}
    seen: dict[Fraction, set[tuple[Fraction, ...]]] = {}
    for result, left in calculations:
        seen.setdefault(result, set()).add(_operands(left, quantities))
    return {v for v, ways in seen.items() if len(ways) > 1}


class _Undecided(ProgramError):
    """A number of a mark that may be an earlier result or a number the question gives: both readings are tried."""

    def __init__(self, message: str) -> None:
        super().__init__("ambiguous_number", message)


@dataclass(frozen=True)
class MarkProgram:
    source: str
    # value written in the solution's text -> (name, factor): it shows factor * name; None: it stays as written
    shown: dict[Fraction, tuple[str, Fraction] | None]
    # offset in the solution's text -> what the number written there shows, where its value alone cannot tell
    # (a result equal to a given number): read off the calculation the text writes there, matched to its mark
    at: dict[int, tuple[str, Fraction] | None] = field(default_factory=dict)


class _Reader:
    """Reads the marks one by one: what each number is, and the statements that compute each mark."""

    def __init__(self, question: str, prose: set[Fraction], equations: dict[Fraction, str]) -> None:
        written = find_numbers(question)
        self.written = Counter(n.value for n in written)
        self.inputs: dict[Fraction, str] = {}  # value written in the question -> input name
        self.literals: dict[str, str] = {}  # input name -> its number as written, without thousands commas
        for number in written:
            if number.value not in self.inputs:
                self.inputs[number.value] = f"x{len(self.inputs) + 1}"
                self.literals[self.inputs[number.value]] = number.text.replace(",", "")
        # 50% stays fixed (see perturb.perturbable_groups): a solution may use it as "/ 2"
        self.percent_inputs = {self.inputs[n.value] for n in written if n.percent and n.value != 50}
        # "25%" enters as 0.25, and so does "25 cents" beside dollars
        self.percents = {
            n.value / 100: self.inputs[n.value] for n in written if n.percent or _CENTS_RE.match(question, n.end)
        }
        # values the question writes only as plain counts, while it writes other values as money
        money = {n.value for n in written if n.money}
        self.counts_only = {n.value for n in written if not n.percent} - money if money else set()
        self.implied = implied_values(question)
        self.allowed = allowed_literals(question) | {Fraction(0)}
        if any(n.percent and n.value == 50 for n in written):
            self.allowed |= {Fraction(2), Fraction(1, 2)}
        self.results: dict[Fraction, str] = {}  # result written in a mark -> the step that computed it
        self.expressions: dict[Fraction, str] = {}  # result -> the first expression that computed it
        self.repeated: set[Fraction] = set()  # results we cannot tell apart: refused where used
        self.same: dict[Fraction, list[str]] = {}  # result -> later steps computing it otherwise (checked equal)
        self.percent_steps: set[str] = set()  # steps that compute a percentage ("100 - 20" for 80%)
        self.prose = prose
        self.equations = equations  # the prose's own calculations: result -> left side
        self.named: list[tuple[ast.expr, Fraction]] = []  # each step's named expression and its result
        self.uses: Counter[str] = Counter()  # input name -> operands it stands for, over all marks
        self.constants: set[Fraction] = set()  # literals the marks use
        # one reading of the numbers that are both a result and a number the question gives: "result" or "given"
        # per such use, in order (see `build_from_marks`); a use past the end raises _Undecided
        self.choices: tuple[str, ...] = ()
        self.chosen = 0
        self.decided: set[Fraction] = set()  # values read one way or the other by `choices`
        # per mark in order: its numbers as written with what each stands for, its result, its step
        self.mark_leaves: list[tuple[list[tuple[Fraction, tuple[str, Fraction] | None]], Fraction, str]] = []
        self.leaves: list[tuple[Fraction, tuple[str, Fraction] | None]] = []

    def choose(self, value: Fraction) -> str:
        if self.chosen >= len(self.choices):
            raise _Undecided(f"{answer_string(value)} is both a result and a number the question gives")
        self.chosen += 1
        self.decided.add(value)
        return self.choices[self.chosen - 1]

    def kind(self, value: Fraction) -> tuple[str, str | None]:
        """("result" | "input" | "percent" | "literal", name) for one number of a mark, or a ProgramError."""
        if value in self.repeated:
            raise ProgramError("ambiguous_number", f"{value} is the result of more than one calculation")
        if value in self.prose and value in self.equations and value not in self.results:
            self.add_step(self.equations.pop(value), value)  # a calculation written in prose: a step of its own
        if value in self.prose and value not in self.results:
            raise ProgramError("unexplained_number", f"{value} is computed in the solution's prose, without a mark")
        if value in self.results and not (
            (value in self.inputs or value in self.implied) and self.choose(value) == "given"
        ):
            return "result", self.results[value]
        if value in self.inputs:
            return "input", self.inputs[value]
        if value in self.percents:
            return "percent", self.percents[value]
        if value * 100 in self.results:  # 0.75 after "100 - 25 = 75": a constant, or that result as a share?
            raise ProgramError("ambiguous_number", f"{value} may be a constant or an earlier result / 100")
        if value in self.allowed:
            return "literal", None
        raise ProgramError("unexplained_literal", f"{value} is neither in the question, nor a word's, nor a result")

    def add_step(self, mark: str, result: Fraction) -> None:
        """One calculation as the next step: its numbers named, its percentages checked, its result recorded."""
        self.leaves = []
        expr = self.name_leaves(mark, self.parse(mark))
        self.mark_leaves.append((self.leaves, result, f"step{len(self.named) + 1}"))
        if misused := percent_misused(ast.Expression(expr), self.percent_inputs | self.percent_steps):
            raise ProgramError("percent_as_number", f"a number written as a percentage ({misused}) is used otherwise")
        text = ast.unparse(expr)
        step = f"step{len(self.named) + 1}"
        if self.expressions.setdefault(result, text) != text:
            self.same.setdefault(result, []).append(step)
        if computes_percent(expr, self.percent_inputs | self.percent_steps):
            self.percent_steps.add(step)
        self.results.setdefault(result, step)
        self.named.append((expr, result))

    def parse(self, mark: str) -> ast.expr:
        # bounded like a program: a 3,000-term mark would exhaust the stack of ast.parse and of the visits after it
        tree = None
        if len(mark) <= DEFAULT_LIMITS.max_source_chars // 4:
            try:
                tree = ast.parse(mark, mode="eval")
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                tree = None
        if tree is None or not all(isinstance(n, _ARITHMETIC) for n in ast.walk(tree)):
            raise ProgramError("unreadable_mark", f"a calculator mark is not arithmetic: {mark[:60]!r}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and type(node.value) not in (int, float):
                raise ProgramError("unreadable_mark", f"a calculator mark is not arithmetic: {mark[:60]!r}")
        return tree.body

    def name_leaves(self, mark: str, node: ast.expr) -> ast.expr:
        """The mark's tree with each number replaced by its name (literals stay numbers); counts input uses."""
        if isinstance(node, ast.Constant):
            try:
                value = parse_decimal(ast.get_source_segment(mark, node) or repr(node.value))
            except ValueError:  # a number past the digit bound (NumberTooLarge) or no plain decimal
                raise ProgramError("unreadable_mark", f"a mark has an unusable number: {mark[:60]!r}") from None
            kind, name = self.kind(value)
            self.leaves.append(
                (value, None if kind == "literal" else (name, Fraction(1, 100 if kind == "percent" else 1)))
            )
            if kind == "literal":
                self.constants.add(value)
                return node
            if kind in ("input", "percent"):
                self.uses[name] += 1
            if kind == "percent":
                return ast.BinOp(ast.Name(name, ast.Load()), ast.Div(), ast.Constant(100))
            return ast.Name(name, ast.Load())
        if isinstance(node, ast.UnaryOp):
            return ast.UnaryOp(node.op, self.name_leaves(mark, node.operand))
        assert isinstance(node, ast.BinOp)
        return ast.BinOp(self.name_leaves(mark, node.left), node.op, self.name_leaves(mark, node.right))


def _statements(expr: ast.expr, name: str) -> list[str]:
    """`name = expr` as one statement per operation: `name_1 = a * b`, then `name = name_1 - c`."""
    out: list[str] = []

    def flat(node: ast.expr, top: bool) -> ast.expr:
        if isinstance(node, ast.BinOp) and not is_percent_form(node):
            node = ast.BinOp(flat(node.left, False), node.op, flat(node.right, False))
            if not top:
                temp = f"{name}_{len(out) + 1}"
                out.append(f"{temp} = {ast.unparse(node)}")
                return ast.Name(temp, ast.Load())
        elif isinstance(node, ast.UnaryOp):
            node = ast.UnaryOp(node.op, flat(node.operand, False))
        return node

    top = flat(expr, True)
    return out + [f"{name} = {ast.unparse(top)}"]


MAX_READINGS = 32  # readings of the numbers that are both a result and a given number tried per problem


def build_from_marks(question: str, solution: str | None, calculations: list[str] | None, gold: str) -> MarkProgram:
    """The program for `question` built from its solution's calculator marks (`PROBLEM_SCHEMA.calculations`,
    "48/2=24" each), and what each number of the solution's text shows; a ProgramError(reason) when it cannot be
    built. `solution` is the solution's text without the marks.

    A number of a mark equal both to an earlier mark's result and to a number the question gives (or a word's
    value) is read both ways. A reading holds when the program builds and is coherent: every number of the question
    is used and every mark's result is used by a later mark (a solution computes a value to use it). The problem
    is kept when the readings that hold all compute the same answer for new values, else refused."""
    pending: list[tuple[str, ...]] = [()]
    held: list[MarkProgram] = []
    first_error: ProgramError | None = None
    errors: list[ProgramError] = []
    tried = 0
    while pending and tried < MAX_READINGS:
        choices = pending.pop(0)
        tried += 1
        try:
            program, coherent = _build(question, solution, calculations, gold, choices)
        except _Undecided:
            pending += [(*choices, "result"), (*choices, "given")]
            continue
        except ProgramError as e:
            first_error = first_error or e
            errors.append(e)
            continue
        if not choices:
            return program  # nothing to decide: the one reading
        if coherent:
            held.append(program)
    if pending:
        raise ProgramError("ambiguous_number", "too many numbers are both a result and a number the question gives")
    if not held:  # every reading failed: for one reason, that reason; else the ambiguity
        if first_error is not None and all(e.reason == first_error.reason for e in errors):
            raise first_error
        raise ProgramError("ambiguous_number", "a number is both a result and a number the question gives")
    if len({p.source for p in held}) > 1 and not _same_answers([p.source for p in held]):
        raise ProgramError("ambiguous_number", "a number may be a result or a given number, and the readings differ")
    return held[0]


def _same_answers(sources: list[str], draws: int = 4) -> bool:
    """Whether the programs compute the same answer for several random inputs (names shared)."""
    programs = [parse_program(source) for source in sources]
    names = {name: value for program in programs for name, value in program.inputs.items()}
    rng = random.Random(sources[0])
    runs = 0
    for _ in range(draws * 3):
        drawn = {name: Fraction(value) * rng.randint(51, 199) / 100 for name, value in names.items()}
        try:
            answers = {run_program(p, {n: drawn[n] for n in p.inputs}).answer for p in programs}
        except ProgramError:
            continue
        if len(answers) > 1:
            return False
        runs += 1
        if runs == draws:
            return True
    return False


def _build(
    question: str, solution: str | None, calculations: list[str] | None, gold: str, choices: tuple[str, ...]
) -> tuple[MarkProgram, bool]:
    """`build_from_marks` for one reading of the numbers both a result and given (`_Reader.choices`), and whether
    every mark's result but the last is used by a later mark."""
    marks = read_marks(calculations)
    if not marks:
        raise ProgramError("no_marks", "the reference solution has no calculator marks")
    marked = {result for _, result in marks}
    prose = prose_equations(solution)
    twice = _computed_twice(marks, prose, {n.value for n in find_numbers(question)})
    equations = {v: left for v, left in prose if v not in marked and v not in twice}
    reader = _Reader(question, prose_results(solution) - marked, equations)
    reader.choices = choices
    for i, (left, result) in enumerate(marks, start=1):
        if result is None:
            raise ProgramError("unreadable_mark", f"calculator mark {i} has no number after '='")
        reader.add_step(left, result)
    checks = _prose_checks(reader, marks, prose, twice)
    gold_value = parse_number(gold)
    if marks[-1][1] != gold_value and gold_value in reader.equations and gold_value not in reader.results:
        reader.add_step(reader.equations.pop(gold_value), gold_value)  # the solution's last step is in prose
    named = reader.named
    if named[-1][1] != gold_value:
        raise ProgramError("program_mismatch", f"the last calculator mark does not compute the gold answer {gold}")
    used = set(reader.uses)
    if unused := [v for v, name in reader.inputs.items() if name not in used and v > 1]:
        raise ProgramError("unused_number", f"the solution never uses {answer_string(unused[0])} of the question")
    # a small value written once but standing for several operands may hide a count a word implies: keep it fixed
    frozen = {
        name
        for v, name in reader.inputs.items()
        if reader.uses[name] > reader.written[v] and (v in _COUNTLIKE or v in reader.implied)
    }
    shown, more, at = shown_numbers(solution, reader, frozen)
    if more:  # an input the solution's text also writes as a constant: it stays fixed
        frozen |= more
        shown, _, at = shown_numbers(solution, reader, frozen)
    header = [f"{name} = {reader.literals[name]}" for name in reader.inputs.values() if name not in frozen]
    steps: list[str] = []
    for i, (expr, _) in enumerate(named, start=1):
        expr = _Freeze(frozen, reader.literals).visit(expr)
        steps += _statements(expr, f"step{i}")
    for k, (expr, _) in enumerate(checks, start=1):
        steps += _statements(_Freeze(frozen, reader.literals).visit(expr), f"check{k}")
    source = "\n".join(header + steps + [f"answer = step{len(named)}"])
    groups = [[reader.results[v], *reader.same.get(v, [])] for v in reader.same]
    groups += [[reader.results[v], f"check{k}"] for k, (_, v) in enumerate(checks, start=1)]
    if groups and not _always_equal(source, groups):
        raise ProgramError("ambiguous_number", "one value is the result of two calculations that differ")
    if reader.chosen < len(choices):
        raise ProgramError("ambiguous_number", "a reading decided more numbers than the marks use")
    used_steps = {n.id for expr, _ in named for n in ast.walk(expr) if isinstance(n, ast.Name)}
    coherent = all(name in used_steps for name in reader.results.values() if name != f"step{len(named)}")
    if not choices and not coherent:
        # a result no later mark uses: the solution went on from it in prose or with a rounded copy of it
        # ("$24.25 left ... $24 is 24 x 4 = 96 quarters"), which new values would not follow
        raise ProgramError("unused_result", "a calculator mark's result is never used by a later mark")
    # a solution computes no quantity twice the same way, and no "a / a" or "a - a"
    texts = [ast.unparse(expr) for expr, _ in named]
    coherent = coherent and len(set(texts)) == len(texts) and not any(_degenerate(expr) for expr, _ in named)
    return MarkProgram(source, shown, at), coherent


def _degenerate(expr: ast.expr) -> bool:
    """Whether `expr` divides or subtracts a quantity by itself somewhere (a constant however the inputs move)."""
    return any(
        isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div | ast.Sub) and ast.dump(n.left) == ast.dump(n.right)
        for n in ast.walk(expr)
    )


def _prose_checks(
    reader: _Reader, marks: list[tuple[str, Fraction | None]], prose: list[tuple[Fraction, str]], twice: set[Fraction]
) -> list[tuple[ast.expr, Fraction]]:
    """The prose calculations of a result that a mark computes from other quantities ("half of 12 = 6" beside the
    mark "7-1=6"), named like marks, to be checked equal to it under new values; a ProgramError if not nameable."""
    checks = []
    for value in sorted(twice):
        if value not in reader.results:
            continue
        quantities = set(reader.inputs) | set(reader.results)
        marked = {_operands(left, quantities) for left, r in marks if r == value}
        for result, left in prose:
            if result != value or _operands(left, quantities) in marked:
                continue
            try:
                checks.append((reader.name_leaves(left, reader.parse(left)), value))
            except ProgramError:
                raise ProgramError("ambiguous_number", f"{value} is the result of two calculations") from None
    return checks


def _always_equal(source: str, groups: list[list[str]], draws: int = 4) -> bool:
    """Whether the steps of each group compute equal values for several random inputs (the same quantity twice,
    as "300 / 2" and "300 - 150"), not only for the original ones."""
    program = parse_program(source)
    rng = random.Random(source)
    runs = 0
    for _ in range(draws * 3):
        inputs = {name: Fraction(value) * rng.randint(51, 199) / 100 for name, value in program.inputs.items()}
        try:
            env = dict(run_program(program, inputs).trace)
        except ProgramError:
            continue
        if any(len({env[name] for name in group}) > 1 for group in groups):
            return False
        runs += 1
        if runs == draws:
            return True
    return runs > 0


class _Freeze(ast.NodeTransformer):
    """Frozen inputs back to their written numbers."""

    def __init__(self, frozen: set[str], literals: dict[str, str]) -> None:
        self.frozen, self.literals = frozen, literals

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.frozen:
            return ast.parse(self.literals[node.id], mode="eval").body
        return node


def program_from_solution(question: str, solution: str | None, calculations: list[str] | None, gold: str) -> str:
    """The program source of `build_from_marks`."""
    return build_from_marks(question, solution, calculations, gold).source
