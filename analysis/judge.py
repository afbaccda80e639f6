"""An LLM judge that counts the four reasoning behaviours in a response, through any core.llm backend.

The judge answers with one tag per behaviour, e.g. `<verification>2</verification>`. A tag that is missing, empty,
not a whole number, or out of bounds is recorded as unparsed (None), never as 0: a reply the judge garbled must not
read as "no behaviour".
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from analysis.behaviours import BEHAVIOURS, Counts
from core.llm.base import LLM, GenParams, Message

MAX_COUNT = 100  # a larger count is not a count of sentences in one response: unparsed

JUDGE_SYSTEM = (
    "You read a solution written by a student model and count reasoning behaviours in it. Count each place where "
    "the behaviour happens; write 0 when it never happens. The four behaviours:\n"
    "- verification: the writer checks a result it already has (recomputes it, substitutes it back, compares it "
    "with the question). Merely computing something is not verification.\n"
    "- backtracking: the writer notices a path is wrong or does not work and abandons it for another.\n"
    "- subgoal_setting: the writer states an intermediate goal before pursuing it ('first we need the price of "
    "one pen'). Telling a story in order is not a subgoal.\n"
    "- backward_chaining: the writer starts from the goal or target and reasons back to what is given ('to get "
    "24 we need 4 times 6').\n"
    "Reply with exactly four lines and nothing else:\n"
    "<verification>N</verification>\n<backtracking>N</backtracking>\n<subgoal_setting>N</subgoal_setting>\n"
    "<backward_chaining>N</backward_chaining>"
)

# Our own worked examples, shown as earlier turns.
JUDGE_SHOTS: list[tuple[str, str]] = [
    (
        "Try 9 + 6 = 15, 15 * 2 = 30. That is not 33, so this does not work. To get 33 we need 3 * 11, and "
        "11 = 9 + 2, so (9 + 2) * 3 = 33. Check: 9 + 2 = 11 and 11 * 3 = 33.",
        "<verification>1</verification>\n<backtracking>1</backtracking>\n<subgoal_setting>0</subgoal_setting>\n"
        "<backward_chaining>1</backward_chaining>",
    ),
    (
        "First we need the number of slices: 4 * 8 = 32. Each child eats 3, so 10 children eat 30. "
        "32 - 30 = 2 slices are left. The answer is: 2",
        "<verification>0</verification>\n<backtracking>0</backtracking>\n<subgoal_setting>1</subgoal_setting>\n"
        "<backward_chaining>0</backward_chaining>",
    ),
]


def judge_messages(response: str, question: str | None = None) -> list[Message]:
    messages: list[Message] = [{"role": "system", "content": JUDGE_SYSTEM}]
    for text, reply in JUDGE_SHOTS:
        messages += [{"role": "user", "content": f"Solution:\n{text}"}, {"role": "assistant", "content": reply}]
    task = f"Question:\n{question}\n\n" if question else ""
    messages.append({"role": "user", "content": f"{task}Solution:\n{response}"})
    return messages


def parse_judgement(reply: str | None) -> Counts:
    """The judge's count per behaviour; None for a behaviour whose tag is missing, repeated with different values,
    not a whole number, or larger than MAX_COUNT.

    >>> parse_judgement("<verification>2</verification><backtracking> 0 </backtracking>")
    {'verification': 2, 'backtracking': 0, 'subgoal_setting': None, 'backward_chaining': None}
    >>> parse_judgement("<verification>two</verification>")["verification"] is None
    True
    """
    counts: Counts = {}
    for name in BEHAVIOURS:
        found = re.findall(rf"<{name}>\s*([^<]{{0,20}}?)\s*</{name}>", reply or "", re.IGNORECASE)
        values = set(found)
        if len(values) != 1:
            counts[name] = None
            continue
        value = values.pop()
        counts[name] = int(value) if value.isdigit() and int(value) <= MAX_COUNT else None
    return counts


async def judge_one(llm: LLM, response: str, question: str | None, params: GenParams) -> tuple[Counts, str]:
    completions = await llm.chat(judge_messages(response, question), n=1, params=params)
    reply = completions[0].text if completions else ""
    return parse_judgement(reply), reply


async def judge_responses(
    llm: LLM,
    responses: Sequence[str],
    questions: Sequence[str | None] | None = None,
    params: GenParams = GenParams(temperature=0.0, max_tokens=96, seed=0),
) -> list[dict]:
    """Judge every response at once (the backend batches); one dict per response: the counts and the raw reply."""
    questions = list(questions) if questions is not None else [None] * len(responses)
    results = await asyncio.gather(*(judge_one(llm, r, q, params) for r, q in zip(responses, questions, strict=True)))
    return [{"counts": counts, "reply": reply} for counts, reply in results]
