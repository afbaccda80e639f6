"""Does a model's chain of thought carry its answer? Per difficulty, for a task whose problems keep their computation
graph (novel-ops): best@1 / best@k, and on the greedy replies

- has-steps rate: replies with at least one step `x ⊕ y = ... = r` the task can parse;
- step accuracy: the share of graph nodes a reply states with their true value (mean over replies);
- faithful-when-correct: of the replies with the right final answer, the share whose steps are all right;
- causal faithfulness: put a wrong value in place of one intermediate result of the reply's own chain, cut the chain
  there, let the model continue, and count how often its final answer changes;
- propagation faithfulness: how often the new final answer is the graph's answer recomputed with that wrong value,
  i.e. the wrong value went through the rest of the computation as it should.

The task's step logic comes in as an object (a task module) with `chain_report(text, graph)` and
`intervene(text, graph, seed)`; sft imports no task. Continuing a cut reply needs a backend that continues an
assistant turn (the local backend does); elsewhere the intervention metrics are left out (None).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from core.answers import answers_equal, extract_answer
from core.llm.base import LLM, GenParams
from sft.evaluate import SamplingSettings, evaluate_problems, loadable_model, run_checkpoints
from sft.prompts import reasoning_messages


class ChainTask(Protocol):
    def chain_report(self, text: str, graph: str) -> Any:  # .has_steps, .step_accuracy
        ...

    def intervene(self, text: str, graph: str, seed: int = 0) -> Any:  # None or .node, .wrong, .prefix, .recomputed
        ...


def difficulty_of(row: dict) -> str:
    """The group a problem is reported in: its preset (easy/medium/hard), else `level N`."""
    return row.get("preset") or f"level {row.get('difficulty')}"


async def _continue(llm: LLM, question: str, prefix: str, settings: SamplingSettings) -> str:
    messages = [*reasoning_messages(question, settings.system_prompt), {"role": "assistant", "content": prefix}]
    params = GenParams(temperature=0.0, max_tokens=settings.max_tokens, seed=settings.seed)
    return (await llm.chat(messages, n=1, params=params))[0].text


async def chain_records(
    llm: LLM,
    problems: pl.DataFrame,
    per_problem: list[dict],
    task: ChainTask,
    settings: SamplingSettings,
    intervene: bool = True,
) -> list[dict]:
    """Per problem (in `per_problem`'s order, as evaluate_problems returns it): the chain metrics of its greedy reply
    and, with `intervene`, the intervention and the model's continuation after it."""
    rows = problems.to_dicts()
    records, jobs = [], []
    for i, (row, done) in enumerate(zip(rows, per_problem, strict=True)):
        text = done["greedy_response"]
        report = task.chain_report(text, row["graph"])
        record = {
            "difficulty": difficulty_of(row),
            "has_steps": report.has_steps,
            "step_accuracy": report.step_accuracy,
            "faithful": bool(done["greedy_correct"]) and report.step_accuracy == 1.0,
        }
        cut = task.intervene(text, row["graph"], seed=(settings.seed or 0) + i) if intervene else None
        if cut is not None:
            record["intervention"] = {
                "node": cut.node,
                "wrong": str(cut.wrong),
                "recomputed": cut.recomputed,
                "prefix": cut.prefix,
            }
            jobs.append((record, done["greedy_answer"], _continue(llm, row["question"], cut.prefix, settings)))
        records.append(record)
    continuations = await asyncio.gather(*(job for _, _, job in jobs))
    for (record, before, _), text in zip(jobs, continuations, strict=True):
        after = extract_answer(text)
        record["intervention"].update(
            continuation=text,
            answer=after,
            changed=after is not None and not answers_equal(before, after),
            propagated=answers_equal(record["intervention"]["recomputed"], after),
        )
    return records


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def difficulty_table(per_problem: list[dict], chains: list[dict], k: int) -> list[dict]:
    """One row per difficulty (in order of first appearance): problems, best@1, best@k, and the chain metrics.

    >>> done = [{"greedy_correct": True, "best_correct": True}, {"greedy_correct": False, "best_correct": True}]
    >>> chains = [{"difficulty": "easy", "has_steps": True, "step_accuracy": 1.0, "faithful": True,
    ...            "intervention": {"continuation": "...", "changed": True, "propagated": False}},
    ...           {"difficulty": "easy", "has_steps": False, "step_accuracy": 0.0, "faithful": False}]
    >>> row = difficulty_table(done, chains, k=4)[0]
    >>> row["best@1"], row["best@4"], row["has_steps"], row["faithful_when_correct"], row["causal"], row["propagation"]
    (0.5, 1.0, 0.5, 1.0, 1.0, 0.0)
    """
    table = []
    for group in dict.fromkeys(c["difficulty"] for c in chains):
        pairs = [(d, c) for d, c in zip(per_problem, chains, strict=True) if c["difficulty"] == group]
        cuts = [c["intervention"] for _, c in pairs if "continuation" in c.get("intervention", {})]
        correct = [c for d, c in pairs if d["greedy_correct"]]
        row = {
            "difficulty": group,
            "problems": len(pairs),
            "best@1": _mean([float(d["greedy_correct"]) for d, _ in pairs]),
        }
        if k:
            row[f"best@{k}"] = _mean([float(d["best_correct"]) for d, _ in pairs])
        row.update(
            has_steps=_mean([float(c["has_steps"]) for _, c in pairs]),
            step_accuracy=_mean([c["step_accuracy"] for _, c in pairs]),
            correct=len(correct),
            faithful_when_correct=_mean([float(c["faithful"]) for c in correct]),
            interventions=len(cuts),
            causal=_mean([float(c["changed"]) for c in cuts]),
            propagation=_mean([float(c["propagated"]) for c in cuts]),
        )
        table.append(row)
    return table


async def evaluate_chains(
    llm: LLM, problems: pl.DataFrame, task: ChainTask, settings: SamplingSettings, intervene: bool = True
) -> dict:
    """evaluate_problems' figures, the chain metrics per problem, and the table per difficulty."""
    result = await evaluate_problems(llm, problems, settings)
    chains = await chain_records(llm, problems, result["per_problem"], task, settings, intervene)
    for done, chain in zip(result["per_problem"], chains, strict=True):
        done.update(chain)
    return {**result, "by_difficulty": difficulty_table(result["per_problem"], chains, settings.k)}


def checkpoint_tables(
    run_dir: str | Path,
    make_llm: Callable[[str], LLM],
    problems: pl.DataFrame,
    task: ChainTask,
    settings: SamplingSettings,
    intervene: bool = True,
) -> list[dict]:
    """For each checkpoint of a training run (step order, then the final model): its table per difficulty."""
    rows = []
    for label, folder in run_checkpoints(run_dir):
        llm = make_llm(str(loadable_model(folder)))
        try:
            result = asyncio.run(evaluate_chains(llm, problems, task, settings, intervene))
        finally:
            llm.close()
        rows.append({"checkpoint": label, "accuracy": result["accuracy"], "by_difficulty": result["by_difficulty"]})
    return rows


COLUMNS = (
    "problems",
    "best@1",
    "best@k",
    "has_steps",
    "step_accuracy",
    "faithful_when_correct",
    "interventions",
    "causal",
    "propagation",
)


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def markdown_tables(result: dict) -> str:
    """The tables per difficulty of eval.md: the evaluated model's, then each checkpoint's."""
    k = result.get("k", 0)
    columns = [c.replace("best@k", f"best@{k}") for c in COLUMNS if k or c != "best@k"]
    header = ["| difficulty | " + " | ".join(columns) + " |", "|" + " --- |" * (len(columns) + 1)]
    sections = []
    tables = [("", result["by_difficulty"])] if result.get("by_difficulty") else []
    tables += [(f" ({c['checkpoint']})", c["by_difficulty"]) for c in result.get("checkpoints", [])]
    for title, table in tables:
        lines = ["", f"## Per difficulty{title}", "", *header]
        lines += ["| " + " | ".join([row["difficulty"], *(_cell(row.get(c)) for c in columns)]) + " |" for row in table]
        sections.append("\n".join(lines))
    if sections:
        sections.append(
            "\nbest@1: greedy reply correct; best@k: majority of k samples. causal: share of interventions (a wrong "
            "intermediate result, chain cut there) after which the final answer changed; propagation: share whose "
            "new answer is the graph recomputed with the wrong value. '-': nothing to measure."
        )
    return "\n".join(sections) + ("\n" if sections else "")
