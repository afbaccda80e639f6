"""The prompts of the training and evaluation stages, in one place."""

from __future__ import annotations

import re

from core.answers import normalize_answer
from core.llm.base import Message

# SFT, GRPO and evaluation: one system prompt and one final-answer convention, \boxed{} (what sft.rewards pays for
# and core.answers reads first after "The answer is"); SFT responses are rewritten to it (boxed_final_answer).
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


_FINAL_LINE_RE = re.compile(r"(?:The answer is\s*:?|####)[ \t]*([^\n]*?)[ \t.]*$", re.IGNORECASE)


def boxed_final_answer(response: str) -> str:
    r"""A solution in the one answer convention: its last `The answer is: X` / `#### X` line ends in `\boxed{X}`.

    >>> boxed_final_answer("3 + 4 = 7.\nThe answer is: 7")
    '3 + 4 = 7.\nThe answer is \\boxed{7}.'
    >>> boxed_final_answer("9 * 2 = 18\n#### 18"), boxed_final_answer(r"so \boxed{5}")
    ('9 * 2 = 18\nThe answer is \\boxed{18}.', 'so \\boxed{5}')
    """
    if "\\boxed" in response:
        return response
    lines = response.rstrip().split("\n")
    for i in range(len(lines) - 1, -1, -1):
        match = _FINAL_LINE_RE.search(lines[i])
        if match and match.group(1).strip():
            answer = normalize_answer(match.group(1)) or match.group(1).strip()
            lines[i] = lines[i][: match.start()] + f"The answer is \\boxed{{{answer}}}."
            return "\n".join(lines)
    return response
