"""What the training stages share: options, model resolution, precision and GPU checks, LoRA, saving the result."""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.errors import UserError
from sft.prompts import REASONING_SYSTEM_PROMPT

FINAL_MODEL_DIR = "model"  # OUT/model: the trained model (LoRA merged in), loadable by every backend
ADAPTER_DIR = "adapter"  # OUT/adapter: the LoRA adapter alone, when trained with LoRA
METRICS_FILE = "metrics.json"


@dataclass
class TrainOptions:
    """Options every training stage takes; `out` receives checkpoints, `model/` and metrics.json."""

    out: str
    model: str | None = None  # folder, .gguf, or Hub id; None: the bundled SmolLM2-135M-Instruct
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    learning_rate: float = 1e-5
    batch_size: int = 8  # per device
    grad_accum: int = 1
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    gradient_checkpointing: bool = False
    save_steps: int = 0  # 0: no intermediate checkpoints
    logging_steps: int = 10
    seed: int = 0
    gpus: int = 1  # > 1: data-parallel processes through `accelerate launch`
    limit: int | None = None  # use only the first N rows / problems
    deepspeed: str | None = None  # a DeepSpeed JSON config (runs under `accelerate launch`)
    fsdp: str | None = None  # FSDP options, e.g. "full_shard auto_wrap" (runs under `accelerate launch`)
    fsdp_config: str | None = None  # an FSDP JSON config file


@dataclass
class SftOptions(TrainOptions):
    run: str = ""  # run folder of `flows run augment-gsm8k` (or a Parquet/JSONL file)
    max_length: int = 1024
    system_prompt: str | None = REASONING_SYSTEM_PROMPT  # the one prompt of SFT, GRPO and evaluation
    packing: bool = False


@dataclass
class GrpoOptions(TrainOptions):
    problems: str = "sample"  # GSM8K source for core.datasets (ignored when `run` is given)
    run: str | None = None  # take prompts from a run's kept dataset instead
    learning_rate: float = 1e-6
    batch_size: int = 8
    num_generations: int = 8
    max_completion_length: int = 256
    temperature: float = 1.0
    beta: float = 0.0
    rewards: list[str] = field(default_factory=lambda: ["numeric", "correct", "reflection"])
    reward_weights: dict[str, float] = field(default_factory=dict)
    length_soft_limit: int = 256
    length_hard_limit: int = 512
    vllm: str | None = None  # None, "colocate" or "server"
    vllm_server_url: str | None = None
    vllm_gpu_memory_utilization: float = 0.3
    method: str = "grpo"  # "r3": Reflect-Retry-Reward on mined failures (sft.r3)
    failures: str | None = None  # with r3: the --out folder of `flows run mine-failures`
    step_weight: float | None = None  # a task's step reward: weight of step accuracy vs the final answer (its default)
    curriculum: str | None = None  # START:END difficulty levels of a task, raised during training (sft.curriculum)
    curriculum_threshold: float | None = None  # raise the level when the logged mean reward reaches this (else by step)


def options_to_json(options: TrainOptions) -> str:
    return json.dumps({"kind": type(options).__name__, **asdict(options)})


def options_from_json(text: str) -> TrainOptions:
    data = json.loads(text)
    kind = {"SftOptions": SftOptions, "GrpoOptions": GrpoOptions}[data.pop("kind")]
    return kind(**data)


def resolve_model(model: str | None) -> str:
    """The folder or Hub id to load for `model` (None: the bundled SmolLM2, dequantized once into the cache)."""
    from core.llm.local import resolve_model as resolve_local

    return resolve_local(model)[1]


def has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def has_native_bf16() -> bool:
    """A CUDA GPU that computes in bf16 (compute capability 8.0 or more: A100, H100, RTX 30xx+).

    Not torch.cuda.is_bf16_supported(): it says yes on T4 / V100 (7.x), which only emulate bf16, slowly.
    """
    import torch

    return torch.cuda.is_available() and torch.cuda.get_device_capability() >= (8, 0)


def train_dtype() -> str:
    """The dtype the weights load in: bfloat16 on a bf16 GPU; float32 elsewhere (fp16 mixed precision on older
    GPUs keeps fp32 master weights: the gradient scaler refuses fp16 weights)."""
    return "bfloat16" if has_native_bf16() else "float32"


def precision_args() -> dict:
    """TrainingArguments for precision: bf16 on a bf16 GPU, fp16 mixed precision on an older GPU, fp32 on CPU."""
    if has_native_bf16():
        return {"bf16": True, "fp16": False}
    if has_cuda():
        return {"bf16": False, "fp16": True}
    return {"bf16": False, "fp16": False, "use_cpu": True}


def model_init_kwargs(trust_remote_code: bool = False) -> dict:
    """`model_init_kwargs` of SFTConfig / GRPOConfig (TRL loads the model, and GRPO's reference model, with them).

    TRL's own defaults are float32 and, in a single process on a GPU, device_map="auto", which spreads one
    `--gpus 1` run over every visible GPU; here: the training dtype, and no device map (the Trainer places the
    model on its process's GPU; DeepSpeed / FSDP shard it themselves).
    """
    return {"dtype": train_dtype(), "device_map": None, "trust_remote_code": trust_remote_code}


