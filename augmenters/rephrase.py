"""Question rephrasing (GSM_Rephrased): the model rewrites the question, then solves its own rewrite.

A rephrasing is kept (with its solution) only if that solution reaches the gold answer: a rewrite that changed
the problem's meaning rarely does.
"""

from __future__ import annotations

import asyncio
import re

from augmenters.base import AugmentConfig, few_shot_messages, finish_response, reply_reason, solve
from augmenters.numbers_in_text import find_numbers, word_values
from core.answers import normalize_answer
from core.llm.base import LLM
from core.schemas import new_sample

REPHRASE_SYSTEM = (
    "Rewrite the math word problem in new words and a new sentence order. Keep every number, every fact and "
    "the quantity that is asked for exactly the same. Do not solve it. Reply with the rewritten problem only."
)

REPHRASE_SHOTS: list[tuple[str, str]] = [
    (
        "A farmer has 3 fields with 25 cows in each field. He sells 18 cows. How many cows does he have now?",
        "There are 25 cows in each of a farmer's 3 fields. After he sells 18 of his cows, "
        "how many cows remain with the farmer?",
    ),
    (
        "Mia saves $4 every week. How many weeks does she need to save $52?",
        "Every week, Mia puts aside $4. To reach a total of $52, how many weeks of saving will it take her?",
    ),
]

_PREFIX = re.compile(r"^\s*(rewritten problem|rephrased question|rephrased problem|question|problem)\s*:\s*", re.I)


def parse_rephrasing(text: str, original: str) -> str | None:
    """The rewritten question, or None when the reply is empty, unchanged, not a question, or drops a number of the
    original (a rephrasing keeps every given quantity, in digits or in words; a reply about something else, which a
    weak model may write and whose lucky answer may match the gold, keeps none)."""
    text = _PREFIX.sub("", text.strip()).strip().strip('"').strip()
    if len(text) < 10 or "?" not in text and not text.rstrip().endswith("."):
        return None
    if " ".join(text.lower().split()) == " ".join(original.lower().split()):
        return None
    given = {n.value for n in find_numbers(original)}
    if not given <= {n.value for n in find_numbers(text)} | word_values(text):
        return None
    return text


async def augment(problem: dict, llm: LLM, cfg: AugmentConfig) -> list[dict]:
    question = problem["question"]
    replies = await llm.chat(
        few_shot_messages(REPHRASE_SYSTEM, REPHRASE_SHOTS, question),
        n=cfg.rephrase_n,
        params=cfg.params(seed_key=f"{problem['id']}:rephrase"),
    )
    rephrasings = [parse_rephrasing(reply.text, question) for reply in replies]
    solved = await asyncio.gather(
        *(
            solve(llm, text, 1, cfg.params(seed_key=f"{problem['id']}:rephrase:{k}"))
            for k, text in enumerate(rephrasings)
            if text is not None
        )
    )
    solutions = iter(solved)
    samples = []
    for k, (reply, rephrased) in enumerate(zip(replies, rephrasings, strict=True)):
        common = dict(
            parent_id=problem["id"],
            augmenter="rephrase",
            variant=f"r{k}",
            prompt=question,
            target=problem["answer"],
            original_question=question,
            model=llm.name,
        )
        if rephrased is None:
            samples.append(new_sample(**common, query=reply.text, response=None, answer=None, reason="bad_rephrasing"))
            continue
        [(completion, answer)] = next(solutions)
        samples.append(
            new_sample(
                **common,
                query=rephrased,
                response=finish_response(completion.text, answer),
                reason=reply_reason(completion),
                answer=normalize_answer(answer),
            )
        )
    return samples
