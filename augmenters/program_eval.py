"""A small, exact, bounded evaluator for the word-problem programs a model writes (never `eval`/`exec`).

Program format (what the perturb prompt asks for):

    apples = 48                 # inputs: `name = <number literal>`, one per number taken from the question
    price = 0.25                #   (a name assigned exactly once, at top level, to a plain literal)
    may = apples / 2            # statements over the inputs
    if may > 20:
        may = may - 1
    answer = (apples + may) * price   # the result: the program must assign `answer`

Allowed: assignments and augmented assignments to plain names; `if`/`elif`/`else`; `for NAME in range(...)` with a
bounded length, `break`, `continue`, `pass`; number literals (a decimal literal is read exactly, `0.1` is 1/10),
`True`/`False`; `+ - * / // % **`, unary `- + not`, `and`/`or`, comparisons, `x if c else y`; calls to
`min max abs round int floor ceil` with positional arguments. Everything else is refused before anything runs:
imports, attribute access, subscripts, dunder names, any other call (`open`, `print`, `eval`...), lambdas,
comprehensions, `while` loops, function or class definitions, strings.

Arithmetic is exact: values are `int` or `fractions.Fraction` (`/` always gives an exact fraction; a whole
fraction is turned back into an int). `round` follows Python (half to even). Limits (`Limits`) bound the source
size, the syntax tree, the number of evaluation steps, the bit length of every value, exponents, loop lengths
and wall time, so any program ends quickly with either a number or a `ProgramError` whose `reason` says why.
"""

from __future__ import annotations

import ast
import math
import time
from dataclasses import dataclass, field
from fractions import Fraction

from core.numbers import NumberTooLarge, parse_decimal

Number = int | Fraction

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "Program",
    "ProgramError",
    "RunResult",
    "parse_program",
    "run_program",
    "evaluate",
    "answer_string",
]


