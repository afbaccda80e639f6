"""Parsing and row-building of the four MetaMath augmenters, driven by a scripted backend.

The real-model path of the same code is tested in tests/flows/test_augment_flow.py with SmolLM2.
"""

import asyncio

import pytest
from scripted_llm import ScriptedLLM

from augmenters import answer_aug, fobar, rephrase, self_verify
from augmenters.base import AugmentConfig, finish_response
from augmenters.rephrase import parse_rephrasing
from augmenters.self_verify import parse_statement
from core.schemas import SAMPLE_SCHEMA, samples_frame

PROBLEM = {
    "id": "p-1",
    "question": "Ann has 3 bags with 4 apples each. How many apples does she have?",
    "answer": "12",
    "solution": "3 * 4 = 12",
    "source": "test",
}
CFG = AugmentConfig(ansaug_n=3, rephrase_n=2, sv_n=2, fobar_n=1, mask_limit=0)


def run(augmenter, reply):
    llm = ScriptedLLM(reply)
    samples = asyncio.run(augmenter.augment(PROBLEM, llm, CFG))
    samples_frame(samples)  # every row fits the declared schema
    return samples, llm


def last_user(messages):
    return [m["content"] for m in messages if m["role"] == "user"][-1]


def test_ansaug_parses_each_sampled_solution():
    answers = ["3 * 4 = 12.\nThe answer is: 12", "It is \\boxed{12}", "no idea"]
    samples, llm = run(answer_aug, lambda m, k: answers[k])
    assert [s["type"] for s in samples] == ["GSM_AnsAug"] * 3
    assert [s["answer"] for s in samples] == ["12", "12", None]
    assert all(s["target"] == "12" and s["query"] == PROBLEM["question"] for s in samples)
    assert samples[1]["response"].endswith("The answer is: 12")  # a kept response always ends this way
    assert len({s["id"] for s in samples}) == 3
    assert llm.calls[0][1] == 3  # one request for n=3 completions


def test_sample_ids_are_deterministic():
    a, _ = run(answer_aug, lambda m, k: "The answer is: 12")
    b, _ = run(answer_aug, lambda m, k: "The answer is: 7")
    assert [s["id"] for s in a] == [s["id"] for s in b]


def test_rephrase_solves_each_rephrasing_and_drops_bad_ones():
    def reply(messages, k):
        text = last_user(messages)
        if text == PROBLEM["question"] and "Rewrite" in messages[0]["content"]:
            return ["Rephrased question: With 4 apples in each of her 3 bags, how many apples has Ann?", ""][k]
        return "4 * 3 = 12\nThe answer is: 12"

    samples, llm = run(rephrase, reply)
    good, bad = samples
    assert good["query"] == "With 4 apples in each of her 3 bags, how many apples has Ann?"
    assert good["answer"] == "12" and good["target"] == "12" and good["reason"] is None
    assert bad["reason"] == "bad_rephrasing" and not bad["keep"]
    assert len(llm.calls) == 2  # one rephrase request (n=2), one solve for the good rephrasing


@pytest.mark.parametrize(
    "reply, expected",
    [
        (
            "Rewritten problem: How many apples has Ann in her 3 bags of 4?",
            "How many apples has Ann in her 3 bags of 4?",
        ),
        ("Ann has 3 bags with 4 apples each. How many apples does she have?", None),  # unchanged
        ("", None),
        ("ok", None),
        (
            "Ann owns three bags, and each bag holds four apples. What is her total number of apples?",  # in words
            "Ann owns three bags, and each bag holds four apples. What is her total number of apples?",
        ),
        ("How many apples does Ann have in her bags?", None),  # the quantities are gone
        ("You do not need to calculate. The previous answer was simply wrong.", None),  # not the problem at all
    ],
)
def test_parse_rephrasing(reply, expected):
    assert parse_rephrasing(reply, PROBLEM["question"]) == expected


def test_fobar_masks_each_number_and_targets_it():
    samples, _ = run(fobar, lambda m, k: "3 * x = 12 so x = 4.\nThe answer is: 4")
    assert [s["target"] for s in samples] == ["3", "4"]
    assert samples[0]["query"] == (
        "Ann has x bags with 4 apples each. How many apples does she have?\n"
        "If we know the answer to the above question is 12, what is the value of unknown variable x?"
    )
    assert [s["answer"] for s in samples] == ["4", "4"]
    assert all(s["type"] == "GSM_FOBAR" for s in samples)


def test_self_verify_rewrites_then_solves():
    def reply(messages, k):
        if "statement" in messages[0]["content"]:
            masked = last_user(messages).split("\n")[0].removeprefix("Problem: ")
            return "Statement: " + masked.replace("How many apples does she have?", "She has 12 apples.")
        return "x * 4 = 12, x = 3\nThe answer is: 3"

    samples, _ = run(self_verify, reply)
    assert len(samples) == 4  # 2 masks x sv_n=2
    first = samples[0]
    assert first["query"] == (
        "Ann has x bags with 4 apples each. She has 12 apples. What is the value of unknown variable x?"
    )
    assert first["type"] == "GSM_SV" and first["target"] == "3" and first["answer"] == "3"


def test_self_verify_drops_a_rewrite_that_lost_x_or_the_answer():
    samples, llm = run(self_verify, lambda m, k: "Ann has 3 bags. She has many apples.")
    assert [s["reason"] for s in samples] == ["bad_rewrite", "bad_rewrite"]
    assert len(llm.calls) == 2  # no solve call after a bad rewrite


@pytest.mark.parametrize(
    "text, ok",
    [
        ("Ann has x bags with 4 apples each. She has 12 apples.", True),
        ("Ann has x bags with 4 apples each. She has 1,2 apples.", True),  # commas dropped before matching
        ("Ann has 3 bags with 4 apples each. She has 12 apples.", False),  # no x
        ("Ann has x bags with 4 apples each. She has 120 apples.", False),  # 120 is not the answer 12
        ("Max has x boxes. They hold 12 apples.", True),
    ],
)
def test_parse_statement(text, ok):
    assert (parse_statement(text, "12") is not None) is ok


def test_finish_response_appends_the_answer_line_once():
    assert finish_response("so 12", "12") == "so 12"  # no stated answer: nothing is added (the row is dropped)
    assert finish_response("so 12\n#### 12", "12") == "so 12\n#### 12\nThe answer is: 12"
    assert finish_response("so it is 12. The answer is: 12", "12") == "so it is 12. The answer is: 12"
    assert finish_response("so 12\nThe answer is: 12", "12") == "so 12\nThe answer is: 12"
    assert finish_response("no answer", None) == "no answer"


def test_schema_has_the_design_fields():
    for name in [
        "id",
        "parent_id",
        "type",
        "query",
        "response",
        "answer",
        "original_question",
        "model",
        "verified_by",
        "score",
        "keep",
        "reason",
    ]:
        assert name in SAMPLE_SCHEMA
