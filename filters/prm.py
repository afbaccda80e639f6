"""Process reward model scorers: one score per reasoning step, aggregated (min, prod or last) per solution.

Two common styles:
  - QwenStylePRM (Qwen2.5-Math-PRM): steps joined by a separator token in the assistant turn; a token classifier
    gives two classes at each separator, and P(class 1) is that step's score.
  - MathShepherdPRM (Math-Shepherd): a causal LM over "question Step 1: ... <tag>\nStep 2: ... <tag>"; at each
    step tag the step score is P(good) / (P(good) + P(bad)) from the next-token logits of the good/bad tokens.
"""

from __future__ import annotations

import polars as pl

from core import torch_thread
from core.errors import UserError
from filters.hf_models import load_scorer_model, remote_class, require_remote_code
from filters.scoring import aggregate_steps, split_steps

PRM_SYSTEM = "Solve the math problem step by step."


def _single_token_id(tokenizer, token: str, what: str) -> int:
    ids = tokenizer.encode(token, add_special_tokens=False)
    if len(ids) != 1:
        raise UserError(f"The {what} {token!r} is not one token for this scorer model; pass the PRM's own {what}.")
    return ids[0]


class _StepScorer:
    """Shared batching over (question, solution) pairs; subclasses say how to format and read one batch."""

    name = "prm"

    def __init__(self, aggregate: str, batch_size: int, max_length: int) -> None:
        aggregate_steps([], aggregate)  # validates the name
        self.aggregate, self.batch_size, self.max_length = aggregate, batch_size, max_length

    def step_scores_batch(self, questions: list[str], steps: list[list[str]]) -> list[list[float]]:
        raise NotImplementedError

    def step_scores(self, questions: list[str], solutions: list[str]) -> list[list[float]]:
        """Per solution, the score of each of its steps (fewer when truncation cut steps off)."""
        steps = [split_steps(s) for s in solutions]
        out: list[list[float]] = []
        for start in range(0, len(questions), self.batch_size):
            end = start + self.batch_size
            out += self.step_scores_batch(questions[start:end], steps[start:end])
        return out

    def score_texts(self, questions: list[str], solutions: list[str]) -> list[float]:
        return [aggregate_steps(s, self.aggregate) for s in self.step_scores(questions, solutions)]

    async def score(self, df: pl.DataFrame) -> list[float]:
        questions = [q or "" for q in df["query"].to_list()]
        solutions = [r or "" for r in df["response"].to_list()]
        return await torch_thread.run_async(self.score_texts, questions, solutions)


class QwenStylePRM(_StepScorer):
    name = "prm-qwen"

    def __init__(
        self,
        model: str,
        *,
        aggregate: str = "min",
        step_token: str = "<extra_0>",
        system: str = PRM_SYSTEM,
        batch_size: int = 4,
        max_length: int = 4096,
        trust_remote_code: bool = False,
        device: str | None = None,
    ) -> None:
        super().__init__(aggregate, batch_size, max_length)
        from transformers import AutoModel, AutoModelForTokenClassification

        # the published Qwen2.5-Math-PRM ships its own class (Qwen2ForProcessRewardModel, a two-layer head) that only
        # loads as remote code; a generic token classifier would get a new random head (refused by load_scorer_model)
        remote = remote_class(model, ("AutoModel", "AutoModelForTokenClassification"))
        if remote is not None:
            require_remote_code(model, remote[1], trust_remote_code)
        auto = AutoModel if remote is not None and remote[0] == "AutoModel" else AutoModelForTokenClassification
        self.model, self.tokenizer = load_scorer_model(auto, model, device, trust_remote_code=trust_remote_code)
        self.step_token, self.system = step_token, system
        self.step_id = _single_token_id(self.tokenizer, step_token, "step separator")

    def chat_text(self, question: str, steps: list[str]) -> str:
        solution = "".join(step + self.step_token for step in steps)
        chat = [
            {"role": "system", "content": self.system},
            {"role": "user", "content": question},
            {"role": "assistant", "content": solution},
        ]
        return self.tokenizer.apply_chat_template(chat, tokenize=False)

    def step_scores_batch(self, questions: list[str], steps: list[list[str]]) -> list[list[float]]:
        import torch

        texts = [self.chat_text(q, s) for q, s in zip(questions, steps, strict=True)]
        batch = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            add_special_tokens=False,
            return_tensors="pt",
        ).to(self.model.device)
        with torch.inference_mode():
            out = self.model(**batch)
        logits = (out.logits if hasattr(out, "logits") else out[0]).float()
        probs = logits.softmax(-1)[..., 1]
        at_sep = (batch["input_ids"] == self.step_id) & batch["attention_mask"].bool()
        return [probs[row][at_sep[row]].tolist() for row in range(len(texts))]


class MathShepherdPRM(_StepScorer):
    name = "prm-shepherd"

    def __init__(
        self,
        model: str,
        *,
        aggregate: str = "min",
        step_tag: str = " ки",
        good_token: str = "+",
        bad_token: str = "-",
        batch_size: int = 4,
        max_length: int = 4096,
        device: str | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        super().__init__(aggregate, batch_size, max_length)
        from transformers import AutoModelForCausalLM

        self.model, self.tokenizer = load_scorer_model(
            AutoModelForCausalLM, model, device, trust_remote_code=trust_remote_code
        )
        if not getattr(self.tokenizer, "is_fast", False):
            raise UserError(f"The scorer model {model!r} has no fast tokenizer; the step-tag PRM needs one.")
        self.step_tag = step_tag
        self.good_id = _single_token_id(self.tokenizer, good_token, "good-step token")
        self.bad_id = _single_token_id(self.tokenizer, bad_token, "bad-step token")

    def prompt_text(self, question: str, steps: list[str]) -> tuple[str, list[int]]:
        """The PRM input and, per step, the character index of the last character of its step tag."""
        text, tag_ends = question.strip() + " ", []
        for i, step in enumerate(steps, start=1):
            text += f"Step {i}: {step}{self.step_tag}"
            tag_ends.append(len(text) - 1)
            text += "\n"
        return text, tag_ends

    def step_scores_batch(self, questions: list[str], steps: list[list[str]]) -> list[list[float]]:
        import torch

        prompts = [self.prompt_text(q, s) for q, s in zip(questions, steps, strict=True)]
        batch = self.tokenizer(
            [text for text, _ in prompts],
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_offsets_mapping=True,
            return_tensors="pt",
        )
        offsets = batch.pop("offset_mapping").tolist()
        batch = batch.to(self.model.device)
        with torch.inference_mode():
            logits = self.model(**batch).logits.float()
        pair = logits[..., [self.good_id, self.bad_id]].softmax(-1)[..., 0]  # P(good) / (P(good) + P(bad))
        out = []
        for row, (_, tag_ends) in enumerate(prompts):
            spans = offsets[row]
            mask = batch["attention_mask"][row].tolist()
            positions = [_token_at(spans, mask, end) for end in tag_ends]
            out.append([pair[row, p].item() for p in positions if p is not None])
        return out


def _token_at(spans: list[list[int]], mask: list[int], char: int) -> int | None:
    """Index of the (unpadded) token whose character span holds `char`; None when truncated away."""
    for i, (start, end) in enumerate(spans):
        if mask[i] and start <= char < end:
            return i
    return None
