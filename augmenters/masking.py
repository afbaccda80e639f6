"""Which numbers of a question can be masked as `x` for the backward (SV, FOBAR) questions.

MetaMath's rule: a whitespace-separated token that contains a digit and no letter is a number; a leading
`$` and trailing punctuation (and `%`) stay outside the mask: "$1,200." -> "$x.", "50%" -> "x%".
Tokens with letters ("2nd", "10-hour", "5kg") are left alone.

Our decision on number words: the cardinals "two" to "twenty" and the tens up to "ninety" are masked too
("She has twelve eggs" -> "She has x eggs"), with their value as the target. "one" is not (it is as often a
pronoun: "each one", "one day"), nor are ratio words ("half", "twice", "double", "third"), whose masking would
turn "half as many" into "x as many" with x = 1/2, a question no one would write.
Digit tokens come before number words when there are more candidates than the mask limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.answers import normalize_answer

_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
    if i >= 2
}
_NUMBER_WORDS.update({w: 10 * i for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), 3)})

_TOKEN = re.compile(r"\S+")
# optional leading $ ; the number core ; trailing % and punctuation
_NUMERIC = re.compile(r"^(?P<pre>\$?)(?P<num>[-+]?[\d.,/]*\d[\d.,/]*)(?P<post>%?[.,;:!?)\"']*)$")
_WORD = re.compile(r"^(?P<pre>[(\"']?)(?P<num>[A-Za-z]+)(?P<post>[.,;:!?)\"']*)$")


@dataclass(frozen=True)
class Mask:
    start: int  # character span of the number itself (without $ or punctuation)
    end: int
    text: str  # the number as written
    value: str  # normalized value x must equal

    def apply(self, question: str) -> str:
        return question[: self.start] + "x" + question[self.end :]


def mask_candidates(question: str) -> list[Mask]:
    """Every maskable number of the question, digit tokens first, each in text order."""
    digits, words = [], []
    for m in _TOKEN.finditer(question):
        token = m.group()
        if (num := _NUMERIC.match(token)) and not re.search(r"[A-Za-z]", token):
            core = num.group("num").rstrip(".,/")
            start = m.start() + len(num.group("pre"))
            value = normalize_answer(core)
            if value is not None:
                digits.append(Mask(start, start + len(core), core, value))
        elif (word := _WORD.match(token)) and word.group("num").lower() in _NUMBER_WORDS:
            start = m.start() + len(word.group("pre"))
            text = word.group("num")
            words.append(Mask(start, start + len(text), text, str(_NUMBER_WORDS[text.lower()])))
    return digits + words


def choose_masks(question: str, limit: int) -> list[Mask]:
    """The candidates to use: all of them when limit is 0, else the first `limit`."""
    candidates = mask_candidates(question)
    return candidates if limit <= 0 else candidates[:limit]
