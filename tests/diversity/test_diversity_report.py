"""build_report on a small run folder with the real embedder: diversity.json, report.html, selection, cache."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest
from diversity_fixtures import PLANTED, read_jsonl, write_run

from core.errors import UserError
from diversity.report import build_report


def test_report_measures_gain_per_type_and_writes_both_files(run_dir, shared_cache):
    report = build_report(run_dir, cache_dir=shared_cache)
    on_disk = json.loads((run_dir / "diversity.json").read_text())
    assert on_disk == {k: v for k, v in report.items() if k != "paths"}
    assert report["base"] == {"source": "problems.parquet", "count": 8}
    types = report["types"]
    assert {t: i["count"] for t, i in types.items()} == {"GSM_AnsAug": 8, "GSM_Muggle": 8, "GSM_Rephrased": 8}
    # copies of the base add almost nothing, off-topic problems add a lot
    assert types["GSM_Muggle"]["gain"] > 0.8 > types["GSM_Rephrased"]["gain"] > types["GSM_AnsAug"]["gain"]
    for info in types.values():
        assert info["gain_vs_base_and_other_types"] <= info["gain"] + 1e-9
    overall = sum(i["gain"] * i["count"] for i in types.values()) / 24
    assert report["overall"] == {"count": 24, "gain": pytest.approx(overall)}
    # funnel from samples.parquet (no stats.json): the rejected AnsAug rows count as generated only
    assert report["funnel"]["GSM_AnsAug"] == {"generated": 16, "parsed": 8, "verified": 8, "kept": 8}
    # nearest-base examples: a copy of a base problem finds that very problem
    closest = types["GSM_AnsAug"]["nearest_base_examples"][0]
    samples = pl.read_parquet(run_dir / "samples.parquet")
    parent = samples.filter(pl.col("id") == closest["id"])["parent_id"].item()
    assert closest["base_id"] == parent and closest["distance"] < 0.05
    assert len(types["GSM_Muggle"]["nearest_base_examples"]) == 6
    assert report["selection"] is None and not (run_dir / "selected.jsonl").exists()


def test_second_report_embeds_nothing(tmp_path):
    run = write_run(tmp_path / "run")
    first = build_report(run, cache_dir=tmp_path / "cache")
    assert first["embedding"]["texts_embedded"] == first["embedding"]["texts_total"] == 32
    second = build_report(run, cache_dir=tmp_path / "cache")
    assert second["embedding"]["texts_embedded"] == 0
    assert second["types"] == first["types"]


def test_html_escapes_model_text_and_loads_nothing_from_outside(run_dir, shared_cache):
    build_report(run_dir, cache_dir=shared_cache)
    page = (run_dir / "report.html").read_text()
    assert PLANTED not in page
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;" in page
    assert page.count("<script>") == 1  # ours only
    assert not re.search(r"""(src|href)\s*=""", page)  # no external (or any) resources
    assert "@import" not in page and "url(" not in page
    for section in (
        "Funnel per type",
        "Diversity gain per type",
        "Nearest-base distances",
        "2-D projection",
        "Sample browser",
    ):
        assert section in page
    assert page.count('class="card"') == 24  # every kept sample (fewer than the cap) beside its nearest base


def test_stats_json_funnel_is_used_when_present(tmp_path, shared_cache):
    stats = {"funnel": {"GSM_AnsAug": {"generated": 100, "parsed": 90, "verified": 80, "kept": 70, "dropped_by": {}}}}
    run = write_run(tmp_path / "run", stats=stats)
    report = build_report(run, cache_dir=shared_cache)
    assert report["funnel"] == {"GSM_AnsAug": {"generated": 100, "parsed": 90, "verified": 80, "kept": 70}}


def test_select_budget_writes_selected_ids_and_beats_random(run_dir, shared_cache):
    report = build_report(run_dir, cache_dir=shared_cache, select_budget=4)
    selection = report["selection"]
    lines = read_jsonl(run_dir / "selected.jsonl")
    kept_ids = set(pl.read_parquet(run_dir / "samples.parquet").filter("keep")["id"].to_list())
    assert len(lines) == selection["selected_count"] == 4 and {line["id"] for line in lines} <= kept_ids
    assert [line["rank"] for line in lines] == [0, 1, 2, 3]
    assert lines[0]["type"] == "GSM_Muggle"  # the farthest from the base comes first
    assert selection["selected"]["gain"] > selection["random"]["gain"]
    assert "farthest-first" in (run_dir / "report.html").read_text()


def test_run_without_problems_file_uses_the_original_questions(tmp_path, shared_cache):
    run = write_run(tmp_path / "run")
    (run / "problems.parquet").unlink()
    report = build_report(run, cache_dir=shared_cache)
    assert report["base"] == {"source": "original_question", "count": 8}


def test_run_with_nothing_kept_still_reports(tmp_path, shared_cache):
    run = write_run(tmp_path / "run")
    samples = pl.read_parquet(run / "samples.parquet").with_columns(keep=pl.lit(False))
    samples.write_parquet(run / "samples.parquet")
    report = build_report(run, cache_dir=shared_cache, select_budget=3)
    assert report["overall"] == {"count": 0, "gain": None} and report["types"] == {}
    assert report["selection"]["selected_count"] == 0
    assert "Diversity report" in (run / "report.html").read_text()


def test_bad_run_folders_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        build_report(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="has no samples.parquet"):
        build_report(tmp_path / "empty")
