"""What every augmenter shares: its settings, the per-request seed, and the step-by-step solver.

An augmenter is `async def augment(problem: dict, llm: LLM, cfg: AugmentConfig) -> list[dict]`: straight-line
code over one problem (a PROBLEM_SCHEMA row as a dict) that awaits the LLM as often as it needs and returns
sample rows built with `core.schemas.new_sample`. It parses what the model wrote (`answer`) and states what the
answer must be (`target`); the answer filter downstream decides keep or drop. Rows it already knows are bad
(an unparseable rephrasing, say) come back with a `reason` set.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.answers import explicit_answer, extract_answer
from core.llm.base import LLM, Completion, GenParams, Message, derived_seed


@dataclass(frozen=True)
class AugmentConfig:
    temperature: float = 0.7
    max_tokens: int = 320
    seed: int = 0
    ansaug_n: int = 4  # sampled solutions per problem (per round with ansaug_mode uniform / prop2diff)
    ansaug_mode: str = "fixed"  # fixed: ansaug_n samples; uniform / prop2diff: DART-Math rejection sampling
    ansaug_k: int = 4  # uniform / prop2diff: correct solutions wanted per problem (prop2diff: for the hardest)
    ansaug_budget: int = 32  # uniform / prop2diff: most solutions sampled per problem
    rephrase_n: int = 2  # rephrasings per problem (each solved once)
    sv_n: int = 1  # solutions per masked statement
    fobar_n: int = 1  # solutions per masked backward question
    mask_limit: int = 3  # most numbers masked per problem for sv / fobar (0: all)
    muggle_n: int = 1  # new questions per MuggleMath kind
    muggle_k: int = 4  # solutions sampled to vote a label for each new question
    muggle_agreement: float = 0.5  # share of votes the majority answer needs
    perturb_n: int = 2  # perturbed versions per problem
    perturb_programs: str = "solution,model"  # where perturb programs come from, in order (see augmenters.perturb)
    perturb_band: tuple[float, float] = (0.75, 1.5)  # new values between these multiples of the original
    perturb_k: int = 0  # model solutions per perturbed question besides the reference one (0: none)
    primed_style: str = "all"  # reasoning style of the primed augmenter (core.schemas.PRIMED_STYLES)
    primed_n: int = 2  # primed solutions per problem

    def params(
        self, *, temperature: float | None = None, max_tokens: int | None = None, seed_key: str = ""
    ) -> GenParams:
        """Sampling params; the seed is derived from the run seed and `seed_key` so replays ask the same."""
        return GenParams(
            temperature=self.temperature if temperature is None else temperature,
            max_tokens=self.max_tokens if max_tokens is None else max_tokens,
            seed=derived_seed(self.seed, seed_key),
        )


# --- the step-by-step solver, shared by every augmenter that needs a solution -------------------------------------

SOLVER_SYSTEM = (
    "You are a careful math tutor. Work through the word problem one short step at a time, "
    "writing each calculation out. Finish with a last line of the form 'The answer is: N' where N is a single number."
)

# Our own worked examples (not from GSM8K), shown as earlier turns of the chat.
SOLVER_SHOTS: list[tuple[str, str]] = [
    (
        "A baker fills 6 trays with 14 rolls each. She sells 50 rolls. How many rolls are left?",
        "She bakes 6 * 14 = 84 rolls.\nAfter selling 50 she has 84 - 50 = 34 rolls.\nThe answer is: 34",
    ),
    (
        "Omar reads 12 pages on Monday and twice as many on Tuesday. A chapter is 9 pages long. "
        "How many full chapters did he read over the two days?",
        "On Tuesday he reads 2 * 12 = 24 pages.\nIn total he reads 12 + 24 = 36 pages.\n"
        "That is 36 / 9 = 4 chapters.\nThe answer is: 4",
    ),
]


def few_shot_messages(system: str, shots: list[tuple[str, str]], question: str) -> list[Message]:
    """System prompt, the worked examples as earlier user/assistant turns, then the question."""
    messages: list[Message] = [{"role": "system", "content": system}]
    for user, assistant in shots:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    messages.append({"role": "user", "content": question})
    return messages


def solver_messages(question: str) -> list[Message]:
    return few_shot_messages(SOLVER_SYSTEM, SOLVER_SHOTS, question)


def finish_response(text: str, answer: str | None) -> str:
    """A response that states its answer ends with `The answer is: X`: that line is added when the model stated it
    otherwise (`#### X`, `\\boxed{X}`), never when it already says "the answer is" (even mid-line), and
    never for a reply that states no answer (a last number guessed from it is no statement: see `reply_reason`)."""
    text = text.strip()
    if answer is None or explicit_answer(text) is None or "the answer is" in text.lower():
        return text
    return f"{text}\nThe answer is: {answer}"


def reply_reason(completion: Completion) -> str | None:
    """Why a model's reply cannot be kept whatever its answer: `truncated` (cut off by max_tokens, so a number it
    ends with proves nothing) or `no_explicit_answer` (no `The answer is`, `####` or `\\boxed{}`); None if it can."""
    if completion.finish_reason == "length":
        return "truncated"
    if explicit_answer(completion.text) is None:
        return "no_explicit_answer"
    return None


async def solve(llm: LLM, question: str, n: int, params: GenParams) -> list[tuple[Completion, str | None]]:
    """`n` sampled step-by-step solutions of `question`, each with the final answer parsed from it."""
    completions = await llm.chat(solver_messages(question), n=n, params=params)
    return [(c, extract_answer(c.text)) for c in completions]


# --- the backward solver: find the unknown x (self-verification and FOBAR questions) ------------------------------

BACKWARD_SYSTEM = (
    "You are a careful math tutor. The problem contains an unknown number x and tells you a result. "
    "Write the result as an equation in x, solve it step by step, and finish with a last line of the form "
    "'The answer is: N' where N is the value of x."
)

BACKWARD_SHOTS: list[tuple[str, str]] = [
    (
        "A gardener plants x rows of 8 tulips. She gives away 10 tulips and has 30 tulips left. "
        "What is the value of unknown variable x?",
        "She plants 8 * x tulips and keeps 8 * x - 10 of them.\nSo 8 * x - 10 = 30.\n"
        "Then 8 * x = 40, and x = 40 / 8 = 5.\nThe answer is: 5",
    ),
    (
        "A ticket costs $7 and a drink costs $x. Lena buys 3 tickets and 3 drinks. How much does she spend?\n"
        "If we know the answer to the above question is 33, what is the value of unknown variable x?",
        "She spends 3 * 7 + 3 * x = 21 + 3 * x dollars.\nSo 21 + 3 * x = 33.\n"
        "Then 3 * x = 12, and x = 12 / 3 = 4.\nThe answer is: 4",
    ),
]


async def solve_for_x(llm: LLM, question: str, n: int, params: GenParams) -> list[tuple[Completion, str | None]]:
    """`n` sampled solutions of a backward question, each with the value of x parsed from it."""
    completions = await llm.chat(few_shot_messages(BACKWARD_SYSTEM, BACKWARD_SHOTS, question), n=n, params=params)
    return [(c, extract_answer(c.text)) for c in completions]
