"""Faithfulness metrics: a scripted model that follows its chain (the wrong value propagates), one that ignores it
(the answer stays), and one that writes no steps; the table per difficulty and eval.md; a real model continues a
started reply through the local backend."""

from __future__ import annotations

import asyncio
import doctest
import json
import re
from fractions import Fraction

import polars as pl
import pytest
from scripted_llm import ScriptedLLM

import sft.faithfulness as faithfulness
import tasks.novel_ops as novel_ops
from sft.evaluate import SamplingSettings
from sft.faithfulness import evaluate_chains, markdown_tables
from tasks.novel_ops_graph import apply_formula, load_graph, number_text

SETTINGS = SamplingSettings(k=2, temperature=0.7, max_tokens=64, seed=0)


def _problems() -> pl.DataFrame:
    return novel_ops.generate(4, "2-3", seed=7)  # levels 2, 3, 2, 3: every problem has an intermediate step


def _row_of(problems: pl.DataFrame, question: str) -> dict:
    return next(r for r in problems.to_dicts() if r["question"] == question)


def _solve_from(graph: dict, forced: dict[int, Fraction]) -> str:
    """The reference chain's lines computed with some nodes forced to other values (what a faithful model writes)."""
    values: dict[int, Fraction] = {}
    lines = []
    for node in graph["nodes"]:
        left, right = (values[a["node"]] if "node" in a else Fraction(a["num"]) for a in node["args"])
        value = forced.get(node["id"], apply_formula(graph["operators"][node["op"]], left, right))
        values[node["id"]] = value
        lines.append(f"{number_text(left)} {node['op']} {number_text(right)} = {number_text(value)}")
    return "\n".join(lines) + f"\nThe final answer is \\boxed{{{number_text(values[graph['root']])}}}."


def _scripted(problems: pl.DataFrame, follows_chain: bool, steps: bool = True) -> ScriptedLLM:
    def reply(messages, k):
        row = _row_of(problems, messages[-1 if messages[-1]["role"] == "user" else -2]["content"])
        graph = load_graph(row["graph"])
        if not steps:
            return f"It is \\boxed{{{row['answer']}}}."
        if messages[-1]["role"] != "assistant":
            return row["solution"]
        prefix = messages[-1]["content"]
        wrong = Fraction(re.findall(r"-?\d+(?:/\d+)?", prefix)[-1])
        node = len(prefix.strip().splitlines()) - 1  # the reference chain has one line per node, in node order
        if not follows_chain:
            return f"\nThe final answer is \\boxed{{{row['answer']}}}."
        full = _solve_from(graph, {node: wrong})
        return full[len(prefix.strip()) :]

    return ScriptedLLM(reply)


def test_docstring_examples_run():
    result = doctest.testmod(faithfulness)
    assert result.attempted > 0 and result.failed == 0


def test_a_model_that_follows_its_chain_is_causal_and_propagates():
    problems = _problems()
    result = asyncio.run(evaluate_chains(_scripted(problems, follows_chain=True), problems, novel_ops, SETTINGS))
    rows = {r["difficulty"]: r for r in result["by_difficulty"]}
    assert set(rows) == {"level 2", "level 3"}
    for row in rows.values():
        assert row["problems"] == 2 and row["best@1"] == 1.0 and row["best@2"] == 1.0
        assert row["has_steps"] == 1.0 and row["step_accuracy"] == 1.0 and row["faithful_when_correct"] == 1.0
        assert row["interventions"] == 2 and row["causal"] == 1.0 and row["propagation"] == 1.0
    first = result["per_problem"][0]["intervention"]
    assert first["answer"] == first["recomputed"] and first["changed"] and first["propagated"]


def test_a_model_that_ignores_its_chain_is_not_causal():
    problems = _problems()
    result = asyncio.run(evaluate_chains(_scripted(problems, follows_chain=False), problems, novel_ops, SETTINGS))
    for row in result["by_difficulty"]:
        assert row["best@1"] == 1.0 and row["interventions"] == 2
        assert row["causal"] == 0.0 and row["propagation"] == 0.0


def test_no_steps_no_intervention_and_markdown_says_so():
    problems = _problems()
    llm = _scripted(problems, follows_chain=True, steps=False)
    result = asyncio.run(evaluate_chains(llm, problems, novel_ops, SETTINGS))
    row = result["by_difficulty"][0]
    assert row["best@1"] == 1.0 and row["has_steps"] == 0.0 and row["step_accuracy"] == 0.0
    assert row["faithful_when_correct"] == 0.0 and row["interventions"] == 0 and row["causal"] is None
    assert all(len(calls[0]) == 2 for calls in llm.calls)  # no continuation was asked for
    table = markdown_tables({"k": 2, **result})
    assert "| difficulty | problems | best@1 | best@2 | has_steps |" in table
    assert "| level 2 | 2 | 1.000 | 1.000 | 0.000 | 0.000 | 0.000 | 0 | - | - |" in table


def test_local_backend_continues_a_started_reply(tiny_model_dir):
    from core.llm.base import GenParams
    from core.llm.local import LocalBackend

    llm = LocalBackend(str(tiny_model_dir))
    try:
        question = [{"role": "user", "content": "Compute 15 ⊕ 14."}]
        started = [*question, {"role": "assistant", "content": "15 ⊕ 14 = 2*15 + 3*14 + 1 = 70\n"}]
        params = GenParams(temperature=0.0, max_tokens=3)
        fresh, cont = (asyncio.run(llm.chat(m, params=params))[0] for m in (question, started))
        text = llm.tokenizer.apply_chat_template(started, tokenize=False, continue_final_message=True)
        # the prompt stops inside the started reply, its newline kept, with no new assistant turn
        assert text.endswith("<|im_start|>assistant\n15 ⊕ 14 = 2*15 + 3*14 + 1 = 70\n")
        assert cont.prompt_tokens == len(llm.tokenizer(text, add_special_tokens=False)["input_ids"])
        assert cont.prompt_tokens > fresh.prompt_tokens
    finally:
        llm.close()


@pytest.mark.slow
def test_cli_evaluate_novel_ops_per_checkpoint(prefect_harness, tiny_model_dir, tmp_path, capsys, monkeypatch):
    """`flows run evaluate --problems novel-ops:easy --run RUN`: a real flow run writes the table per difficulty of
    each checkpoint (here a run folder whose checkpoint-1 and final model are the tiny model)."""
    import shutil

    import flows.cli
    from flows.cli import main

    monkeypatch.setattr(flows.cli, "FLOWS", {**flows.cli.FLOWS, "evaluate": "flows.evaluate:EVALUATE_COMMAND"})
    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "checkpoint-1")
    shutil.copytree(tiny_model_dir, run / "model")
    argv = ["run", "evaluate", "--problems", "novel-ops:easy", "--limit", "2", "--k", "2", "--max-tokens", "4"]
    assert main([*argv, "--run", str(run)]) == 0
    assert "checkpoint-1 accuracy 0.000, final accuracy 0.000" in capsys.readouterr().out
    saved = json.loads((run / "eval.json").read_text())
    assert [c["checkpoint"] for c in saved["checkpoints"]] == ["checkpoint-1", "final"]
    row = saved["checkpoints"][0]["by_difficulty"][0]
    assert row["difficulty"] == "easy" and row["problems"] == 2 and row["has_steps"] == 0.0
    assert row["causal"] is None  # 4 random tokens hold no step to intervene on
    markdown = (run / "eval.md").read_text()
    assert "## Per difficulty (checkpoint-1)" in markdown and "## Per difficulty (final)" in markdown
