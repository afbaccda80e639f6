"""The rule-based behaviour detector on the hand-labelled set, the tables, and the LLM judge's parsing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from scripted_llm import ScriptedLLM

from analysis.behaviours import BEHAVIOURS, agreement, behaviour_table, detect, precision_recall, summarize
from analysis.judge import judge_responses, parse_judgement

LABELS = [json.loads(line) for line in (Path(__file__).parent / "behaviour_labels.jsonl").read_text().splitlines()]


def test_labelled_set_is_varied():
    assert len(LABELS) >= 40
    for name in BEHAVIOURS:
        assert sum(r[name] > 0 for r in LABELS) >= 5  # each behaviour present in several responses
    assert sum(all(r[n] == 0 for n in BEHAVIOURS) for r in LABELS) >= 10  # and plenty of negatives


def test_rule_detector_precision_and_recall_on_labelled_set():
    scores = precision_recall([detect(r["text"]) for r in LABELS], LABELS)
    for name in BEHAVIOURS:  # measured (bench/bench_behaviours.py): every figure is 0.71 or more
        assert scores[name]["precision"] >= 0.7, (name, scores[name])
        assert scores[name]["recall"] >= 0.7, (name, scores[name])


def test_story_words_are_not_behaviours():
    for text in [
        "Tom writes a check for $40 and another check for $25, so 40 + 25 = 65.",
        "The train goes back to the station after 3 hours.",
        "Mary gave 5 cookies to Anna instead of Ben.",
        "So, the answer is 25.\n\nNo other answer is needed.",  # seen in SmolLM2's Countdown attempts
    ]:
        assert detect(text) == dict.fromkeys(BEHAVIOURS, 0), text


def test_counts_are_per_sentence():
    text = "Wait, 3 * 4 is 12. That doesn't work. Let me try another way. Let me check: 12 + 1 = 13."
    counts = detect(text)
    assert counts["backtracking"] == 3 and counts["verification"] == 1


def test_table_leaves_unparsed_counts_out():
    table = behaviour_table({"a": [detect("Let me check: 1 + 1 = 2."), detect("1 + 1 = 2.")],
                             "b": [{"verification": None, "backtracking": 2, "subgoal_setting": 0,
                                    "backward_chaining": 0}]})  # fmt: skip
    assert table[0]["verification_share"] == 0.5 and table[0]["verification_mean"] == 0.5
    assert table[1]["verification_share"] is None and table[1]["verification_unparsed"] == 1
    assert table[1]["backtracking_mean"] == 2.0
    assert summarize([])["verification"]["share"] is None


def test_agreement_and_kappa():
    a = [{n: 1 for n in BEHAVIOURS}, {n: 0 for n in BEHAVIOURS}]
    b = [{n: 2 for n in BEHAVIOURS}, {**{n: 0 for n in BEHAVIOURS}, "verification": None}]
    result = agreement(a, b)
    assert result["backtracking"] == {"compared": 2, "agreement": 1.0, "kappa": 1.0}
    assert result["verification"]["compared"] == 1


def test_judge_parsing():
    good = "<verification>2</verification>\n<backtracking>0</backtracking>\n<subgoal_setting>1</subgoal_setting>\n" \
           "<backward_chaining>3</backward_chaining>"  # fmt: skip
    assert parse_judgement(good) == {"verification": 2, "backtracking": 0, "subgoal_setting": 1, "backward_chaining": 3}
    assert parse_judgement("I think there is some verification.") == dict.fromkeys(BEHAVIOURS)
    assert parse_judgement(None) == dict.fromkeys(BEHAVIOURS)
    odd = "<verification>-1</verification><backtracking>1.5</backtracking><subgoal_setting>999999</subgoal_setting>" \
          "<backward_chaining>1</backward_chaining><backward_chaining>2</backward_chaining>"  # fmt: skip
    assert parse_judgement(odd) == dict.fromkeys(BEHAVIOURS)  # never read as 0
    assert parse_judgement("<VERIFICATION> 4 </VERIFICATION>")["verification"] == 4


def test_judge_through_a_backend_records_unparsed_replies():
    first = "<verification>1</verification><backtracking>0</backtracking><subgoal_setting>0</subgoal_setting>"
    replies = iter([first + "<backward_chaining>0</backward_chaining>", "Sorry, I cannot count."])
    llm = ScriptedLLM(lambda messages, k: next(replies))
    results = asyncio.run(judge_responses(llm, ["Let me check: 2 + 2 = 4.", "2 + 2 = 4."]))
    assert results[0]["counts"]["verification"] == 1
    assert results[1]["counts"] == dict.fromkeys(BEHAVIOURS) and results[1]["reply"] == "Sorry, I cannot count."
    sent = llm.calls[0][0]
    assert sent[0]["role"] == "system" and sent[-1]["content"].endswith("Let me check: 2 + 2 = 4.")
    table = behaviour_table({"judge": [r["counts"] for r in results]})
    assert table[0]["verification_share"] == 1.0 and table[0]["verification_unparsed"] == 1
