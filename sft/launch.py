"""Run a training stage in this process, or in several data-parallel processes through `accelerate launch`.

Each launched process runs `python -m sft.launch OUT/train_options.json`; rank 0 writes the model and metrics.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core.errors import UserError
from sft.runtime import METRICS_FILE, GrpoOptions, SftOptions, TrainOptions, options_from_json, options_to_json

OPTIONS_FILE = "train_options.json"


def run_here(options: TrainOptions, **task_inputs) -> dict:
    """Train in this process; `task_inputs` (a task's problems, rewards, curriculum) go to GRPO."""
    if isinstance(options, GrpoOptions):
        from sft.train_grpo import run_grpo

        return run_grpo(options, **task_inputs)
    if isinstance(options, SftOptions):
        from sft.train_sft import run_sft

        return run_sft(options)
    raise TypeError(f"no training stage for {type(options).__name__}")


def accelerate_command(options_file: Path, gpus: int) -> list[str]:
    """The `accelerate launch` command line that starts one training process per GPU."""
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(gpus),
        "--num_machines",
        "1",
        "--multi_gpu",
        "--dynamo_backend",
        "no",
        "-m",
        "sft.launch",
        str(options_file),
    ]


def run_training(options: TrainOptions, **task_inputs) -> dict:
    """Train with `options`: in this process for one device, else under `accelerate launch`; returns the metrics.

    `task_inputs` (a task's problems DataFrame, reward functions, curriculum) live in this process only.
    """
    if options.gpus <= 1:
        return run_here(options, **task_inputs)
    if any(v is not None for v in task_inputs.values()):
        raise UserError("Training on a task (--problems NAME) runs in one process for now; drop --gpus.")
    from sft.runtime import check_gpus

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
