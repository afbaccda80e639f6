"""A task's problems through the GSM8K stages: GRPO rows carry the task's columns to the rewards, evaluation uses the
task's verifier, and the aha table takes the behaviour columns."""

from __future__ import annotations

import asyncio

from scripted_llm import ScriptedLLM

from analysis.behaviours import behaviour_columns
from sft.data import grpo_records
from sft.evaluate import SamplingSettings, aha_counts, evaluate_problems, markdown_report
from tasks.countdown import verify
from tasks.registry import task_problems, task_rewards


def test_grpo_rows_carry_task_columns_to_the_rewards():
    problems = task_problems("countdown:4", n=3, seed=2)
    records = grpo_records(problems)
    assert set(records[0]) == {"prompt", "answer", "numbers", "target", "difficulty"}
    kwargs = {key: [r[key] for r in records] for key in records[0] if key != "prompt"}
    completions = [rf"\boxed{{{s}}}" for s in problems["solution"]]
    assert task_rewards("countdown")["countdown"](completions, **kwargs) == [1.0, 1.0, 1.0]
    gsm = grpo_records(task_problems("countdown", n=1).select("id", "question", "answer", "solution", "source",
                                                                "calculations"))  # fmt: skip
    assert set(gsm[0]) == {"prompt", "answer"}


def test_evaluation_uses_the_task_verifier():
    problems = task_problems("countdown:3", n=4, seed=9)
    solutions = dict(zip(problems["question"], problems["solution"], strict=True))

    def reply(messages, k):  # right on greedy and on the first sample, a bare target number otherwise
        question = messages[-1]["content"]
        return rf"\boxed{{{solutions[question]}}}" if k == 0 else r"\boxed{7}"

    check = lambda text, row: verify(text, **row)  # noqa: E731
    result = asyncio.run(evaluate_problems(ScriptedLLM(reply), problems, SamplingSettings(k=2), check=check))
    assert result["accuracy"] == 1.0 and result["pass@2"] == 1.0
    assert [r["sample_correct"] for r in result["per_problem"]] == [1, 1, 1, 1]


def test_aha_table_has_behaviour_columns():
    texts = iter(["Let me check: 9 * 2 = 18. The answer is 18", "Wait, that is wrong. 16 - 7 = 9, 9 * 2 = 18."])
    llm = ScriptedLLM(lambda messages, k: next(texts))
    from core.llm.base import GenParams

    row = asyncio.run(aha_counts(llm, "Q?", "18", 2, GenParams(), None, describe=behaviour_columns))
    assert row["verification"] == 1 and row["backtracking"] == 1 and row["samples"] == 2
    report = markdown_report({"aha": {"samples": 2, "temperature": 0.7, "question": "Q?", "answer": "18"},
                              "aha_table": [{"checkpoint": "final", **row}]})  # fmt: skip
    assert "| verification |" in report and "| final | 2 |" in report
