"""Verifier scorer: P(yes) from first-token logprobs, sampling fallback, and a run on the bundled SmolLM2."""

from __future__ import annotations

import asyncio
import math

import polars as pl
import pytest
from scripted_llm import ScriptedLLM

from filters.scoring import make_scorer
from filters.stages import best_of_n_stage
from filters.verifier import VERIFIER_QUESTION, p_yes_from_logprobs

QUESTION = "Tom has 3 boxes with 4 pens each. How many pens does he have?"
GOOD = "He has 3 * 4 = 12 pens.\nThe answer is: 12"
BAD = "He has 3 + 4 = 7 pens.\nThe answer is: 7"


def test_p_yes_is_a_softmax_over_yes_and_no_variants():
    top = {" Yes": math.log(0.3), "yes": math.log(0.1), " No": math.log(0.2), "The": math.log(0.4)}
    assert p_yes_from_logprobs(top) == pytest.approx(0.4 / 0.6)
    assert p_yes_from_logprobs({"The": -0.1, "A": -2.0}) is None


def test_without_logprobs_the_share_of_sampled_yes_is_the_score(make_frame):
    """ScriptedLLM has no logprobs: unit test of the fallback logic only (the real model runs below)."""
    llm = ScriptedLLM(lambda messages, k: "Yes." if "12" in messages[-1]["content"] and k < 3 else "No")
    scorer = make_scorer("verifier", llm=llm)
    df = make_frame([{"query": QUESTION, "response": GOOD}, {"query": QUESTION, "response": BAD}])
    assert asyncio.run(scorer.score(df)) == [3 / 8, 0.0]
    first_params = llm.calls[0][2]
    assert first_params.logprobs and first_params.max_tokens == 1
    assert VERIFIER_QUESTION in llm.calls[0][0][-1]["content"]


@pytest.mark.slow
def test_verifier_on_bundled_smollm2_keeps_best_of_n(make_frame):
    from core.llm import make_backend

    llm = make_backend("local")
    try:
        responses = [GOOD, BAD, "He has 12 pens.\nThe answer is: 12", "I do not know."]
        df = make_frame([{"query": QUESTION, "response": r, "augmenter": "ansaug"} for r in responses])
        out = asyncio.run(best_of_n_stage(df, scorer="verifier", best_of=2, llm=llm))
    finally:
        llm.close()
    scores = out["score"].to_list()
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert len(set(scores)) > 1  # the model's P(yes) depends on the solution it reads
    assert any(abs(s * 8 - round(s * 8)) > 1e-6 for s in scores)  # read from logprobs, not the sampling fallback
    kept = out.filter(pl.col("keep"))
    assert kept.height == 2 and min(kept["score"]) >= max(out.filter(~pl.col("keep"))["score"])
    assert set(out.filter(~pl.col("keep"))["reason"]) == {"not_best_of_n"}


def test_scorer_model_is_the_model_that_verifies(make_frame, monkeypatch, tmp_path):
    """--scorer verifier --scorer-model X: X answers (on the generator's kind of backend), not the generator."""
    import fake_vllm
    from tiny_models import tiny_chat_tokenizer

    from core.llm import make_backend, vllm_lease

    engines = fake_vllm.install(monkeypatch)
    for name in ("generator", "judge"):
        tiny_chat_tokenizer().save_pretrained(tmp_path / name)
    generator = make_backend("vllm", model=str(tmp_path / "generator"), gpu_memory_utilization=0.6)
    try:
        asyncio.run(generator.chat([{"role": "user", "content": QUESTION}]))
        scorer = make_scorer("verifier", str(tmp_path / "judge"), llm=generator)
        assert scorer.llm is not generator and scorer.llm.name == str(tmp_path / "judge")
        df = make_frame([{"query": QUESTION, "response": GOOD}, {"query": QUESTION, "response": BAD}])
        scores = asyncio.run(scorer.score(df))
        assert len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores)
        generator_engine, judge_engine = engines.built
        assert judge_engine.args.model == str(tmp_path / "judge") and judge_engine.args.gpu_memory_utilization == 0.6
        assert any(p.logprobs == 20 and p.max_tokens == 1 for p in judge_engine.requests)
        assert len(generator_engine.requests) == 1  # the generator answered only its own question
        assert engines.most_live == 1 and judge_engine.dead  # one engine at a time; the judge's closed after scoring
        assert make_scorer("verifier", generator.name, llm=generator).llm is generator
    finally:
        generator.close()
        vllm_lease.release_gpu()
