"""Evaluation with any LLM backend: greedy accuracy, pass@k and best@k on GSM8K-style problems, and the
per-checkpoint "aha" table of a training run (correct, self-reflecting, both, for one fixed question)."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from math import comb
from pathlib import Path

import polars as pl

from core.answers import answers_equal, extract_answer, normalize_answer
from core.errors import UserError
from core.llm.base import LLM, GenParams
from sft.prompts import REASONING_SYSTEM_PROMPT, reasoning_messages
from sft.rewards import has_reflection
from sft.runtime import FINAL_MODEL_DIR

EVAL_JSON, EVAL_MD = "eval.json", "eval.md"


@dataclass(frozen=True)
class SamplingSettings:
    k: int = 4  # pass@k / best@k; 0: greedy accuracy only
    samples: int | None = None  # completions drawn per problem for pass@k (>= k; None: k)
    temperature: float = 0.7
    max_tokens: int = 512
    seed: int | None = 0
    system_prompt: str | None = REASONING_SYSTEM_PROMPT

    def __post_init__(self) -> None:
        if self.k < 0 or (self.samples is not None and self.samples < self.k):
            raise UserError(f"--samples ({self.samples}) must be at least --k ({self.k}), and --k not negative.")

    @property
    def n(self) -> int:
        return self.samples if self.samples is not None else self.k


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k) (Chen et al., 2021).

    >>> pass_at_k(4, 0, 2), pass_at_k(4, 1, 1), pass_at_k(4, 1, 2), pass_at_k(2, 1, 2)
    (0.0, 0.25, 0.5, 1.0)
    """
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def best_answer(answers: list[str | None]) -> str | None:
    """The answer best@k picks without the gold: the most frequent normalized answer of the k samples (first wins ties).

    >>> best_answer(["12", None, "12.0", "7"]), best_answer([None, None])
    ('12', None)
    """
    counts = Counter(a for a in (normalize_answer(x) for x in answers) if a is not None)
    return counts.most_common(1)[0][0] if counts else None


async def _solve(llm: LLM, question: str, n: int, params: GenParams, system_prompt: str | None) -> list[str]:
    completions = await llm.chat(reasoning_messages(question, system_prompt), n=n, params=params)
    return [c.text for c in completions]


Check = Callable[[str, dict], bool]  # (reply text, problem row) -> correct? A task's verifier, passed by the flow.


def _gold_check(text: str, row: dict) -> bool:
    return answers_equal(row["answer"], extract_answer(text))


async def evaluate_problems(
    llm: LLM, problems: pl.DataFrame, settings: SamplingSettings = SamplingSettings(), check: Check | None = None
) -> dict:
    """Greedy accuracy, and with k > 0 pass@k (from `samples` draws) and best@k (majority of the first k draws).

    `check` decides correctness for a task (Countdown's verifier); by default the final answer must equal `answer`.
    All requests are issued at once; the backend batches them.
    """
    check = check or _gold_check
    rows = problems.to_dicts()
    if not rows:
        raise UserError("There are no problems to evaluate; check --problems and --limit.")
    greedy = GenParams(temperature=0.0, max_tokens=settings.max_tokens, seed=settings.seed)
    sampled = GenParams(temperature=settings.temperature, max_tokens=settings.max_tokens, seed=settings.seed)
    greedy_jobs = [_solve(llm, r["question"], 1, greedy, settings.system_prompt) for r in rows]
    sample_jobs = (
        [_solve(llm, r["question"], settings.n, sampled, settings.system_prompt) for r in rows] if settings.k else []
    )
    results = await asyncio.gather(*greedy_jobs, *sample_jobs)
    greedy_texts, sample_texts = results[: len(rows)], results[len(rows) :]

    per_problem = []
    for i, row in enumerate(rows):
        text = greedy_texts[i][0]
        record = {
            "id": row["id"],
            "gold": row["answer"],
            "greedy_answer": extract_answer(text),
            "greedy_correct": check(text, row),
            "greedy_response": text,
        }
        if settings.k:
            answers = [extract_answer(t) for t in sample_texts[i]]
            correct = sum(check(t, row) for t in sample_texts[i])
            record.update(
                sample_answers=answers,
                sample_correct=correct,
                pass_at_k=pass_at_k(len(answers), correct, settings.k),
                best_answer=best_answer(answers[: settings.k]),
            )
            first_k = zip(sample_texts[i][: settings.k], answers[: settings.k], strict=True)
            chosen = record["best_answer"]
            best = next((t for t, a in first_k if chosen is not None and normalize_answer(a) == chosen), None)
            record["best_correct"] = best is not None and check(best, row)
        per_problem.append(record)

    count = len(per_problem)
    summary = {"problems": count, "accuracy": sum(r["greedy_correct"] for r in per_problem) / count, "k": settings.k}
    if settings.k:
        summary.update(
            {
                "samples": settings.n,
                "temperature": settings.temperature,
                f"pass@{settings.k}": sum(r["pass_at_k"] for r in per_problem) / count,
                f"best@{settings.k}": sum(r["best_correct"] for r in per_problem) / count,
                "best_rule": "majority vote of the normalized final answers of k samples",
            }
        )
    return {**summary, "per_problem": per_problem}


