"""SFT on a tiny random model with the SmolLM2 tokenizer: the answer-only loss mask, and the loss going down."""

from __future__ import annotations

import json

from sft.prompts import REASONING_SYSTEM_PROMPT
from sft.runtime import SftOptions
from sft.train_sft import build_sft_trainer, run_sft


def test_loss_mask_covers_only_the_answer(tiny_model_dir, kept_run_dir, tmp_path):
    trainer = build_sft_trainer(SftOptions(out=str(tmp_path / "out"), model=str(tiny_model_dir), run=str(kept_run_dir)))
    tokenizer = trainer.processing_class
    row = trainer.train_dataset[0]
    trained = [t for t, label in zip(row["input_ids"], row["labels"], strict=True) if label != -100]
    masked = [t for t, label in zip(row["input_ids"], row["labels"], strict=True) if label == -100]

    # one format for SFT, GRPO and evaluation: the same system prompt, the final answer in \boxed{}
    assert tokenizer.decode(trained).strip() == "3 + 4 = 7.\nThe answer is \\boxed{7}.<|im_end|>"
    prompt_text = tokenizer.decode(masked)
    assert REASONING_SYSTEM_PROMPT in prompt_text and "Tom has 3 apples" in prompt_text
    assert prompt_text.endswith("<|im_start|>assistant\n")
    assert row["input_ids"][: len(masked)] == masked  # the prompt comes first, then only answer tokens


def test_sft_loss_goes_down_and_writes_model_and_metrics(tiny_model_dir, kept_run_dir, tmp_path):
    out = tmp_path / "sft"
    options = SftOptions(
        out=str(out),
        model=str(tiny_model_dir),
        run=str(kept_run_dir),
        max_steps=12,  # 8 took the loss down 19.7 % on the boxed-answer rows with the system prompt (issue 12)
        learning_rate=1e-2,
        batch_size=4,
        logging_steps=1,
        max_length=128,
    )
    metrics = run_sft(options)

    losses = [entry["loss"] for entry in metrics["log_history"] if "loss" in entry]
    assert len(losses) == 12
    assert losses[-1] < losses[0] * 0.8, losses
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["global_step"] == 12 and saved["kind"] == "sft"
    assert (out / "model" / "config.json").exists() and (out / "model" / "tokenizer.json").exists()


def test_sft_with_lora_saves_adapter_and_merged_model(tiny_model_dir, kept_run_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "lora"
    run_sft(
        SftOptions(
            out=str(out),
            model=str(tiny_model_dir),
            run=str(kept_run_dir),
            max_steps=2,
            batch_size=2,
            lora=True,
            lora_r=4,
            logging_steps=1,
            max_length=128,  # the shared system prompt comes first (issue 12)
            learning_rate=1e-2,
        )
    )

    assert (out / "adapter" / "adapter_config.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(str(out / "model"))  # a plain model: no peft needed to load it
    assert not hasattr(merged, "peft_config") and merged.config.num_hidden_layers == 2


def test_a_max_length_that_leaves_no_answer_is_one_sentence(tiny_model_dir, kept_run_dir, tmp_path):
    import pytest

    from core.errors import UserError

    options = SftOptions(out=str(tmp_path / "o"), model=str(tiny_model_dir), run=str(kept_run_dir), max_length=32)
    with pytest.raises(UserError, match="No example keeps an answer token within --max-length 32"):
        build_sft_trainer(options)
