"""The four reasoning behaviours of Gandhi et al. (2025), counted per response by cue phrases and structure.

- verification: re-checking a result ("let me check", "plugging back in", "which matches", "check: 3 * 4 = 12");
- backtracking: abandoning a path ("wait", "that doesn't work", "let me try another way", "I made a mistake");
- subgoal setting: splitting the work into steps ("first we need ...", "next, find ...", "step 1", "to do that we");
- backward chaining: working from the target back to what is given ("to get 24 we need ...", "working backwards").

A response's count of a behaviour is the number of its sentences that show it (one sentence counts once per
behaviour). The rules are fast and transparent, and miss what the judge (analysis.judge) can read; their precision
and recall on a hand-labelled set are printed by bench/bench_behaviours.py.

The tables (`behaviour_table`) work on counts from either method: a count of None (the judge's reply did not parse)
is left out of the shares and means and counted as unparsed, never read as 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

BEHAVIOURS = ("verification", "backtracking", "subgoal_setting", "backward_chaining")
Counts = dict[str, int | None]

_N = r"-?\d[\d,]*(?:\.\d+)?"  # a number
_DO = r"(?:find|know|compute|calculate|work out|figure out|figure|get|determine)"  # what a subgoal asks for
_TOO = r"(?:too (?:big|large|small|high|low|much))"
_PATTERNS: dict[str, list[str]] = {
    "verification": [
        r"\b(?:let(?:'s| me| us)|i(?:'ll| will)?|we(?:'ll| will)?|now|quickly|to) (?:double[- ]?)?"
        r"(?:check|verify|confirm)",
        r"\b(?:double[- ]?check|re-?check|sanity check|cross[- ]check)",
        r"^\s*(?:check|checking|verification|verify|verifying)\b\s*[:,-]?",
        r"\bcheck(?:ing)? (?:that|whether|if|the (?:answer|result|sum|total|math|work)|my|our|again|it|this)\b",
        r"\b(?:plug(?:ging)?|put(?:ting)?|substitut(?:e|ing)) (?:it |this |that |\w+ |(?:x|the value) )?back\b",
        r"\b(?:which|that|this|it) (?:matches|checks out|is consistent|agrees)\b",
        r"\bis (?:indeed|correct)\b|\bconfirm(?:s|ed)?\b|\bverified\b|✓|✔",
    ],
    "backtracking": [
        r"(?:^|[.!?]\s+|\n)\s*(?:(?:wait|hmm|oops)\b|no[,.!:])",  # "No other answer" is no backtrack
        r"\bbut wait\b",
        rf"\b(?:that|this|it)(?:'s| is| was)? (?:not right|wrong|incorrect|a mistake|{_TOO})",
        r"\b(?:that|this|it) (?:does(?:n't| not)|did(?:n't| not)|won't|will not) (?:work|help|give|reach)",
        r"\b(?:i|we) (?:made|make) (?:a |an )?(?:mistake|error)",
        r"\b(?:let(?:'s| me| us) )?(?:try (?:again|another|something else|a different)|start over|scratch that)",
        r"\b(?:go(?:ing)? back|another (?:approach|way|combination)|different (?:approach|way|combination))\b",
        r"\b(?:on second thought|i was wrong|that was wrong|let me reconsider|i should have)\b",
    ],
    "subgoal_setting": [
        rf"\bfirst(?:ly)?,? (?:we|i|let's|let me)?\s*(?:need|have|must|should|will|'ll|{_DO})",
        rf"\b(?:we|i) (?:first )?(?:need|have|must|want) to {_DO}",
        rf"\b(?:next|then),? (?:we|i) (?:need|have|must|should|can) (?:to )?{_DO}",
        r"\b(?:step \d|first step|the plan|our plan|my plan|sub-?goal|break (?:it|this|the problem) (?:down|into))",
        r"\bbefore (?:that|we can|i can)\b",
        r"\bto (?:do|find) (?:that|this),? (?:we|i)\b",
    ],
    "backward_chaining": [
        r"\bwork(?:ing)? backwards?\b|\bbackwards? from\b|\breverse\b",
        rf"\bto (?:get|reach|make|end up with|arrive at) {_N},? (?:we|i|you)? ?(?:need|would need|must|have|could|can)",
        r"\b(?:start(?:ing)?|begin(?:ning)?) (?:from|with|at) the (?:target|answer|goal|result|end)\b",
        rf"\b(?:since|because|as) the (?:target|goal|total|result) is {_N},? (?:we|i|the)",
        rf"\b{_N} (?:is|=) {_N} ?(?:\*|x|×|times|\+|plus|-|minus|/|divided by) ?{_N},? so (?:we|i) need",
        r"\bwhat (?:number )?(?:times|plus|minus|divided by) \w+ (?:gives|makes|equals|is)\b",
        r"\b(?:we|i) (?:need|want) (?:a|an|the|some)? ?(?:number|value|pair|factor)s? (?:that|which) "
        r"(?:gives|makes|equals|multipl)",
    ],
}
_COMPILED = {name: [re.compile(p, re.IGNORECASE | re.MULTILINE) for p in ps] for name, ps in _PATTERNS.items()}
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])|\n+")
_MAX_CHARS = 20_000  # longer responses are read up to here: bounded work per response


def sentences(text: str) -> list[str]:
    """The text cut into sentences and lines (a line break always ends one)."""
    return [s for s in (part.strip() for part in _SENTENCE.split(text[:_MAX_CHARS])) if s]


def detect(text: str | None) -> dict[str, int]:
    """How many sentences of `text` show each behaviour.

    >>> detect("First, we need the total: 3 * 4 = 12. Wait, that is wrong. Let me check: 3 * 5 = 15.")
    {'verification': 1, 'backtracking': 1, 'subgoal_setting': 1, 'backward_chaining': 0}
    """
    counts = dict.fromkeys(BEHAVIOURS, 0)
    for sentence in sentences(text or ""):
        for name in BEHAVIOURS:
            if any(p.search(sentence) for p in _COMPILED[name]):
                counts[name] += 1
    return counts


def detect_all(texts: Iterable[str | None]) -> list[dict[str, int]]:
    return [detect(t) for t in texts]


def summarize(counts: Sequence[Counts]) -> dict:
    """Share of responses with each behaviour and its mean count, over the responses whose count parsed.

    >>> summarize([{"verification": 2, "backtracking": 0}, {"verification": None, "backtracking": 1}])["verification"]
    {'share': 1.0, 'mean': 2.0, 'parsed': 1, 'unparsed': 1}
    """
    out: dict = {"responses": len(counts)}
    for name in BEHAVIOURS:
        values = [c.get(name) for c in counts]
        parsed = [v for v in values if v is not None]
        out[name] = {
            "share": round(sum(v > 0 for v in parsed) / len(parsed), 4) if parsed else None,
            "mean": round(sum(parsed) / len(parsed), 4) if parsed else None,
            "parsed": len(parsed),
            "unparsed": len(values) - len(parsed),
        }
    return out


def behaviour_table(groups: dict[str, Sequence[Counts]]) -> list[dict]:
    """One row per group (a sample type, a checkpoint): responses, then per behaviour its share and mean count."""
    rows = []
    for group, counts in groups.items():
        summary = summarize(counts)
        row: dict = {"group": group, "responses": summary["responses"]}
        for name in BEHAVIOURS:
            row[f"{name}_share"] = summary[name]["share"]
            row[f"{name}_mean"] = summary[name]["mean"]
            if summary[name]["unparsed"]:
                row[f"{name}_unparsed"] = summary[name]["unparsed"]
        rows.append(row)
    return rows


def behaviour_columns(texts: Sequence[str]) -> dict[str, int]:
    """For a checkpoint's samples: how many show each behaviour (rule-based), as extra columns of the aha table.

    >>> behaviour_columns(["Let me check: 2 + 3 = 5.", "2 + 3 = 5."])
    {'verification': 1, 'backtracking': 0, 'subgoal_setting': 0, 'backward_chaining': 0}
    """
    found = detect_all(texts)
    return {name: sum(c[name] > 0 for c in found) for name in BEHAVIOURS}


def precision_recall(predicted: Sequence[Counts], gold: Sequence[Counts]) -> dict[str, dict]:
    """Per behaviour, precision and recall of "shows it" (count > 0) against the gold labels; rows whose predicted
    count is None (unparsed) are left out and counted."""
    out = {}
    for name in BEHAVIOURS:
        tp = fp = fn = tn = skipped = 0
        for p, g in zip(predicted, gold, strict=True):
            if p.get(name) is None:
                skipped += 1
                continue
            has_p, has_g = p[name] > 0, (g.get(name) or 0) > 0
            tp += has_p and has_g
            fp += has_p and not has_g
            fn += has_g and not has_p
            tn += not has_p and not has_g
        out[name] = {
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "recall": round(tp / (tp + fn), 4) if tp + fn else None,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": tn,
            "unparsed": skipped,
        }
    return out


def agreement(a: Sequence[Counts], b: Sequence[Counts]) -> dict[str, dict]:
    """Per behaviour, how often two methods agree on "shows it" (over the rows both parsed), and Cohen's kappa."""
    out = {}
    for name in BEHAVIOURS:
        pairs = [(x[name] > 0, y[name] > 0) for x, y in zip(a, b, strict=True) if x.get(name) is not None
                 and y.get(name) is not None]  # fmt: skip
        n = len(pairs)
        if not n:
            out[name] = {"compared": 0, "agreement": None, "kappa": None}
            continue
        observed = sum(x == y for x, y in pairs) / n
        pa, pb = sum(x for x, _ in pairs) / n, sum(y for _, y in pairs) / n
        expected = pa * pb + (1 - pa) * (1 - pb)
        kappa = None if expected == 1 else round((observed - expected) / (1 - expected), 4)
        out[name] = {"compared": n, "agreement": round(observed, 4), "kappa": kappa}
    return out
