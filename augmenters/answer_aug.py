"""Answer augmentation (GSM_AnsAug): sample several step-by-step solutions of the original question.

The answer filter keeps those whose final answer equals the gold answer; exact duplicates are dropped there too.

`ansaug_mode` picks how many solutions a problem gets:
  - fixed: `ansaug_n` samples, one request (MetaMath's AnsAug).
  - uniform (DART-Math's uniform rejection sampling): rounds of `ansaug_n` samples until the problem has
    `ansaug_k` correct solutions or `ansaug_budget` samples were drawn.
  - prop2diff (DART-Math's "proportional to difficulty"): the first round estimates the pass rate p; the problem
    then wants max(1, ceil(ansaug_k * (1 - p))) correct solutions within the same budget: an easy problem stops
    early, a hard one keeps the full target, so the samples go to the problems with a low pass rate.
Round r asks with a seed derived from the run seed, the problem and r, so a run is the same for the same seed;
round 0 is the fixed mode's request. A problem's rounds are one (problem, augmenter) pair of the journal.
"""

from __future__ import annotations

import math

import polars as pl

from augmenters.base import AugmentConfig, finish_response, reply_reason, solve
from core.answers import answers_equal, normalize_answer
from core.errors import UserError
from core.llm.base import LLM
from core.schemas import new_sample

ANSAUG_MODES = ("fixed", "uniform", "prop2diff")


def prop2diff_target(k: int, pass_rate: float) -> int:
    """Correct solutions a problem with this first-round pass rate wants: k for the hardest, at least 1."""
    return max(1, math.ceil(k * (1.0 - pass_rate) - 1e-9))


def check_mode(cfg: AugmentConfig) -> None:
    if cfg.ansaug_mode not in ANSAUG_MODES:
        raise UserError(f"--ansaug-mode takes one of {', '.join(ANSAUG_MODES)}; got {cfg.ansaug_mode!r}.")
    if cfg.ansaug_mode != "fixed" and (cfg.ansaug_k < 1 or cfg.ansaug_budget < 1):
        raise UserError("--ansaug-k and --ansaug-budget must be at least 1.")


async def augment(problem: dict, llm: LLM, cfg: AugmentConfig) -> list[dict]:
    check_mode(cfg)
    question = problem["question"]
    rounds = 1 if cfg.ansaug_mode == "fixed" else None
    budget = cfg.ansaug_n if cfg.ansaug_mode == "fixed" else cfg.ansaug_budget
    wanted = cfg.ansaug_k
    samples: list[dict] = []
    correct = 0
    r = 0
    while len(samples) < budget and (rounds is None or r < rounds):
        n = min(cfg.ansaug_n, budget - len(samples))
        seed_key = f"{problem['id']}:ansaug" if r == 0 else f"{problem['id']}:ansaug:r{r}"
        solutions = await solve(llm, question, n, cfg.params(seed_key=seed_key))
        hits = 0
        for k, (completion, answer) in enumerate(solutions):
            hits += reply_reason(completion) is None and answers_equal(problem["answer"], answer)
            samples.append(
                new_sample(
                    parent_id=problem["id"],
                    augmenter="ansaug",
                    variant=f"s{k}" if r == 0 else f"r{r}s{k}",
                    prompt=question,
                    query=question,
                    response=finish_response(completion.text, answer),
                    reason=reply_reason(completion),
                    answer=normalize_answer(answer),
                    target=problem["answer"],
                    original_question=question,
                    model=llm.name,
                )
            )
        correct += hits
        if r == 0 and cfg.ansaug_mode == "prop2diff":
            wanted = prop2diff_target(cfg.ansaug_k, hits / max(len(solutions), 1))
        r += 1
        if cfg.ansaug_mode != "fixed" and correct >= wanted:
            break
    return samples


def pass_rates(samples: pl.DataFrame) -> pl.DataFrame:
    """Per problem, over its GSM_AnsAug samples: how many were drawn, how many reach the gold, and the pass rate.

    Computed from the samples (the answer against the target, the answer check's rule), so it holds for runs
    resumed or made before the rate was stored.
    """
    rows = samples.filter(pl.col("type") == "GSM_AnsAug").select("parent_id", "answer", "target").to_dicts()
    counts: dict[str, list[int]] = {}
    for row in rows:
        drawn_correct = counts.setdefault(row["parent_id"], [0, 0])
        drawn_correct[0] += 1
        drawn_correct[1] += answers_equal(row["target"], row["answer"])
    return pl.DataFrame(
        [
            {"problem_id": pid, "samples": drawn, "correct": right, "pass_rate": right / drawn}
            for pid, (drawn, right) in sorted(counts.items())
        ],
        schema={"problem_id": pl.String, "samples": pl.Int64, "correct": pl.Int64, "pass_rate": pl.Float64},
    )
