"""Run a training stage in this process, or in several data-parallel processes through `accelerate launch`.

Each launched process runs `python -m sft.launch OUT/train_options.json`; rank 0 writes the model and metrics.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from core.errors import UserError
from sft.runtime import METRICS_FILE, GrpoOptions, SftOptions, TrainOptions, options_from_json, options_to_json

OPTIONS_FILE = "train_options.json"


def run_here(options: TrainOptions, **inputs) -> dict:
    """Train in this process; `inputs` (a flow's task problems, extra rewards) go to the GRPO stage."""
    if isinstance(options, GrpoOptions) and options.method == "r3":
        from sft.r3 import run_r3

        return run_r3(options, **inputs)
    if isinstance(options, GrpoOptions):
        from sft.train_grpo import run_grpo

        return run_grpo(options, **inputs)
    if isinstance(options, SftOptions):
        from sft.train_sft import run_sft

        return run_sft(options)
    raise TypeError(f"no training stage for {type(options).__name__}")


def free_port() -> int:
    """A TCP port free right now, for the launch's rendezvous: concurrent runs would all take 29500 otherwise."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accelerate_command(options_file: Path, gpus: int, port: int | None = None) -> list[str]:
    """The `accelerate launch` command line that starts one training process per GPU (DeepSpeed / FSDP settings
    come from the TrainingArguments those processes build)."""
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(gpus),
        "--num_machines",
        "1",
        "--main_process_port",
        str(port or free_port()),
        "--multi_gpu",
        "--dynamo_backend",
        "no",
        "-m",
        "sft.launch",
        str(options_file),
    ]


def run_training(options: TrainOptions, **inputs) -> dict:
    """Train with `options`: in this process for one device, else (or with DeepSpeed / FSDP) under `accelerate
    launch`; returns the metrics. `inputs` (a task's problems and reward functions, from a flow) work in this process
    only."""
    from sft.runtime import check_distributed, check_gpus

    check_distributed(options)
    if options.gpus <= 1 and not (options.deepspeed or options.fsdp):
        return run_here(options, **inputs)
    if any(value is not None for value in inputs.values()):
        raise UserError("--problems TASK and --method r3 train in one process; drop --gpus, --deepspeed, --fsdp.")
    check_gpus(options.gpus)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    options_file = out / OPTIONS_FILE
    options_file.write_text(options_to_json(options))
    completed = subprocess.run(accelerate_command(options_file, options.gpus), check=False)
    if completed.returncode != 0:
        raise UserError(f"Training under accelerate failed (exit {completed.returncode}); its log is above.")
    return json.loads((out / METRICS_FILE).read_text())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    options = options_from_json(Path(argv[0]).read_text())
    options.gpus = 1  # already one process per GPU here
    run_here(options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
