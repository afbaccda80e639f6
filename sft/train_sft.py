"""Supervised fine-tuning on a run's kept dataset with TRL's SFTTrainer (loss on the answer only)."""

from __future__ import annotations

import time

from core.errors import UserError
from sft.data import sft_dataset
from sft.runtime import SftOptions, check_gpus, common_args, lora_config, resolve_model, save_final, write_metrics


def build_sft_trainer(options: SftOptions):
    """An SFTTrainer over the kept rows as conversational prompt-completion pairs.

    `completion_only_loss=True`: the prompt (system and user turns, and the assistant header) is masked out of the
    labels, so only the answer and its end-of-turn token are learned. This does not depend on `{% generation %}`
    markers, which SmolLM2's chat template (like many) lacks.
    """
    from trl import SFTConfig, SFTTrainer

    check_gpus(options.gpus)
    dataset = sft_dataset(options.run, system_prompt=options.system_prompt, limit=options.limit)
    config = SFTConfig(
        **common_args(options),
        max_length=options.max_length,
        packing=options.packing,
        completion_only_loss=True,
        assistant_only_loss=False,
        dataset_num_proc=None,
    )
    trainer = SFTTrainer(
        model=resolve_model(options.model),
        args=config,
        train_dataset=dataset,
        peft_config=lora_config(options),
    )
    if len(trainer.train_dataset) == 0:
        raise UserError(
            f"No example keeps an answer token within --max-length {options.max_length} (system prompt and question "
            "come first); raise --max-length."
        )
    return trainer


def run_sft(options: SftOptions) -> dict:
    """Train, then write OUT/model (and OUT/adapter with LoRA) and OUT/metrics.json; returns the metrics."""
    trainer = build_sft_trainer(options)
    started = time.perf_counter()
    result = trainer.train()
    train_metrics = {**result.metrics, "wall_s": round(time.perf_counter() - started, 3)}
    save_final(trainer, options.out, options.lora)
    return write_metrics(trainer, options.out, "sft", options, train_metrics)
