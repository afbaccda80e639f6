"""The self-training state machine: stage order, resume at the stage that stopped, growing rounds, the generator
of each round, refused setting changes, and the table. Stages here are the test's own recorders; the real stages
(the augment, sft and evaluate flows) run in the CPU run the README reports."""

from __future__ import annotations

import json

import pytest

from core.errors import UserError
from flows.self_train import (
    STATE_FILE,
    SelfTrainOptions,
    format_table,
    model_after,
    plan,
    round_rows,
    run_rounds,
)


class Recorder:
    """Stages that record (round, stage, generator) and can fail once at a chosen (round, stage)."""

    def __init__(self, fail_at: tuple[int, str] | None = None, kept: int = 3) -> None:
        self.calls: list[tuple[int, str, str | None]] = []
        self.fail_at, self.kept = fail_at, kept

    def stage(self, name: str):
        def run(r: int, options: SelfTrainOptions, state: dict) -> dict:
            generator = model_after(state, r - 1, options) if name == "augment" else model_after(state, r, options)
            self.calls.append((r, name, generator))
            if self.fail_at == (r, name):
                self.fail_at = None
                raise RuntimeError("killed")
            if name == "augment":
                return {"generated": 8, "kept": self.kept, "out": f"round-{r}/augment"}
            if name == "sft":
                if not state["rounds"][str(r)]["augment"]["kept"]:
                    return {"skipped": "no kept samples: the generator stays", "model": None}
                return {"model": f"round-{r}/sft/model", "steps": 2, "train_loss": 1.5}
            return {"accuracy": 0.125 * r, "problems": 8, "model": generator}

        return run

    @property
    def stages(self):
        return {name: self.stage(name) for name in ("augment", "sft", "evaluate")}


def test_plan_evaluates_the_start_then_three_stages_per_round():
    assert plan(2) == [(0, "evaluate")] + [(r, s) for r in (1, 2) for s in ("augment", "sft", "evaluate")]


def test_resumes_at_the_stage_that_stopped_and_round_two_generates_with_round_one_model(tmp_path):
    options = SelfTrainOptions(out=str(tmp_path), rounds=2, model="base")
    rec = Recorder(fail_at=(1, "sft"))
    with pytest.raises(RuntimeError):
        run_rounds(options, rec.stages, log=lambda _: None)
    assert [(r, s) for r, s, _ in rec.calls] == [(0, "evaluate"), (1, "augment"), (1, "sft")]
    saved = json.loads((tmp_path / STATE_FILE).read_text())
    assert set(saved["rounds"]["1"]) == {"augment"}  # the failed stage is not recorded

    rec.calls.clear()
    state = run_rounds(options, rec.stages, log=lambda _: None)
    assert rec.calls == [
        (1, "sft", "base"),
        (1, "evaluate", "round-1/sft/model"),
        (2, "augment", "round-1/sft/model"),  # the new model is the next round's generator
        (2, "sft", "round-1/sft/model"),
        (2, "evaluate", "round-2/sft/model"),
    ]
    rec.calls.clear()
    run_rounds(options, rec.stages, log=lambda _: None)
    assert rec.calls == []  # all done: nothing runs again

    more = SelfTrainOptions(out=str(tmp_path), rounds=3, model="base")
    run_rounds(more, rec.stages, log=lambda _: None)
    assert [(r, s) for r, s, _ in rec.calls] == [(3, "augment"), (3, "sft"), (3, "evaluate")]
    assert model_after(state, 2, options) == "round-2/sft/model"


def test_a_round_with_nothing_kept_keeps_its_generator(tmp_path):
    options = SelfTrainOptions(out=str(tmp_path), rounds=2)
    rec = Recorder(kept=0)
    state = run_rounds(options, rec.stages, log=lambda _: None)
    assert [g for r, s, g in rec.calls if s == "augment"] == [None, None]  # the bundled model throughout
    rows = round_rows(state, options)
    assert [row["accuracy"] for row in rows] == ["0.000", "0.125", "0.250"]
    assert rows[1]["sft"] == "no kept samples: the generator stays"
    table = format_table(rows)
    assert table.count("\n") == 5 and table.startswith("| round | generator |")


def test_a_changed_setting_is_refused_but_more_rounds_are_not(tmp_path):
    run_rounds(SelfTrainOptions(out=str(tmp_path), rounds=1, seed=0), Recorder().stages, log=lambda _: None)
    with pytest.raises(UserError, match="seed=0"):
        run_rounds(SelfTrainOptions(out=str(tmp_path), rounds=1, seed=1), Recorder().stages, log=lambda _: None)
    run_rounds(SelfTrainOptions(out=str(tmp_path), rounds=2, seed=0), Recorder().stages, log=lambda _: None)
