import asyncio

import polars as pl

from filters.best_of_n import label_by_weighted_vote, select_best_of_n, weighted_vote
from filters.stages import score_stage


def test_keeps_exactly_k_per_parent_and_type_in_score_order(make_frame):
    rows = []
    for parent in ("p1", "p2"):
        for aug in ("ansaug", "rephrase"):
            for s in (0.1, 0.9, 0.5, 0.7, 0.3):
                rows.append({"parent_id": parent, "augmenter": aug, "score": s, "query": f"{parent}{aug}{s}"})
    df = select_best_of_n(make_frame(rows), best_of=2)
    kept = df.filter(pl.col("keep"))
    assert kept.group_by("parent_id", "type").len()["len"].to_list() == [2, 2, 2, 2]
    assert sorted(set(kept["score"].to_list())) == [0.7, 0.9]  # the two best of each group
    assert set(df.filter(~pl.col("keep"))["reason"].to_list()) == {"not_best_of_n"}


def test_min_score_then_k_and_dropped_rows_untouched(make_frame):
    rows = [
        {"score": 0.95, "reason": "wrong_answer"},  # already dropped: stays dropped, not counted in the k
        {"score": 0.2},
        {"score": 0.6},
        {"score": 0.8},
        {"score": None},
    ]
    df = select_best_of_n(make_frame(rows), best_of=1, min_score=0.5)
    assert df["reason"].to_list() == ["wrong_answer", "below_min_score", "not_best_of_n", None, "unscored"]
    assert df["keep"].to_list() == [False, False, False, True, False]


def test_ties_keep_frame_order(make_frame):
    df = select_best_of_n(make_frame([{"score": 0.5}, {"score": 0.5}, {"score": 0.5}]), best_of=2)
    assert df["keep"].to_list() == [True, True, False]


class _LengthScorer:
    """Scores by response length: a stand-in to test the stage wiring (real scorers: test_scorers_hf.py)."""

    name = "length"

    async def score(self, df):
        return [float(len(r)) for r in df["response"].to_list()]


def test_score_stage_scores_only_kept_rows(make_frame):
    df = make_frame([{"response": "aaaa"}, {"response": "bb", "reason": "wrong_answer"}, {"response": "c"}])
    out = asyncio.run(score_stage(df, _LengthScorer()))
    assert out["score"].to_list() == [4.0, None, 1.0]


def test_weighted_vote_lets_one_strong_vote_win():
    label, share = weighted_vote(["12", "12.0", "15", None], [0.2, 0.3, 0.9, 5.0])
    assert label == "15" and abs(share - 0.9 / 1.4) < 1e-9
    assert weighted_vote([None], [1.0]) == (None, 0.0)


def test_label_muggle_questions_by_weighted_vote(make_frame):
    q1, q2 = "New question one?", "New question two?"
    rows = [
        {"augmenter": "muggle", "query": q1, "answer": "7", "score": 0.9},
        {"augmenter": "muggle", "query": q1, "answer": "8", "score": 0.2},
        {"augmenter": "muggle", "query": q1, "answer": "8", "score": 0.3},
        {"augmenter": "muggle", "query": q2, "answer": "1", "score": 0.5},
        {"augmenter": "muggle", "query": q2, "answer": "2", "score": 0.5},
        {"augmenter": "rephrase", "query": q1, "answer": "8", "score": 0.9, "target": "8"},
    ]
    out = label_by_weighted_vote(make_frame(rows), agreement=0.6)
    assert out["target"].to_list() == ["7", "7", "7", None, None, "8"]  # q2 splits 50/50 < 0.6: no label
    assert out["verified_by"].to_list()[:5] == ["weighted_vote"] * 5
    assert out["verified_by"].to_list()[5] is None
