"""Find the numbers written with digits in a question, and write new values in their place (nothing else changes).

A number counts only when it stands on its own: "48", "1,200", "2.5", "$12", "25%", "120-page". Digits that are
part of a word or of another notation are left alone: "2nd", "5kg", "3pm", "COVID-19", "3:30", "1/2", "v1.2.3".
Numbers spelled out ("twenty-four") and values that words stand for ("twice", "a dozen", "an hour") are read too,
so that a perturbation can leave alone a written number it cannot tell apart from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_NUMBER_RE = re.compile(
    r"(?<![\w.,/:])"  # not the tail of a word, decimal, list like "1,2", fraction or time
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?"
    r"(?![\w]|[.,/:]\d)"  # not the head of a word ("2nd"), a longer number, a fraction or a time
)
_PERCENT_RE = re.compile(r"\s*(?:%|percent\b|per cent\b)", re.IGNORECASE)
# "5 days a week": a count of one unit per a larger one can be at most so many
_PER = {
    ("day", "week"): 7, ("hour", "day"): 24, ("month", "year"): 12, ("week", "year"): 52, ("day", "month"): 31,
    ("day", "year"): 365, ("minute", "hour"): 60, ("second", "minute"): 60, ("hour", "week"): 168,
}  # fmt: skip
_PER_RE = re.compile(r"\s+(day|hour|month|week|minute|second)s?\s+(?:a|an|per|each|every|in\s+a)\s+(\w+)", re.I)


@dataclass(frozen=True)
class TextNumber:
    start: int
    end: int
    text: str
    value: Fraction
    decimals: int  # digits after the decimal point as written
    commas: bool  # written with thousands separators
    percent: bool  # followed by "%" or "percent"
    most: int | None = None  # the largest value that still makes sense: 7 for "5 days a week"
    conversion: bool = False  # a fixed unit size: "1 mile equals 1.6 km", "there are 12 inches in a foot"
    age: bool = False  # a person's age: "a 12-year-old", "is 40 years old", "at the age of 30"
    money: bool = False  # written after a currency sign: "$12"
    year: bool = False  # a calendar year: "in 2005"
    measure: bool = False  # a temperature or an angle ("95 degrees"): stays as written
    band: tuple[float, float] | None = None  # a narrower band of its own (augmenters.plausibility: a rate per unit)


def find_numbers(text: str) -> list[TextNumber]:
    """Every standalone number in `text`, in order."""
    found = []
    for m in _NUMBER_RE.finditer(text):
        start = m.start()
        if start >= 2 and text[start - 1] == "-" and text[start - 2].isalnum():
            continue  # "COVID-19", "A-4"
        digits = m.group("int").replace(",", "")
        frac = m.group("frac") or ""
        value = Fraction(f"{digits}.{frac}" if frac else digits)
        money = text[max(0, start - 2) : start].strip().endswith(("$", "€", "£"))
        found.append(
            TextNumber(
                start=start,
                end=m.end(),
                text=m.group(0),
                value=value,
                decimals=len(frac),
                commas="," in m.group("int"),
                percent=bool(_PERCENT_RE.match(text, m.end())),
                most=_most(text, m.end()),
                conversion=_is_conversion(text, start, m.end()),
                measure=bool(_MEASURE_RE.match(text, m.end())),
                age=_is_age(text, start, m.end()),
                money=money,
                year=not frac and not money and "," not in m.group("int") and 1800 <= int(digits) <= 2100,
            )
        )
    return found


def _most(text: str, end: int) -> int | None:
    m = _PER_RE.match(text, end)
    return _PER.get((m.group(1).lower(), m.group(2).lower())) if m else None


_UNIT_WORDS = (
    r"(?:inch|inches|foot|feet|yard|yards|mile|miles|meter|meters|metre|metres|centimeters?|millimeters?|kilometers?|"
    r"ounces?|pounds?|grams?|kilograms?|tons?|cups?|pints?|quarts?|gallons?|liters?|litres?|milliliters?|"
    r"seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centur(?:y|ies)|dozens?|cents?|dollars?|"
    r"nickels?|dimes?|quarters?|pennies|penny|tablespoons?|teaspoons?|km|kg|cm|mm|ml|lb|lbs|oz|ft)"
)
# "1 mile equals", "one pound is equal to", "a foot =": the number after is a unit size
_CONVERSION_BEFORE_RE = re.compile(
    r"(?:equals?|equal\s+to|is\s+the\s+same\s+as|=|makes\s+up|converts?\s+to)\s*\$?\s*$", re.I
)
# "12 inches in a foot", "16 ounces per pound"
_CONVERSION_AFTER_RE = re.compile(
    rf"\s*{_UNIT_WORDS}\s+(?:in|per|to|make|makes)\s+(?:a|an|one|each|1|every)\s+{_UNIT_WORDS}\b", re.I
)
_MEASURE_RE = re.compile(r"\s*(?:°|degrees?\b|deg\b)", re.I)
_AGE_AFTER_RE = re.compile(r"(?:\s*|-)years?(?:\s*|-)old|(?:\s*|-)year-old|(?:th|st|nd|rd)?\s+birthday", re.I)
_AGE_BEFORE_RE = re.compile(r"(?:\bage\s+(?:of\s+)?|\baged\s+|\bages\s+)$", re.I)


# "a ton is 2000 pounds", "one gallon has 128 ounces"
_UNIT_IS_RE = re.compile(
    rf"\b(?:a|an|one|1|each|every)\s+{_UNIT_WORDS}\s+(?:is|equals|has|contains|weighs|makes)\s*$", re.I
)
# "there are 13 silver to a gold", "there are 100 centimeters in a meter"
_THERE_ARE_RE = re.compile(r"\bthere\s+(?:are|is)\s*$", re.I)
_PER_ONE_RE = re.compile(r"\s*[a-z]+\s+(?:in|to|per)\s+(?:a|an|one|1|each|every)\s+[a-z]+", re.I)


def _is_conversion(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 40) : start]
    if _CONVERSION_BEFORE_RE.search(before) or _UNIT_IS_RE.search(before):
        return True
    there_are = _THERE_ARE_RE.search(before) and _PER_ONE_RE.match(text, end)
    return bool(_CONVERSION_AFTER_RE.match(text, end) or there_are)


def _is_age(text: str, start: int, end: int) -> bool:
    return bool(_AGE_AFTER_RE.match(text, end) or _AGE_BEFORE_RE.search(text[max(0, start - 12) : start]))


def format_like(value: Fraction | int, like: TextNumber) -> str:
    """`value` written the way `like` was: same decimal places, thousands commas where the original had them."""
    value = Fraction(value)
    scaled = value * 10**like.decimals
    if scaled.denominator != 1:
        raise ValueError(f"{value} cannot be written with {like.decimals} decimal places")
    whole, part = divmod(abs(scaled.numerator), 10**like.decimals)
    head = f"{whole:,}" if like.commas else str(whole)
    out = f"{head}.{str(part).rjust(like.decimals, '0')}" if like.decimals else head
    return ("-" if value < 0 else "") + out


_ARTICLE_RE = re.compile(r"\b([Aa])n?(\s+)$")


def article_for(written: str) -> str:
    """The article for a number: "an" when said with a vowel first ("an 8-hour day", "an 11 year old"), else "a".

    >>> [article_for(n) for n in ("8", "80", "11", "18,000", "12", "1,800", "108")]
    ['an', 'an', 'an', 'an', 'a', 'a', 'a']
    """
    digits = re.match(r"[\d,]*", written).group().replace(",", "")
    lead = digits[: len(digits) % 3 or 3]
    return "an" if lead.startswith("8") or lead in ("11", "18") else "a"


def replace_numbers(text: str, new_values: dict[Fraction, Fraction | int]) -> str:
    """`text` with every standalone number whose value is a key of `new_values` rewritten to the mapped value, and
    the article "a" / "an" right before it fitted to the new number."""
    pieces, last = [], 0
    for number in find_numbers(text):
        if number.value in new_values:
            before, new = text[last : number.start], format_like(new_values[number.value], number)
            if new[:1].isdigit() and (m := _ARTICLE_RE.search(before)):
                article = article_for(new)
                before = before[: m.start()] + m.group(1) + article[1:] + m.group(2)
            pieces += [before, new]
            last = number.end
    return "".join(pieces) + text[last:]


_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_WORD_NUMBER_RE = re.compile(
    rf"\b(?:({'|'.join(_TENS)})(?:[- ]({'|'.join(_UNITS)}))?|({'|'.join(_UNITS)}))(?:[- ](hundred|thousand))?\b",
    re.IGNORECASE,
)


def word_numbers(text: str) -> set[Fraction]:
    """Numbers spelled out in `text`: "five", "twenty-four", "three hundred"."""
    found = set()
    for m in _WORD_NUMBER_RE.finditer(text):
        tens, unit_after_tens, unit, scale = (g.lower() if g else None for g in m.groups())
        value = _TENS[tens] + (_UNITS[unit_after_tens] if unit_after_tens else 0) if tens else _UNITS[unit or "zero"]
        found.add(Fraction(value * {"hundred": 100, "thousand": 1000, None: 1}[scale]))
    return found


# Values a solution may use because of a word, not a written number: "twice" is 2, "an hour" is 60 minutes.
_IMPLIED = {
    2: "half halves halved twice double doubled doubles pair pairs couple both second",
    3: "third thirds triple tripled triples thrice yard yards",
    4: "quarter quarters quadruple quadrupled gallon gallons fourth fourths",
    5: "nickel nickels fifth fifths",
    6: "sixth sixths",
    8: "eighth eighths pint pints gallon gallons",
    9: "ninth ninths",
    7: "week weeks weekly seventh sevenths",
    10: "dime dimes decade decades tenth tenths",
    12: "dozen dozens month months monthly year years yearly annual annually foot feet inch inches",
    24: "day days daily hour hours",
    25: "quarter quarters",
    30: "month months monthly",
    52: "week weeks weekly year years yearly annual annually",
    60: "hour hours hourly minute minutes second seconds",
    365: "year years yearly annual annually",
    1000: "thousand thousands kilo kilos kilogram kilograms kilometer kilometers liter liters litre litres ml",
    14: "fortnight fortnights",
    36: "yard yards",
    100: "percent percentage cent cents century centuries meter meters metre metres centimeter centimeters cm",
    2000: "ton tons",
    5280: "mile miles",
    16: "pound pounds ounce ounces cup cups",
}
_IMPLIED_BY_WORD: dict[str, set[Fraction]] = {}
for _value, _words in _IMPLIED.items():
    for _word in _words.split():
        _IMPLIED_BY_WORD.setdefault(_word, set()).add(Fraction(_value))
# phrases that stand for a count: "drives 5 hours each way" doubles the drive
_IMPLIED_PHRASES = {
    2: r"each\s+way|both\s+ways|round[\s-]+trips?|return\s+trips?|there\s+and\s+back|back\s+and\s+forth|two[\s-]+way|"
    r"every\s+other|twins?|bicycles?|bikes?|weekends?|biweekly|bi-weekly|semi-?annual(?:ly)?|each\s+other|a\s+pair|"
    r"and\s+back|(?:grand)?parents|and\s+(?:his|her)\s+(?:wife|husband|brother|sister)",
    3: r"triplets?|tricycles?|trios?|tripods?",
    4: r"quadruplets?|quarterly",
    6: r"half\s+(?:a\s+)?dozen|six-?pack",
    14: r"fortnights?",
    100: r"hundreds?|dollars?",
}
_IMPLIED_PHRASE_RE = {Fraction(v): re.compile(rf"\b(?:{p})\b", re.I) for v, p in _IMPLIED_PHRASES.items()}
_WORD_RE = re.compile(r"[a-z]+")
_DIGITS_RE = re.compile(r"\d+")


_COUNT_WORD_RE = re.compile(r"\b(?:dozens?|pairs?|couple|twins?|triplets?)\b", re.I)
_COUNT_WORDS = {"dozen": 12, "dozens": 12, "pair": 2, "pairs": 2, "couple": 2, "twin": 2, "twins": 2, "triplet": 3,
                "triplets": 3}  # fmt: skip


def word_values(text: str) -> set[Fraction]:
    """Counts that the words of `text` name: numbers spelled out ("five") and "dozen", "pair", "twins"..."""
    counts = {Fraction(_COUNT_WORDS[m.group().lower()]) for m in _COUNT_WORD_RE.finditer(text)}
    return counts | word_numbers(text)


def implied_values(text: str) -> set[Fraction]:
    """Values `text` holds other than as standalone numbers: what its words may stand for in a solution ("twice":
    2, "a week": 7 or 52, "%": 100), numbers spelled out, and digits inside other notations ("2:5", "1/2", "2nd")."""
    found = set().union(*(_IMPLIED_BY_WORD.get(w, set()) for w in _WORD_RE.findall(text.lower())))
    found |= {value for value, regex in _IMPLIED_PHRASE_RE.items() if regex.search(text)}
    if "%" in text:
        found.add(Fraction(100))
    spans = [(n.start, n.end) for n in find_numbers(text)]
    inside = {
        Fraction(m.group())
        for m in _DIGITS_RE.finditer(text)
        if not any(start <= m.start() and m.end() <= end for start, end in spans)
    }
    return found | word_numbers(text) | inside