def check_distributed(options: TrainOptions) -> None:
    """One sentence on a bad --deepspeed / --fsdp before anything starts."""
    if options.deepspeed and options.fsdp:
        raise UserError("Choose --deepspeed or --fsdp, not both.")
    if options.fsdp_config and not options.fsdp:
        raise UserError("--fsdp-config needs --fsdp, e.g. --fsdp 'full_shard auto_wrap'.")
    for flag, path in (("--deepspeed", options.deepspeed), ("--fsdp-config", options.fsdp_config)):
        if path is None:
            continue
        try:
            json.loads(Path(path).read_text())
        except OSError:
            raise UserError(f"{flag} {path}: no such file; pass a JSON config file.") from None
        except ValueError as exc:
            raise UserError(f"{flag} {path} is not valid JSON ({exc}).") from None
    if options.deepspeed and importlib.util.find_spec("deepspeed") is None:
        raise UserError("--deepspeed needs DeepSpeed: install it with `pip install deepspeed`.")
    if (options.deepspeed or options.fsdp) and not has_cuda():
        raise UserError("--deepspeed and --fsdp need CUDA GPUs; drop them to train on this machine.")


def distributed_args(options: TrainOptions) -> dict:
    """TrainingArguments for DeepSpeed or FSDP (the Trainer hands them to accelerate)."""
    if options.deepspeed:
        return {"deepspeed": options.deepspeed}
    if options.fsdp:
        args: dict = {"fsdp": options.fsdp}
        if options.fsdp_config:
            args["fsdp_config"] = options.fsdp_config
        return args
    return {}


def check_gpus(gpus: int) -> None:
    if gpus <= 1:
        return
    if not has_cuda():
        raise UserError(f"--gpus {gpus} needs CUDA GPUs and none is visible; drop --gpus to train on this machine.")
    import torch

    if torch.cuda.device_count() < gpus:
        raise UserError(f"--gpus {gpus} asks for more GPUs than the {torch.cuda.device_count()} visible ones.")


def check_vllm(mode: str | None, server_url: str | None = None) -> None:
    """Refuse vLLM generation where it cannot run, in one sentence that says what to do."""
    if mode is None:
        return
    if mode not in ("colocate", "server"):
        raise UserError(f"--vllm must be colocate or server, not {mode!r}.")
    if not has_cuda():
        raise UserError("vLLM generation needs a CUDA GPU; drop --vllm to generate with transformers on this machine.")
    if importlib.util.find_spec("vllm") is None:
        raise UserError("vLLM is not installed; install it with `pip install 'mathaug[gpu]'` or drop --vllm.")
    if mode == "server" and not server_url:
        raise UserError(
            "--vllm server needs --vllm-server-url (start one with `trl vllm-serve --model MODEL` on another GPU)."
        )


def lora_config(options: TrainOptions):
    """A LoRA adapter on every linear layer, or None when training all weights."""
    if not options.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=options.lora_r,
        lora_alpha=options.lora_alpha,
        lora_dropout=0.05,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


def common_args(options: TrainOptions) -> dict:
    """TrainingArguments shared by the SFT and GRPO configs."""
    return {
        "output_dir": options.out,
        "num_train_epochs": options.epochs,
        "max_steps": options.max_steps,
        "learning_rate": options.learning_rate,
        "per_device_train_batch_size": options.batch_size,
        "gradient_accumulation_steps": options.grad_accum,
        "gradient_checkpointing": options.gradient_checkpointing,
        "save_strategy": "steps" if options.save_steps > 0 else "no",
        "save_steps": options.save_steps if options.save_steps > 0 else 500,
        "logging_steps": options.logging_steps,
        "seed": options.seed,
        "report_to": "none",
        "model_init_kwargs": model_init_kwargs(),
        **precision_args(),
        **distributed_args(options),
    }


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def save_final(trainer, out: str | Path, lora: bool) -> Path:
    """Write OUT/model (LoRA merged into the base weights) with its tokenizer; OUT/adapter as well with LoRA."""
    out = Path(out)
    target = out / FINAL_MODEL_DIR
    if not lora:
        trainer.save_model(str(target))
    else:
        trainer.save_model(str(out / ADAPTER_DIR))
        if trainer.is_world_process_zero():
            merged = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
            merged.save_pretrained(str(target))
    if trainer.is_world_process_zero():
        trainer.processing_class.save_pretrained(str(target))
    return target


def write_metrics(trainer, out: str | Path, kind: str, options: TrainOptions, train_metrics: dict) -> dict:
    """metrics.json: the train result, every logged step, the options; written by the main process."""
    metrics = {
        "kind": kind,
        "train": train_metrics,
        "log_history": trainer.state.log_history,
        "global_step": trainer.state.global_step,
        "final_model": FINAL_MODEL_DIR,
        "options": asdict(options),
    }
    if trainer.is_world_process_zero():
        path = Path(out) / METRICS_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(metrics, indent=2, default=str))
        tmp.replace(path)
    return metrics