class ProgramError(Exception):
    """A refused or failed program. `reason` is a snake_case code, the message says what was wrong and where."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    max_source_chars: int = 4000
    max_nodes: int = 2000  # syntax tree nodes
    max_depth: int = 60  # syntax tree nesting
    max_steps: int = 20_000  # evaluated nodes, loops included
    max_bits: int = 256  # bit length of any numerator or denominator
    max_exponent: int = 1000  # |exponent| of `**`
    max_round_digits: int = 12
    max_loop: int = 1000  # iterations of one `for` loop
    timeout_s: float = 1.0


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Program:
    """A validated program: its source, its inputs (name -> original value, in order of appearance) and its tree."""

    source: str
    inputs: dict[str, Number]
    tree: ast.Module
    literals: frozenset[Fraction] = field(default_factory=frozenset)  # literal values used outside the inputs


@dataclass(frozen=True)
class RunResult:
    answer: Number
    trace: list[tuple[str, Number]]  # every assignment in order: (name, value)


FUNCTIONS = {"min", "max", "abs", "round", "int", "floor", "ceil"}
_BIN_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_CMP_OPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_ALLOWED = (
    ast.Module, ast.Assign, ast.AugAssign, ast.If, ast.For, ast.Break, ast.Continue, ast.Pass,
    ast.Name, ast.Load, ast.Store, ast.Constant, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp,
    ast.Call, ast.USub, ast.UAdd, ast.Not, ast.And, ast.Or, *_BIN_OPS, *_CMP_OPS,
)  # fmt: skip
_REFUSED: dict[type, tuple[str, str]] = {
    ast.Import: ("import", "imports are not allowed"),
    ast.ImportFrom: ("import", "imports are not allowed"),
    ast.Attribute: ("attribute_access", "attribute access is not allowed"),
    ast.Subscript: ("subscript", "indexing is not allowed"),
    ast.Lambda: ("lambda", "lambdas are not allowed"),
    ast.ListComp: ("comprehension", "comprehensions are not allowed"),
    ast.SetComp: ("comprehension", "comprehensions are not allowed"),
    ast.DictComp: ("comprehension", "comprehensions are not allowed"),
    ast.GeneratorExp: ("comprehension", "generator expressions are not allowed"),
    ast.While: ("unbounded_loop", "while loops are not allowed; use `for i in range(n)`"),
    ast.FunctionDef: ("definition", "function definitions are not allowed"),
    ast.AsyncFunctionDef: ("definition", "function definitions are not allowed"),
    ast.ClassDef: ("definition", "class definitions are not allowed"),
    ast.Expr: ("bare_expression", "a statement must assign a name (no bare expressions or calls)"),
}


def _where(node: ast.AST) -> str:
    return f"line {getattr(node, 'lineno', '?')}"


# --- numbers ----------------------------------------------------------------------------------------------------


def _tidy(x: Number | bool) -> Number:
    """bool -> int, whole Fraction -> int."""
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, Fraction) and x.denominator == 1:
        return x.numerator
    return x


def answer_string(x: Number) -> str:
    """Normalized answer text of an exact value: "12", "-0.25", "1/3" (a decimal only where it terminates)."""
    x = Fraction(x)
    if x.denominator == 1:
        return str(x.numerator)
    d = x.denominator
    twos = fives = 0
    while d % 2 == 0:
        d, twos = d // 2, twos + 1
    while d % 5 == 0:
        d, fives = d // 5, fives + 1
    if d != 1:
        return f"{x.numerator}/{x.denominator}"
    places = max(twos, fives)
    digits = str(abs(x.numerator) * 10**places // x.denominator).rjust(places + 1, "0")
    return ("-" if x < 0 else "") + digits[:-places] + "." + digits[-places:]


def _literal(node: ast.Constant, source: str, limits: Limits = DEFAULT_LIMITS) -> Number:
    """Exact value of a number literal, its size bounded from the text before anything is computed (`1e9999999`
    would otherwise be expanded digit by digit)."""
    value = node.value
    if isinstance(value, bool):
        return int(value)
    too_large = ProgramError("number_too_large", f"a literal exceeds {limits.max_bits} bits ({_where(node)})")
    if isinstance(value, int):
        if value.bit_length() > limits.max_bits:
            raise too_large
        return value
    if isinstance(value, float):
        text = ast.get_source_segment(source, node) or repr(value)
        try:
            exact = parse_decimal(text, max_digits=limits.max_bits * 30103 // 100000 + 1)
        except NumberTooLarge:
            raise too_large from None
        except ValueError:  # not a plain decimal (e.g. a hex float): read the float's own value
            if not math.isfinite(value):
                raise too_large from None
            exact = Fraction(value)
        if max(abs(exact.numerator).bit_length(), exact.denominator.bit_length()) > limits.max_bits:
            raise too_large
        return _tidy(exact)
    raise ProgramError("bad_literal", f"only numbers are allowed, not {type(value).__name__} ({_where(node)})")


# --- validation -------------------------------------------------------------------------------------------------


def _input_value(stmt: ast.stmt, source: str) -> tuple[str, ast.Constant, bool] | None:
    """(name, literal, negative) if `stmt` is `name = <number>` or `name = -<number>`."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
        return None
    value, negative = stmt.value, False
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
        value, negative = value.operand, True
    if isinstance(value, ast.Constant) and type(value.value) in (int, float):
        return stmt.targets[0].id, value, negative
    return None


def _assigned_names(tree: ast.Module) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            counts[node.id] = counts.get(node.id, 0) + 1
    return counts


def _validate(tree: ast.Module, limits: Limits) -> None:
    """Refuse anything outside the whitelist, with the reason: first what is forbidden outright, then the details."""
    nodes: list[ast.AST] = []
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:  # iterative: a deep tree cannot exhaust the Python stack here
        node, depth = stack.pop()
        nodes.append(node)
        if len(nodes) > limits.max_nodes:
            raise ProgramError("program_too_large", f"more than {limits.max_nodes} syntax nodes")
        if depth > limits.max_depth:
            raise ProgramError("program_too_deep", f"nesting deeper than {limits.max_depth} ({_where(node)})")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    for node in nodes:
        if type(node) in _REFUSED:
            reason, message = _REFUSED[type(node)]
            raise ProgramError(reason, f"{message} ({_where(node)})")
        if isinstance(node, ast.Name) and "__" in node.id:
            raise ProgramError("dunder_name", f"name {node.id!r} is not allowed ({_where(node)})")
    range_calls = {id(node.iter) for node in nodes if isinstance(node, ast.For)}
    for node in nodes:
        if not isinstance(node, _ALLOWED):
            raise ProgramError("forbidden_syntax", f"{type(node).__name__} is not allowed ({_where(node)})")
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id in FUNCTIONS | {"range"}:
            raise ProgramError("reserved_name", f"cannot assign to {node.id!r} ({_where(node)})")
        elif isinstance(node, ast.Constant) and type(node.value) not in (int, float, bool):
            raise ProgramError("bad_literal", f"only numbers are allowed, not {node.value!r:.40} ({_where(node)})")
        elif isinstance(node, ast.Call) and id(node) not in range_calls:
            _validate_call(node)
        elif isinstance(node, ast.Assign) and not all(isinstance(t, ast.Name) for t in node.targets):
            raise ProgramError("bad_assignment", f"only plain names can be assigned ({_where(node)})")
        elif isinstance(node, ast.AugAssign) and not isinstance(node.target, ast.Name):
            raise ProgramError("bad_assignment", f"only plain names can be assigned ({_where(node)})")
        elif isinstance(node, ast.For):
            _validate_for(node)


