"""The behaviour-primed augmenter: one type per style, the style's prompt, answers checked against the gold."""

from __future__ import annotations

import asyncio
import dataclasses

import polars as pl
import pytest
from scripted_llm import ScriptedLLM

from analysis.behaviours import detect
from augmenters.base import AugmentConfig
from augmenters.primed import augment, primed_messages, style_example
from augmenters.registry import get_augmenter, parse_augmenters
from core.schemas import PRIMED_STYLES, TYPE_NAMES, samples_frame
from filters.answer_check import check_answers

PROBLEM = {"id": "p1", "question": "Ann has 3 boxes of 4 pens. How many pens?", "answer": "12"}


@pytest.mark.parametrize("style", PRIMED_STYLES)
def test_each_style_is_a_type_and_asks_for_its_behaviours(style):
    replies = ["3 * 4 = 12.\nThe answer is: 12", "3 + 4 = 7.\nThe answer is: 7"]
    llm = ScriptedLLM(lambda messages, k: replies[k])
    cfg = dataclasses.replace(AugmentConfig(), primed_style=style, primed_n=2)
    samples = asyncio.run(augment(PROBLEM, llm, cfg))
    assert {s["type"] for s in samples} == {f"GSM_Primed_{style}"} == {TYPE_NAMES[f"primed-{style}"]}
    checked = check_answers(samples_frame(samples))
    assert checked["keep"].to_list() == [True, False]  # verified like AnsAug: the answer must equal the gold
    assert checked.filter(pl.col("keep"))["verified_by"].to_list() == ["target"]
    system = llm.calls[0][0][0]["content"]
    assert ("Wait" in style_example(style)) == ("backtracking" in style or style == "all")
    assert ("plain, direct" in system) == (style == "none")


def test_style_examples_show_the_behaviours_they_name():
    assert detect(style_example("none")) == dict.fromkeys(detect(""), 0)
    found = detect(style_example("all"))
    assert all(count > 0 for count in found.values()), found
    assert detect(style_example("backtracking+verification"))["verification"] > 0
    assert detect(style_example("backtracking+subgoals"))["subgoal_setting"] > 0
    assert primed_messages("all", "Q?")[-1] == {"role": "user", "content": "Q?"}


def test_registered():
    assert parse_augmenters("ansaug,primed") == ["ansaug", "primed"]
    assert get_augmenter("primed") is augment
