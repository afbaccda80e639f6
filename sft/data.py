"""Training data: a run's kept dataset as conversational prompt-completion rows (SFT), and GSM8K-style prompts with
their gold answers (GRPO, evaluation)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from core.answers import extract_answer, normalize_answer
from core.errors import UserError
from sft.prompts import REASONING_SYSTEM_PROMPT, reasoning_messages

KEPT_COLUMNS = ("query", "response", "type", "original_question")


def kept_dataset_path(run: str | Path) -> Path:
    """The kept dataset of a run folder (DIR/dataset/train.parquet), or `run` itself if a Parquet/JSONL file."""
    path = Path(run).expanduser()
    if path.is_file() and path.suffix in (".parquet", ".jsonl"):
        return path
    for candidate in (path / "dataset" / "train.parquet", path / "dataset" / "metamathqa.jsonl"):
        if candidate.is_file():
            return candidate
    raise UserError(
        f"{run} holds no kept dataset (dataset/train.parquet); pass the --out folder of `flows run augment-gsm8k` "
        "or a Parquet/JSONL file with query and response columns."
    )


def read_kept(run: str | Path) -> pl.DataFrame:
    """The kept rows of a run (MetaMathQA columns query, response, type, original_question)."""
    path = kept_dataset_path(run)
    frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_ndjson(path)
    missing = [c for c in ("query", "response") if c not in frame.columns]
    if missing:
        raise UserError(f"{path} has no {missing[0]!r} column; it must have the MetaMathQA columns query and response.")
    frame = frame.filter(pl.col("query").is_not_null() & pl.col("response").is_not_null())
    if frame.is_empty():
        raise UserError(f"{path} has no rows to train on; run the augmentation with more problems first.")
    return frame


def sft_records(frame: pl.DataFrame, system_prompt: str | None = None) -> list[dict]:
    """Conversational prompt-completion rows: the query as the user turn, the response as the assistant's answer.

    TRL computes the loss on the completion only for this layout, whatever the model's chat template.
    """
    return [
        {
            "prompt": reasoning_messages(row["query"], system_prompt),
            "completion": [{"role": "assistant", "content": row["response"]}],
        }
        for row in frame.select("query", "response").iter_rows(named=True)
    ]


def sft_dataset(run: str | Path, system_prompt: str | None = None, limit: int | None = None):
    """A `datasets.Dataset` of the kept rows of `run`, ready for SFTTrainer."""
    from datasets import Dataset

    frame = read_kept(run)
    if limit:
        frame = frame.head(limit)
    return Dataset.from_list(sft_records(frame, system_prompt))


def grpo_records(problems: pl.DataFrame, system_prompt: str | None = REASONING_SYSTEM_PROMPT) -> list[dict]:
    """GRPO rows: a conversational `prompt` and the gold `answer` the reward functions receive, plus a task's own
    columns beyond the problem schema (difficulty, graph, ...), which TRL passes to them as keyword arguments."""
    from core.schemas import PROBLEM_SCHEMA

    extra = [c for c in problems.columns if c not in PROBLEM_SCHEMA]
    return [
        {"prompt": reasoning_messages(row["question"], system_prompt), "answer": row["answer"]}
        | {c: row[c] for c in extra}
        for row in problems.select("question", "answer", *extra).iter_rows(named=True)
        if row["answer"] is not None
    ]


def kept_as_problems(run: str | Path, limit: int | None = None) -> pl.DataFrame:
    """A run's kept rows as problems: the query as the question, the response's final answer as the gold answer."""
    from core.schemas import problems_frame

    frame = read_kept(run)
    rows = [
        {
            "id": f"kept-{i}",
            "question": row["query"],
            "answer": normalize_answer(extract_answer(row["response"])),
            "solution": row["response"],
            "source": "kept",
        }
        for i, row in enumerate(frame.iter_rows(named=True))
    ]
    return problems_frame(rows[:limit] if limit else rows)


def grpo_dataset(problems: pl.DataFrame, system_prompt: str | None = REASONING_SYSTEM_PROMPT):
    from datasets import Dataset

    records = grpo_records(problems, system_prompt)
    if not records:
        raise UserError("No problem has a gold answer to reward; check the --problems source.")
    return Dataset.from_list(records)
