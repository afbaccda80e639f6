"""GRPO on a tiny random model with the SmolLM2 tokenizer: two steps, each reward's mean logged."""

from __future__ import annotations

import json

import pytest

from core.errors import UserError
from sft.runtime import GrpoOptions
from sft.train_grpo import run_grpo, vllm_args


def test_grpo_two_steps_log_each_reward_mean(tiny_model_dir, tmp_path):
    out = tmp_path / "grpo"
    options = GrpoOptions(
        out=str(out),
        model=str(tiny_model_dir),
        problems="sample",
        limit=4,
        max_steps=2,
        batch_size=4,
        num_generations=2,
        max_completion_length=12,
        logging_steps=1,
        learning_rate=1e-4,
        rewards=["numeric", "correct", "reflection", "boxed", "length"],
        reward_weights={"length": 0.5},
        length_soft_limit=4,
        length_hard_limit=12,
    )
    metrics = run_grpo(options)

    assert metrics["global_step"] == 2
    means = metrics["train"]["reward_means"]
    expected = {
        "numeric_answer_reward",
        "correct_answer_reward",
        "reflection_reward",
        "boxed_format_reward",
        "length_reward",
    }
    assert set(means) == expected
    assert all(len(values) == 2 for values in means.values())
    # 12 random tokens never hold a reflection phrase or a box; the length reward is shaped past 4 tokens
    assert means["boxed_format_reward"] == [0.0, 0.0]
    assert all(-1.0 <= v <= 0.0 for v in means["length_reward"])
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["options"]["reward_weights"] == {"length": 0.5}
    assert (out / "model" / "config.json").exists()


def test_vllm_without_a_gpu_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="vLLM generation needs a CUDA GPU"):
        vllm_args(GrpoOptions(out=str(tmp_path), vllm="colocate"))
    with pytest.raises(UserError, match="colocate or server"):
        vllm_args(GrpoOptions(out=str(tmp_path), vllm="remote"))
    assert vllm_args(GrpoOptions(out=str(tmp_path))) == {"use_vllm": False}
