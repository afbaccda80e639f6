"""The sft / grpo / evaluate flows through the `flows` command line: in-process with real Prefect flow runs, and
(once flows/cli.py registers them) in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

import flows.cli
from flows.cli import FLOWS, main

OUR_FLOWS = {
    "sft": "flows.train:SFT_COMMAND",
    "grpo": "flows.train:GRPO_COMMAND",
    "export": "flows.train:EXPORT_COMMAND",
    "evaluate": "flows.evaluate:EVALUATE_COMMAND",
}


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setattr(flows.cli, "FLOWS", {**FLOWS, **OUR_FLOWS})


@pytest.mark.slow
def test_cli_sft_then_aha_table_of_its_checkpoints(
    prefect_harness, registered, tiny_model_dir, kept_run_dir, tmp_path, capsys
):
    out = tmp_path / "sft-run"
    code = main(
        [
            "run",
            "sft",
            "--run",
            str(kept_run_dir),
            "--out",
            str(out),
            "--model",
            str(tiny_model_dir),
            "--max-steps",
            "2",
            "--batch-size",
            "2",
            "--save-steps",
            "1",
            "--logging-steps",
            "1",
            "--max-length",
            "128",  # the shared system prompt comes before each question
            "--learning-rate",
            "1e-3",
        ]
    )
    assert code == 0
    assert "sft: 2 steps" in capsys.readouterr().out
    assert json.loads((out / "metrics.json").read_text())["global_step"] == 2

    code = main(["run", "evaluate", "--run", str(out), "--aha-only", "--aha-samples", "2", "--max-tokens", "6"])
    assert code == 0
    saved = json.loads((out / "eval.json").read_text())
    assert [r["checkpoint"] for r in saved["aha_table"]] == ["checkpoint-1", "checkpoint-2", "final"]
    assert "| checkpoint-2 | 2 |" in (out / "eval.md").read_text()


def test_cli_refuses_vllm_without_a_gpu_in_one_sentence(registered, tmp_path, capsys):
    code = main(["run", "grpo", "--out", str(tmp_path / "g"), "--vllm", "colocate"])
    err = capsys.readouterr().err
    assert code == 2
    assert (
        err == "error: vLLM generation needs a CUDA GPU; drop --vllm to generate with transformers on this machine.\n"
    )


def test_cli_rejects_bad_reward_options(registered, tmp_path, capsys):
    assert main(["run", "grpo", "--out", str(tmp_path), "--rewards", "correct,speed"]) == 2
    assert "Unknown reward 'speed'" in capsys.readouterr().err
    assert main(["run", "grpo", "--out", str(tmp_path), "--reward-weight", "correct"]) == 2
    assert "NAME=WEIGHT" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif("evaluate" not in FLOWS, reason="flows/cli.py does not register `evaluate` yet")
def test_cli_evaluate_in_a_subprocess(tiny_model_dir, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "run",
            "evaluate",
            "--model",
            str(tiny_model_dir),
            "--limit",
            "2",
            "--k",
            "2",
            "--max-tokens",
            "4",
            "--out",
            str(tmp_path / "eval"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "written to" in completed.stdout
    saved = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert saved["problems"] == 2 and "pass@2" in saved
    shutil.rmtree(tmp_path / "eval")
