"""`flows run prm-labels` as a real Prefect flow against a loopback OpenAI-compatible server: layout and resume."""

from __future__ import annotations

import asyncio
import json

import polars as pl
import pytest
from fake_openai import FakeOpenAI

from core.errors import UserError
from core.run_files import check_resume_settings
from core.schemas import new_sample, samples_frame
from flows.prm_labels import SETTINGS, PrmLabelOptions, prm_labels_flow, solutions_to_label

QUESTION = "A baker fills 6 trays with 14 rolls each. She sells 50 rolls and eats 4. How many rolls are left?"
WRONG = "She bakes 6 * 14 = 84 rolls.\nShe sells 50, so 84 - 50 = 34.\nShe eats 4, so 34 + 4 = 38.\nThe answer is: 38"
RIGHT = "She bakes 6 * 14 = 84 rolls.\nShe sells 50, so 84 - 50 = 34.\nShe eats 4, so 34 - 4 = 30.\nThe answer is: 30"


def _sample(variant: str, response: str | None, answer: str | None, reason: str | None) -> dict:
    return new_sample(
        parent_id="p0",
        augmenter="ansaug",
        variant=variant,
        prompt=QUESTION,
        query=QUESTION,
        response=response,
        answer=answer,
        target="30",
        original_question=QUESTION,
        model="test",
        reason=reason,
    )


@pytest.fixture
def run_dir(tmp_path):
    rows = [
        _sample("s0", RIGHT, "30", None),
        _sample("s1", WRONG, "38", "wrong_answer"),
        _sample("s2", "I do not know.", None, "no_answer"),  # not judged right or wrong: not labelled
        _sample("s3", RIGHT + "\nIndeed.", "30", "duplicate"),  # dropped by a later filter: not labelled
    ]
    samples_frame(rows).write_parquet(tmp_path / "samples.parquet")
    return tmp_path


def _answer_for(user: str) -> str:
    """Rollouts from the first step alone reach 30; from two steps or more they say 38."""
    shown = user.split("Steps so far:\n", 1)[1].split("\n\nContinue", 1)[0]
    return "30" if len(shown.split("\n")) == 1 else "38"


def test_selects_right_and_wrong_solutions(run_dir):
    assert solutions_to_label(run_dir)["variant"].to_list() == ["s0", "s1"]
    assert solutions_to_label(run_dir, only_kept=True)["variant"].to_list() == ["s0"]
    with pytest.raises(UserError):
        solutions_to_label(run_dir / "nowhere")


def test_flow_writes_stepwise_layout_and_resumes_without_asking_again(prefect_harness, run_dir):
    with FakeOpenAI(answer_for=_answer_for) as server:
        options = PrmLabelOptions(run=str(run_dir), n=4, backend="openai", model="fake", base_url=server.url)
        first = asyncio.run(prm_labels_flow(options))
        requests = server.requests
        assert requests == 6  # 2 solutions x 3 prefixes without a stated answer, each ONE request with n=4
        again = asyncio.run(prm_labels_flow(options))
        assert server.requests == requests  # nothing asked again
    assert first["solutions"] == again["solutions"] == 2 and again["skipped_as_done"] == 2
    out = run_dir / "prm_labels"
    frame = pl.read_parquet(out / "prm_labels.parquet").sort("sample_id")
    by_response = {tuple(r["completions"]): r for r in frame.to_dicts()}
    right = by_response[tuple(RIGHT.split("\n"))]
    wrong = by_response[tuple(WRONG.split("\n"))]
    assert right["labels"] == [True, False, False, True] and right["soft_labels"] == [1.0, 0.0, 0.0, 1.0]
    assert wrong["labels"] == [True, False, False, False] and wrong["hard_labels"] == [1.0, 0.0, 0.0, 0.0]
    assert right["prompt"] == QUESTION
    lines = [json.loads(line) for line in (out / "prm_labels.jsonl").read_text().splitlines()]
    assert {"prompt", "completions", "labels", "soft_labels", "hard_labels"} <= set(lines[0])
    from datasets import load_from_disk

    assert load_from_disk(str(out / "dataset")).num_rows == 2
    journal = [json.loads(line) for path in (out / "journal").glob("*.jsonl") for line in path.open()]
    assert len(journal) == 2 and all(len(r["samples"][0]["rollouts"][0]) == 4 for r in journal)  # raw replies kept


def test_changed_rollout_settings_are_refused_on_resume(tmp_path):
    base = {"backend": "openai", "model": "fake", "n": 2, "temperature": 0.7, "max_tokens": 64, "seed": 0}
    path = tmp_path / "settings.json"
    check_resume_settings(path, base, SETTINGS, made="labels")
    check_resume_settings(path, {**base, "limit": 5}, SETTINGS, made="labels")  # how many solutions: no rollout setting
    with pytest.raises(UserError, match="holds labels made with n=2, not 3"):
        check_resume_settings(path, {**base, "n": 3}, SETTINGS, made="labels")
    path.write_text("[1, 2]")
    with pytest.raises(UserError, match="is not a run's settings"):
        check_resume_settings(path, base, SETTINGS)
