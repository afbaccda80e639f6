"""FOBAR backward questions (GSM_FOBAR): mask one number as x, state the answer, ask for x.

The question is the original with one number masked plus "If we know the answer to the above question is
{gold}, what is the value of unknown variable x?" (the FOBAR form of the MetaMath paper). A solution is verified
when the x it finds equals the masked number.
"""

from __future__ import annotations

import asyncio

from augmenters.base import AugmentConfig, finish_response, reply_reason, solve_for_x
from augmenters.masking import choose_masks
from core.answers import normalize_answer
from core.llm.base import LLM
from core.schemas import new_sample

FOBAR_SUFFIX = "If we know the answer to the above question is {answer}, what is the value of unknown variable x?"


def fobar_question(masked_question: str, answer: str) -> str:
    return f"{masked_question.strip()}\n{FOBAR_SUFFIX.format(answer=answer)}"


async def augment(problem: dict, llm: LLM, cfg: AugmentConfig) -> list[dict]:
    question = problem["question"]
    masks = choose_masks(question, cfg.mask_limit)
    queries = [fobar_question(mask.apply(question), problem["answer"]) for mask in masks]
    solved = await asyncio.gather(
        *(
            solve_for_x(llm, query, cfg.fobar_n, cfg.params(seed_key=f"{problem['id']}:fobar:{i}"))
            for i, query in enumerate(queries)
        )
    )
    return [
        new_sample(
            parent_id=problem["id"],
            augmenter="fobar",
            variant=f"m{i}-s{k}",
            prompt=query,
            query=query,
            response=finish_response(completion.text, answer),
            reason=reply_reason(completion),
            answer=normalize_answer(answer),
            target=mask.value,
            original_question=question,
            model=llm.name,
        )
        for i, (mask, query, solutions) in enumerate(zip(masks, queries, solved, strict=True))
        for k, (completion, answer) in enumerate(solutions)
    ]
