"""`flows run behaviours`: which responses of a folder it reads, and its markdown table."""

from __future__ import annotations

import json

import polars as pl
import pytest

from analysis.behaviours import behaviour_table, detect
from core.errors import UserError
from flows.behaviours import _first_per_group, markdown, run_responses


def test_reads_kept_samples_eval_and_attempts(tmp_path):
    (tmp_path / "aug").mkdir()
    pl.DataFrame({"type": ["GSM_AnsAug", "GSM_SV"], "response": ["Let me check: 1 = 1.", "x"],
                  "keep": [True, False]}).write_parquet(tmp_path / "aug" / "samples.parquet")  # fmt: skip
    assert run_responses(tmp_path / "aug") == [("GSM_AnsAug", "Let me check: 1 = 1.")]
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "eval.json").write_text(json.dumps({"per_problem": [{"greedy_response": "Wait, no."}]}))
    assert run_responses(tmp_path / "eval") == [("greedy", "Wait, no.")]
    (tmp_path / "mine").mkdir()
    pl.DataFrame({"text": ["a", "b"], "correct": [True, False]}).write_parquet(tmp_path / "mine" / "attempts.parquet")
    assert run_responses(tmp_path / "mine") == [("correct", "a"), ("wrong", "b")]
    with pytest.raises(UserError, match="holds no samples.parquet"):
        run_responses(tmp_path)
    assert _first_per_group([("a", "1"), ("a", "2"), ("b", "3")], 1) == [("a", "1"), ("b", "3")]


def test_markdown_marks_unparsed_judge_counts():
    table = behaviour_table({"greedy": [detect("Wait, that is wrong."),
                                        {"verification": None, "backtracking": None, "subgoal_setting": 0,
                                         "backward_chaining": 0}]})  # fmt: skip
    text = markdown({"judge": table}, None)
    assert "| greedy | 2 | 0.00 · 0.00 (1 unparsed) | 1.00 · 1.00 (1 unparsed) |" in text
