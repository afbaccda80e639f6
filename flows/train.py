"""Training flows: `flows run sft`, `flows run grpo`, and `flows run export` (verl Parquet / Hugging Face Hub)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from prefect import flow, get_run_logger

from core.errors import UserError
from flows.command import FlowCommand
from flows.options import (
    at_least,
    comma_list,
    existing_folder,
    finite_float,
    integer,
    nonnegative_float,
    nonnegative_int,
    out_folder,
    positive_float,
    positive_int,
    problems_source,
    run_source,
    share,
    url,
)
from flows.outcome import fails_cleanly, run_flow
from sft.prompts import REASONING_SYSTEM_PROMPT
from sft.rewards import DEFAULT_REWARDS, REWARDS
from sft.runtime import GrpoOptions, SftOptions, TrainOptions
from tasks.registry import TASKS


def _summary_artifact(kind: str, options: TrainOptions, metrics: dict) -> None:
    from prefect.artifacts import create_markdown_artifact

    train = metrics.get("train", {})
    lines = [
        f"# {kind} run",
        "",
        f"Output: `{options.out}` (model in `model/`, metrics in `metrics.json`)",
        "",
        "| metric | value |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v} |" for k, v in train.items() if isinstance(v, int | float)]
    for name, means in train.get("reward_means", {}).items():
        lines.append(f"| {name} (mean, last logged) | {means[-1]:.3f} |")
    create_markdown_artifact("\n".join(lines), key=f"{kind}-summary", description=f"{kind} training summary")


def _train(kind: str, options: TrainOptions, **inputs) -> dict:
    from sft.launch import run_training

    logger = get_run_logger()
    logger.info("%s: training %s into %s", kind, options.model or "the bundled SmolLM2", options.out)
    metrics = run_training(options, **inputs)
    logger.info("%s: %s steps, train metrics %s", kind, metrics["global_step"], json.dumps(metrics["train"]))
    _summary_artifact(kind, options, metrics)
    return metrics


@flow(name="sft")
@fails_cleanly
def sft_flow(options: SftOptions) -> dict:
    """Supervised fine-tuning on a run's kept dataset (loss on the answer only); writes OUT/model and metrics.json."""
    return _train("sft", options)


@flow(name="grpo")
@fails_cleanly
def grpo_flow(options: GrpoOptions) -> dict:
    """GRPO on GSM8K-style prompts with the rewards of sft.rewards, or on a task's problems (`--problems NAME`) with
    its rewards and, with `--curriculum`, rising difficulty; with `--method r3`, Reflect-Retry-Reward on mined
    failures; writes OUT/model and metrics.json."""
    if options.method == "r3":
        return _train("grpo", options, **_r3_inputs(options.failures))
    return _train("grpo", options, **task_inputs(options))


def task_inputs(options: GrpoOptions) -> dict:
    """For `--problems NAME` of a task (tasks.registry): its problems (or a curriculum of them) and its reward
    functions, handed down to sft; {} for GSM8K sources."""
    from tasks.registry import load_task, split_task_name, task_problems, task_rewards

    parsed = None if options.run else split_task_name(options.problems)
    if parsed is None:
        if options.curriculum or options.step_weight is not None:
            raise UserError("--curriculum and --step-weight need a task: --problems novel-ops (or countdown).")
        return {}
    options_for_rewards = {} if options.step_weight is None else {"step_weight": options.step_weight}
    inputs: dict = {"task_rewards": task_rewards(options.problems, **options_for_rewards)}
    if not options.curriculum:
        return inputs | {"problems": task_problems(options.problems, n=options.limit, seed=options.seed)}
    from sft.curriculum import Curriculum, parse_curriculum

    if parsed[1] is not None:
        raise UserError(f"--curriculum sets the levels itself; pass --problems {parsed[0]} without :{parsed[1]}.")
    module = load_task(parsed[0])
    start, end = parse_curriculum(options.curriculum)
    curriculum = Curriculum(
        lambda n, level: module.generate(n, level=level, seed=options.seed),
        size=options.limit or module.DEFAULT_N,
        start=start,
        end=end,
        threshold=options.curriculum_threshold,
    )
    curriculum.problems(start)  # a bad level ends here, in one sentence, before training starts
    return inputs | {"curriculum": curriculum}


# --- command line ---------------------------------------------------------------------------------------------------


