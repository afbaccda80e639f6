"""Steps of a novel-ops reply: the parser on well-formed, partial, reordered and garbage chains; the rewards' doc
examples; the causal intervention's truncated prefix and recomputed answer."""

from __future__ import annotations

import doctest
import json
from fractions import Fraction

import pytest

import tasks.novel_ops_steps as novel_ops_steps
from tasks.novel_ops import make_problem
from tasks.novel_ops_graph import recompute
from tasks.novel_ops_steps import chain_report, format_reward, intervene, make_step_reward, parse_steps

# a ⊕ b = 2*a + 3*b + 1, a ⊙ b = 4*a - 3*b;  3 ⊙ ((15 ⊕ 14) ⊕ 2)
GRAPH = {
    "operators": {"⊕": {"a": 2, "b": 3, "c": 1}, "⊙": {"a": 4, "b": -3}},
    "nodes": [
        {"id": 0, "op": "⊕", "args": [{"num": "15"}, {"num": "14"}], "value": "73"},
        {"id": 1, "op": "⊕", "args": [{"node": 0}, {"num": "2"}], "value": "153"},
        {"id": 2, "op": "⊙", "args": [{"num": "3"}, {"node": 1}], "value": "-447"},
    ],
    "root": 2,
}
WELL_FORMED = (
    "Innermost first.\n15 ⊕ 14 = 2*15 + 3*14 + 1 = 73\n73 ⊕ 2 = 146 + 6 + 1 = 153\n"
    "3 ⊙ 153 = 12 - 459 = -447\nThe final answer is \\boxed{-447}."
)


def test_docstring_examples_run():
    result = doctest.testmod(novel_ops_steps)
    assert result.attempted >= 6 and result.failed == 0


def test_well_formed_chain_solves_every_node():
    steps = parse_steps(WELL_FORMED, GRAPH["operators"])
    assert [(s.left, s.op, s.right, s.result) for s in steps] == [
        (15, "⊕", 14, 73),
        (73, "⊕", 2, 153),
        (3, "⊙", 153, -447),
    ]
    assert WELL_FORMED[slice(*steps[1].result_span)] == "153"
    report = chain_report(WELL_FORMED, GRAPH)
    assert (report.steps, report.solved, report.step_accuracy) == (3, 3, 1.0)


def test_partial_chain_scores_its_share():
    text = "15 ⊕ 14 = 73\nso the answer is \\boxed{-447}"
    report = chain_report(text, GRAPH)
    assert report.solved == 1 and report.step_accuracy == pytest.approx(1 / 3)
    assert make_step_reward(0.8)([text], graph=[json.dumps(GRAPH)], answer=["-447"]) == [pytest.approx(0.8 / 3 + 0.2)]


def test_reordered_chain_is_still_matched():
    lines = WELL_FORMED.splitlines()
    text = "\n".join([lines[3], lines[1], lines[2]])
    assert chain_report(text, GRAPH).step_accuracy == 1.0


def test_steps_on_one_line_parentheses_negatives_and_fractions():
    text = "(15 ⊕ 14) = 73 and then 73 ⊕ 2 = 153, 3 ⊙ (153) = -447; (-7/2) ⊕ (-1) = -10"
    steps = parse_steps(text, "⊕⊙")
    assert [(s.left, s.right, s.result) for s in steps] == [
        (73, 2, 153),
        (3, 153, -447),
        (Fraction(-7, 2), -1, -10),
    ]  # "(15 ⊕ 14) = 73" closes a bracket after 14: not a step as written
    assert chain_report(text, GRAPH).solved == 2


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "I do not know.",
        "15 + 14 = 29\n29 * 2 = 58\n\\boxed{58}",  # ordinary arithmetic, not the problem's operators
        "15 ⊗ 14 = 73",  # an operator the problem does not define
        "⊕⊕⊕ = = = 12345678901234567890 ⊕ 1 =",  # numbers past 12 digits are not read
        "15 ⊕ 14 = lots",
    ],
)
def test_garbage_chains_solve_nothing(garbage):
    report = chain_report(garbage, GRAPH)
    assert report.solved == 0 and report.step_accuracy == 0.0


def test_right_format_with_made_up_numbers_earns_no_step_credit():
    hacked = "4 ⊕ 9 = 12\n12 ⊕ 7 = 31\n3 ⊙ 31 = -81\n\\boxed{-81}"
    graph = json.dumps(GRAPH)
    assert make_step_reward(0.8)([hacked], graph=[graph], answer=["-447"]) == [0.0]
    assert format_reward([hacked], graph=[graph]) == [0.2]  # only the format term pays for the shape


def test_step_reward_takes_conversations_and_rejects_bad_weights():
    conversation = [[{"role": "assistant", "content": WELL_FORMED}]]
    assert make_step_reward(0.5)(conversation, graph=[json.dumps(GRAPH)], answer=["-447"]) == [1.0]
    with pytest.raises(ValueError, match="step weight"):
        make_step_reward(1.5)


def test_intervention_cuts_at_the_first_intermediate_result_and_recomputes():
    cut = intervene(WELL_FORMED, GRAPH, seed=0)
    assert cut is not None and cut.node == 0 and cut.original == 73 and cut.wrong != 73
    assert cut.prefix == f"Innermost first.\n15 ⊕ 14 = 2*15 + 3*14 + 1 = {cut.wrong}\n"
    # the wrong value propagates: (w ⊕ 2) = 2w + 7, then 3 ⊙ that = 12 - 3 * (2w + 7)
    assert cut.recomputed == str(12 - 3 * (2 * cut.wrong + 7))
    assert Fraction(cut.recomputed) == recompute(GRAPH, {0: cut.wrong})


def test_intervention_skips_steps_that_match_no_node_and_the_root():
    text = "4 ⊕ 9 = 12\n73 ⊕ 2 = 150\n3 ⊙ 153 = -447"
    cut = intervene(text, GRAPH, seed=5)
    assert cut is not None and cut.node == 1 and cut.original == 150
    assert cut.prefix == f"4 ⊕ 9 = 12\n73 ⊕ 2 = {cut.wrong}\n"
    assert cut.wrong != 153  # never the true value by chance
    assert cut.recomputed == str(12 - 3 * cut.wrong)
    assert intervene("3 ⊙ 153 = -447", GRAPH) is None  # only the root: nothing downstream to change
    assert intervene("nothing here", GRAPH) is None


def test_intervention_on_a_generated_problem_with_fractions():
    row = make_problem(0, 6, seed=0)
    cut = intervene(row["solution"], row["graph"], seed=1)
    assert cut is not None
    assert row["solution"].startswith(cut.prefix[: cut.prefix.rindex("= ") + 2])
    assert Fraction(cut.recomputed) == recompute(row["graph"], {cut.node: cut.wrong})
    assert Fraction(cut.recomputed) != Fraction(row["answer"])  # the change propagates to the answer
