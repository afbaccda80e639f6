"""GRPO on GSM8K-style prompts with TRL's GRPOTrainer and the reward functions of sft.rewards."""

from __future__ import annotations

import time

from core.datasets import load_problems
from sft.data import grpo_dataset, kept_as_problems
from sft.rewards import build_rewards
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


def build_grpo_trainer(options: GrpoOptions, train_dataset=None, reward_funcs: list | None = None, weights=None):
    """A GRPOTrainer from a dataset (rows with a conversational `prompt` and the columns the rewards read) and reward
    functions in TRL's signature; by default the problems and rewards the options name. Callers with their own
    prompts or rewards (a curriculum, task rewards) pass them here."""
    from trl import GRPOConfig, GRPOTrainer

    check_gpus(options.gpus)
    if train_dataset is None:
        train_dataset = grpo_dataset(grpo_problems(options))
    if reward_funcs is None:
        reward_funcs, weights = grpo_rewards(options)
    weights = list(weights) if weights is not None else [1.0] * len(reward_funcs)
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
        train_dataset=train_dataset,
        peft_config=lora_config(options),
    )


def reward_means(log_history: list[dict]) -> dict[str, list[float]]:
    """Per reward function, its logged mean at each logging step (TRL logs `rewards/<name>/mean`)."""
    means: dict[str, list[float]] = {}
    for entry in log_history:
        for key, value in entry.items():
            if key.startswith("rewards/") and key.endswith("/mean"):
                means.setdefault(key.split("/")[1], []).append(value)
    return means


def run_grpo(options: GrpoOptions) -> dict:
    """Train, then write OUT/model (and OUT/adapter with LoRA) and OUT/metrics.json; returns the metrics."""
    trainer = build_grpo_trainer(options)
    started = time.perf_counter()
    result = trainer.train()
    train_metrics = {**result.metrics, "wall_s": round(time.perf_counter() - started, 3)}
    train_metrics["reward_means"] = reward_means(trainer.state.log_history)
    save_final(trainer, options.out, options.lora)
    return write_metrics(trainer, options.out, "grpo", options, train_metrics)
