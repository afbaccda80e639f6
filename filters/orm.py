"""Outcome reward model scorer: a reward model scores the chat (question as user turn, solution as assistant turn).

- A sequence-classification reward model (Skywork-Reward, ...): the reward logit at the chat's last token (padding
  set up so that pooling finds that token, filters.hf_models.pad_for_pooling).
- A reward model with its own class and `get_scores` / `get_score` (InternLM2-Reward; needs --trust-remote-code):
  the model's own scoring of the chats.
"""

from __future__ import annotations

import polars as pl

from core import torch_thread
from core.errors import UserError
from filters.hf_models import load_scorer_model, pad_for_pooling, remote_class, require_remote_code


class RewardModelScorer:
    name = "orm"

    def __init__(
        self,
        model: str,
        *,
        batch_size: int = 8,
        max_length: int = 2048,
        device: str | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        from transformers import AutoModel, AutoModelForSequenceClassification

        remote = remote_class(model, ("AutoModelForSequenceClassification", "AutoModel"))
        if remote is not None:
            require_remote_code(model, remote[1], trust_remote_code)
        auto = AutoModel if remote is not None and remote[0] == "AutoModel" else AutoModelForSequenceClassification
        self.model, self.tokenizer = load_scorer_model(auto, model, device, trust_remote_code=trust_remote_code)
        self.own_scores = hasattr(self.model, "get_scores") or hasattr(self.model, "get_score")
        if auto is AutoModel and not self.own_scores:
            raise UserError(
                f"The scorer model {model!r} loads as {type(self.model).__name__}, which neither classifies "
                "sequences nor has get_score; pass a reward model checkpoint."
            )
        if not self.own_scores:
            pad_for_pooling(self.model, self.tokenizer)
        self.batch_size, self.max_length = batch_size, max_length

    def chat_text(self, question: str, solution: str) -> str:
        chat = [{"role": "user", "content": question}, {"role": "assistant", "content": solution}]
        return self.tokenizer.apply_chat_template(chat, tokenize=False)

    def own_model_scores(self, questions: list[str], solutions: list[str]) -> list[float]:
        """InternLM2-Reward style: the model's own `get_scores(tokenizer, chats)` (or `get_score` per chat)."""
        import torch

        chats = [
            [{"role": "user", "content": q}, {"role": "assistant", "content": s}]
            for q, s in zip(questions, solutions, strict=True)
        ]
        scores: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(chats), self.batch_size):
                batch = chats[start : start + self.batch_size]
                if hasattr(self.model, "get_scores"):
                    got = self.model.get_scores(self.tokenizer, batch)
                    scores += [float(x) for x in (got if isinstance(got, list | tuple) else [got])]
                else:
                    scores += [float(self.model.get_score(self.tokenizer, chat)) for chat in batch]
        return scores

    def score_texts(self, questions: list[str], solutions: list[str]) -> list[float]:
        import torch

        if self.own_scores:
            return self.own_model_scores(questions, solutions)
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
        return await torch_thread.run_async(self.score_texts, questions, solutions)
