"""Task families by name, for `--problems NAME` in `flows run grpo` / `evaluate` (and any flow that takes problems).

A task module (tasks/<name>.py) provides:
- `generate(n: int, level: int | str = ..., seed: int = 0) -> pl.DataFrame`: seeded, reproducible problems with the
  PROBLEM_SCHEMA columns (`id`, `question`, `answer`, `solution`, `source`, `calculations`) plus the task's own
  columns (difficulty, computation graph, numbers, ...), so the GSM8K stages can read them too;
- `verify(text: str, **row) -> bool`: is a model's reply a correct solution of that row;
- `DEFAULT_N: int`: how many problems `--problems NAME` makes when no limit is given;
- `REWARDS: dict[str, RewardFunc]`: reward functions in TRL's signature (completions plus dataset columns as keyword
  arguments, returning list[float | None]), each with a short docstring example.

`--problems countdown`, `--problems countdown:3` (level 3) or `--problems novel-ops:hard` names a task; anything else
is a GSM8K source for core.datasets.load_problems.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from core.errors import UserError

TASKS: dict[str, str] = {
    "countdown": "tasks.countdown",
    "novel-ops": "tasks.novel_ops",
}


def split_task_name(problems: str) -> tuple[str, str | None] | None:
    """`countdown:3` -> ("countdown", "3"); a name that is no task -> None."""
    name, _, level = problems.partition(":")
    if name not in TASKS:
        return None
    return name, (level or None)


def preload_source(problems: str, limit: int | None, split: str) -> None:
    """Read a GSM8K source now (`core.datasets.preload_problems`), so that a command line refuses a bad file in one
    sentence before Prefect starts and its flow takes the rows read here; a task's problems are made by the flow."""
    if split_task_name(problems) is None:
        from core.datasets import preload_problems

        preload_problems(problems, limit=limit, split=split)


def load_task(name: str) -> ModuleType:
    return importlib.import_module(TASKS[name])


def task_problems(problems: str, n: int | None = None, seed: int = 0):
    """The problems of a task named by `--problems` (a polars DataFrame), or None when `problems` names no task.

    `n` problems (the task's default count when None) at the level after the colon (the task's default when none).
    """
    parsed = split_task_name(problems)
    if parsed is None:
        return None
    name, level = parsed
    module = load_task(name)
    kwargs = {} if level is None else {"level": level}
    return module.generate(n if n is not None else module.DEFAULT_N, seed=seed, **kwargs)


def task_rewards(problems: str, **options) -> dict:
    """The reward functions (name -> TRL reward function) of the task named by `problems`; {} for GSM8K sources.

    `options` (e.g. `step_weight`) go to the task's `make_rewards(**options)`; without options, its `REWARDS`.
    """
    parsed = split_task_name(problems)
    if parsed is None:
        return {}
    module = load_task(parsed[0])
    if not options:
        return dict(module.REWARDS)
    if not hasattr(module, "make_rewards"):
        raise UserError(f"The {parsed[0]} rewards take no options ({', '.join(options)}); drop them.")
    return dict(module.make_rewards(**options))
