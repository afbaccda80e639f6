"""ORM and both PRM styles end to end on tiny models built here.

Real model code (transformers' Llama classes, the real SmolLM2 tokenizer read from the bundled GGUF) with FAKE,
randomly initialised weights: the scores mean nothing, the tests check the plumbing (chat formatting, padding,
step positions, aggregation, loading by --scorer-model path, best-of-N over the scores).
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

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


def test_a_reward_model_without_its_head_weight_is_refused_in_one_sentence(tokenizer, tmp_path):
    from safetensors.torch import load_file, save_file
    from transformers import LlamaForCausalLM, LlamaForSequenceClassification

    path = Path(save_tiny_llama(LlamaForSequenceClassification, tokenizer, tmp_path / "headless", num_labels=1))
    weights = load_file(path / "model.safetensors")
    save_file({k: v for k, v in weights.items() if not k.startswith("score.")}, path / "model.safetensors")
    with pytest.raises(UserError) as err:
        make_scorer("orm", str(path))
    message = str(err.value)
    assert message.startswith(f"The scorer model '{path}' has no trained weights for score.weight (they would be")
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    # a causal LM is no reward model either: its classification head would be new
    causal = save_tiny_llama(LlamaForCausalLM, tokenizer, tmp_path / "causal")
    with pytest.raises(UserError, match="has no trained weights for score.weight"):
        make_scorer("orm", causal)


def test_a_checkpoint_with_its_own_model_class_needs_trust_remote_code(tokenizer, tmp_path):
    from transformers import LlamaForTokenClassification

    path = Path(save_tiny_llama(LlamaForTokenClassification, tokenizer, tmp_path / "qwen-prm-like", num_labels=2))
    config = json.loads((path / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_qwen2_rm.Qwen2ForProcessRewardModel"}  # as Qwen2.5-Math-PRM's
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match=r"own model code \(Qwen2ForProcessRewardModel\).*--trust-remote-code"):
        make_scorer("prm-qwen", str(path))


REMOTE_REWARD_MODEL = '''
import torch
from transformers import LlamaConfig, LlamaModel, PreTrainedModel


class TinyRewardConfig(LlamaConfig):
    model_type = "tiny-reward"


class TinyRewardModel(PreTrainedModel):
    """InternLM2-Reward's interface: its own class, a value head, get_score / get_scores on chats."""

    config_class = TinyRewardConfig
    base_model_prefix = "model"

    def __init__(self, config):
        super().__init__(config)
        self.model = LlamaModel(config)
        self.v_head = torch.nn.Linear(config.hidden_size, 1, bias=False)
        self.post_init()

    def forward(self, input_ids, attention_mask=None):
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.v_head(hidden[:, -1]).squeeze(-1)

    @torch.no_grad()
    def get_score(self, tokenizer, conversation):
        ids = tokenizer.apply_chat_template(conversation, tokenize=True, return_tensors="pt", return_dict=True)
        return float(self.forward(ids["input_ids"].to(self.device))[0])

    def get_scores(self, tokenizer, conversation_list):
        return [self.get_score(tokenizer, c) for c in conversation_list]
'''


def test_a_reward_model_with_its_own_class_and_get_score_loads_with_trust_remote_code(tokenizer, tmp_path):
    import importlib
    import sys

    path = tmp_path / "internlm2-reward-like"
    path.mkdir()
    (path / "modeling_tiny_rm.py").write_text(REMOTE_REWARD_MODEL)
    sys.path.insert(0, str(path))
    try:
        module = importlib.import_module("modeling_tiny_rm")
        import torch

        torch.manual_seed(0)
        config = module.TinyRewardConfig(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
            num_attention_heads=4, num_key_value_heads=2,
        )  # fmt: skip
        config.auto_map = {
            "AutoConfig": "modeling_tiny_rm.TinyRewardConfig",
            "AutoModel": "modeling_tiny_rm.TinyRewardModel",
        }
        module.TinyRewardModel(config).save_pretrained(path)
        tokenizer.save_pretrained(path)
    finally:
        sys.path.remove(str(path))
        sys.modules.pop("modeling_tiny_rm", None)
    with pytest.raises(UserError, match=r"needs its own model code \(TinyRewardModel\)"):
        make_scorer("orm", str(path))
    scorer = make_scorer("orm", str(path), trust_remote_code=True)
    assert type(scorer.model).__name__ == "TinyRewardModel"
    scores = scorer.score_texts([QUESTION, QUESTION], [GOOD, BAD])
    chat = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": BAD}]
    assert scores[1] == pytest.approx(scorer.model.get_score(scorer.tokenizer, chat)) and scores[0] != scores[1]


def test_a_reward_model_without_pad_token_pools_the_chats_last_token(tokenizer, tmp_path):
    """A template ending in eos and no pad token: pad = eos would make pooling stop one token early."""
    import torch
    from transformers import AutoTokenizer, LlamaForSequenceClassification

    eos_ending = tmp_path / "tok"
    tok = AutoTokenizer.from_pretrained(str(Path(save_tiny_llama(LlamaForSequenceClassification, tokenizer,
                                                                 tmp_path / "base", num_labels=1))))  # fmt: skip
    tok.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}{{ eos_token }}{% endfor %}"
    tok.pad_token = None
    tok.save_pretrained(eos_ending)
    path = save_tiny_llama(LlamaForSequenceClassification, tok, tmp_path / "orm-eos", num_labels=1)
    scorer = make_scorer("orm", path)
    assert scorer.tokenizer.pad_token_id != scorer.tokenizer.eos_token_id
    texts = [GOOD, BAD]
    batched = scorer.score_texts([QUESTION] * 2, texts)
    reference = []  # the reward at each chat's very last token (its eos), one unpadded chat at a time
    for text in texts:
        ids = scorer.tokenizer(scorer.chat_text(QUESTION, text), add_special_tokens=False, return_tensors="pt")
        assert ids["input_ids"][0, -1] == scorer.tokenizer.eos_token_id
        with torch.inference_mode():
            hidden = scorer.model.model(**ids).last_hidden_state
            reference.append(float(scorer.model.score(hidden)[0, -1, 0]))
    assert batched == pytest.approx(reference, abs=1e-4)
