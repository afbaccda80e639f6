"""Answer augmentation (GSM_AnsAug): sample several step-by-step solutions of the original question.

The answer filter keeps those whose final answer equals the gold answer; exact duplicates are dropped there too.
"""

from __future__ import annotations

from augmenters.base import AugmentConfig, finish_response, reply_reason, solve
from core.answers import normalize_answer
from core.llm.base import LLM
from core.schemas import new_sample


async def augment(problem: dict, llm: LLM, cfg: AugmentConfig) -> list[dict]:
    question = problem["question"]
    solutions = await solve(llm, question, cfg.ansaug_n, cfg.params(seed_key=f"{problem['id']}:ansaug"))
    return [
        new_sample(
            parent_id=problem["id"],
            augmenter="ansaug",
            variant=f"s{k}",
            prompt=question,
            query=question,
            response=finish_response(completion.text, answer),
            reason=reply_reason(completion),
            answer=normalize_answer(answer),
            target=problem["answer"],
            original_question=question,
            model=llm.name,
        )
        for k, (completion, answer) in enumerate(solutions)
    ]