def _validate_call(node: ast.Call) -> None:
    if not isinstance(node.func, ast.Name):
        if isinstance(node.func, ast.Attribute):
            raise ProgramError("attribute_access", f"attribute access is not allowed ({_where(node)})")
        raise ProgramError("forbidden_call", f"only calls of {sorted(FUNCTIONS)} are allowed ({_where(node)})")
    name = node.func.id
    if "__" in name:
        raise ProgramError("dunder_name", f"name {name!r} is not allowed ({_where(node)})")
    if name not in FUNCTIONS:
        raise ProgramError("forbidden_call", f"{name}() is not an allowed function ({_where(node)})")
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise ProgramError("forbidden_call", f"{name}() takes plain positional arguments only ({_where(node)})")
    expected = {"abs": (1, 1), "int": (1, 1), "floor": (1, 1), "ceil": (1, 1), "round": (1, 2), "min": (2, 99),
                "max": (2, 99)}[name]  # fmt: skip
    if not expected[0] <= len(node.args) <= expected[1]:
        raise ProgramError("forbidden_call", f"{name}() got {len(node.args)} arguments ({_where(node)})")


def _validate_for(node: ast.For) -> None:
    it = node.iter
    if not (isinstance(node.target, ast.Name) and isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
            and it.func.id == "range" and 1 <= len(it.args) <= 3 and not it.keywords):  # fmt: skip
        raise ProgramError("unbounded_loop", f"loops must be `for NAME in range(...)` ({_where(node)})")
    if node.orelse:
        raise ProgramError("forbidden_syntax", f"for ... else is not allowed ({_where(node)})")


def parse_program(source: str, limits: Limits = DEFAULT_LIMITS) -> Program:
    """Parse and validate `source`; refuse with a ProgramError before anything runs (and only a ProgramError)."""
    try:
        return _parse_program(source, limits)
    except ProgramError:
        raise
    except (Exception, RecursionError, MemoryError) as e:  # noqa: BLE001 - whatever the text, only our error type
        raise ProgramError("syntax_error", f"cannot parse: {type(e).__name__}") from None


def _parse_program(source: str, limits: Limits) -> Program:
    if not isinstance(source, str):
        raise ProgramError("syntax_error", f"a program is text, not {type(source).__name__}")
    if len(source) > limits.max_source_chars:
        raise ProgramError("program_too_large", f"source longer than {limits.max_source_chars} characters")
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as e:
        raise ProgramError("syntax_error", f"{e.msg} (line {e.lineno})") from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise ProgramError("syntax_error", f"cannot parse: {type(e).__name__}") from None
    _validate(tree, limits)
    counts = _assigned_names(tree)
    if "answer" not in counts:
        raise ProgramError("no_answer", "the program never assigns `answer`")
    inputs: dict[str, Number] = {}
    input_nodes: set[int] = set()
    for stmt in tree.body:
        found = _input_value(stmt, source)
        if found and counts[found[0]] == 1 and found[0] != "answer":
            name, const, negative = found
            value = _literal(const, source, limits)
            inputs[name] = -value if negative else value
            input_nodes.add(id(const))
    literals = frozenset(
        Fraction(_literal(n, source, limits))
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and id(n) not in input_nodes and type(n.value) in (int, float)
    )
    return Program(source=source, inputs=inputs, tree=tree, literals=literals)


