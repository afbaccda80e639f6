"""DART-Math rejection sampling in AnsAug: uniform vs prop2diff, budgets, seeds per round, pass rates."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from scripted_llm import ScriptedLLM

from augmenters import answer_aug
from augmenters.answer_aug import pass_rates, prop2diff_target
from augmenters.base import AugmentConfig
from core.errors import UserError
from core.schemas import samples_frame

EASY = {"id": "p-easy", "question": "Easy: what is 2 + 3?", "answer": "5"}
HARD = {"id": "p-hard", "question": "Hard: what is 17 * 23?", "answer": "391"}
# the model's hit pattern per question, repeating: easy right 9 times in 10, hard right 1 time in 5
PATTERN = {EASY["question"]: [True, True, False] + [True] * 7, HARD["question"]: [False, False, True, False, False]}


def _model() -> ScriptedLLM:
    drawn: Counter[str] = Counter()

    def reply(messages, k: int) -> str:
        question = messages[-1]["content"]
        right = PATTERN[question][drawn[question] % len(PATTERN[question])]
        drawn[question] += 1
        answer = {EASY["question"]: "5", HARD["question"]: "391"}[question] if right else "1"
        return f"Some steps.\nThe answer is: {answer}"

    return ScriptedLLM(reply)


def _run(mode: str, problem: dict, **cfg) -> list[dict]:
    config = AugmentConfig(ansaug_mode=mode, ansaug_n=4, ansaug_k=4, ansaug_budget=24, **cfg)
    return asyncio.run(answer_aug.augment(problem, _model(), config))


def _correct(rows: list[dict]) -> int:
    return sum(r["answer"] == r["target"] for r in rows)


def test_fixed_mode_is_one_request_of_ansaug_n():
    rows = _run("fixed", HARD)
    assert len(rows) == 4 and [r["variant"] for r in rows] == ["s0", "s1", "s2", "s3"]


def test_uniform_samples_until_k_correct_or_budget():
    easy, hard = _run("uniform", EASY), _run("uniform", HARD)
    assert _correct(easy) == 7 and len(easy) == 8  # round 0 has 3 right, round 1 four more: k=4 reached
    assert _correct(hard) == 4 and len(hard) == 20  # 1 in 5 right: 4 correct after 20 draws, within the budget of 24
    assert len(_run("uniform", HARD, seed=1)) <= 24
    config = AugmentConfig(ansaug_mode="uniform", ansaug_n=4, ansaug_k=9, ansaug_budget=10)
    starved = asyncio.run(answer_aug.augment(HARD, _model(), config))
    assert len(starved) == 10  # the budget caps a problem that never reaches k (last round asks only 2)


def test_prop2diff_spends_more_on_hard_problems_than_easy_ones_for_the_same_budget():
    easy, hard = _run("prop2diff", EASY), _run("prop2diff", HARD)
    assert len(hard) > len(easy)
    assert len(easy) == 4  # first round 3 of 4 right (pass rate 0.75): wants max(1, ceil(4 * 0.25)) = 1: done
    assert len(hard) == 16 and _correct(hard) == 3  # first round 1 of 4 (0.25): wants ceil(4 * 0.75) = 3
    # against uniform with the same k and budget, the share of samples going to the hard problem grows
    uniform_share = len(_run("uniform", HARD)) / (len(_run("uniform", HARD)) + len(_run("uniform", EASY)))
    assert len(hard) / (len(hard) + len(easy)) > uniform_share
    assert prop2diff_target(4, 0.0) == 4 and prop2diff_target(4, 1.0) == 1 and prop2diff_target(4, 0.5) == 2


def test_rounds_have_their_own_seeds_and_ids_and_replay_the_same():
    llm = _model()
    config = AugmentConfig(ansaug_mode="uniform", ansaug_n=4, ansaug_k=4, ansaug_budget=24, seed=7)
    rows = asyncio.run(answer_aug.augment(HARD, llm, config))
    seeds = [params.seed for _, _, params in llm.calls]
    assert len(seeds) == 5 and len(set(seeds)) == 5
    assert seeds[0] == config.params(seed_key=f"{HARD['id']}:ansaug").seed  # round 0 is the fixed mode's request
    assert len({r["id"] for r in rows}) == len(rows)
    replay = _model()
    assert asyncio.run(answer_aug.augment(HARD, replay, config)) == rows
    assert [p.seed for _, _, p in replay.calls] == seeds
    other = _model()
    asyncio.run(answer_aug.augment(HARD, other, AugmentConfig(ansaug_mode="uniform", ansaug_budget=24, seed=8)))
    assert [p.seed for _, _, p in other.calls][0] != seeds[0]


def test_pass_rate_per_problem_from_the_samples():
    rows = _run("uniform", EASY) + _run("uniform", HARD)
    rates = {r["problem_id"]: r for r in pass_rates(samples_frame(rows)).to_dicts()}
    assert rates["p-hard"] == {"problem_id": "p-hard", "samples": 20, "correct": 4, "pass_rate": 0.2}
    assert rates["p-easy"]["samples"] == 8 and rates["p-easy"]["correct"] == _correct(_run("uniform", EASY))


def test_bad_mode_is_one_sentence():
    with pytest.raises(UserError, match="--ansaug-mode"):
        _run("greedy", EASY)