# --- the per-checkpoint "aha" table --------------------------------------------------------------------------------

_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def run_checkpoints(run_dir: str | Path) -> list[tuple[str, Path]]:
    """(label, folder) of a training run's checkpoints in step order, then its final model (label "final")."""
    run = Path(run_dir)
    if not run.is_dir():
        raise UserError(f"The run folder {run_dir} does not exist; pass the --out folder of `flows run grpo` or sft.")
    steps = sorted((int(m.group(1)), p) for p in run.iterdir() if p.is_dir() and (m := _CHECKPOINT_RE.match(p.name)))
    found = [(f"checkpoint-{step}", path) for step, path in steps]
    if (run / FINAL_MODEL_DIR / "config.json").exists():
        found.append(("final", run / FINAL_MODEL_DIR))
    if not found:
        raise UserError(f"{run_dir} has no checkpoint-N folders and no model/; train with --save-steps to get some.")
    return found


def loadable_model(folder: Path) -> Path:
    """A folder every backend can load: the checkpoint itself, or for a LoRA checkpoint its adapter merged (once)."""
    if (folder / "config.json").exists():
        return folder
    if not (folder / "adapter_config.json").exists():
        raise UserError(f"{folder} holds neither a model nor a LoRA adapter.")
    merged = folder / "merged"
    if not (merged / "config.json").exists():
        from peft import AutoPeftModelForCausalLM
        from transformers import AutoTokenizer

        model = AutoPeftModelForCausalLM.from_pretrained(str(folder)).merge_and_unload()
        model.save_pretrained(str(merged))
        AutoTokenizer.from_pretrained(str(folder)).save_pretrained(str(merged))
    return merged


Describe = Callable[[list[str]], dict]  # the samples' texts -> extra columns (the flow's behaviour counts)


async def aha_counts(
    llm: LLM,
    question: str,
    answer: str,
    n: int,
    params: GenParams,
    system_prompt: str | None,
    describe: Describe | None = None,
) -> dict:
    """For n samples of one question: how many are correct, how many reflect ("aha"), how many do both, and the
    columns `describe` adds (how many show each reasoning behaviour)."""
    texts = await _solve(llm, question, n, params, system_prompt)
    correct = [answers_equal(answer, extract_answer(t)) for t in texts]
    aha = [has_reflection(t) for t in texts]
    return {
        "samples": n,
        "correct": sum(correct),
        "aha": sum(aha),
        "both": sum(c and a for c, a in zip(correct, aha, strict=True)),
        **(describe(texts) if describe else {}),
    }


def aha_table(
    run_dir: str | Path,
    make_llm: Callable[[str], LLM],
    question: str,
    answer: str,
    n: int = 16,
    settings: SamplingSettings = SamplingSettings(),
    describe: Describe | None = None,
) -> list[dict]:
    """One row per checkpoint of the run (step order, then the final model): label, samples, correct, aha, both."""
    params = GenParams(temperature=settings.temperature, max_tokens=settings.max_tokens, seed=settings.seed)
    rows = []
    for label, folder in run_checkpoints(run_dir):
        llm = make_llm(str(loadable_model(folder)))
        try:
            counts = asyncio.run(aha_counts(llm, question, answer, n, params, settings.system_prompt, describe))
        finally:
            llm.close()
        rows.append({"checkpoint": label, **counts})
    return rows


def markdown_report(result: dict) -> str:
    """eval.md: the headline figures, then the aha table when there is one."""
    lines = ["# Evaluation", "", "| metric | value |", "| --- | --- |"]
    for key in ("model", "problems", "accuracy", *[k for k in result if k.startswith(("pass@", "best@"))]):
        if key in result:
            value = result[key]
            lines.append(f"| {key} | {value:.3f} |" if isinstance(value, float) else f"| {key} | {value} |")
    if result.get("aha_table"):
        aha = result["aha"]
        lines += [
            "",
            f"## Aha table ({aha['samples']} samples per checkpoint, temperature {aha['temperature']})",
            "",
            f"Question: {aha['question']}  (gold answer: {aha['answer']})",
            "",
        ]
        fixed = ("checkpoint", "samples", "correct", "aha", "both")
        extra = [k for k in result["aha_table"][0] if k not in fixed]
        lines += [
            "| checkpoint | samples | correct | has aha | both |" + "".join(f" {k} |" for k in extra),
            "| --- | --- | --- | --- | --- |" + " --- |" * len(extra),
        ]
        lines += [
            f"| {r['checkpoint']} | {r['samples']} | {r['correct']} | {r['aha']} | {r['both']} |"
            + "".join(f" {r.get(k)} |" for k in extra)
            for r in result["aha_table"]
        ]
    return "\n".join(lines) + "\n"


def write_eval(out: str | Path, result: dict, extra_markdown: str = "") -> Path:
    """Write OUT/eval.json (everything) and OUT/eval.md (the summary, the aha table, `extra_markdown`); returns
    eval.json's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / EVAL_MD).write_text(markdown_report(result) + extra_markdown)
    tmp = out / f".{EVAL_JSON}.tmp"
    tmp.write_text(json.dumps(result, indent=2, default=str))
    tmp.replace(out / EVAL_JSON)
    return out / EVAL_JSON
