"""The GRPO curriculum: the schedule, the dataset that reads problems at the current level, the reward threshold,
and a real two-step GRPO run (tiny model) whose second step trains on a higher level."""

from __future__ import annotations

import doctest

import polars as pl
import pytest

import sft.curriculum as curriculum_module
from core.errors import UserError
from sft.curriculum import Curriculum, parse_curriculum
from sft.data import grpo_records


def fake_generate(n: int, level: int) -> pl.DataFrame:
    """Problems whose text and answer say their level: `L3 #i` with answer 3."""
    return pl.DataFrame(
        {
            "id": [f"l{level}-{i}" for i in range(n)],
            "question": [f"L{level} #{i}" for i in range(n)],
            "answer": [str(level)] * n,
            "solution": [None] * n,
            "source": ["fake"] * n,
            "calculations": [[] for _ in range(n)],
            "difficulty": [level] * n,
        },
        schema_overrides={"solution": pl.String, "calculations": pl.List(pl.String)},
    )


def test_docstring_examples_run():
    result = doctest.testmod(curriculum_module)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("text", ["6:1", "0:3", "1-6", "a:b", "3"])
def test_bad_curriculum_is_one_sentence(text):
    with pytest.raises(UserError, match="--curriculum takes START:END"):
        parse_curriculum(text)


def test_dataset_reads_problems_at_the_current_level():
    curriculum = Curriculum(fake_generate, size=4, start=2, end=4)
    dataset = curriculum.dataset(lambda frame: grpo_records(frame, system_prompt=None))
    assert len(dataset) == 4
    curriculum.on_step(0, max_steps=3)
    first = dataset[[0, 0, 1]]
    assert [p[-1]["content"] for p in first["prompt"]] == ["L2 #0", "L2 #0", "L2 #1"]
    assert first["difficulty"] == [2, 2, 2] and first["answer"] == ["2", "2", "2"]
    curriculum.on_step(1, max_steps=3)
    assert dataset[3]["prompt"][-1]["content"] == "L3 #3"
    curriculum.on_step(2, max_steps=3)
    assert dataset[0]["difficulty"] == 4
    assert curriculum.history == [{"step": 0, "level": 2}, {"step": 1, "level": 3}, {"step": 2, "level": 4}]


def test_threshold_raises_one_level_per_good_log_and_stops_at_the_end():
    curriculum = Curriculum(fake_generate, size=2, start=1, end=3, threshold=0.5)
    curriculum.on_step(0, max_steps=100)
    for step, reward in [(1, 0.2), (2, None), (3, 0.6), (4, 0.4), (5, 0.9), (6, 1.0)]:
        curriculum.on_step(step, max_steps=100)  # the schedule does not move a threshold curriculum
        curriculum.on_reward(reward, step)
    assert curriculum.level == 3
    assert curriculum.history == [{"step": 0, "level": 1}, {"step": 3, "level": 2}, {"step": 5, "level": 3}]


def test_grpo_two_steps_rise_through_novel_ops_levels_with_the_step_reward(tiny_model_dir, tmp_path):
    from flows.train import task_inputs
    from sft.runtime import GrpoOptions
    from sft.train_grpo import run_grpo

    options = GrpoOptions(
        out=str(tmp_path / "grpo"),
        model=str(tiny_model_dir),
        problems="novel-ops",
        limit=8,
        max_steps=2,
        batch_size=4,
        num_generations=2,
        max_completion_length=8,
        logging_steps=1,
        rewards=[],
        step_weight=0.5,
        curriculum="1:6",
    )
    inputs = task_inputs(options)
    assert set(inputs) == {"task_rewards", "curriculum"}
    metrics = run_grpo(options, **inputs)

    assert metrics["global_step"] == 2
    assert metrics["train"]["curriculum_levels"] == [{"step": 0, "level": 1}, {"step": 1, "level": 4}]
    logged = [e["curriculum_level"] for e in metrics["log_history"] if "curriculum_level" in e]
    assert logged[:2] == [1, 4]
    means = metrics["train"]["reward_means"]
    assert set(means) == {"novel_ops_step_reward", "format_reward"}
    assert all(len(v) == 2 and all(0.0 <= x <= 1.0 for x in v) for v in means.values())


def test_curriculum_without_a_task_is_one_sentence(tmp_path):
    from flows.train import task_inputs
    from sft.runtime import GrpoOptions

    with pytest.raises(UserError, match="need a task"):
        task_inputs(GrpoOptions(out=str(tmp_path), problems="sample", curriculum="1:6"))
    with pytest.raises(UserError, match="without :hard"):
        task_inputs(GrpoOptions(out=str(tmp_path), problems="novel-ops:hard", curriculum="1:6"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--problems", "novel-ops", "--curriculum", "6:1"], "error: --curriculum takes START:END levels"),
        (["--problems", "novel-ops", "--step-weight", "1.5"], "error: --step-weight must lie between 0 and 1"),
        (["--curriculum", "1:6"], "error: --curriculum and --step-weight need a task"),
    ],
)
def test_cli_rejects_bad_task_options_in_one_sentence(argv, message, tmp_path, capsys, monkeypatch):
    import flows.cli
    from flows.cli import main

    monkeypatch.setattr(flows.cli, "FLOWS", {**flows.cli.FLOWS, "grpo": "flows.train:GRPO_COMMAND"})
    assert main(["run", "grpo", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
