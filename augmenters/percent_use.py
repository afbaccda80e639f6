"""Whether a number written with "%" is used as a percentage in a calculation (an `ast` of arithmetic, never run).

A percentage p may appear as p / 100 (also inside a product: `price * p / 100`), p * 0.01, 100 - p, 100 + p, or
added to / subtracted from another percentage; anything else (`x / 10` for "10 %") is a misuse.
"""

from __future__ import annotations

import ast
from fractions import Fraction


def is_hundred(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float) and Fraction(str(node.value)) == 100


def percent_leaf(node: ast.expr, percent_names: set[str]) -> bool:
    return isinstance(node, ast.Name) and node.id in percent_names


def percent_misused(tree: ast.AST, percent_names: set[str]) -> str | None:
    """The first name of `percent_names` (numbers written with "%") used other than as a percentage, else None.

    A percentage p may appear as p / 100 (also inside a product: `price * p / 100`), p * 0.01, 100 - p, 100 + p,
    or added to / subtracted from another percentage."""
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in percent_names):
            continue
        if not _used_as_percent(node, parents, percent_names):
            return node.id
    return None


def _used_as_percent(node: ast.AST, parents: dict[int, ast.AST], percent_names: set[str]) -> bool:
    parent = parents.get(id(node))
    # 100 - p, p + q: still a percentage; follow it up
    combined = False
    while isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Add | ast.Sub):
        other = parent.right if parent.left is node else parent.left
        if not (is_hundred(other) or percent_leaf(other, percent_names)):
            break
        node, parent, combined = parent, parents.get(id(parent)), True
    if combined and isinstance(parent, ast.Expression):
        # a whole mark "100 - 20 = 80": its result is a percentage step, checked where a later mark uses it
        return True
    while isinstance(parent, ast.BinOp):
        other = parent.right if parent.left is node else parent.left
        if isinstance(parent.op, ast.Div) and parent.left is node and is_hundred(parent.right):
            return True
        if isinstance(parent.op, ast.Mult) and isinstance(other, ast.Constant) and other.value == 0.01:
            return True
        if not (isinstance(parent.op, ast.Mult) or (isinstance(parent.op, ast.Div) and parent.left is node)):
            return False
        node, parent = parent, parents.get(id(parent))
    return False


def is_percent_form(node: ast.BinOp) -> bool:
    return isinstance(node.op, ast.Div) and isinstance(node.left, ast.Name) and is_hundred(node.right)


def computes_percent(expr: ast.expr, percent_names: set[str]) -> bool:
    """`100 - p` or `p + q`: a mark whose result is itself a percentage."""
    if not (isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add | ast.Sub)):
        return False
    sides = (expr.left, expr.right)
    return all(is_hundred(s) or percent_leaf(s, percent_names) or computes_percent(s, percent_names) for s in sides)
