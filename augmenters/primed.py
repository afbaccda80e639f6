"""Behaviour-primed solutions (the priming experiment of Gandhi et al. 2025): the teacher solves the original
question in a chosen reasoning style, and the answer filter keeps a solution only when its final answer equals the
gold answer (as for AnsAug). Each style is its own sample type (GSM_Primed_<style>), so SFT can train on one style.

Styles (`--primed-style`): all (the four behaviours), backtracking, backtracking+verification,
backtracking+subgoals, backtracking+backward, none (a plain forward solution: the control).
"""

from __future__ import annotations

from augmenters.base import AugmentConfig, few_shot_messages, finish_response
from core.answers import extract_answer, normalize_answer
from core.llm.base import LLM
from core.schemas import PRIMED_STYLES, new_sample

_ENDING = "Finish with a last line of the form 'The answer is: N' where N is a single number."

# What each behaviour asks of the writer, in our words.
_ASKS = {
    "verification": "after reaching a result, check it (recompute it another way or substitute it back)",
    "backtracking": "try an approach, notice when a step is wrong or leads nowhere, say so and take another path",
    "subgoals": "before calculating, state the intermediate quantities you need first, then find them in order",
    "backward": "start from what the question asks for and reason back to which given quantities produce it",
}
_STYLE_ASKS = {
    "all": ["subgoals", "backward", "backtracking", "verification"],
    "backtracking": ["backtracking"],
    "backtracking+verification": ["backtracking", "verification"],
    "backtracking+subgoals": ["backtracking", "subgoals"],
    "backtracking+backward": ["backtracking", "backward"],
    "none": [],
}

_QUESTION = (
    "A class of 24 pupils goes on a trip. Each minibus seats 10 pupils and costs $35. How much do the minibuses cost?"
)
# Our own worked solutions of one example question, one per behaviour, joined into each style's example.
_PARTS = {
    "subgoals": "First I need the number of minibuses, then their total cost.",
    "backward": "Working backwards from what is asked: the cost is (number of minibuses) * 35, so I need how many "
    "minibuses carry 24 pupils.",
    "backtracking": "24 / 10 = 2.4, so 2 minibuses? Wait, 2 minibuses seat only 20 pupils and 4 would be left "
    "behind. That does not work; I need to round up to 3 minibuses.",
    "verification": "Check: 3 minibuses seat 30 pupils, which is at least 24, and 2 would seat only 20. So 3 is right.",
    "plain": "24 pupils need 3 minibuses of 10 seats (2 would seat only 20).",
}


def style_system(style: str) -> str:
    asks = _STYLE_ASKS[style]
    if not asks:
        return (
            "You are a careful math tutor. Solve the word problem in a plain, direct way: one calculation per "
            f"line, going forward from the given numbers, without commentary. {_ENDING}"
        )
    wanted = "; ".join(_ASKS[a] for a in asks)
    return (
        "You are a careful math tutor who thinks out loud. Solve the word problem and show these habits in your "
        f"reasoning: {wanted}. {_ENDING}"
    )


def style_example(style: str) -> str:
    order = [a for a in ("subgoals", "backward", "backtracking", "verification") if a in _STYLE_ASKS[style]]
    lines = [_PARTS[a] for a in order if a != "verification"]
    if "backtracking" not in order:
        lines.append(_PARTS["plain"])
    lines.append("The cost is 3 * 35 = 105 dollars.")
    if "verification" in order:
        lines.append(_PARTS["verification"])
    return "\n".join(lines) + "\nThe answer is: 105"


def primed_messages(style: str, question: str):
    return few_shot_messages(style_system(style), [(_QUESTION, style_example(style))], question)


def type_name(style: str) -> str:
    return f"GSM_Primed_{style}"


async def augment(problem: dict, llm: LLM, cfg: AugmentConfig) -> list[dict]:
    style = cfg.primed_style
    if style not in PRIMED_STYLES:
        raise ValueError(f"unknown primed style {style!r}; choose from {', '.join(PRIMED_STYLES)}")
    question = problem["question"]
    messages = primed_messages(style, question)
    completions = await llm.chat(messages, n=cfg.primed_n, params=cfg.params(seed_key=f"{problem['id']}:primed"))
    samples = []
    for k, completion in enumerate(completions):
        answer = extract_answer(completion.text)
        samples.append(
            new_sample(
                parent_id=problem["id"],
                augmenter=f"primed-{style}",
                variant=f"s{k}",
                prompt=messages[0]["content"] + "\n" + question,
                query=question,
                response=finish_response(completion.text, answer),
                answer=normalize_answer(answer),
                target=problem["answer"],
                original_question=question,
                model=llm.name,
            )
        )
    return samples
