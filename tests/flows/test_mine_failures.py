"""Failure mining: pass rates per problem, the failures kept under the threshold with a failed attempt, and the file
that `grpo --method r3` reads back."""

from __future__ import annotations

import json

import polars as pl
import pytest

from core.datasets import load_problems
from core.errors import UserError
from core.journal import Journal
from core.llm.base import Completion
from flows.cli import main
from flows.mine_failures import ATTEMPTS_FILE, SUMMARY_FILE, mine, problems_and_check, read_failures


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


def test_a_broken_run_resumes_asking_only_what_is_missing(prefect_harness, tmp_path, capsys):
    from fake_openai import FakeOpenAI

    problems = load_problems("sample", limit=3).to_dicts()
    refused = problems[1]["question"]
    out = tmp_path / "mined"
    args = ["run", "mine-failures", "--backend", "openai", "--model", "fake", "--out", str(out), "--limit", "3"]
    # the fake answers each problem's first number: wrong for these three, so all three fail
    with FakeOpenAI(reject_for=lambda user: "refused" if user == refused else None) as server:
        assert main([*args, "--base-url", server.url]) == 2
        assert "1 of 3 problems got no answers" in capsys.readouterr().err
    assert len(Journal(out / "journal").done()) == 2  # the answered ones are kept
    with FakeOpenAI() as server:
        assert main([*args, "--base-url", server.url]) == 0
        assert server.requests == 1  # only the missing problem is asked again
        assert main([*args, "--base-url", server.url, "--max-pass-rate", "0.5"]) == 0  # re-mined, not re-asked
        assert server.requests == 1
        assert main([*args, "--base-url", server.url, "--k", "2"]) == 2
        assert "made with k=4, not 2" in capsys.readouterr().err
    mined = read_failures(out)
    assert sorted(mined["id"].to_list()) == sorted(p["id"] for p in problems)
    attempts = pl.read_parquet(out / ATTEMPTS_FILE)
    assert attempts.height == 12 and attempts["problem_id"].n_unique() == 3
    assert json.loads((out / SUMMARY_FILE).read_text())["answered_before"] == 3


def test_a_reply_that_only_ends_in_the_gold_number_is_not_correct():
    problems, check, _ = problems_and_check("sample", limit=1, seed=0)
    row = problems.to_dicts()[0]
    assert check(f"The answer is: {row['answer']}", row)
    assert not check(f"so maybe {row['answer']}", row)  # no stated answer: GRPO's rewards would not pay it either
