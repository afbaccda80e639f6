"""Evaluation: the real SmolLM2 on 3 bundled GSM8K problems in a real Prefect flow, and a run's aha table."""

from __future__ import annotations

import json
import shutil

import pytest

from core.errors import UserError
from core.llm import make_backend
from sft.evaluate import SamplingSettings, aha_table, loadable_model, run_checkpoints


@pytest.mark.slow
def test_evaluate_flow_on_smollm2_writes_eval_json(prefect_harness, tmp_path):
    from flows.evaluate import EvaluateOptions, evaluate_flow

    options = EvaluateOptions(
        out=str(tmp_path / "eval"), backend="local", problems="sample", limit=3, k=2, max_tokens=48
    )
    result = evaluate_flow(options)

    saved = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert saved["model"] == "SmolLM2-135M-Instruct" and saved["problems"] == 3
    for key in ("accuracy", "pass@2", "best@2"):
        assert 0.0 <= saved[key] <= 1.0
    assert saved["pass@2"] >= saved["best@2"] - 1e-9  # best@k picks one of the k answers pass@k counts
    assert [p["gold"] for p in saved["per_problem"]] == ["18", "3", "70000"]
    assert all(len(p["sample_answers"]) == 2 and p["greedy_response"] for p in saved["per_problem"])
    assert result["accuracy"] == saved["accuracy"]
    assert "| accuracy |" in (tmp_path / "eval" / "eval.md").read_text()


def _lora_checkpoint(base_dir, target):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(str(base_dir)),
        LoraConfig(r=2, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    model.save_pretrained(str(target))
    AutoTokenizer.from_pretrained(str(base_dir)).save_pretrained(str(target))


def test_aha_table_covers_every_checkpoint_in_step_order(tiny_model_dir, tmp_path):
    run = tmp_path / "grpo-run"
    for name in ("checkpoint-10", "checkpoint-5", "model"):
        shutil.copytree(tiny_model_dir, run / name)
    _lora_checkpoint(tiny_model_dir, run / "checkpoint-20")
    (run / "runs").mkdir()  # other folders of a Trainer output are ignored

    assert [label for label, _ in run_checkpoints(run)] == ["checkpoint-5", "checkpoint-10", "checkpoint-20", "final"]
    loaded = []

    def make_llm(model):
        loaded.append(model)
        return make_backend("local", model=model)

    rows = aha_table(run, make_llm, "What is 2 + 3?", "5", n=3, settings=SamplingSettings(max_tokens=6))
    assert [r["checkpoint"] for r in rows] == ["checkpoint-5", "checkpoint-10", "checkpoint-20", "final"]
    for row in rows:
        assert row["samples"] == 3 and 0 <= row["both"] <= min(row["correct"], row["aha"]) <= 3
    assert loaded[2] == str(run / "checkpoint-20" / "merged")  # the LoRA adapter, merged once into a full model
    assert (run / "checkpoint-20" / "merged" / "config.json").exists()
    assert loadable_model(run / "checkpoint-20") == run / "checkpoint-20" / "merged"


def test_run_without_checkpoints_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no checkpoint-N folders"):
        run_checkpoints(tmp_path)
    with pytest.raises(UserError, match="must be at least --k"):
        SamplingSettings(k=4, samples=2)