def _add_common(parser: argparse.ArgumentParser, learning_rate: float, batch_size: int) -> None:
    parser.add_argument(
        "--out", type=out_folder, required=True, help="output folder: checkpoints, model/, metrics.json"
    )
    parser.add_argument("--model", help="model folder, .gguf or Hub id (default: the bundled SmolLM2-135M-Instruct)")
    parser.add_argument("--epochs", type=positive_float, default=1.0, help="passes over the data (default 1)")
    parser.add_argument("--max-steps", type=integer, default=-1, help="optimizer steps; overrides --epochs when > 0")
    parser.add_argument(
        "--learning-rate", type=positive_float, default=learning_rate, help=f"default {learning_rate:g}"
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=batch_size, help=f"per device (default {batch_size})"
    )
    parser.add_argument("--grad-accum", type=positive_int, default=1, help="gradient accumulation steps (default 1)")
    parser.add_argument("--lora", action="store_true", help="train a LoRA adapter (merged into model/ at the end)")
    parser.add_argument("--lora-r", type=positive_int, default=16, help="LoRA rank (default 16)")
    parser.add_argument("--lora-alpha", type=positive_int, default=32, help="LoRA alpha (default 32)")
    parser.add_argument("--gradient-checkpointing", action="store_true", help="trade compute for GPU memory")
    parser.add_argument(
        "--save-steps", type=nonnegative_int, default=0, help="save a checkpoint-N folder every N steps (0: none)"
    )
    parser.add_argument("--logging-steps", type=positive_int, default=10, help="log metrics every N steps (default 10)")
    parser.add_argument("--seed", type=integer, default=0)
    parser.add_argument(
        "--gpus", type=positive_int, default=1, help="data-parallel GPUs through accelerate (default 1)"
    )
    parser.add_argument("--limit", type=positive_int, help="use only the first N rows / problems")
    parser.add_argument("--deepspeed", metavar="CONFIG", help="a DeepSpeed JSON config (runs under accelerate launch)")
    parser.add_argument("--fsdp", metavar="OPTIONS", help="FSDP, e.g. 'full_shard auto_wrap' (accelerate launch)")
    parser.add_argument("--fsdp-config", metavar="CONFIG", help="with --fsdp: an FSDP JSON config")


def _common(args: argparse.Namespace) -> dict:
    for name in ("epochs", "learning_rate", "batch_size", "grad_accum", "gpus"):
        if getattr(args, name) <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be positive.")
    return {
        "out": args.out,
        "model": args.model,
        "epochs": args.epochs,
        "max_steps": args.max_steps,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "grad_accum": args.grad_accum,
        "lora": args.lora,
        "lora_r": args.lora_r,
        "lora_alpha": args.lora_alpha,
        "gradient_checkpointing": args.gradient_checkpointing,
        "save_steps": args.save_steps,
        "logging_steps": args.logging_steps,
        "seed": args.seed,
        "gpus": args.gpus,
        "limit": args.limit,
        "deepspeed": args.deepspeed,
        "fsdp": args.fsdp,
        "fsdp_config": args.fsdp_config,
    }


def _add_sft_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run",
        type=run_source,
        required=True,
        help="the --out folder of `flows run augment-gsm8k` (or a Parquet file)",
    )
    _add_common(parser, learning_rate=1e-5, batch_size=8)
    parser.add_argument(
        "--max-length", type=positive_int, default=1024, help="tokens per example, longer ones cut (1024)"
    )
    parser.add_argument("--packing", action="store_true", help="pack several examples into each sequence")
    parser.add_argument(
        "--system-prompt",
        default=REASONING_SYSTEM_PROMPT,
        help="the system turn before every question (default: the one GRPO and evaluation use; '' for none)",
    )


def _run_sft(args: argparse.Namespace) -> int:
    from sft.runtime import check_gpus

    check_gpus(args.gpus)
    options = SftOptions(
        **_common(args),
        run=args.run,
        max_length=args.max_length,
        packing=args.packing,
        system_prompt=args.system_prompt or None,
    )
    from sft.data import read_kept

    read_kept(args.run)  # a bad file or folder: one sentence before Prefect starts
    metrics = run_flow(sft_flow, options)
    print(
        f"sft: {metrics['global_step']} steps, train loss {metrics['train'].get('train_loss', float('nan')):.4f}; "
        f"model in {Path(args.out) / 'model'}"
    )
    return 0


def _reward_weights(pairs: list[str]) -> dict[str, float]:
    weights = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            weights[name.strip()] = finite_float(value)
        except argparse.ArgumentTypeError:
            sep = ""
        if not sep:
            raise UserError(f"--reward-weight takes NAME=WEIGHT, e.g. correct=2.0, not {pair!r}.")
    return weights


