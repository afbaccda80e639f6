"""The computation graph of a novel-operators problem: operator formulas, nodes, exact values, recomputation.

A graph is plain JSON (kept in the problems' `graph` column) so every stage can read it without this package:

    {"operators": {"⊕": {"a": 2, "b": 3, "c": 1}, ...},
     "nodes": [{"id": 0, "op": "⊕", "args": [{"num": "15"}, {"num": "14"}], "value": "73"},
               {"id": 1, "op": "⊙", "args": [{"num": "3"}, {"node": 0}], "value": "-207"}],
     "root": 1}

A formula is `(a*A + b*B + aa*A² + bb*B² + ab*A*B + c) / d` for operands A, B (absent terms are 0, `d` is 1 when
absent). Nodes are in evaluation order: a node's operands come before it. Values are exact (fractions.Fraction),
written as "7" or "7/2".
"""

from __future__ import annotations

import json
from fractions import Fraction

TERMS = ("a", "b", "aa", "bb", "ab", "c")


def apply_formula(formula: dict[str, int], left: Fraction, right: Fraction) -> Fraction:
    """The value of one operator on two operands.

    >>> apply_formula({"a": 2, "b": 3, "c": 1}, Fraction(15), Fraction(14))
    Fraction(73, 1)
    >>> apply_formula({"a": 1, "bb": 1, "d": 2}, Fraction(3), Fraction(2))
    Fraction(7, 2)
    """
    total = (
        formula.get("a", 0) * left
        + formula.get("b", 0) * right
        + formula.get("aa", 0) * left * left
        + formula.get("bb", 0) * right * right
        + formula.get("ab", 0) * left * right
        + formula.get("c", 0)
    )
    return Fraction(total) / formula.get("d", 1)


def _term(coef: int, name: str, first: bool) -> str:
    sign = "-" if coef < 0 else ("" if first else "+")
    magnitude = abs(coef)
    body = name if magnitude == 1 and name else (f"{magnitude}*{name}" if name else str(magnitude))
    return f"{sign}{body}" if first else f" {sign} {body}"


def formula_text(formula: dict[str, int], a: str = "a", b: str = "b") -> str:
    """The right-hand side of a definition, in the operands a and b (or the operand texts given).

    >>> formula_text({"a": 2, "b": 3, "c": 1}), formula_text({"a": -1, "bb": 1, "d": 2})
    ('2*a + 3*b + 1', '(-a + b^2) / 2')
    >>> formula_text({"a": 2, "b": -3, "c": 1}, "15", "(-4)")
    '2*15 - 3*(-4) + 1'
    """
    names = {"a": a, "b": b, "aa": f"{a}^2", "bb": f"{b}^2", "ab": f"{a}*{b}", "c": ""}
    parts = []
    for key in TERMS:
        coef = formula.get(key, 0)
        if coef:
            parts.append(_term(coef, names[key], not parts))
    body = "".join(parts) or "0"
    return f"({body}) / {formula['d']}" if formula.get("d", 1) != 1 else body


def number_text(value: Fraction) -> str:
    """A value as the problems write it: "7", "-3", "7/2".

    >>> number_text(Fraction(-7, 2)), number_text(Fraction(4))
    ('-7/2', '4')
    """
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def operand_text(value: Fraction) -> str:
    """An operand inside an expression: negatives and fractions in parentheses ("(-3)", "(7/2)")."""
    text = number_text(value)
    return text if value >= 0 and value.denominator == 1 else f"({text})"


def load_graph(graph: str | dict) -> dict:
    return json.loads(graph) if isinstance(graph, str) else graph


def node_values(graph: str | dict, overrides: dict[int, Fraction] | None = None) -> dict[int, Fraction]:
    """Every node's exact value, in node order; `overrides` force some nodes' values (an intervention) and the nodes
    that use them are recomputed from the forced values.

    >>> g = {"operators": {"#": {"a": 1, "b": 1}}, "root": 1, "nodes": [
    ...     {"id": 0, "op": "#", "args": [{"num": "1"}, {"num": "2"}], "value": "3"},
    ...     {"id": 1, "op": "#", "args": [{"node": 0}, {"num": "4"}], "value": "7"}]}
    >>> node_values(g)[1], node_values(g, {0: Fraction(10)})[1]
    (Fraction(7, 1), Fraction(14, 1))
    """
    graph = load_graph(graph)
    overrides = overrides or {}
    values: dict[int, Fraction] = {}
    for node in graph["nodes"]:
        if node["id"] in overrides:
            values[node["id"]] = Fraction(overrides[node["id"]])
            continue
        left, right = (operand_value(arg, values) for arg in node["args"])
        values[node["id"]] = apply_formula(graph["operators"][node["op"]], left, right)
    return values


def operand_value(arg: dict, values: dict[int, Fraction]) -> Fraction:
    return values[arg["node"]] if "node" in arg else Fraction(arg["num"])


def recompute(graph: str | dict, overrides: dict[int, Fraction] | None = None) -> Fraction:
    """The root's value, with `overrides` forced into the graph (see node_values)."""
    graph = load_graph(graph)
    return node_values(graph, overrides)[graph["root"]]


def consumers(graph: str | dict) -> dict[int, int]:
    """node id -> the id of the node that takes it as an operand (the root has none)."""
    graph = load_graph(graph)
    return {arg["node"]: node["id"] for node in graph["nodes"] for arg in node["args"] if "node" in arg}
