"""Fixtures of the filter tests: the bundled MiniLM embedder (loaded once) and a sample-row builder."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from core.schemas import new_sample, samples_frame


@pytest.fixture(scope="session")
def embedder():
    from core.embeddings import Embedder

    return Embedder(device="cpu")


@pytest.fixture(scope="session")
def train_questions() -> list[str]:
    """Questions of the bundled GSM8K train sample: real, mutually distinct problems."""
    text = resources.files("core").joinpath("data/gsm8k_train_sample.jsonl").read_text()
    return [json.loads(line)["question"] for line in text.splitlines() if line.strip()]


@pytest.fixture
def make_frame():
    """rows as dicts of the fields that matter -> a SAMPLE_SCHEMA frame (defaults fill the rest)."""

    def build(rows: list[dict]):
        out = []
        for i, row in enumerate(rows):
            fields = {
                "parent_id": "p0",
                "augmenter": "rephrase",
                "variant": str(i),
                "prompt": f"prompt {i}",
                "query": "q",
                "response": "r",
                "answer": None,
                "target": None,
                "original_question": "original",
                "model": "test",
            }
            extra = {k: row.pop(k) for k in ("score", "reason", "verified_by") if k in row}
            fields.update(row)
            out.append(new_sample(**fields, **extra))
        return samples_frame(out)

    return build
