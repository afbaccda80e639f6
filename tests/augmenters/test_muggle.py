import asyncio

import pytest
from scripted_llm import ScriptedLLM

from augmenters import muggle
from augmenters.base import SOLVER_SYSTEM, AugmentConfig
from augmenters.muggle import KINDS, MUGGLE_SYSTEM, accepted, majority_vote, muggle_messages, parse_new_question

PROBLEM = {
    "id": "p1",
    "question": "A shop sells 12 pens a day. How many pens does it sell in 5 days?",
    "answer": "60",
    "solution": None,
    "source": "test",
}


def test_prompt_has_the_kind_instruction_and_two_examples_of_it():
    for kind, instruction in KINDS.items():
        messages = muggle_messages(kind, PROBLEM["question"])
        assert messages[0] == {"role": "system", "content": MUGGLE_SYSTEM}
        assert [m["role"] for m in messages[1:]] == ["user", "assistant"] * 2 + ["user"]
        assert all(instruction in m["content"] for m in messages[1::2])
        assert messages[-1]["content"].endswith(PROBLEM["question"])


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            "New question: A shop sells 15 pens a day. How many pens in 4 days?",
            "A shop sells 15 pens a day. How many pens in 4 days?",
        ),  # fmt: skip
        ("Sure!\nNew question: Ann has 3 cats. How many legs?\n\nAnswer: 12", "Ann has 3 cats. How many legs?"),
        ("New question: Ann has 3 cats. How many legs? The answer is 12.", "Ann has 3 cats. How many legs?"),
        ("New question: Ann has 3 cats and some dogs.", None),  # no question
        ("New question: How many?", None),  # too short
        ("New question: Ann has some cats. How many legs do they have?", None),  # no number
        ("New question: A shop sells 12 pens a day. How many pens does it sell in 5 days?", None),  # the original
    ],
)
def test_parse_new_question(reply, expected):
    assert parse_new_question(reply, PROBLEM["question"]) == expected


def test_majority_vote_groups_equal_values_and_detects_ties():
    vote = majority_vote(["12", "12.0", "$12", "7", None])
    assert (vote.answer, vote.votes, vote.total, vote.tied) == ("12", 3, 5, False)
    assert vote.agreement == pytest.approx(0.6)
    assert accepted(vote, 0.5) and not accepted(vote, 0.75)
    tie = majority_vote(["1/2", "0.5", "3", "3"])
    assert tie.tied and tie.votes == 2 and not accepted(tie, 0.5)
    assert majority_vote([None, None]).answer is None


def _scripted(answers_by_k, question_reply="New question: A shop sells 20 pens a day. How many pens in 3 days?"):
    def reply(messages, k):
        if messages[0]["content"] == MUGGLE_SYSTEM:
            return question_reply
        assert messages[0]["content"] == SOLVER_SYSTEM
        return f"It sells 20 * 3 pens.\nThe answer is: {answers_by_k[k]}"

    return ScriptedLLM(reply)


def test_augment_labels_each_kind_by_majority():
    cfg = AugmentConfig(muggle_n=1, muggle_k=4, muggle_agreement=0.5)
    llm = _scripted(["61", "60", "60", "60.00"])
    rows = asyncio.run(muggle.augment(PROBLEM, llm, cfg))
    assert [r["variant"] for r in rows] == list(KINDS)
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        assert row["type"] == "GSM_Muggle" and row["keep"] and row["reason"] is None
        assert row["query"] == "A shop sells 20 pens a day. How many pens in 3 days?"
        assert row["target"] == "60" and row["answer"] in ("60", "60.00")  # a solution that reached the label
        assert row["score"] == pytest.approx(0.75) and row["verified_by"] is None
    seeds = {params.seed for _, _, params in llm.calls}
    assert len(seeds) == len(llm.calls)  # every request has its own seed


def test_augment_drops_low_agreement_and_unparseable_questions():
    cfg = AugmentConfig(muggle_n=2, muggle_k=4, muggle_agreement=0.5)
    rows = asyncio.run(muggle.augment(PROBLEM, _scripted(["1", "2", "3", "3"]), cfg))
    assert len(rows) == 2 * len(KINDS) and len({r["id"] for r in rows}) == len(rows)
    assert all(r["reason"] is None and r["score"] == 0.5 and r["target"] == "3" for r in rows)  # 0.5 reaches 0.5
    rows = asyncio.run(muggle.augment(PROBLEM, _scripted(["1", "2", "3", "4"]), cfg))
    assert all(r["reason"] == "low_agreement" and not r["keep"] and r["score"] == 0.25 for r in rows)
    rows = asyncio.run(muggle.augment(PROBLEM, _scripted(["1"] * 4, question_reply="I like pens."), cfg))
    assert all(r["reason"] == "unparseable_question" and r["query"] is None for r in rows)
    assert rows[0]["response"] == "I like pens."


@pytest.mark.slow
def test_augment_with_the_bundled_model():
    from core.llm import make_backend

    llm = make_backend("local")
    try:
        cfg = AugmentConfig(muggle_n=1, muggle_k=2, max_tokens=96)
        rows = asyncio.run(muggle.augment(PROBLEM, llm, cfg, kinds=("change_numbers",)))  # one kind: CPU time
    finally:
        llm.close()
    assert [r["variant"] for r in rows] == ["change_numbers"]
    for row in rows:
        assert row["type"] == "GSM_Muggle" and row["model"] == llm.name
        assert row["reason"] in (None, "low_agreement", "unparseable_question")
        if row["reason"] != "unparseable_question":
            assert row["query"].endswith("?") and row["score"] in (0.0, 0.5, 1.0)
        if row["reason"] is None:
            assert row["target"] is not None and row["score"] >= cfg.muggle_agreement
