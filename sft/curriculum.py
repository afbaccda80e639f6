"""A difficulty curriculum for GRPO: `--curriculum 1:6` trains on level 1 first and raises the level on a schedule,
by step (the levels share the run's steps equally) or, with a threshold, when the logged mean reward reaches it.

How it plugs into TRL's GRPOTrainer (trl/trainer/grpo_trainer.py): the trainer draws prompt indices from a map-style
dataset through its RepeatSampler, which repeats each index `num_generations` times in one batch, and the batch is
read when a step starts. So the training set here is a `datasets.Dataset` of indices whose `set_transform` turns an
index into a problem *at the current level* when the batch is read; a TrainerCallback moves the level. The repeats of
a prompt are read together, so a GRPO group always holds one problem. An IterableDataset was the other way, but TRL
puts a shuffle buffer (and `repeat_iterable_dataset`) in front of it, which would draw problems long before they are
trained on, at a stale level.

The problems come from a function `generate(n, level) -> polars DataFrame` the caller passes in (a task's seeded
generator): sft imports no task. Each level's problems are generated once, when the level is first reached.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from core.errors import UserError

Generate = Callable[[int, int], pl.DataFrame]


def parse_curriculum(text: str) -> tuple[int, int]:
    """`--curriculum START:END` -> (START, END), levels rising.

    >>> parse_curriculum("1:6"), parse_curriculum("3:3")
    ((1, 6), (3, 3))
    """
    start, sep, end = text.partition(":")
    try:
        low, high = int(start), int(end)
    except ValueError:
        sep = ""
    if not sep or low < 1 or high < low:
        raise UserError(f"--curriculum takes START:END levels with 1 <= START <= END, e.g. 1:6, not {text!r}.")
    return low, high


def level_at_step(step: int, max_steps: int, start: int, end: int) -> int:
    """The step schedule: the levels START..END share the run's steps equally.

    >>> [level_at_step(s, 12, 1, 6) for s in range(12)]
    [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    >>> [level_at_step(s, 2, 1, 6) for s in range(2)]
    [1, 4]
    """
    count = end - start + 1
    return start + min(count - 1, step * count // max(1, max_steps))


@dataclass
class Curriculum:
    """The current level and the problems of each level reached; `dataset()` and `callback()` plug it into TRL."""

    generate: Generate
    size: int  # problems per level (the dataset's length)
    start: int
    end: int
    threshold: float | None = None  # None: by step; else raise the level when the logged mean reward reaches it
    level: int = 0
    trained_level: int = 0  # the level of the last step read (what a log after that step reports)
    history: list[dict] = field(default_factory=list)  # {"step", "level"} whenever the level changes
    _frames: dict[int, pl.DataFrame] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.size < 1:
            raise UserError("A curriculum needs at least one problem per level; check --limit.")
        self.level = self.level or self.start

    def problems(self, level: int) -> pl.DataFrame:
        if level not in self._frames:
            self._frames[level] = self.generate(self.size, level)
        return self._frames[level]

    def set_level(self, level: int, step: int) -> None:
        level = max(self.start, min(self.end, level))
        if not self.history or level != self.level:
            self.history.append({"step": step, "level": level})
        self.level = level

    def on_step(self, step: int, max_steps: int) -> None:
        """Before step `step` is read: the scheduled level (no change with a reward threshold, past the first step)."""
        self.trained_level = self.level
        if max_steps > 0 and step >= max_steps:
            return  # the run is over: no step left to read
        if self.threshold is None:
            self.set_level(level_at_step(step, max_steps, self.start, self.end), step)
        elif not self.history:
            self.set_level(self.level, step)

    def on_reward(self, reward: float | None, step: int) -> None:
        """A logged mean reward: with a threshold, one level up when it reaches the threshold."""
        if self.threshold is not None and reward is not None and reward >= self.threshold:
            self.set_level(self.level + 1, step)

    def rows(self, indices: list[int]) -> pl.DataFrame:
        """The problems at these dataset indices, at the current level."""
        frame = self.problems(self.level)
        return frame[[i % frame.height for i in indices]]

    def dataset(self, to_records: Callable[[pl.DataFrame], list[dict]]):
        """A `datasets.Dataset` of `size` indices read as the current level's problems, through `to_records` (the
        GRPO rows of a problems frame: prompt, answer, the task's columns)."""
        from datasets import Dataset

        def transform(batch: dict) -> dict:
            records = to_records(self.rows(batch["index"]))
            return {key: [r[key] for r in records] for key in records[0]} if records else {}

        dataset = Dataset.from_dict({"index": list(range(self.size))})
        dataset.set_transform(transform)
        return dataset

    def callback(self):
        """The TrainerCallback that moves the level: before each step by the schedule, or on each log by the reward."""
        from transformers import TrainerCallback

        curriculum = self

        class CurriculumCallback(TrainerCallback):
            # transformers reads a step's batches before on_step_begin, so the level for step N is set when step
            # N - 1 ends (and at the start, for step 0 or the step a resumed run starts from)
            def on_train_begin(self, args, state, control, **kwargs):
                curriculum.on_step(state.global_step, state.max_steps)

            def on_step_end(self, args, state, control, **kwargs):
                curriculum.on_step(state.global_step, state.max_steps)

            def on_log(self, args, state, control, logs=None, **kwargs):
                if state.log_history:
                    state.log_history[-1]["curriculum_level"] = curriculum.trained_level
                curriculum.on_reward((logs or {}).get("reward"), state.global_step)

        return CurriculumCallback()
