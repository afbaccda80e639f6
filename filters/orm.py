"""Outcome reward model scorer: a Hugging Face sequence-classification reward model (e.g. Skywork-Reward)
scores the chat (question as user turn, solution as assistant turn); the score is the model's reward logit."""

from __future__ import annotations

import asyncio

import polars as pl

from filters.hf_models import load_scorer_model


class RewardModelScorer:
    name = "orm"

    def __init__(self, model: str, *, batch_size: int = 8, max_length: int = 2048, device: str | None = None) -> None:
        from transformers import AutoModelForSequenceClassification

        self.model, self.tokenizer = load_scorer_model(AutoModelForSequenceClassification, model, device)
        self.batch_size, self.max_length = batch_size, max_length

    def chat_text(self, question: str, solution: str) -> str:
        chat = [{"role": "user", "content": question}, {"role": "assistant", "content": solution}]
        return self.tokenizer.apply_chat_template(chat, tokenize=False)

    def score_texts(self, questions: list[str], solutions: list[str]) -> list[float]:
        import torch

        texts = [self.chat_text(q, s) for q, s in zip(questions, solutions, strict=True)]
        scores: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(
                texts[start : start + self.batch_size],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                add_special_tokens=False,  # the chat template already wrote them
                return_tensors="pt",
            ).to(self.model.device)
            with torch.inference_mode():
                logits = self.model(**batch).logits.float()
            if logits.shape[-1] == 1:
                scores += logits[:, 0].tolist()
            else:  # a classifier reward model: probability of its last (good) class
                scores += logits.softmax(-1)[:, -1].tolist()
        return scores

    async def score(self, df: pl.DataFrame) -> list[float]:
        questions = [q or "" for q in df["query"].to_list()]
        solutions = [r or "" for r in df["response"].to_list()]
        return await asyncio.to_thread(self.score_texts, questions, solutions)
