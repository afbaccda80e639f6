"""Failure mining: pass rates per problem, the failures kept under the threshold with a failed attempt, and the file
that `grpo --method r3` reads back."""

from __future__ import annotations

import polars as pl
import pytest

from core.errors import UserError
from core.llm.base import Completion
from flows.cli import main
from flows.mine_failures import mine, problems_and_check, read_failures


def _outs(texts: list[str]) -> list[Completion]:
    return [Completion(text=t, finish_reason="stop") for t in texts]


def test_countdown_failures_and_pass_rates(tmp_path):
    problems, check, task = problems_and_check("countdown:3", limit=3, seed=0)
    assert task == "countdown" and problems.height == 3
    rows = problems.to_dicts()
    right = [rf"\boxed{{{r['solution']}}}" for r in rows]
    completions = [
        _outs([right[0]] * 4),  # always solved: not a failure
        _outs([right[1], "no idea", r"\boxed{1}", "?"]),  # pass rate 0.25
        _outs(["I give up"] * 3 + [r"\boxed{0}"]),  # all wrong
    ]
    failures, attempts = mine(problems, completions, check, task, max_pass_rate=0.0)
    assert failures["id"].to_list() == [rows[2]["id"]]
    assert failures.row(0, named=True)["failed_attempt"] == "I give up"
    assert failures["pass_rate"].to_list() == [0.0] and failures["numbers"].to_list() == [rows[2]["numbers"]]
    assert attempts.height == 12 and attempts["correct"].sum() == 5

    failures, _ = mine(problems, completions, check, task, max_pass_rate=0.25)
    assert failures["pass_rate"].to_list() == [0.25, 0.0]
    assert failures.row(0, named=True)["failed_attempt"] == "no idea"  # the first wrong answer

    failures.write_parquet(tmp_path / "failures.parquet")
    back = read_failures(tmp_path)
    assert back["task"].unique().to_list() == ["countdown"] and back.height == 2


def test_gsm8k_problems_use_the_gold_answer():
    problems, check, task = problems_and_check("sample", limit=2, seed=0)
    assert task == "gsm8k"
    gold = problems["answer"][0]
    failures, _ = mine(problems, [_outs([f"The answer is: {gold}", "The answer is: -1"]), _outs(["none"] * 2)],
                       check, task, max_pass_rate=0.5)  # fmt: skip
    assert failures["pass_rate"].to_list() == [0.5, 0.0]


def test_read_failures_refuses_foreign_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        read_failures(tmp_path / "nowhere")
    (tmp_path / "failures.parquet").write_text("not parquet")
    with pytest.raises(UserError, match="not a readable Parquet"):
        read_failures(tmp_path)
    pl.DataFrame({"question": ["q"]}).write_parquet(tmp_path / "failures.parquet")
    with pytest.raises(UserError, match="'answer'"):
        read_failures(tmp_path)


def test_cli_refuses_bad_options_in_one_sentence(capsys, tmp_path):
    assert main(["run", "mine-failures", "--out", str(tmp_path), "--max-pass-rate", "1.5"]) == 2
    assert "--max-pass-rate must be" in capsys.readouterr().err
    assert main(["run", "grpo", "--out", str(tmp_path), "--method", "r3"]) == 2
    assert "--method r3 needs --failures" in capsys.readouterr().err
    assert main(["run", "grpo", "--out", str(tmp_path), "--problems", "countdown:99"]) == 2
    assert "Countdown has no level" in capsys.readouterr().err
    assert main(["list"]) == 0 and "mine-failures" in capsys.readouterr().out
