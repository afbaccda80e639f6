"""GRPO on GSM8K-style prompts with TRL's GRPOTrainer and the reward functions of sft.rewards."""

from __future__ import annotations

import time

import polars as pl

from core.datasets import load_problems
from sft.curriculum import Curriculum
from sft.data import grpo_dataset, grpo_records, kept_as_problems
from sft.rewards import RewardFunc, build_rewards
from sft.runtime import (
    GrpoOptions,
    check_gpus,
    check_vllm,
    common_args,
    lora_config,
    resolve_model,
    save_final,
    write_metrics,
)


def vllm_args(options: GrpoOptions) -> dict:
    """GRPOConfig fields for generation: transformers by default; vLLM in the trainer's process or on a server."""
    check_vllm(options.vllm, options.vllm_server_url)
    if options.vllm is None:
        return {"use_vllm": False}
    args = {"use_vllm": True, "vllm_mode": options.vllm}
    if options.vllm == "colocate":
        args["vllm_gpu_memory_utilization"] = options.vllm_gpu_memory_utilization
    else:
        args["vllm_server_base_url"] = options.vllm_server_url
    return args


def grpo_problems(options: GrpoOptions):
    """The problems GRPO trains on: a run's kept rows (--run) or a GSM8K source (--problems)."""
    if options.run:
        return kept_as_problems(options.run, limit=options.limit)
    return load_problems(options.problems, limit=options.limit, split="train")


def grpo_rewards(options: GrpoOptions) -> tuple[list, list[float]]:
    """(reward functions, weights) named by --rewards / --reward-weight (sft.rewards' registry)."""
    return build_rewards(
        options.rewards,
        options.reward_weights,
        soft_limit=options.length_soft_limit,
        hard_limit=options.length_hard_limit,
    )


def build_grpo_trainer(
    options: GrpoOptions,
    problems: pl.DataFrame | None = None,
    task_rewards: dict[str, RewardFunc] | None = None,
    curriculum: Curriculum | None = None,
    dataset=None,
):
    """The GRPOTrainer of `options`. A flow may pass a task's `problems` (else they come from --run / --problems) or
    a `curriculum` of them, `task_rewards` (weight 1 each, after the named ones of sft.rewards) and a ready `dataset`
    (rows with a conversational `prompt` and the columns the rewards read; then `problems` is not read). sft imports
    no task: the flow hands these down."""
    from trl import GRPOConfig, GRPOTrainer

    check_gpus(options.gpus)
    if dataset is None:
        if curriculum is not None:
            dataset = curriculum.dataset(grpo_records)
        else:
            dataset = grpo_dataset(problems if problems is not None else grpo_problems(options))
    reward_funcs, weights = grpo_rewards(options)
    reward_funcs += list((task_rewards or {}).values())
    weights += [1.0] * len(task_rewards or {})
    config = GRPOConfig(
        **common_args(options),
        num_generations=options.num_generations,
        max_completion_length=options.max_completion_length,
        temperature=options.temperature,
        beta=options.beta,
        reward_weights=weights,
        log_completions=False,
        **vllm_args(options),
    )
    return GRPOTrainer(
        model=resolve_model(options.model),
        reward_funcs=reward_funcs,
        args=config,
        train_dataset=dataset,
        peft_config=lora_config(options),
        callbacks=[curriculum.callback()] if curriculum else None,
    )


def reward_means(log_history: list[dict]) -> dict[str, list[float]]:
    """Per reward function, its logged mean at each logging step (TRL logs `rewards/<name>/mean`)."""
    means: dict[str, list[float]] = {}
    for entry in log_history:
        for key, value in entry.items():
            if key.startswith("rewards/") and key.endswith("/mean"):
                means.setdefault(key.split("/")[1], []).append(value)
    return means


def run_grpo(
    options: GrpoOptions,
    problems: pl.DataFrame | None = None,
    task_rewards: dict[str, RewardFunc] | None = None,
    curriculum: Curriculum | None = None,
) -> dict:
    """Train, then write OUT/model (and OUT/adapter with LoRA) and OUT/metrics.json; returns the metrics."""
    return train_and_save(build_grpo_trainer(options, problems, task_rewards, curriculum), options, curriculum)


def train_and_save(trainer, options: GrpoOptions, curriculum: Curriculum | None = None) -> dict:
    """Run a built GRPO trainer, then write OUT/model (OUT/adapter with LoRA) and OUT/metrics.json (with the levels a
    `curriculum` went through)."""
    started = time.perf_counter()
    result = trainer.train()
    train_metrics = {**result.metrics, "wall_s": round(time.perf_counter() - started, 3)}
    train_metrics["reward_means"] = reward_means(trainer.state.log_history)
    if curriculum:
        train_metrics["curriculum_levels"] = curriculum.history
    save_final(trainer, options.out, options.lora)
    return write_metrics(trainer, options.out, "grpo", options, train_metrics)
