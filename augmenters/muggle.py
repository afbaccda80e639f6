"""GSM_Muggle: new questions in the five MuggleMath kinds, labelled by self-consistency.

For each kind (`KINDS`) and each of `cfg.muggle_n` draws the model writes a new question from the original one.
The new question has no gold answer, so `cfg.muggle_k` solutions are sampled and the majority answer becomes the
label (`target`) only when its share of the votes reaches `cfg.muggle_agreement` and no other answer ties with it;
the share is stored in `score`. The row's response is a solution that reached the label. Dropped rows say why:
`unparseable_question` (no usable question in the reply; the reply is kept in `response`) or `low_agreement`.
The answer filter downstream marks kept rows `verified_by="majority"`; a reward model may re-rank them later.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from augmenters.base import AugmentConfig, few_shot_messages, finish_response, reply_reason, solve
from augmenters.program_eval import answer_string
from core.answers import normalize_answer, parse_number
from core.llm.base import LLM, Message
from core.schemas import new_sample

AUGMENTER = "muggle"

# kind -> the instruction given to the model (our own words)
KINDS: dict[str, str] = {
    "change_numbers": "Change one or more of the numbers so that it is a different problem that still makes sense.",
    "fractions_percentages": "Rewrite the problem so that it uses a fraction or a percentage.",
    "combine_concepts": "Combine the problem with another everyday math idea, such as a rate, money, time or an area.",
    "conditional": "Add a condition starting with 'if' that changes how the answer is found.",
    "more_steps": "Make the problem harder by adding one or two more steps of reasoning.",
}

MUGGLE_SYSTEM = (
    "You write new math word problems from a given one, following an instruction. The new problem must be "
    "self-contained, have exactly one numeric answer, and end with a question. Reply with one line that starts "
    "with 'New question:' and do not solve it."
)

# Our own originals (not from GSM8K) and a rewrite of each for every kind.
_ORIGINALS = (
    "A farmer collects 24 eggs every day. He sells them in boxes of 6. How many boxes does he fill in a week?",
    "Mia has $40. She buys a book for $12 and a lamp for $15. How much money does she have left?",
)
MUGGLE_SHOTS: dict[str, tuple[str, str]] = {
    "change_numbers": (
        "A farmer collects 30 eggs every day. He sells them in boxes of 10. How many boxes does he fill in 5 days?",
        "Mia has $75. She buys a book for $18 and a lamp for $32. How much money does she have left?",
    ),
    "fractions_percentages": (
        "A farmer collects 24 eggs every day, but 1/4 of them are cracked and thrown away. He sells the rest in "
        "boxes of 6. How many boxes does he fill in a week?",
        "Mia has $40. She spends 25% of it on a book and $15 on a lamp. How much money does she have left?",
    ),
    "combine_concepts": (
        "A farmer collects 24 eggs every day and sells them in boxes of 6 for $3 a box. How much money does he "
        "earn in a week?",
        "Mia has $40 and earns $8 an hour walking dogs. She works 3 hours, then buys a book for $12 and a lamp "
        "for $15. How much money does she have left?",
    ),
    "conditional": (
        "A farmer collects 24 eggs every day. He sells them in boxes of 6. If he fills more than 25 boxes in a week, "
        "he gives 2 boxes to his neighbour. How many boxes does he have left to sell after a week?",
        "Mia has $40. She buys a book for $12 and a lamp for $15. If she spends more than $20, she gets $5 back. "
        "How much money does she have left?",
    ),
    "more_steps": (
        "A farmer collects 24 eggs every day. He keeps 4 eggs a day for his family and sells the rest in boxes "
        "of 5. How many boxes does he fill in a week?",
        "Mia has $40. She buys a book for $12 and a lamp for $15, then her aunt gives her twice what she has left. "
        "How much money does she have now?",
    ),
}

_MARKER_RE = re.compile(r"new question\s*:\s*", re.IGNORECASE)
_STOP_RE = re.compile(r"\n\s*\n|\b(?:answer|solution)\s*:|\bthe answer is\b|\bstep 1\b", re.IGNORECASE)
MIN_QUESTION_CHARS, MAX_QUESTION_CHARS = 20, 1200


def muggle_messages(kind: str, question: str) -> list[Message]:
    shots = [
        (f"Instruction: {KINDS[kind]}\nOriginal question: {original}", f"New question: {rewrite}")
        for original, rewrite in zip(_ORIGINALS, MUGGLE_SHOTS[kind], strict=True)
    ]
    return few_shot_messages(MUGGLE_SYSTEM, shots, f"Instruction: {KINDS[kind]}\nOriginal question: {question}")


def parse_new_question(text: str, original: str) -> str | None:
    """The new question in a reply: after 'New question:', up to its last '?' before any answer; None if unusable."""
    m = _MARKER_RE.search(text)
    body = text[m.end() :] if m else text
    stop = _STOP_RE.search(body)
    body = body[: stop.start()] if stop else body
    if "?" not in body:
        return None
    question = " ".join(body[: body.rindex("?") + 1].split()).strip("\"' ")
    if not MIN_QUESTION_CHARS <= len(question) <= MAX_QUESTION_CHARS or not re.search(r"\d", question):
        return None
    if question.lower() == " ".join(original.split()).lower():
        return None
    return question


@dataclass(frozen=True)
class Vote:
    answer: str | None  # normalized majority answer (None: no answer parsed at all)
    votes: int
    total: int
    tied: bool  # another answer has as many votes

    @property
    def agreement(self) -> float:
        return self.votes / self.total if self.total else 0.0


def answer_key(answer: str | None) -> Fraction | str | None:
    """What votes are grouped by: the exact value of a numeric answer, else its normalized text."""
    if answer is None:
        return None
    value = parse_number(answer)
    return value if value is not None else normalize_answer(answer)


def majority_vote(answers: list[str | None]) -> Vote:
    """Majority over parsed answers (unparsed ones count in the total, never as a vote)."""
    keys = [k for k in map(answer_key, answers) if k not in (None, "")]
    if not keys:
        return Vote(None, 0, len(answers), False)
    ranked = Counter(keys).most_common()
    key, votes = ranked[0]
    label = answer_string(key) if isinstance(key, Fraction) else key
    return Vote(label, votes, len(answers), len(ranked) > 1 and ranked[1][1] == votes)


def accepted(vote: Vote, threshold: float) -> bool:
    return vote.answer is not None and not vote.tied and vote.agreement >= threshold


async def _one(problem: dict, kind: str, draw: int, llm: LLM, cfg: AugmentConfig) -> dict:
    question = problem["question"]
    messages = muggle_messages(kind, question)
    key = f"{problem['id']}:{AUGMENTER}:{kind}:{draw}"
    base = {
        "parent_id": problem["id"],
        "augmenter": AUGMENTER,
        "variant": kind,
        "prompt": f"{messages[-1]['content']}\n#draw {draw}",
        "original_question": question,
        "model": llm.name,
    }
    [reply] = await llm.chat(messages, n=1, params=cfg.params(seed_key=key))
    new_question = parse_new_question(reply.text, question)
    if new_question is None:
        return new_sample(
            **base, query=None, response=reply.text, answer=None, target=None, reason="unparseable_question"
        )
    solutions = await solve(llm, new_question, cfg.muggle_k, cfg.params(seed_key=f"{key}:solve"))
    vote = majority_vote([a for _, a in solutions])
    label_key = answer_key(vote.answer)
    hits = [(c, a) for c, a in solutions if a is not None and answer_key(a) == label_key]
    keepable = [(c, a) for c, a in hits if reply_reason(c) is None]
    completion, answer = (keepable or hits or solutions)[0]
    return new_sample(
        **base,
        query=new_question,
        response=finish_response(completion.text, answer),
        answer=answer,
        target=vote.answer,
        score=vote.agreement,
        reason=reply_reason(completion) if accepted(vote, cfg.muggle_agreement) else "low_agreement",
    )


async def augment(problem: dict, llm: LLM, cfg: AugmentConfig, kinds: tuple[str, ...] = tuple(KINDS)) -> list[dict]:
    """`cfg.muggle_n` new questions of each kind, solved `cfg.muggle_k` times, labelled by majority."""
    jobs = [_one(problem, kind, draw, llm, cfg) for kind in kinds for draw in range(cfg.muggle_n)]
    return list(await asyncio.gather(*jobs))