def _add_grpo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--problems",
        type=problems_source,
        default="sample",
        help="GSM8K problems (default: the bundled sample) or a task: countdown[:LEVEL], novel-ops[:LEVEL]",
    )
    parser.add_argument(
        "--run",
        type=run_source,
        help="take prompts and answers from this run's kept dataset instead of --problems",
    )
    _add_common(parser, learning_rate=1e-6, batch_size=8)
    parser.add_argument("--num-generations", type=at_least(2), default=8, help="completions per prompt (default 8)")
    parser.add_argument("--max-completion-length", type=positive_int, default=256, help="tokens per completion (256)")
    parser.add_argument("--temperature", type=nonnegative_float, default=1.0, help="sampling temperature (default 1.0)")
    parser.add_argument(
        "--beta", type=nonnegative_float, default=0.0, help="KL coefficient (default 0: no reference model)"
    )
    parser.add_argument(
        "--rewards",
        type=comma_list,
        default=",".join(DEFAULT_REWARDS),
        help=f"comma-separated rewards from {', '.join(REWARDS)} (default: %(default)s)",
    )
    parser.add_argument(
        "--reward-weight",
        action="append",
        default=[],
        metavar="NAME=WEIGHT",
        help="weight of one reward (repeatable; default 1 each)",
    )
    parser.add_argument(
        "--length-soft-limit", type=nonnegative_int, default=256, help="length reward: tokens free of penalty"
    )
    parser.add_argument(
        "--length-hard-limit", type=positive_int, default=512, help="length reward: tokens of full penalty"
    )
    parser.add_argument(
        "--method",
        choices=["grpo", "r3"],
        default="grpo",
        help="grpo (default) or r3: train reflections on mined failures, rewarded when a retry succeeds",
    )
    parser.add_argument(
        "--failures", type=existing_folder, help="with --method r3: the --out folder of `flows run mine-failures`"
    )
    parser.add_argument("--vllm", choices=["colocate", "server"], help="generate with vLLM (GPU only)")
    parser.add_argument(
        "--vllm-server-url", type=url, help="with --vllm server: e.g. http://localhost:8000 (`trl vllm-serve`)"
    )
    parser.add_argument("--vllm-gpu-memory-utilization", type=share, default=0.3, help="with --vllm colocate (0.3)")
    parser.add_argument(
        "--step-weight",
        type=finite_float,
        help="task step reward: weight of step accuracy vs the answer (novel-ops: 0.8)",
    )
    parser.add_argument("--curriculum", metavar="START:END", help="task difficulty levels to rise through, e.g. 1:6")
    parser.add_argument(
        "--curriculum-threshold",
        type=finite_float,
        help="raise the level when the mean reward reaches it (default: by step)",
    )


def _run_grpo(args: argparse.Namespace) -> int:
    from sft.rewards import build_rewards

    rewards = [r.strip() for r in args.rewards.split(",") if r.strip()]
    weights = _reward_weights(args.reward_weight)
    on_task = not args.run and args.problems.partition(":")[0] in TASKS
    if args.method == "r3":  # the reflection is rewarded by its retry alone, never by an answer of its own
        rewards, weights = [], {}
        _r3_inputs(args.failures)  # a missing or foreign --failures: one sentence before Prefect starts
    elif on_task and _task_rewards(args.problems):  # a task's own rewards replace the GSM8K answer rewards
        rewards = [r for r in rewards if r not in TASK_REPLACES]
        weights = {k: v for k, v in weights.items() if k not in TASK_REPLACES}
    if not on_task and (args.curriculum or args.step_weight is not None):
        raise UserError("--curriculum and --step-weight need a task: --problems novel-ops (or countdown).")
    if args.step_weight is not None and not 0 <= args.step_weight <= 1:
        raise UserError(f"--step-weight must lie between 0 and 1, not {args.step_weight:g}.")
    if args.curriculum:
        from sft.curriculum import parse_curriculum

        parse_curriculum(args.curriculum)
    try:
        build_rewards(rewards, weights)
    except ValueError as exc:
        raise UserError(f"{str(exc)[0].upper()}{str(exc)[1:]}.") from None
    if args.length_hard_limit <= args.length_soft_limit:
        raise UserError("--length-hard-limit must be more than --length-soft-limit (tokens of full vs no penalty).")
    if args.num_generations < 2:
        raise UserError("--num-generations must be at least 2: GRPO compares completions of the same prompt.")
    if (args.batch_size * args.grad_accum * args.gpus) % args.num_generations:
        raise UserError("--batch-size x --grad-accum x --gpus must be a multiple of --num-generations.")
    from sft.runtime import check_gpus, check_vllm

    check_vllm(args.vllm, args.vllm_server_url)  # before Prefect starts: one clear sentence, no flow run
    check_gpus(args.gpus)
    if args.method != "r3":  # the problems, read now for the same reason (a task's are made by the flow)
        from sft.data import kept_as_problems
        from tasks.registry import preload_source

        if args.run:
            kept_as_problems(args.run, limit=args.limit)
        else:
            preload_source(args.problems, limit=args.limit, split="train")
    options = GrpoOptions(
        **_common(args),
        problems=args.problems,
        run=args.run,
        num_generations=args.num_generations,
        max_completion_length=args.max_completion_length,
        temperature=args.temperature,
        beta=args.beta,
        rewards=rewards,
        reward_weights=weights,
        length_soft_limit=args.length_soft_limit,
        length_hard_limit=args.length_hard_limit,
        vllm=args.vllm,
        vllm_server_url=args.vllm_server_url,
        vllm_gpu_memory_utilization=args.vllm_gpu_memory_utilization,
        method=args.method,
        failures=args.failures,
        step_weight=args.step_weight,
        curriculum=args.curriculum,
        curriculum_threshold=args.curriculum_threshold,
    )
    metrics = run_flow(grpo_flow, options)
    means = ", ".join(f"{k} {v[-1]:.3f}" for k, v in metrics["train"].get("reward_means", {}).items())
    print(f"grpo: {metrics['global_step']} steps; last reward means: {means}; model in {Path(args.out) / 'model'}")
    return 0


