"""Self-verification questions (GSM_SV): mask one number as x, turn question + answer into a statement, ask for x.

Two model calls per masked number: the rewrite ("How many ... ?" with answer 72 becomes "... 72 in all."), then
solutions for x. A rewrite that lost the x or the answer is dropped as `bad_rewrite`; a solution is verified when
its x equals the masked number.
"""

from __future__ import annotations

import asyncio
import re

from augmenters.base import AugmentConfig, few_shot_messages, finish_response, reply_reason, solve_for_x
from augmenters.masking import choose_masks
from core.answers import normalize_answer
from core.llm.base import LLM
from core.schemas import new_sample

SV_QUESTION = "What is the value of unknown variable x?"

REWRITE_SYSTEM = (
    "You turn a math word problem and its answer into a statement. Keep every sentence of the problem as it is, "
    "including the letter x, but replace the final question with a sentence that states the answer as a fact. "
    "Reply with the statement only."
)

REWRITE_SHOTS: list[tuple[str, str]] = [
    (
        "Problem: A shelf holds x boxes with 6 cups in each box. How many cups are on the shelf?\nAnswer: 42",
        "A shelf holds x boxes with 6 cups in each box. There are 42 cups on the shelf.",
    ),
    (
        "Problem: Theo walks 3 miles a day for x days and then rides 10 miles. How far does he travel in all?\n"
        "Answer: 25",
        "Theo walks 3 miles a day for x days and then rides 10 miles. He travels 25 miles in all.",
    ),
]

_PREFIX = re.compile(r"^\s*(statement|answer)\s*:\s*", re.I)


def parse_statement(text: str, answer: str) -> str | None:
    """The declarative rewrite, or None unless it still has the unknown x and states the answer."""
    text = _PREFIX.sub("", text.strip()).strip()
    if not re.search(r"(?<![A-Za-z])x(?![A-Za-z])", text):
        return None
    if not re.search(rf"(?<![\d.]){re.escape(answer)}(?![\d])", text.replace(",", "")):
        return None
    return text.rstrip("?").strip()


def sv_question(statement: str) -> str:
    return f"{statement} {SV_QUESTION}"


async def _one_mask(problem: dict, llm: LLM, cfg: AugmentConfig, i: int, masked: str, value: str) -> list[dict]:
    question, gold = problem["question"], problem["answer"]
    prompt = f"Problem: {masked}\nAnswer: {gold}"
    common = dict(
        parent_id=problem["id"],
        augmenter="sv",
        prompt=prompt,
        target=value,
        original_question=question,
        model=llm.name,
    )
    [reply] = await llm.chat(
        few_shot_messages(REWRITE_SYSTEM, REWRITE_SHOTS, prompt),
        params=cfg.params(temperature=0.0, seed_key=f"{problem['id']}:sv:{i}"),
    )
    statement = parse_statement(reply.text, gold)
    if statement is None:
        return [
            new_sample(**common, variant=f"m{i}", query=reply.text, response=None, answer=None, reason="bad_rewrite")
        ]
    query = sv_question(statement)
    solutions = await solve_for_x(llm, query, cfg.sv_n, cfg.params(seed_key=f"{problem['id']}:sv:{i}:solve"))
    return [
        new_sample(
            **common,
            variant=f"m{i}-s{k}",
            query=query,
            response=finish_response(completion.text, answer),
            reason=reply_reason(completion),
            answer=normalize_answer(answer),
        )
        for k, (completion, answer) in enumerate(solutions)
    ]


async def augment(problem: dict, llm: LLM, cfg: AugmentConfig) -> list[dict]:
    question = problem["question"]
    masks = choose_masks(question, cfg.mask_limit)
    per_mask = await asyncio.gather(
        *(_one_mask(problem, llm, cfg, i, mask.apply(question), mask.value) for i, mask in enumerate(masks))
    )
    return [sample for samples in per_mask for sample in samples]
