import polars as pl

from filters.base import drop_where, kept_positions, set_scores


def test_drop_where_only_touches_kept_rows_and_never_resurrects(make_frame):
    df = make_frame([{"query": "a"}, {"query": "b", "reason": "wrong_answer"}, {"query": "c"}])
    out = drop_where(df, [True, True, False], "near_duplicate")
    assert out["keep"].to_list() == [False, False, True]
    assert out["reason"].to_list() == ["near_duplicate", "wrong_answer", None]  # the earlier reason stays
    again = drop_where(out, [False, False, False], "x")
    assert again["keep"].to_list() == [False, False, True]  # nothing comes back


def test_per_row_reasons_and_scores(make_frame):
    df = make_frame([{"query": "a"}, {"query": "b"}])
    out = drop_where(df, pl.Series([False, True]), [None, "contaminated"])
    assert out["reason"].to_list() == [None, "contaminated"]
    assert kept_positions(out) == [0]
    scored = set_scores(out, [0], [0.25])
    assert scored["score"].to_list() == [0.25, None]
    assert scored.schema == df.schema
