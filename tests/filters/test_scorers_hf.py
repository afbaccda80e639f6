"""ORM and both PRM styles end to end on tiny models built here.

Real model code (transformers' Llama classes, the real SmolLM2 tokenizer read from the bundled GGUF) with FAKE,
randomly initialised weights: the scores mean nothing, the tests check the plumbing (chat formatting, padding,
step positions, aggregation, loading by --scorer-model path, best-of-N over the scores).
"""

from __future__ import annotations

import asyncio
import math

import pytest
from tiny_models import save_tiny_llama, smol_tokenizer

from core.errors import UserError
from filters.scoring import aggregate_steps, make_scorer, split_steps
from filters.stages import best_of_n_stage

QUESTION = "A baker fills 6 trays with 14 rolls each and sells 50. How many rolls are left?"
GOOD = "She bakes 6 * 14 = 84 rolls.\nAfter selling 50 she has 84 - 50 = 34 rolls.\nThe answer is: 34"
BAD = "She bakes 6 + 14 = 20 rolls.\nThe answer is: 20"


@pytest.fixture(scope="module")
def tokenizer():
    return smol_tokenizer()


def frame(make_frame, responses: list[str]):
    return make_frame([{"query": QUESTION, "response": r, "augmenter": "ansaug"} for r in responses])


def test_steps_and_aggregation():
    assert split_steps(GOOD) == GOOD.split("\n")
    assert split_steps("a\nb\n\nc") == ["a\nb", "c"]
    assert aggregate_steps([0.9, 0.5, 0.8], "min") == 0.5
    assert aggregate_steps([0.9, 0.5, 0.8], "last") == 0.8
    assert math.isclose(aggregate_steps([0.9, 0.5, 0.8], "prod"), 0.36)
    with pytest.raises(UserError):
        aggregate_steps([1.0], "mean")


def test_orm_scores_chats_batched_like_one_by_one(tokenizer, tmp_path, make_frame):
    from transformers import LlamaForSequenceClassification

    path = save_tiny_llama(LlamaForSequenceClassification, tokenizer, tmp_path / "orm", num_labels=1)
    scorer = make_scorer("orm", path)
    texts = [GOOD, BAD, GOOD + "\nDone."]
    batched = scorer.score_texts([QUESTION] * 3, texts)
    alone = [scorer.score_texts([QUESTION], [t])[0] for t in texts]
    assert all(math.isfinite(s) for s in batched)
    assert batched == pytest.approx(alone, abs=1e-4)  # padding does not change a chat's reward
    assert len(set(round(s, 6) for s in batched)) == 3

    df = asyncio.run(best_of_n_stage(frame(make_frame, texts), scorer="orm", scorer_model=path, best_of=1))
    best = max(range(3), key=lambda i: batched[i])
    assert df["keep"].to_list() == [i == best for i in range(3)]
    assert df["score"].to_list() == pytest.approx(batched, abs=1e-4)


def test_qwen_style_prm_scores_each_separator(tokenizer, tmp_path, make_frame):
    from transformers import LlamaForTokenClassification

    tokenizer.add_special_tokens({"additional_special_tokens": ["<extra_0>"]})
    path = save_tiny_llama(LlamaForTokenClassification, tokenizer, tmp_path / "prm", num_labels=2)
    scorer = make_scorer("prm-qwen", path, aggregate="min")
    steps = scorer.step_scores([QUESTION, QUESTION], [GOOD, BAD])
    assert [len(s) for s in steps] == [3, 2]  # one score per step separator
    assert all(0.0 < p < 1.0 for s in steps for p in s)
    assert steps[1] == pytest.approx(scorer.step_scores([QUESTION], [BAD])[0], abs=1e-4)

    df = asyncio.run(scorer.score(frame(make_frame, [GOOD, BAD])))
    assert df == pytest.approx([min(steps[0]), min(steps[1])], abs=1e-4)
    last = make_scorer("prm-qwen", path, aggregate="last")
    assert last.score_texts([QUESTION], [GOOD]) == pytest.approx([steps[0][-1]], abs=1e-4)


def test_math_shepherd_prm_scores_each_step_tag(tokenizer, tmp_path, make_frame):
    from transformers import LlamaForCausalLM

    path = save_tiny_llama(LlamaForCausalLM, tokenizer, tmp_path / "shepherd")
    scorer = make_scorer("prm-shepherd", path, aggregate="prod")
    text, tag_ends = scorer.prompt_text(QUESTION, split_steps(GOOD))
    assert text.count(" ки") == 3 and all(text[e] == "и" for e in tag_ends)
    steps = scorer.step_scores([QUESTION, QUESTION], [GOOD, BAD])
    assert [len(s) for s in steps] == [3, 2]
    assert all(0.0 < p < 1.0 for s in steps for p in s)
    df = asyncio.run(
        best_of_n_stage(
            frame(make_frame, [GOOD, BAD]), scorer="prm-shepherd", scorer_model=path, best_of=2, prm_aggregate="prod"
        )
    )
    assert df["keep"].to_list() == [True, True]
    assert df["score"].to_list() == pytest.approx([math.prod(s) for s in steps], abs=1e-4)


def test_missing_scorer_model_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="Could not load scorer model"):
        make_scorer("orm", str(tmp_path / "no-such-model"))
    with pytest.raises(UserError, match="needs --scorer-model"):
        make_scorer("prm-qwen", None)
