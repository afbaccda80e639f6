"""Record schemas shared by every stage, as polars schemas, and the deterministic sample id."""

from __future__ import annotations

import hashlib
import json

import polars as pl

PROBLEM_SCHEMA = pl.Schema(
    {
        "id": pl.String,
        "question": pl.String,
        "answer": pl.String,  # normalized final answer
        "solution": pl.String,  # reference solution, may be null
        "source": pl.String,
        "calculations": pl.List(pl.String),  # the solution's calculator marks in order ("48/2=24"); may be empty
    }
)

SAMPLE_SCHEMA = pl.Schema(
    {
        "id": pl.String,
        "parent_id": pl.String,
        "type": pl.String,  # GSM_AnsAug, GSM_Rephrased, GSM_SV, GSM_FOBAR, ...
        "variant": pl.String,  # which draw / masked number / perturbation kind within the type
        "query": pl.String,
        "response": pl.String,
        "answer": pl.String,  # final answer parsed from the response (null: none found)
        "target": pl.String,  # the answer the response must reach to be verified
        "original_question": pl.String,
        "model": pl.String,
        "verified_by": pl.String,  # null until verified: "gold", "masked_number", "majority", "program"
        "score": pl.Float64,
        "keep": pl.Boolean,
        "reason": pl.String,  # why a sample was dropped (null while kept)
    }
)

# Reasoning styles of the behaviour-primed augmenter (augmenters/primed.py); each is its own type.
PRIMED_STYLES = (
    "all",
    "backtracking",
    "backtracking+verification",
    "backtracking+subgoals",
    "backtracking+backward",
    "none",
)

# MetaMathQA type names, plus ours.
TYPE_NAMES = {
    "ansaug": "GSM_AnsAug",
    "rephrase": "GSM_Rephrased",
    "sv": "GSM_SV",
    "fobar": "GSM_FOBAR",
    "muggle": "GSM_Muggle",
    "perturb": "GSM_Perturbed",
    **{f"primed-{style}": f"GSM_Primed_{style}" for style in PRIMED_STYLES},
}


def sample_id(parent_id: str, augmenter: str, variant: str, prompt: str) -> str:
    """Deterministic id of one generated item: the same inputs always give the same id."""
    key = json.dumps([parent_id, augmenter, variant, prompt], ensure_ascii=False)
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def new_sample(
    *,
    parent_id: str,
    augmenter: str,
    variant: str,
    prompt: str,
    query: str | None,
    response: str | None,
    answer: str | None,
    target: str | None,
    original_question: str,
    model: str,
    reason: str | None = None,
    verified_by: str | None = None,
    score: float | None = None,
) -> dict:
    """One sample row with every SAMPLE_SCHEMA field; a non-null reason marks it dropped."""
    return {
        "id": sample_id(parent_id, augmenter, variant, prompt),
        "parent_id": parent_id,
        "type": TYPE_NAMES.get(augmenter, augmenter),
        "variant": variant,
        "query": query,
        "response": response,
        "answer": answer,
        "target": target,
        "original_question": original_question,
        "model": model,
        "verified_by": verified_by,
        "score": score,
        "keep": reason is None,
        "reason": reason,
    }


def samples_frame(rows: list[dict]) -> pl.DataFrame:
    """Rows to a DataFrame with exactly SAMPLE_SCHEMA (an empty list gives an empty, typed frame)."""
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA)


def problems_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=PROBLEM_SCHEMA)