def _r3_inputs(failures: str | None) -> dict:
    """The mined failures and the check of their task (its verifier; GSM8K: the final answer equals `answer`)."""
    from flows.mine_failures import read_failures
    from tasks.registry import TASKS, load_task

    if not failures:
        raise UserError("--method r3 needs --failures DIR, the --out folder of `flows run mine-failures`.")
    problems = read_failures(failures)
    tasks = set(problems["task"].unique().to_list())
    if len(tasks) != 1:
        raise UserError(f"{failures} mixes tasks {sorted(tasks)}; mine one task per folder.")
    task = tasks.pop()
    if task not in TASKS:
        return {"problems": problems, "check": None}
    verify = load_task(task).verify
    return {"problems": problems, "check": lambda text, row: verify(text, **row)}


TASK_REPLACES = ("numeric", "correct")  # GSM8K answer rewards that a task's own rewards replace


def _task_rewards(problems: str) -> dict:
    """The task's reward functions when --problems names a task (its level checked here, before Prefect starts)."""
    from tasks.registry import task_problems, task_rewards

    if task_problems(problems, n=1) is None:
        return {}
    return task_rewards(problems)


# --- export ---------------------------------------------------------------------------------------------------------


@flow(name="export-dataset")
@fails_cleanly
def export_flow(
    run: str,
    out: str | None = None,
    test_problems: str | None = "sample",
    push_repo: str | None = None,
    private: bool = True,
) -> dict:
    """Export a run's kept dataset to verl's Parquet layout (OUT/train.parquet, test.parquet) and/or the Hub."""
    from sft.export import export_verl, push_to_hub

    result: dict = {}
    if out:
        result["verl"] = export_verl(run, out, test_problems=test_problems)
        get_run_logger().info("verl layout written to %s: %s", out, result["verl"])
    if push_repo:
        result["hub"] = push_to_hub(run, push_repo, private=private)
        get_run_logger().info("pushed to %s", result["hub"])
    return result


def _add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", type=existing_folder, required=True, help="the --out folder of augment-gsm8k")
    parser.add_argument(
        "--verl-out", type=out_folder, help="write verl's train.parquet / test.parquet / README.md here"
    )
    parser.add_argument(
        "--test-problems",
        type=problems_source,
        default="sample",
        help="GSM8K test problems for test.parquet ('none': skip)",
    )
    parser.add_argument("--push-to-hub", metavar="ORG/NAME", help="upload the kept rows with a dataset card")
    parser.add_argument("--public", action="store_true", help="make the Hub dataset public (default private)")


def _run_export(args: argparse.Namespace) -> int:
    if not args.verl_out and not args.push_to_hub:
        raise UserError("Say where to export: --verl-out DIR, --push-to-hub ORG/NAME, or both.")
    test = None if args.test_problems in ("", "none") else args.test_problems
    result = run_flow(export_flow, args.run, args.verl_out, test, args.push_to_hub, not args.public)
    for key, value in result.items():
        print(f"{key}: {value}")
    return 0


SFT_COMMAND = FlowCommand(
    "sft", "supervised fine-tuning on a run's kept dataset (TRL SFTTrainer)", _add_sft_arguments, _run_sft
)
GRPO_COMMAND = FlowCommand(
    "grpo", "GRPO on GSM8K-style prompts with math rewards (TRL GRPOTrainer)", _add_grpo_arguments, _run_grpo
)
EXPORT_COMMAND = FlowCommand(
    "export",
    "export a kept dataset to verl's Parquet layout or the Hugging Face Hub",
    _add_export_arguments,
    _run_export,
)
