"""The novel-operators generator: seeded and reproducible, the shapes each difficulty promises, exact answers that
the kept graph and the reference solution agree on."""

from __future__ import annotations

import doctest
import json
from fractions import Fraction

import pytest

import tasks.novel_ops as novel_ops
import tasks.novel_ops_graph as novel_ops_graph
from core.errors import UserError
from core.schemas import PROBLEM_SCHEMA
from tasks.novel_ops import LEVELS, generate, level_spec, make_problem, verify
from tasks.novel_ops_graph import apply_formula, recompute
from tasks.novel_ops_steps import chain_report
from tasks.registry import task_problems, task_rewards


@pytest.mark.parametrize("module", [novel_ops, novel_ops_graph])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_same_seed_same_problems_other_seed_other_problems():
    first, again, other = generate(30, "all", seed=3), generate(30, "all", seed=3), generate(30, "all", seed=4)
    assert first.equals(again)
    assert first["question"].to_list() != other["question"].to_list()
    # problem i of a level does not depend on how many others are drawn
    assert generate(5, 4, seed=3).row(4, named=True) == {**make_problem(4, 4, seed=3), "preset": None}


def _depth(graph: dict, node_id: int) -> int:
    node = graph["nodes"][node_id]
    return 1 + max((_depth(graph, a["node"]) for a in node["args"] if "node" in a), default=0)


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5, 6, 7, 8])
def test_each_level_has_its_operators_depth_and_formulas(level):
    spec = level_spec(level)
    frame = generate(12, level, seed=1)
    assert frame["difficulty"].to_list() == [level] * 12
    for row in frame.iter_rows(named=True):
        graph = json.loads(row["graph"])
        assert _depth(graph, graph["root"]) == spec.depth
        assert len(graph["operators"]) == spec.operators
        assert {n["op"] for n in graph["nodes"]} == set(graph["operators"])  # every defined operator is used
        formulas = graph["operators"].values()
        assert any({"aa", "bb", "ab"} & set(f) for f in formulas) == spec.squares
        assert any("d" in f for f in formulas) == spec.halves
        assert all(f["a"] and f["b"] for f in formulas)  # both operands always matter
        for symbol in graph["operators"]:
            assert f"a {symbol} b = " in row["question"]


def test_answers_are_exact_and_agree_with_graph_and_solution():
    frame = generate(60, "1-7", seed=2)
    fractional = 0
    for row in frame.iter_rows(named=True):
        graph = json.loads(row["graph"])
        assert Fraction(row["answer"]) == recompute(graph)
        fractional += Fraction(row["answer"]).denominator != 1
        for node in graph["nodes"]:  # each stored value is its operator applied to its operands' stored values
            values = [graph["nodes"][a["node"]]["value"] if "node" in a else a["num"] for a in node["args"]]
            left, right = (Fraction(v) for v in values)
            assert apply_formula(graph["operators"][node["op"]], left, right) == Fraction(node["value"])
        assert verify(row["solution"], **row)
        report = chain_report(row["solution"], graph)  # the reference solution solves every node
        assert report.step_accuracy == 1.0 and report.steps == report.nodes
    assert fractional > 0  # halves give fractional answers at the hard levels


def test_presets_and_schema():
    frame = generate(9, "all")
    assert frame["preset"].to_list() == ["easy", "medium", "hard"] * 3
    assert frame["difficulty"].to_list() == [1, 3, 6, 2, 4, 7, 1, 3, 6]
    assert set(PROBLEM_SCHEMA).issubset(frame.columns) and {"difficulty", "graph"}.issubset(frame.columns)
    assert frame["id"].n_unique() == 9
    assert set(LEVELS) == {1, 2, 3, 4, 5, 6}


@pytest.mark.parametrize("level", ["0", "11", "hardest", "3-1"])
def test_bad_level_is_one_sentence(level):
    with pytest.raises(UserError, match="level"):
        generate(3, level)


def test_registry_routes_novel_ops():
    frame = task_problems("novel-ops:easy", n=4, seed=0)
    assert frame.height == 4 and set(frame["difficulty"]) == {1, 2}
    assert task_problems("novel-ops").height == novel_ops.DEFAULT_N
    assert set(task_rewards("novel-ops")) == {"novel_ops_steps", "novel_ops_format"}
