"""Reward functions: every docstring example passes (doctest), plus the behaviour GRPO relies on."""

from __future__ import annotations

import doctest

import pytest

import sft.evaluate
import sft.rewards
from sft.rewards import (
    REWARDS,
    build_rewards,
    correct_answer_reward,
    numeric_answer_reward,
    reflection_reward,
)


@pytest.mark.parametrize("module", [sft.rewards, sft.evaluate])
def test_docstring_examples_pass(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted >= 2


def test_every_reward_function_has_a_docstring_example():
    for name, factory in REWARDS.items():
        func = factory()
        doc = func.__doc__ or (sft.rewards.make_length_reward.__doc__ if name == "length" else "")
        assert ">>>" in doc, name


def test_seed_experiment_values_on_conversational_completions():
    completions = [
        [{"role": "assistant", "content": "16 - 3 - 4 = 9 eggs, 9 * 2 = 18. Let's check: 9 * 2 is 18. \\boxed{18}"}],
        [{"role": "assistant", "content": "She makes \\boxed{20}."}],
        [{"role": "assistant", "content": "I cannot tell."}],
    ]
    gold = ["18", "18", "18"]
    assert numeric_answer_reward(completions, answer=gold) == [0.5, 0.5, 0.0]
    assert correct_answer_reward(completions, answer=gold) == [2.0, 0.0, 0.0]
    assert reflection_reward(completions, answer=gold) == [1.0, 0.0, 0.0]


def test_trainer_keywords_are_accepted_and_a_missing_gold_is_skipped():
    extra = {"prompts": ["q", "q"], "completion_ids": [[1], [2]], "trainer_state": None, "log_extra": None}
    assert correct_answer_reward(["\\boxed{3}", "\\boxed{3}"], answer=["3", None], **extra) == [2.0, None]


def test_build_rewards_rejects_unknown_names_and_stray_weights():
    with pytest.raises(ValueError, match="unknown reward 'speed'"):
        build_rewards(["correct", "speed"])
    with pytest.raises(ValueError, match="not among the chosen"):
        build_rewards(["correct"], {"boxed": 2.0})


# Each of these paid before the fix (issue 12): an answer must be stated explicitly to earn anything.
def test_numeric_does_not_pay_for_any_digit():
    assert numeric_answer_reward(["I have 3 apples and no idea what to do.", "Step 1: 16 - 3 = 13"]) == [0.0, 0.0]


def test_correct_does_not_pay_a_cut_off_text_whose_last_number_is_the_gold():
    cut_off = ["16 - 3 - 4 = 9 eggs, 9 * 2 = 18", "9 * 2 = 18. The answer is:", "9 * 2 = 18. \\boxed{1"]
    assert correct_answer_reward(cut_off, answer=["18"] * 3) == [0.0, 0.0, 0.0]
    assert correct_answer_reward(["9 * 2 = 18. The answer is: 18"], answer=["18"]) == [2.0]


def test_reflection_does_not_pay_a_lone_wait():
    assert reflection_reward(["wait", "Wait, wait. Let me check.", "Wait. \\boxed{18}"]) == [0.0, 0.0, 0.0]
    assert reflection_reward(["9 * 2 = 16. Wait, 9 * 2 = 18. The answer is 18"]) == [1.0]


def test_the_registry_takes_rewards_from_other_modules():
    def factory(**_):
        def countdown_reward(completions, **kwargs):
            """>>> countdown_reward(["x"])\n[0.5]"""
            return [0.5] * len(completions)

        return countdown_reward

    sft.rewards.register_reward("countdown-test", factory)
    try:
        funcs, weights = build_rewards(["correct", "countdown-test"], {"countdown-test": 2.0}, soft_limit=10)
        assert [f.__name__ for f in funcs] == ["correct_answer_reward", "countdown_reward"] and weights == [1.0, 2.0]
        with pytest.raises(ValueError, match="already registered"):
            sft.rewards.register_reward("correct", factory)
    finally:
        del REWARDS["countdown-test"]