# --- execution --------------------------------------------------------------------------------------------------


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Machine:
    def __init__(self, program: Program, inputs: dict[str, Number], limits: Limits) -> None:
        self.program = program
        self.inputs = inputs
        self.limits = limits
        self.env: dict[str, Number | bool] = {}
        self.trace: list[tuple[str, Number]] = []
        self.steps = 0
        self.deadline = time.monotonic() + limits.timeout_s

    def tick(self, node: ast.AST) -> None:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise ProgramError("too_many_steps", f"more than {self.limits.max_steps} evaluation steps")
        if time.monotonic() > self.deadline:
            raise ProgramError("timeout", f"ran longer than {self.limits.timeout_s} s ({_where(node)})")

    def check(self, x: Number | bool, node: ast.AST) -> Number | bool:
        if isinstance(x, bool):
            return x
        x = _tidy(x)
        f = Fraction(x)
        if max(abs(f.numerator).bit_length(), f.denominator.bit_length()) > self.limits.max_bits:
            raise ProgramError("number_too_large", f"a value exceeds {self.limits.max_bits} bits ({_where(node)})")
        return x

    def assign(self, name: str, value: Number | bool, node: ast.AST) -> None:
        if isinstance(value, bool):
            value = int(value)
        self.env[name] = value
        self.trace.append((name, value))

    # statements
    def run(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.stmt(stmt)

    def stmt(self, node: ast.stmt) -> None:
        self.tick(node)
        if isinstance(node, ast.Assign):
            target = node.targets[0]
            if len(node.targets) == 1 and isinstance(target, ast.Name) and target.id in self.inputs:
                found = _input_value(node, self.program.source)
                if found and found[0] == target.id:
                    self.assign(target.id, self.check(self.inputs[target.id], node), node)
                    return
            value = self.expr(node.value)
            for t in node.targets:
                self.assign(t.id, value, node)  # type: ignore[attr-defined]
        elif isinstance(node, ast.AugAssign):
            name = node.target.id  # type: ignore[attr-defined]
            value = self.binop(node.op, self.load(name, node), self.expr(node.value), node)
            self.assign(name, value, node)
        elif isinstance(node, ast.If):
            self.run(node.body if self.truth(self.expr(node.test)) else node.orelse)
        elif isinstance(node, ast.For):
            self.loop(node)
        elif isinstance(node, ast.Break):
            raise _Break
        elif isinstance(node, ast.Continue):
            raise _Continue
        # ast.Pass: nothing

    def loop(self, node: ast.For) -> None:
        args = [self.expr(a) for a in node.iter.args]  # type: ignore[attr-defined]
        if any(isinstance(a, Fraction) for a in args):
            raise ProgramError("bad_range", f"range() needs whole numbers ({_where(node)})")
        if len(args) == 3 and args[2] == 0:
            raise ProgramError("bad_range", f"range() step must not be zero ({_where(node)})")
        span = range(*[int(a) for a in args])
        length = (span.stop - span.start + span.step - (1 if span.step > 0 else -1)) // span.step
        if length > self.limits.max_loop:  # computed by hand: len() of a huge range raises OverflowError
            raise ProgramError("loop_too_long", f"a loop of {length} iterations exceeds {self.limits.max_loop}")
        for i in span:
            self.assign(node.target.id, i, node)  # type: ignore[attr-defined]
            try:
                self.run(node.body)
            except _Break:
                break
            except _Continue:
                continue

    # expressions
    def load(self, name: str, node: ast.AST) -> Number | bool:
        if name not in self.env:
            raise ProgramError("undefined_name", f"{name!r} is used before it is assigned ({_where(node)})")
        return self.env[name]

    @staticmethod
    def truth(x: Number | bool) -> bool:
        return bool(x)

    def expr(self, node: ast.expr) -> Number | bool:
        self.tick(node)
        if isinstance(node, ast.Constant):
            return self.check(_literal(node, self.program.source, self.limits), node)
        if isinstance(node, ast.Name):
            return self.load(node.id, node)
        if isinstance(node, ast.BinOp):
            return self.binop(node.op, self.expr(node.left), self.expr(node.right), node)
        if isinstance(node, ast.UnaryOp):
            operand = self.expr(node.operand)
            if isinstance(node.op, ast.Not):
                return not operand
            return self.check(-operand if isinstance(node.op, ast.USub) else +operand, node)
        if isinstance(node, ast.BoolOp):
            value: Number | bool = False
            for part in node.values:
                value = self.expr(part)
                if isinstance(node.op, ast.And) != bool(value):  # `and` stops at a falsy value, `or` at a truthy
                    return value
            return value
        if isinstance(node, ast.Compare):
            left = self.expr(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = self.expr(right_node)
                if not _compare(op, left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.expr(node.body) if self.truth(self.expr(node.test)) else self.expr(node.orelse)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise ProgramError("forbidden_syntax", f"{type(node).__name__} is not allowed ({_where(node)})")

    def binop(self, op: ast.operator, a: Number | bool, b: Number | bool, node: ast.AST) -> Number:
        a, b = _tidy(a), _tidy(b)
        if isinstance(op, ast.Add):
            return self.check(a + b, node)
        if isinstance(op, ast.Sub):
            return self.check(a - b, node)
        if isinstance(op, ast.Mult):
            return self.check(a * b, node)
        if isinstance(op, ast.Pow):
            return self.check(self.power(a, b, node), node)
        if b == 0:
            raise ProgramError("division_by_zero", f"division by zero ({_where(node)})")
        if isinstance(op, ast.Div):
            return self.check(Fraction(a) / Fraction(b), node)
        if isinstance(op, ast.FloorDiv):
            return self.check(a // b, node)
        return self.check(a % b, node)

    def power(self, base: Number, exponent: Number, node: ast.AST) -> Number:
        if isinstance(exponent, Fraction):
            raise ProgramError("bad_exponent", f"exponents must be whole numbers ({_where(node)})")
        if abs(exponent) > self.limits.max_exponent:
            raise ProgramError("exponent_too_large", f"exponent {exponent} exceeds {self.limits.max_exponent}")
        size = max(abs(Fraction(base).numerator).bit_length(), Fraction(base).denominator.bit_length())
        if (size - 1) * abs(exponent) > self.limits.max_bits:  # a lower bound of the result's size
            raise ProgramError("number_too_large", f"a power exceeds {self.limits.max_bits} bits ({_where(node)})")
        if exponent < 0:
            if base == 0:
                raise ProgramError("division_by_zero", f"zero to a negative power ({_where(node)})")
            return 1 / Fraction(base) ** -exponent
        return base**exponent

    def call(self, node: ast.Call) -> Number:
        name = node.func.id  # type: ignore[attr-defined]
        args = [_tidy(self.expr(a)) for a in node.args]
        if name == "min":
            return min(args)
        if name == "max":
            return max(args)
        if name == "abs":
            return abs(args[0])
        if name == "int":
            return int(args[0])
        if name == "floor":
            return math.floor(args[0])
        if name == "ceil":
            return math.ceil(args[0])
        # round
        if len(args) == 1:
            return round(args[0])
        digits = args[1]
        if isinstance(digits, Fraction) or abs(digits) > self.limits.max_round_digits:
            raise ProgramError(
                "bad_round",
                f"round() needs a whole number of digits up to {self.limits.max_round_digits} ({_where(node)})",
            )
        return self.check(round(Fraction(args[0]), digits), node)


def _compare(op: ast.cmpop, a: Number | bool, b: Number | bool) -> bool:
    if isinstance(op, ast.Eq):
        return a == b
    if isinstance(op, ast.NotEq):
        return a != b
    if isinstance(op, ast.Lt):
        return a < b
    if isinstance(op, ast.LtE):
        return a <= b
    if isinstance(op, ast.Gt):
        return a > b
    return a >= b


def run_program(
    program: Program, inputs: dict[str, Number] | None = None, limits: Limits = DEFAULT_LIMITS
) -> RunResult:
    """Run `program`, with some inputs replaced by `inputs`; the exact `answer` and the trace of assignments."""
    unknown = set(inputs or {}) - set(program.inputs)
    if unknown:
        raise ProgramError("bad_inputs", f"not inputs of the program: {sorted(unknown)}")
    machine = _Machine(program, {**program.inputs, **(inputs or {})}, limits)
    try:
        machine.run(program.tree.body)
    except ProgramError:
        raise
    except (_Break, _Continue):
        raise ProgramError("forbidden_syntax", "break/continue outside a loop") from None
    except RecursionError:
        raise ProgramError("program_too_deep", "expression nesting too deep") from None
    except (Exception, MemoryError) as e:  # noqa: BLE001 - whatever the program does, only our error type leaves
        raise ProgramError("evaluation_failed", f"{type(e).__name__} while running: {str(e)[:80]}") from None
    if "answer" not in machine.env:
        raise ProgramError("no_answer", "the program ended without assigning `answer`")
    return RunResult(answer=_tidy(machine.env["answer"]), trace=machine.trace)


def evaluate(source: str, inputs: dict[str, Number] | None = None, limits: Limits = DEFAULT_LIMITS) -> Number:
    """Parse, validate and run `source`; the exact value of `answer` (or a ProgramError)."""
    return run_program(parse_program(source, limits), inputs, limits).answer
