"""The behaviour table of the diversity report: per type, share and mean count of each reasoning behaviour."""

from __future__ import annotations

from diversity.html import _behaviour_table
from diversity.report import build_report


def test_report_has_a_behaviour_table_per_type(run_dir, shared_cache):
    report = build_report(run_dir, cache_dir=shared_cache)
    table = {row["group"]: row for row in report["behaviours"]["table"]}
    assert set(table) == {"GSM_AnsAug", "GSM_Muggle", "GSM_Rephrased"}
    assert all(row["responses"] == 8 for row in table.values())
    assert all(0.0 <= row["verification_share"] <= 1.0 for row in table.values())
    page = (run_dir / "report.html").read_text()
    assert "Reasoning behaviours per type" in page and "backward chaining" in page


def test_behaviour_table_escapes_and_shows_unparsed_as_na():
    names = ("verification", "backtracking", "subgoal_setting", "backward_chaining")
    row = {"group": "<b>x</b>", "responses": 2, **{f"{n}_{k}": None for n in names for k in ("share", "mean")}}
    html = _behaviour_table({"method": "judge <i>", "table": [row]})
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html and "judge &lt;i&gt;" in html
    assert "n/a · n/a" in html
    assert "No kept samples" in _behaviour_table(None)
