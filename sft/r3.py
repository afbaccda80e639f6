"""Reflect, Retry, Reward (Bensal et al. 2025) as a GRPO run: `flows run grpo --method r3 --failures DIR`.

Each training row is a problem the model failed (from `flows run mine-failures`). The prompt is the task, the failed
attempt as the model's own turn, and a request to reflect; the completion GRPO samples and trains is the reflection.
`RetryReward` then retries the task with the reflection in context, using the policy being trained (the trainer's
model, attached after the trainer is built), and pays 1.0 when the retry is correct, else 0.0. The retry is
generated under `torch.no_grad` and is not part of the completion, so its tokens get no gradient: only the
reflection is reinforced, never the answer.

Correctness comes from the flow: a task's verifier (Countdown) or the GSM8K check (final answer equals `answer`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from core.answers import answers_equal, extract_answer
from core.errors import UserError
from core.llm.base import Message
from sft.prompts import REASONING_SYSTEM_PROMPT, reasoning_messages
from sft.rewards import completion_text
from sft.runtime import GrpoOptions, write_metrics

Check = Callable[[str, dict], bool]  # (reply text, problem row) -> correct?
RETRIES_FILE = "r3_retries.jsonl"

REFLECT_REQUEST = (
    "That answer is wrong. Do not solve the problem yet. In two or three sentences, say what went wrong in your "
    "attempt and what you will do differently: which step failed, what you misread, or what you should check."
)
RETRY_REQUEST = "Now solve the problem again from the start, using what you wrote about your mistake."

# Keyword arguments GRPOTrainer adds beside the dataset's columns; never part of a problem row.
_TRAINER_KWARGS = {"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric",
                   "environments"}  # fmt: skip


def gold_check(text: str, row: dict) -> bool:
    """GSM8K form: the retry's final answer equals the row's gold `answer`."""
    return answers_equal(row.get("answer"), extract_answer(text))


def reflection_messages(
    question: str, failed_attempt: str, system_prompt: str | None = REASONING_SYSTEM_PROMPT
) -> list[Message]:
    """The R3 prompt: the task, the failed attempt as the model's own turn, and the request to reflect."""
    return [
        *reasoning_messages(question, system_prompt),
        {"role": "assistant", "content": failed_attempt},
        {"role": "user", "content": REFLECT_REQUEST},
    ]


def retry_messages(prompt: list[Message], reflection: str) -> list[Message]:
    """The retry's prompt: the R3 prompt, the reflection as the model's turn, then the request to solve again."""
    return [*prompt, {"role": "assistant", "content": reflection}, {"role": "user", "content": RETRY_REQUEST}]


def r3_records(failures: pl.DataFrame, system_prompt: str | None = REASONING_SYSTEM_PROMPT) -> list[dict]:
    """GRPO rows of the failures: the reflection prompt plus every column of the problem (they reach the reward)."""
    columns = [c for c in failures.columns if c not in ("prompt", "completion")]
    return [
        {"prompt": reflection_messages(row["question"], row["failed_attempt"], system_prompt), **row}
        for row in failures.select(columns).iter_rows(named=True)
        if row["failed_attempt"]
    ]


class RetryReward:
    """TRL reward function: 1.0 when the policy, retrying with the reflection in context, solves the task.

    Build it, build the trainer with it, then `attach(trainer)`; it generates with the trainer's current model.

    >>> reward = RetryReward(check=gold_check)
    >>> reward.__name__
    'r3_retry'
    """

    __name__ = "r3_retry"

    def __init__(self, check: Check = gold_check, max_new_tokens: int = 256) -> None:
        self.check = check
        self.max_new_tokens = max_new_tokens
        self.trainer = None
        self.retries = 0
        self.successes = 0
        self.log: list[dict] = []  # every reflection with its retry and reward, written to OUT/r3_retries.jsonl

    def attach(self, trainer) -> None:
        self.trainer = trainer

    def generate(self, conversations: list[list[Message]]) -> list[str]:
        """Greedy retries of the conversations with the trainer's model, without gradients."""
        import torch

        if self.trainer is None:
            raise RuntimeError("RetryReward needs attach(trainer) before training starts")
        tokenizer = self.trainer.processing_class
        model = self.trainer.accelerator.unwrap_model(self.trainer.model)
        texts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
        side = tokenizer.padding_side
        tokenizer.padding_side = "left"
        try:
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        finally:
            tokenizer.padding_side = side
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = model.generate(
                    **batch,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                )
        finally:
            model.train(was_training)
        return tokenizer.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)

    def __call__(self, prompts: Sequence, completions: Sequence, **kwargs) -> list[float | None]:
        rows = [
            {k: v[i] for k, v in kwargs.items() if k not in _TRAINER_KWARGS and isinstance(v, list)}
            for i in range(len(completions))
        ]
        conversations = [retry_messages(p, completion_text(c)) for p, c in zip(prompts, completions, strict=True)]
        retries = self.generate(conversations)
        rewards: list[float | None] = [1.0 if self.check(t, row) else 0.0 for t, row in zip(retries, rows, strict=True)]
        self.retries += len(rewards)
        self.successes += int(sum(r or 0.0 for r in rewards))
        step = getattr(getattr(self.trainer, "state", None), "global_step", None)
        for c, row, retry, r in zip(completions, rows, retries, rewards, strict=True):
            self.log.append({"step": step, "id": row.get("id"), "reflection": completion_text(c), "retry": retry,
                             "reward": r})  # fmt: skip
        log_extra = kwargs.get("log_extra")
        if callable(log_extra):
            log_extra("retry", retries)
        return rewards


def run_r3(options: GrpoOptions, problems: pl.DataFrame, check: Check | None = None, **_) -> dict:
    """Train the reflections on the failed `problems`; writes OUT/model and OUT/metrics.json (with the retries)."""
    from datasets import Dataset

    from sft.train_grpo import build_grpo_trainer, train_and_save

    records = r3_records(problems.head(options.limit) if options.limit else problems)
    if not records:
        raise UserError("The failures hold no failed attempt to reflect on; run `flows run mine-failures` first.")
    reward = RetryReward(check or gold_check, max_new_tokens=options.max_completion_length)
    trainer = build_grpo_trainer(options, dataset=Dataset.from_list(records), task_rewards={"r3_retry": reward})
    reward.attach(trainer)
    metrics = train_and_save(trainer, options)
    if trainer.is_world_process_zero():
        lines = "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in reward.log)
        (Path(options.out) / RETRIES_FILE).write_text(lines)
    train = {**metrics["train"], "r3": {"retries": reward.retries, "successful_retries": reward.successes}}
    return write_metrics(trainer, options.out, "grpo-r3", options, train)
