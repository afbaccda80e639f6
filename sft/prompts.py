"""The prompts of the training and evaluation stages, in one place."""

from __future__ import annotations

from core.llm.base import Message

# GRPO and evaluation: reason step by step, final answer in \boxed{} (what sft.rewards checks).
REASONING_SYSTEM_PROMPT = (
    "You are a careful math tutor. Work through the problem one step at a time, checking each calculation "
    "as you go. When you are done, write the final answer as a plain number inside \\boxed{}, for example "
    "\\boxed{42}."
)

# The fixed question of the per-checkpoint "aha" table (GSM8K test, first problem) and its gold answer.
AHA_QUESTION = (
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her "
    "friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck "
    "egg. How much in dollars does she make every day at the farmers' market?"
)
AHA_ANSWER = "18"


def reasoning_messages(question: str, system_prompt: str | None = REASONING_SYSTEM_PROMPT) -> list[Message]:
    """Chat prompt of one problem: our system prompt (when given) and the question as the user turn."""
    messages: list[Message] = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": question}]
