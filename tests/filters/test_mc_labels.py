"""Monte-Carlo step labels and the `mc` scorer, with a scripted backend whose share of right rollouts is known."""

from __future__ import annotations

import asyncio

import polars as pl
import pytest
from scripted_llm import ScriptedLLM

from core.errors import UserError
from filters.mc_labels import (
    MonteCarloScorer,
    StepLabels,
    continuation_messages,
    label_steps,
    reaches_gold,
    rollout_params,
)
from filters.scoring import make_scorer

QUESTION = "A baker fills 6 trays with 14 rolls each. She sells 50 rolls and eats 4. How many rolls are left?"
SOLUTION = (
    "She bakes 6 * 14 = 84 rolls.\nShe sells 50, so 84 - 50 = 34.\nShe eats 4, so 34 + 4 = 38.\nThe answer is: 38"
)
GOLD = "30"
# rollouts that reach the gold, out of 4, by how many steps the prompt shows (the 3rd step is wrong: none can)
RIGHT_OF_4 = {1: 3, 2: 1, 3: 0}


def _steps_shown(messages) -> int:
    shown = messages[-1]["content"].split("Steps so far:\n", 1)[1].split("\n\nContinue", 1)[0]
    return len(shown.split("\n"))


def _rollout(messages, k: int) -> str:
    right = RIGHT_OF_4[_steps_shown(messages)]
    return "34 - 4 = 30.\nThe answer is: 30" if k < right else "34 + 4 = 38.\nThe answer is: 38"


def _label(llm, response=SOLUTION, gold=GOLD, n=4) -> StepLabels:
    return asyncio.run(label_steps(llm, QUESTION, gold, response, n, rollout_params(0, "s1", 0.7, 64)))


def test_soft_and_hard_estimates_are_the_known_shares():
    labels = _label(ScriptedLLM(_rollout))
    assert labels.steps == SOLUTION.split("\n")
    assert labels.soft == [0.75, 0.25, 0.0, 0.0]  # last step states 38, not the gold 30: scored directly
    assert labels.hard == [True, True, False, False]
    assert [len(r) for r in labels.rollouts] == [4, 4, 4, 0]


def test_one_request_per_prefix_with_n_completions_each_continuing_the_prefix():
    llm = ScriptedLLM(_rollout)
    _label(llm)
    assert len(llm.calls) == 3  # the 4th prefix states its answer: no request
    assert [n for _, n, _ in llm.calls] == [4, 4, 4]
    shown = [_steps_shown(messages) for messages, _, _ in llm.calls]
    assert sorted(shown) == [1, 2, 3]
    for messages, _, _ in llm.calls:
        assert QUESTION in messages[-1]["content"]
        assert "She bakes 6 * 14 = 84 rolls." in messages[-1]["content"]
    assert len({params.seed for _, _, params in llm.calls}) == 3  # a seed per prefix, derived from the run seed
    assert continuation_messages(QUESTION, ["a", "b"])[-1]["content"].count("\n") >= 3


def test_a_right_final_answer_scores_the_last_step_one():
    labels = _label(ScriptedLLM(_rollout), gold="38")
    assert labels.soft[-1] == 1.0 and labels.hard[-1] is True
    assert labels.soft[:3] == [0.25, 0.75, 1.0]  # rollouts ending in 38 are right now: 1 of 4, 3 of 4, 4 of 4


def test_rollouts_count_only_when_stated_and_not_cut_off():
    assert reaches_gold("so 30.\nThe answer is: 30", "30")
    assert not reaches_gold("so the total is 30", "30")  # a last number is not a stated answer
    assert not reaches_gold("The answer is: 30", "30", cut_off=True)
    assert not reaches_gold("The answer is: 31", "30")


def test_neutral_steps_as_positive_or_negative():
    labels = StepLabels(steps=["a", "b", "c"], soft=[1.0, 0.5, 0.0], hard=[True, True, False])
    assert labels.step_values("soft") == [1.0, 0.5, 0.0]
    assert labels.step_values("positive") == [1.0, 1.0, 0.0]
    assert labels.step_values("negative") == [1.0, 0.0, 0.0]
    with pytest.raises(UserError):
        labels.step_values("maybe")


def _frame(responses, targets):
    n = len(responses)
    return pl.DataFrame(
        {"id": [f"s{i}" for i in range(n)], "query": [QUESTION] * n, "response": responses, "target": targets}
    )


@pytest.mark.parametrize(
    ("aggregate", "neutral", "expected"),
    [
        ("min", "soft", 0.0),
        ("last", "soft", 0.0),
        ("prod", "soft", 0.0),
        ("min", "positive", 0.0),
    ],
)
def test_scorer_on_a_wrong_solution(aggregate, neutral, expected):
    scorer = MonteCarloScorer(ScriptedLLM(_rollout), n=4, aggregate=aggregate, neutral=neutral)
    assert asyncio.run(scorer.score(_frame([SOLUTION], [GOLD]))) == [expected]


def test_scorer_aggregations_on_a_right_solution():
    # with gold 38 the step values are 0.25, 0.75, 1.0, 1.0
    frame = _frame([SOLUTION], ["38"])

    def score(aggregate, neutral="soft"):
        return asyncio.run(MonteCarloScorer(ScriptedLLM(_rollout), aggregate=aggregate, neutral=neutral).score(frame))

    assert score("min") == [0.25]
    assert score("prod") == [pytest.approx(0.25 * 0.75)]
    assert score("last") == [1.0]
    assert score("min", "positive") == [1.0]  # neutral steps count as good
    assert score("min", "negative") == [0.0]  # neutral steps count as bad
    assert score("prod", "negative") == [0.0]


def test_scorer_leaves_rows_without_a_target_unscored_and_is_registered():
    llm = ScriptedLLM(_rollout)
    scorer = make_scorer("mc", None, llm=llm, aggregate="last", n=2)
    assert scorer.name == "mc" and scorer.n == 2
    assert asyncio.run(scorer.score(_frame([SOLUTION, SOLUTION], [None, "38"]))) == [None, 1.0]
    with pytest.raises(UserError):
        make_scorer("mc", None, llm=None)
    with pytest.raises(UserError):
        MonteCarloScorer(llm, neutral="maybe")


def test_best_of_n_with_mc_scores_keeps_the_best_path_and_drops_unscored(make_frame):
    from filters.best_of_n import select_best_of_n
    from filters.stages import get_scorer, score_stage

    right = SOLUTION.replace("34 + 4 = 38", "34 - 4 = 30").replace("is: 38", "is: 30")
    frame = make_frame(
        [
            {"query": QUESTION, "response": SOLUTION, "target": GOLD, "augmenter": "ansaug"},
            {"query": QUESTION, "response": right, "target": GOLD, "augmenter": "ansaug"},
            {"query": QUESTION, "response": right, "target": None, "augmenter": "muggle"},
        ]
    )
    scorer = get_scorer("mc", None, llm=ScriptedLLM(_rollout), prm_aggregate="last", n=4)
    scored = asyncio.run(score_stage(frame, scorer))
    assert scored["score"].to_list() == [0.0, 1.0, None]
    out = select_best_of_n(scored, best_of=1)
    assert out["reason"].to_list() == ["not_best_of_n", None, "unscored"]
