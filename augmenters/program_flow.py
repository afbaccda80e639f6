"""What a perturb program's steps are made of: which inputs each assigned name depends on, and which steps are
quotients of two quantities (a rate, a share per item, a price per unit).

Read statically from the program's tree (`augmenters.program_eval.Program`), nothing is run. Dependencies are
conservative: a name assigned more than once, or inside an `if`/`for`, depends on every input any of its
assignments, conditions or loop bounds use. `perturb_draw` uses them to redraw only the inputs that feed a step
that broke a rule, and to hold a derived rate to a rate's band.
"""

from __future__ import annotations

import ast

from augmenters.program_eval import Program

_DIVISIONS = (ast.Div, ast.FloorDiv)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _inputs_of(node: ast.AST, deps: dict) -> set[str]:
    """The inputs the names read in `node` depend on."""
    return set().union(*(deps.get(name, set()) for name in _names(node)))


def input_dependencies(program: Program) -> dict[str, frozenset[str]]:
    """For each name the program assigns (inputs included), the inputs its value may depend on."""
    deps: dict[str, set[str]] = {name: {name} for name in program.inputs}

    def walk(body: list[ast.stmt], control: set[str]) -> bool:
        changed = False
        for stmt in body:
            if isinstance(stmt, ast.Assign):
                targets = [t.id for t in stmt.targets if isinstance(t, ast.Name) and t.id not in program.inputs]
                flow = _inputs_of(stmt.value, deps) | control
            elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
                targets = [stmt.target.id]
                flow = _inputs_of(stmt.value, deps) | _inputs_of(stmt.target, deps) | control
            elif isinstance(stmt, ast.If):
                inner = control | _inputs_of(stmt.test, deps)
                changed |= walk(stmt.body, inner)
                changed |= walk(stmt.orelse, inner)
                continue
            elif isinstance(stmt, ast.For):
                inner = control | _inputs_of(stmt.iter, deps)
                if isinstance(stmt.target, ast.Name):
                    before = set(deps.get(stmt.target.id, set()))
                    deps.setdefault(stmt.target.id, set()).update(inner)
                    changed |= deps[stmt.target.id] != before
                changed |= walk(stmt.body, inner)
                continue
            else:
                continue
            for target in targets:
                before = set(deps.get(target, set()))
                deps.setdefault(target, set()).update(flow)
                changed |= deps[target] != before
        return changed

    for _ in range(len(program.tree.body) + 2):  # loops carry values back: repeat until nothing changes
        if not walk(program.tree.body, set()):
            break
    return {name: frozenset(found) for name, found in deps.items()}


def quotient_steps(program: Program, moving: set[str], deps: dict[str, frozenset[str]] | None = None) -> frozenset[str]:
    """Names assigned a value that divides by a quantity that moves with the draw (an input of `moving` feeds the
    divisor): "20 minutes for 8 trips" as `x1 / x2` is a time per trip, "$20 among 4" a share per person. A division
    by a fixed number (`x / 60`, `x / 100`, "half") is not one: it moves as its dividend does. `deps`: the program's
    `input_dependencies`, when the caller has them."""
    deps = input_dependencies(program) if deps is None else deps
    out: set[str] = set()
    for stmt in ast.walk(program.tree):
        if isinstance(stmt, ast.Assign):
            targets, value = [t.id for t in stmt.targets if isinstance(t, ast.Name)], stmt.value
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            targets, value = [stmt.target.id], stmt.value
            if isinstance(stmt.op, _DIVISIONS) and _inputs_of(value, deps) & moving:
                out.add(stmt.target.id)
        else:
            continue
        for node in ast.walk(value):
            if isinstance(node, ast.BinOp) and isinstance(node.op, _DIVISIONS):
                if _inputs_of(node.right, deps) & moving:
                    out.update(targets)
    return frozenset(out)
