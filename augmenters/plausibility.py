"""What a careful reader believes: word cues that keep a perturbed number fixed, narrow its move or cap it.

The original numbers of a GSM8K problem are realistic, so small moves stay realistic; large ones make a
202-year-old or a $770 pair of pants. Three kinds of rule, each a table of word cues (regular expressions) with
the reason beside it:

- `FIXED_CUES`: the number is part of a name or a fixed fact ("4-wheel drive", "$20 bills", "a marathon is 26
  miles"): it stays as written.
- `NARROW_CUES` and `SENTENCE_CUES`: a rate per unit ("lays 3 eggs a day", "50 miles per hour", "8% sales tax") or
  a height moves only a little (its own band); some are capped ("5 days a week" at most 7, school days at most 5).
- `QUESTION_CAPS`: a cue anywhere in the question caps every quantity of the program (inputs, steps, answer) that
  was under the cap in the original: ages stay at most 100, test scores at most 100, a bus carries at most 60.

A fourth rule holds what the numbers imply: `DERIVED_RATE_BAND` bounds a step of the program that divides by a
quantity that moves (`perturb_draw`, read by `augmenters.program_flow`).

`perturb.perturbable_groups` reads `number_rule` for each written number and `question_caps` for the question;
`perturb_draw` applies them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from augmenters.numbers_in_text import TextNumber

WINDOW = 40  # characters either side of a number that its cues are looked for in
RATE_BAND = (0.8, 1.25)  # a rate per unit moves at most about a fifth
# A rate the story implies but does not write ("20 minutes for 8 trips": 2.5 minutes a trip; "$20 among 4": $5 each) is
# a quotient of two written quantities that each move up to x0.75-x1.5, so it could move x0.5-x2 although every
# written number looks fine: a reader notices a trip that takes half as long. It moves at most as much as one written
# count may grow (x1.5), either way: x2/3-x1.5 (a written rate's own band, x0.8-x1.25, would leave few draws).
DERIVED_RATE_BAND = (Fraction(2, 3), Fraction(3, 2))

_I = re.IGNORECASE

# (where, cue): `after` is matched right after the number, `before` at the end of the text before it,
# `sentence` anywhere in the number's sentence together with `after`.
FIXED_CUES: list[tuple[str, re.Pattern[str], str]] = [
    # a number inside a name: "4-wheel drive", "a 10-speed bike", "a 3-point shot", "a 5-star hotel"
    ("after", re.compile(r"-?\s?(?:wheel|wheeler|speed|cylinder|star|point(?:er)?|seater|door|ply|karat|carat)s?\b",
                         _I), "part of a name"),
    # bills and coins come in fixed denominations: no "$40 bills", no "15-cent coins"
    ("after", re.compile(r"(?:[- ]?dollars?)?[- ]?(?:bills?|notes?)\b", _I), "a bill denomination"),
    ("after", re.compile(r"[- ]?cents?[- ]coins?\b|[- ]?cent\s+pieces?\b", _I), "a coin denomination"),
    # a deck has 52 cards, a year 365 days, a week 7 days: stated facts are not quantities of the story
    ("before", re.compile(r"\bdeck\s+of\s*$", _I), "a deck's size"),
    ("after", re.compile(r"\s+cards?\s+in\s+(?:a|the|each)\s+deck\b", _I), "a deck's size"),
    ("after", re.compile(r"\s+(?:days?\s+in\s+(?:a|the)\s+(?:year|week|month)|hours?\s+in\s+a\s+day)\b", _I),
     "a calendar fact"),
    # "a marathon is 26 miles": a race has its fixed length
    ("sentence", re.compile(r"\bmarathon\b|\bhalf[- ]marathon\b", _I), "a race's fixed length"),
    # "28 dominoes in the set", "a standard box holds 12": a set's standard size
    ("after", re.compile(r"(?:\s+[a-z]+){0,2}\s+in\s+(?:a|the|each|every)\s+(?:full\s+)?(?:set|deck)\b", _I),
     "a set's size"),
    ("before", re.compile(r"\bstandard\s+(?:[a-z]+\s+){0,2}$", _I), "a standard size"),
    # "the recommended 8 hours of sleep", "the legal limit of 65": a norm the story states, not one of its quantities
    ("before", re.compile(r"\b(?:recommended|required|legal|official)\s+(?:[a-z]+\s+){0,2}(?:of\s+|is\s+)?$", _I),
     "a stated norm"),
    # "the density of gold is 19 grams per cubic centimeter": a property of a material, not of the story
    ("before", re.compile(r"\b(?:density|specific\s+gravity|(?:boiling|freezing|melting)\s+point|speed\s+of\s+"
                          r"(?:light|sound))\b[^.?!]{0,40}$", _I), "a physical constant"),
    # "a cubic inch of silver weighs 6 ounces", "a gallon of water weighs 8 pounds": what a unit of a material weighs
    ("before", re.compile(r"\b(?:a|an|one|each|every|1)\s+(?:cubic\s+[a-z]+|gallon|liter|litre|quart|pint)\s+of\s+"
                          r"[a-z]+(?:\s+[a-z]+)?\s+(?:weighs|has\s+a\s+mass\s+of)\s*(?:about\s+)?$", _I),
     "what a unit of a material weighs"),
]  # fmt: skip

# (cue after the number, cue before it, band, cap): a rate moves little; cap None keeps only the band
NARROW_CUES: list[
    tuple[re.Pattern[str] | None, re.Pattern[str] | None, tuple[float, float] | None, int | None, str]
] = [
    # speeds: "50 miles per hour", "60 mph", "8 km/h"; a car trip does not need 100 mph
    (re.compile(r"\s*(?:mph|km/h|kph|(?:miles|kilometers|km)\s+(?:per|an|a)\s+hour)\b", _I), None, RATE_BAND, None,
     "a speed"),
    # "5 days a week": a week has 7
    (re.compile(r"\s+days?\s+(?:a|per|each|every|in\s+a)\s+week\b", _I), None, None, 7, "days in a week"),
    # a count per unit of time or per event: "3 eggs each per day", "2 goals a game", "4 laps every hour"
    (re.compile(r"(?:\s+[a-z]+){0,3}?\s+(?:each\s+)?(?:per|a|an|each|every)\s+(?:day|week|month|year|game|match|"
                r"hour|minute|hen|chicken|cow|person|student|child|kid)\b", _I), None, RATE_BAND, None,
     "a count per unit"),
    # rates on a price: tax stays a tax, a tip a tip, interest an interest rate
    (re.compile(r"\s*%?\s*(?:percent\s+)?(?:\w+\s+)?(?:sales\s+)?tax\b", _I),
     re.compile(r"\btax(?:es)?\s+(?:of|is|rate\s+of|rate\s+is)\s*$", _I), RATE_BAND, 15, "a tax rate"),
    (re.compile(r"\s*%?\s*(?:percent\s+)?(?:\w+\s+)?(?:tip|gratuity)\b", _I), re.compile(r"\btip\s+(?:of|is)\s*$", _I),
     RATE_BAND, 30, "a tip"),
    (re.compile(r"\s*%?\s*(?:percent\s+)?(?:\w+\s+)?(?:interest|commission)\b", _I),
     re.compile(r"\b(?:interest|commission)(?:\s+rate)?\s+(?:of|is)\s*$", _I), RATE_BAND, 30, "an interest rate"),
]  # fmt: skip

# (cue after the number, cue anywhere in its sentence, band, cap): as NARROW_CUES, where the words that tell what the
# number measures may stand anywhere in the sentence ("his uncle, who is 72 inches tall")
SENTENCE_CUES: list[tuple[re.Pattern[str], re.Pattern[str], tuple[float, float] | None, int | None, str]] = [
    # a height: people and most things have a believable one, close to what the story says
    (re.compile(r"\s*(?:inch(?:es)?|in\.|feet|foot|ft|cm|centimeters?|centimetres?|meters?|metres?)\b", _I),
     re.compile(r"\btall(?:er)?\b|\bheight\b|\bshort(?:er)?\b", _I), (0.9, 1.1), None, "a height"),
    # school runs at most 5 days a week
    (re.compile(r"\s+days?\s+(?:a|per|each|every|in\s+a)\s+week\b", _I),
     re.compile(r"\bschool\b|\bclass(?:es)?\b|\bweekdays?\b", _I), None, 5, "school days in a week"),
]  # fmt: skip

# (cue anywhere in the question, cap): every quantity that was at most the cap stays at most the cap
QUESTION_CAPS: list[tuple[re.Pattern[str], int, str]] = [
    (re.compile(r"years?[- ]old|\bage[sd]?\b|\bhow\s+old\b|\bolder\b|\byounger\b|\bbirthday\b", _I), 100,
     "a person's age"),
    (re.compile(r"\b(?:test|exam|quiz|score[sd]?|grade[sd]?)\b", _I), 100, "a test score out of 100"),
    (re.compile(r"\bbus(?:es)?\b", _I), 60, "people on one bus"),
    (re.compile(r"\bmph\b|miles\s+(?:per|an|a)\s+hour", _I), 80, "a road speed"),
    (re.compile(r"(?=.*\b(?:summer|winter|spring|autumn|fall|season)\b)(?=.*\bdays?\b)", _I | re.S), 92,
     "days within one season"),
    # hours of one person's activity in a week: 100 is about 14 hours every day ("118 hours at the computer last
    # week", "trumpet, running and basketball: 105 hours a week" are not believable)
    (re.compile(r"\bhours?\b[^.?!]*\bweek|\bweek(?:ly)?\b[^.?!]*\bhours?\b", _I), 100, "hours in a week"),
]  # fmt: skip


@dataclass(frozen=True)
class NumberRule:
    fixed: str | None = None  # why the number stays as written
    band: tuple[float, float] | None = None  # its own narrower band
    most: int | None = None  # its cap


def _sentence(text: str, start: int, end: int) -> str:
    left = max(text.rfind(". ", 0, start), text.rfind("? ", 0, start), text.rfind("! ", 0, start))
    right = min((i for i in (text.find(". ", end), text.find("?", end), text.find("! ", end)) if i >= 0),
                default=len(text))  # fmt: skip
    return text[left + 1 : right]


def number_rule(text: str, number: TextNumber) -> NumberRule:
    """The rule the words around `number` give it (the first that applies)."""
    before = text[max(0, number.start - WINDOW) : number.start]
    if before.endswith("$"):
        before = before[:-1]
    sentence = _sentence(text, number.start, number.end)
    for where, cue, why in FIXED_CUES:
        if where == "after" and cue.match(text, number.end):
            return NumberRule(fixed=why)
        if where == "before" and cue.search(before):
            return NumberRule(fixed=why)
        if where == "sentence" and cue.search(sentence):
            if re.match(r"\s*(?:miles?|kilometers?|km)\b", text[number.end :], _I):
                return NumberRule(fixed=why)
    for after, sentence_cue, band, cap, _why in SENTENCE_CUES:
        if after.match(text, number.end) and sentence_cue.search(sentence):
            return NumberRule(band=band, most=cap)
    for after, before_cue, band, cap, _why in NARROW_CUES:
        if (after is not None and after.match(text, number.end)) or (before_cue and before_cue.search(before)):
            return NumberRule(band=band, most=cap)
    return NumberRule()


def question_caps(text: str) -> tuple[int, ...]:
    """The caps the question's words set on every quantity that was under them."""
    return tuple(sorted({cap for cue, cap, _why in QUESTION_CAPS if cue.search(text)}))


def within_caps(caps: tuple[int, ...], before: Fraction, after: Fraction) -> bool:
    """A quantity that was at most a cap stays at most it."""
    return all(after <= cap for cap in caps if before <= cap)
