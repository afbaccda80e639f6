"""Helpers for the diversity tests: a small run folder like the augment flow writes."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from core.schemas import new_sample, problems_frame, samples_frame

PLANTED = "<script>document.title='pwned';document.body.setAttribute('data-pwned','1')</script>"


def _gsm8k_rows(count: int) -> list[dict]:
    text = resources.files("core").joinpath("data/gsm8k_train_sample.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()[:count]]


def write_run(folder: Path, *, problems: int = 8, stats: dict | None = None) -> Path:
    """Base: `problems` GSM8K problems. New: close copies (AnsAug), light rewrites (Rephrased), off-topic (Muggle)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = _gsm8k_rows(problems)
    base = [
        {
            "id": f"gsm8k-{i}",
            "question": r["question"],
            "answer": r["answer"].split("####")[-1].strip(),
            "solution": r["answer"],
            "source": "gsm8k",
        }
        for i, r in enumerate(rows)
    ]
    samples = []
    for i, p in enumerate(base):
        common = {"parent_id": p["id"], "original_question": p["question"], "model": "test", "target": p["answer"]}
        samples.append(
            new_sample(
                augmenter="ansaug",
                variant="0",
                prompt=f"a{i}",
                query=p["question"],
                response=p["solution"] + " The answer is: " + p["answer"],
                answer=p["answer"],
                verified_by="gold",
                **common,
            )
        )
        samples.append(
            new_sample(
                augmenter="rephrase",
                variant="0",
                prompt=f"r{i}",
                query="Put another way: " + p["question"].lower(),
                response="Working it out step by step. " + p["solution"],
                answer=p["answer"],
                verified_by="gold",
                **common,
            )
        )
        samples.append(
            new_sample(
                augmenter="muggle",
                variant="0",
                prompt=f"m{i}",
                query=f"A spaceship travels {i + 3} light years through a nebula of crystal "
                f"whales singing in chorus. How many songs does it hear? Variant {i}.",
                response=f"Each light year it hears {i + 2} songs, so {(i + 3) * (i + 2)} songs.",
                answer=str((i + 3) * (i + 2)),
                verified_by="program",
                **common,
            )
        )
        samples.append(
            new_sample(
                augmenter="ansaug",
                variant="1",
                prompt=f"x{i}",
                query=p["question"],
                response="I am not sure.",
                answer=None,
                reason="no_answer",
                **common,
            )
        )
    samples[2]["query"] = PLANTED + " " + samples[2]["query"]  # model text that must stay text in the report
    problems_frame(base).write_parquet(folder / "problems.parquet")
    samples_frame(samples).write_parquet(folder / "samples.parquet")
    if stats is not None:
        (folder / "stats.json").write_text(json.dumps(stats))
    return folder


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
