r"""GRPO reward functions with TRL's signature: `completions` (plain strings or one-message conversations), the
dataset's columns as keyword arguments (`answer`: the gold final answer), extra keywords ignored; one float per
completion. Rewards pay only for an answer the completion states explicitly (`\boxed{}`, `The answer is`, `####`,
read by `core.answers`): the last-number fallback never pays, so a rambling or cut-off text earns nothing.

The seed experiment's three rewards: a numeric final answer (0.5), the correct answer (2.0), self-reflection that
leads to a stated answer (1.0). Options: a `\boxed{}` format reward and a length-shaped reward. `REWARDS` maps CLI
names to reward factories; other modules add theirs with `register_reward`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from core.answers import answers_equal, explicit_answer, extract_answer, last_statement_start, parse_number

RewardFunc = Callable[..., list[float | None]]

REFLECTION_PHRASES = (
    "aha",
    "but wait",
    "wait,",
    "let's check",
    "let me check",
    "let's verify",
    "let me verify",
    "to verify",
    "verify this",
    "recheck",
    "re-check",
    "double-check",
    "double check",
    "try again",
    "let me reconsider",
    "on second thought",
)
_REFLECTION_RE = re.compile(
    "|".join(rf"(?<![a-z]){re.escape(p)}(?![a-z])" for p in REFLECTION_PHRASES),
    re.IGNORECASE,
)


def completion_text(completion: str | list[dict[str, str]]) -> str:
    """The text of one completion, whether a plain string or a conversation (its last message's content)."""
    if isinstance(completion, str):
        return completion
    return completion[-1]["content"] if completion else ""


def has_reflection(text: str) -> bool:
    """True when the text contains a self-reflection phrase ("aha", "but wait", "let's check", ...).

    >>> has_reflection("Aha! 3 + 4 = 7."), has_reflection("Tahaa has 3 apples.")
    (True, False)
    """
    return _REFLECTION_RE.search(text) is not None


def boxed_answer(text: str) -> str | None:
    r"""Content of the last `\boxed{...}` of the text, read by core.answers (None when there is none).

    >>> boxed_answer(r"so \boxed{1,200} dollars"), boxed_answer("The answer is 5")
    ('1,200', None)
    """
    start = text.rfind("\\boxed")
    if start < 0:
        return None
    return extract_answer(text[start:])


def numeric_answer_reward(completions: Sequence, **kwargs) -> list[float | None]:
    r"""0.5 when the completion states a final answer that is a number (whatever its value), else 0.0.

    >>> numeric_answer_reward([r"... so \boxed{18}", "I am not sure.", "The answer is: seven", "I have 3 apples"])
    [0.5, 0.0, 0.0, 0.0]
    """
    return [0.5 if parse_number(explicit_answer(completion_text(c))) is not None else 0.0 for c in completions]


def correct_answer_reward(completions: Sequence, answer: Sequence[str], **kwargs) -> list[float | None]:
    r"""2.0 when the completion's stated final answer equals the gold `answer`, else 0.0 (None: no gold to compare).

    >>> completions = [[{"role": "assistant", "content": r"9 * 2 = 18, so \boxed{18}"}],
    ...                [{"role": "assistant", "content": r"\boxed{16}"}]]
    >>> correct_answer_reward(completions, answer=["18", "18"])
    [2.0, 0.0]
    """
    rewards: list[float | None] = []
    for completion, gold in zip(completions, answer, strict=True):
        if gold is None:
            rewards.append(None)
        else:
            rewards.append(2.0 if answers_equal(gold, explicit_answer(completion_text(completion))) else 0.0)
    return rewards


def reflects_then_answers(text: str) -> bool:
    r"""A reflection phrase followed by more working (a number) before an explicitly stated final answer.

    >>> reflects_then_answers(r"16 - 3 = 13. But wait, she also bakes 4: 13 - 4 = 9, 9 * 2 = 18. \boxed{18}")
    True
    >>> reflects_then_answers("Wait"), reflects_then_answers(r"Wait. \boxed{18}")
    (False, False)
    """
    start = last_statement_start(text)
    if start is None or explicit_answer(text) is None:
        return False
    working = text[:start]
    return any(re.search(r"\d", working[m.end() :]) for m in _REFLECTION_RE.finditer(working))


def reflection_reward(completions: Sequence, **kwargs) -> list[float | None]:
    r"""1.0 when the completion reflects on its own work ("aha", "but wait", "let's check", ...), works on after it,
    and states a final answer; a reflection word alone earns nothing.

    >>> reflection_reward([r"16 - 3 = 13. But wait, she also bakes 4, so 9 * 2 = 18. \boxed{18}",
    ...                    r"16 - 7 = 9, 9 * 2 = 18. \boxed{18}", "wait"])
    [1.0, 0.0, 0.0]
    """
    return [1.0 if reflects_then_answers(completion_text(c)) else 0.0 for c in completions]


def boxed_format_reward(completions: Sequence, **kwargs) -> list[float | None]:
    r"""0.5 when the completion puts a number in `\boxed{}` as the system prompt asks, else 0.0.

    >>> boxed_format_reward([r"So she makes \boxed{\$18}.", "So she makes 18.", r"\boxed{}"])
    [0.5, 0.0, 0.0]
    """
    return [0.5 if parse_number(boxed_answer(completion_text(c))) is not None else 0.0 for c in completions]


def make_length_reward(soft_limit: int = 256, hard_limit: int = 512, penalty: float = 1.0) -> RewardFunc:
    """A length-shaped reward: 0 up to `soft_limit` tokens, falling linearly to -`penalty` at `hard_limit` and beyond.

    Lengths are the generated token counts (`completion_ids`, passed by the trainer), else whitespace words.

    >>> length_reward = make_length_reward(soft_limit=4, hard_limit=8)
    >>> length_reward(["one two three", "a b c d e f", "a b c d e f g h i j"])
    [0.0, -0.5, -1.0]
    >>> length_reward(["ignored"], completion_ids=[[1, 2, 3, 4, 5, 6]])
    [-0.5]
    """
    if not 0 <= soft_limit < hard_limit:
        raise ValueError(f"length reward needs 0 <= soft_limit < hard_limit, got {soft_limit} and {hard_limit}")

    def length_reward(completions: Sequence, completion_ids: Sequence[Sequence[int]] | None = None, **kwargs):
        lengths = (
            [len(ids) for ids in completion_ids]
            if completion_ids is not None
            else [len(completion_text(c).split()) for c in completions]
        )
        span = hard_limit - soft_limit
        return [0.0 - penalty * min(1.0, max(0, n - soft_limit) / span) if n > soft_limit else 0.0 for n in lengths]

    return length_reward


# CLI name -> factory of the reward function (factories so options like lengths can be passed); extend it with
# register_reward (task rewards live in their own modules).
REWARDS: dict[str, Callable[..., RewardFunc]] = {
    "numeric": lambda **_: numeric_answer_reward,
    "correct": lambda **_: correct_answer_reward,
    "reflection": lambda **_: reflection_reward,
    "boxed": lambda **_: boxed_format_reward,
    "length": lambda soft_limit=256, hard_limit=512, **_: make_length_reward(soft_limit, hard_limit),
}
DEFAULT_REWARDS = ("numeric", "correct", "reflection")


def register_reward(name: str, factory: Callable[..., RewardFunc]) -> None:
    """Add a reward under a CLI name; `factory(**options)` returns the TRL reward function (options it does not
    use arrive too: take `**_`).

    >>> register_reward("always-one", lambda **_: lambda completions, **kw: [1.0] * len(completions))
    >>> build_rewards(["always-one"])[0][0](["x", "y"])
    [1.0, 1.0]
    >>> del REWARDS["always-one"]
    """
    if name in REWARDS and REWARDS[name] is not factory:
        raise ValueError(f"a reward named {name!r} is already registered")
    REWARDS[name] = factory


def build_rewards(names: Sequence[str], weights: dict[str, float] | None = None, **options) -> tuple[list, list]:
    """(reward functions, weights) for the named rewards, in order; unnamed weights are 1.0.

    `options` go to the factories (e.g. `soft_limit`, `hard_limit` for "length").

    >>> funcs, weights = build_rewards(["correct", "reflection"], {"reflection": 0.5})
    >>> [f.__name__ for f in funcs], weights
    (['correct_answer_reward', 'reflection_reward'], [1.0, 0.5])
    """
    weights = dict(weights or {})
    unknown = [n for n in [*names, *weights] if n not in REWARDS]
    if unknown:
        raise ValueError(f"unknown reward {unknown[0]!r}; choose from {', '.join(REWARDS)}")
    if len(set(names)) != len(names):
        raise ValueError("each reward may be named once")
    stray = [n for n in weights if n not in names]
    if stray:
        raise ValueError(f"a weight is given for {stray[0]!r}, which is not among the chosen rewards")
    return [REWARDS[n](**options) for n in names], [float(weights.get(n, 1.0)) for n in names]
