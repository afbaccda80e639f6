"""Reflect-Retry-Reward on a tiny random model: the reflection is the trained completion, the reward retries the
task with the reflection in context using the trainer's own model, and pays 1 only when the retry is correct."""

from __future__ import annotations

import json

import polars as pl

from sft.r3 import REFLECT_REQUEST, RETRY_REQUEST, RetryReward, r3_records, retry_messages, run_r3
from sft.runtime import GrpoOptions
from tasks.countdown import generate


def _failures(n: int = 2) -> pl.DataFrame:
    problems = generate(n, level=3, seed=5)
    return problems.with_columns(
        task=pl.lit("countdown"), k=pl.lit(2), correct=pl.lit(0), pass_rate=pl.lit(0.0),
        failed_attempt=pl.lit(r"\boxed{1 + 1}"),
    )  # fmt: skip


def test_records_and_messages():
    records = r3_records(_failures())
    prompt = records[0]["prompt"]
    assert [m["role"] for m in prompt] == ["system", "user", "assistant", "user"]
    assert prompt[2]["content"] == r"\boxed{1 + 1}" and prompt[3]["content"] == REFLECT_REQUEST
    assert records[0]["numbers"] and records[0]["target"]  # the task's columns reach the reward
    retry = retry_messages(prompt, "I added instead of multiplying.")
    assert retry[-2] == {"role": "assistant", "content": "I added instead of multiplying."}
    assert retry[-1]["content"] == RETRY_REQUEST


def test_r3_trains_the_reflection_and_rewards_the_retry(tiny_model_dir, tmp_path):
    seen: list[tuple[str, dict]] = []

    def check(text: str, row: dict) -> bool:  # a stand-in verifier: pays for the first problem only
        seen.append((text, row))
        return row["id"] == first_id

    failures = _failures()
    first_id = failures["id"][0]
    options = GrpoOptions(
        out=str(tmp_path / "r3"), model=str(tiny_model_dir), method="r3", rewards=[], max_steps=1, batch_size=4,
        num_generations=2, max_completion_length=8, logging_steps=1, learning_rate=1e-4,
    )  # fmt: skip
    metrics = run_r3(options, problems=failures, check=check)

    assert metrics["global_step"] == 1 and metrics["kind"] == "grpo-r3"
    assert list(metrics["train"]["reward_means"]) == ["r3_retry"]  # no answer reward: only the retry pays
    assert metrics["train"]["reward_means"]["r3_retry"] == [0.5]  # 2 of the 4 completions belong to the first
    assert metrics["train"]["r3"] == {"retries": 4, "successful_retries": 2}
    assert len(seen) == 4 and {row["id"] for _, row in seen} == set(failures["id"])
    assert all(row["numbers"] and row["target"] for _, row in seen)
    saved = json.loads((tmp_path / "r3" / "metrics.json").read_text())
    assert saved["train"]["r3"]["retries"] == 4 and saved["options"]["method"] == "r3"
    logged = [json.loads(line) for line in (tmp_path / "r3" / "r3_retries.jsonl").read_text().splitlines()]
    assert len(logged) == 4 and sum(e["reward"] for e in logged) == 2.0 and all("retry" in e for e in logged)
    # the completions trained are the reflections: at most max_completion_length tokens, the retry is not in them
    assert all(entry.get("completions/max_length", 0) <= 8 for entry in saved["log_history"])


def test_retry_reward_uses_the_attached_model(tiny_model_dir):
    from types import SimpleNamespace

    from accelerate import Accelerator
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    model.train()
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    reward = RetryReward(check=lambda text, row: isinstance(text, str), max_new_tokens=4)
    reward.attach(SimpleNamespace(processing_class=tokenizer, model=model, accelerator=Accelerator(cpu=True)))
    prompt = r3_records(_failures(1))[0]["prompt"]
    rewards = reward([prompt, prompt], ["reflection one", [{"role": "assistant", "content": "two"}]],
                     answer=["3", "3"], trainer_state=None)  # fmt: skip
    assert rewards == [1.0, 1.0] and model.training  # train mode restored after the no-grad retry
