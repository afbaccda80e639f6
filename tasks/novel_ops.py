"""Novel operators: a task no model has memorized. Each problem defines fresh operators with small random integer
formulas (`a ⊕ b = 2*a + 3*b + 1`) and asks for an expression of a given depth (`3 ⊙ (15 ⊕ 14)`); its whole
computation graph is kept (the `graph` column, see tasks.novel_ops_graph), so every step of a reply can be checked.

Difficulty levels (`LEVELS`): 1 operator at depth 1 ... 3+ operators at depth 3+ with squares and halves; presets
`easy` (levels 1-2), `medium` (3-4) and `hard` (6-7: beyond the default curriculum 1:6), `all` (the three presets).
Seeded: problem i of (seed, level) is the same whatever else is generated, and answers are exact (Fraction).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from fractions import Fraction

import polars as pl

from core.answers import answers_equal, extract_answer
from core.errors import UserError
from core.schemas import PROBLEM_SCHEMA
from tasks.novel_ops_graph import formula_text, node_values, number_text, operand_text
from tasks.novel_ops_steps import chain_report as chain_report  # the chain checks sft.faithfulness calls
from tasks.novel_ops_steps import format_reward, make_step_reward
from tasks.novel_ops_steps import intervene as intervene

DEFAULT_N = 1000
DEFAULT_LEVEL = "medium"
SOURCE = "novel-ops"

# Operator symbols: none is an arithmetic sign, a digit or a bracket; each problem draws its own.
SYMBOLS = tuple("⊕⊗⊙⊖⊘⊛⊜⊞⊟⊠⊡⊚★☆◆◇△▽♣♠♦♥⋄⊓⊔⋈⊼⊻⊹⧺⨁⨂⧫◎")


@dataclass(frozen=True)
class Level:
    operators: int  # how many operators the problem defines
    depth: int  # nesting depth of the expression (1: `x ⊕ y`)
    coef: tuple[int, int]  # range of the linear coefficients (0 excluded)
    const: tuple[int, int]  # range of the constant term
    leaves: tuple[int, int]  # range of the numbers in the expression
    squares: bool = False  # one operator gets a square or product term
    halves: bool = False  # one operator divides by 2 (fractional answers)
    max_value: int = 10_000  # every intermediate value stays within +-max_value (redrawn otherwise)


LEVELS: dict[int, Level] = {
    1: Level(1, 1, (1, 4), (0, 5), (1, 9)),
    2: Level(1, 2, (1, 4), (0, 5), (1, 9)),
    3: Level(2, 2, (-3, 5), (-5, 5), (1, 12)),
    4: Level(2, 3, (-3, 5), (-5, 5), (1, 12)),
    5: Level(3, 3, (-3, 5), (-5, 5), (1, 12), squares=True, max_value=100_000),
    6: Level(3, 4, (-4, 6), (-9, 9), (0, 12), squares=True, halves=True, max_value=100_000),
}
PRESETS: dict[str, tuple[int, ...]] = {"easy": (1, 2), "medium": (3, 4), "hard": (6, 7)}
MAX_LEVEL = 10


def level_spec(level: int) -> Level:
    """The shape of a level; past 6, one more operator every two levels (up to 5) and one more level of depth."""
    if level in LEVELS:
        return LEVELS[level]
    if not 1 <= level <= MAX_LEVEL:
        raise UserError(f"Novel-ops levels run from 1 to {MAX_LEVEL}, not {level}.")
    top = LEVELS[6]
    return Level(min(5, 3 + (level - 5) // 2), level - 2, top.coef, top.const, top.leaves, True, True, 1_000_000)


def parse_levels(level: int | str) -> list[tuple[str | None, int]]:
    """(preset, level) pairs a `--problems novel-ops:LEVEL` names: a level, a range `2-5`, a preset, or `all`.

    >>> parse_levels("easy"), parse_levels(3), parse_levels("2-3")
    ([('easy', 1), ('easy', 2)], [(None, 3)], [(None, 2), (None, 3)])
    """
    text = str(level).strip().lower()
    if text == "all":
        return [(name, lv) for name in PRESETS for lv in PRESETS[name]]
    if text in PRESETS:
        return [(text, lv) for lv in PRESETS[text]]
    low, _, high = text.partition("-")
    try:
        levels = list(range(int(low), int(high or low) + 1))
    except ValueError:
        levels = []
    if not levels:
        raise UserError(
            f"Unknown novel-ops level {level!r}: give 1-{MAX_LEVEL}, a range like 2-5, easy, medium, hard or all."
        )
    for lv in levels:
        level_spec(lv)
    return [(None, lv) for lv in levels]


# --- one problem -----------------------------------------------------------------------------------------------------


def _nonzero(rng: random.Random, low: int, high: int) -> int:
    return rng.choice([x for x in range(low, high + 1) if x != 0])


def _draw_operators(rng: random.Random, spec: Level) -> dict[str, dict[str, int]]:
    symbols = rng.sample(SYMBOLS, spec.operators)
    operators = {s: {"a": _nonzero(rng, *spec.coef), "b": _nonzero(rng, *spec.coef), "c": rng.randint(*spec.const)}
                 for s in symbols}  # fmt: skip
    if spec.squares:
        operators[rng.choice(symbols)][rng.choice(("aa", "bb", "ab"))] = rng.choice((1, 1, -1, 2))
    if spec.halves:
        halved = operators[rng.choice(symbols)]
        halved["d"] = 2
    return {s: {k: v for k, v in f.items() if v} for s, f in operators.items()}


def _draw_tree(rng: random.Random, depth: int, leaves: tuple[int, int]) -> dict | int:
    """A binary expression tree of exactly `depth` levels of operators: one child at depth-1, the other shallower."""
    if depth == 0:
        return rng.randint(*leaves)
    deep = _draw_tree(rng, depth - 1, leaves)
    other = _draw_tree(rng, rng.randint(0, depth - 1), leaves)
    return {"args": [deep, other] if rng.random() < 0.5 else [other, deep]}


def _internal(tree: dict | int) -> list[dict]:
    if not isinstance(tree, dict):
        return []
    return [n for arg in tree["args"] for n in _internal(arg)] + [tree]


def _to_graph(tree: dict, operators: dict) -> dict:
    nodes: list[dict] = []

    def visit(t: dict | int) -> dict:
        if not isinstance(t, dict):
            return {"num": str(t)}
        args = [visit(arg) for arg in t["args"]]
        nodes.append({"id": len(nodes), "op": t["op"], "args": args})
        return {"node": len(nodes) - 1}

    root = visit(tree)["node"]
    graph = {"operators": operators, "nodes": nodes, "root": root}
    for node, value in zip(nodes, node_values(graph).values(), strict=True):
        node["value"] = number_text(value)
    return graph


def expression_text(graph: dict, node_id: int | None = None) -> str:
    """The expression of a node (the root by default), inner operations in parentheses.

    >>> g = {"nodes": [{"id": 0, "op": "⊕", "args": [{"num": "15"}, {"num": "14"}]},
    ...                {"id": 1, "op": "⊙", "args": [{"num": "3"}, {"node": 0}]}], "root": 1}
    >>> expression_text(g)
    '3 ⊙ (15 ⊕ 14)'
    """
    node = graph["nodes"][graph["root"] if node_id is None else node_id]
    parts = [f"({expression_text(graph, a['node'])})" if "node" in a else operand_text(Fraction(a["num"]))
             for a in node["args"]]  # fmt: skip
    return f"{parts[0]} {node['op']} {parts[1]}"


def solution_text(graph: dict) -> str:
    """The reference solution: one line per operation in evaluation order (`15 ⊕ 14 = 2*15 + 3*14 + 1 = 73`)."""
    lines = []
    values = {n["id"]: Fraction(n["value"]) for n in graph["nodes"]}
    for node in graph["nodes"]:
        left, right = (operand_text(values[a["node"]] if "node" in a else Fraction(a["num"])) for a in node["args"])
        middle = formula_text(graph["operators"][node["op"]], left, right)
        lines.append(f"{left} {node['op']} {right} = {middle} = {number_text(values[node['id']])}")
    answer = number_text(values[graph["root"]])
    return "\n".join(lines) + f"\nThe final answer is \\boxed{{{answer}}}."


def question_text(graph: dict) -> str:
    definitions = "\n".join(f"  a {s} b = {formula_text(f)}" for s, f in graph["operators"].items())
    return (
        f"New operators are defined for this problem only:\n{definitions}\n"
        f"Compute step by step: {expression_text(graph)}\n"
        f"Work out one operation per line, innermost first, written like `x {next(iter(graph['operators']))} y = ... = "
        "result`, then give the final answer in \\boxed{}."
    )


def make_problem(index: int, level: int, seed: int = 0) -> dict:
    """Problem `index` of `level` for `seed`: a row with the PROBLEM_SCHEMA columns, `difficulty` and `graph` (JSON).

    The same (index, level, seed) always gives the same problem.
    """
    spec = level_spec(level)
    rng = random.Random(f"novel-ops:{seed}:{level}:{index}")
    for _ in range(1000):
        operators = _draw_operators(rng, spec)
        tree = _draw_tree(rng, spec.depth, spec.leaves)
        internal = _internal(tree)
        symbols = list(operators)
        ops = (symbols + [rng.choice(symbols) for _ in internal])[: len(internal)]
        rng.shuffle(ops)  # every operator used once when there are enough operations, the rest at random
        for node, op in zip(internal, ops, strict=True):
            node["op"] = op
        graph = _to_graph(tree, operators)
        if all(abs(Fraction(n["value"])) <= spec.max_value for n in graph["nodes"]):
            break
    else:  # pragma: no cover - the draw above succeeds in a handful of tries at every level
        raise RuntimeError(f"no novel-ops problem within bounds at level {level}")
    return {
        "id": f"novel-ops-s{seed}-l{level}-{index}",
        "question": question_text(graph),
        "answer": graph["nodes"][graph["root"]]["value"],
        "solution": solution_text(graph),
        "source": SOURCE,
        "calculations": [],
        "difficulty": level,
        "graph": json.dumps(graph, ensure_ascii=False),
    }


PROBLEMS_SCHEMA = pl.Schema({**PROBLEM_SCHEMA, "preset": pl.String, "difficulty": pl.Int64, "graph": pl.String})


def generate(n: int, level: int | str = DEFAULT_LEVEL, seed: int = 0) -> pl.DataFrame:
    """`n` problems, the levels of `level` taken in turn (presets first, then their levels); seeded.

    >>> frame = generate(4, level="easy")
    >>> frame["difficulty"].to_list(), frame["preset"].to_list()
    ([1, 2, 1, 2], ['easy', 'easy', 'easy', 'easy'])
    """
    if n < 0:
        raise UserError(f"The number of novel-ops problems must not be negative, not {n}.")
    pairs = parse_levels(level)
    presets = list(dict.fromkeys(p for p, _ in pairs))
    groups = [[lv for p, lv in pairs if p == preset] for preset in presets]
    rows = []
    for i in range(n):
        preset_index = i % len(groups)
        levels = groups[preset_index]
        lv = levels[(i // len(groups)) % len(levels)]
        rows.append({**make_problem(i, lv, seed), "preset": presets[preset_index]})
    return pl.DataFrame(rows, schema=PROBLEMS_SCHEMA)


def verify(text: str, **row) -> bool:
    """Is the reply's final answer the problem's exact answer.

    >>> verify(r"... so \\boxed{-207}", answer="-207"), verify("The answer is 7/2", answer="3.5")
    (True, True)
    """
    return answers_equal(row["answer"], extract_answer(text))


def make_rewards(step_weight: float = 0.8) -> dict:
    """The task's TRL reward functions, the step reward with the given step weight (see tasks.novel_ops_steps)."""
    return {"novel_ops_steps": make_step_reward(step_weight), "novel_ops_format": format_reward}


REWARDS = make_rewards()
