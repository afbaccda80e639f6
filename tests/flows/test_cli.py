"""The `flows` command in a subprocess: its listing, help, one-sentence errors, and a full run.

The full runs use a local OpenAI-compatible fake server (tests/fake_openai.py), so the real CLI, the real Prefect
flow and the real openai backend run in seconds; the real SmolLM2 run is in test_augment_flow.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import polars as pl
import pytest
from fake_openai import FakeOpenAI, oracle

from core.datasets import load_problems

ENV = {**os.environ, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90", "HF_HUB_OFFLINE": "1"}


def flows(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, timeout=timeout, env=ENV
    )


def run_on(server: FakeOpenAI, out: Path, *options: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """`flows run augment-gsm8k` against the fake server, writing to `out`."""
    args = ["run", "augment-gsm8k", "--backend", "openai", "--model", "fake", "--base-url", server.url]
    return flows(*args, "--out", str(out), *options, timeout=timeout)


def bundled_oracle(limit: int):
    """Right answers for the first `limit` bundled problems and their masked versions."""
    return oracle(load_problems("sample", limit=limit).to_dicts())


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The CLI's own error lines (Prefect's log lines share stderr)."""
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def test_list_names_the_flows():
    result = flows("list")
    assert result.returncode == 0
    assert "augment-gsm8k" in result.stdout.splitlines()


def test_help_lists_the_contract_options():
    result = flows("run", "augment-gsm8k", "--help")
    assert result.returncode == 0
    for option in [
        "--dataset",
        "--limit",
        "--backend",
        "--model",
        "--base-url",
        "--augmenters",
        "--out",
        "--seed",
        "--max-tokens",
        "--temperature",
        "--ansaug-n",
        "--rephrase-n",
        "--sv-n",
        "--fobar-n",
    ]:
        assert option in result.stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (["run", "augment-gsm8k", "--limit", "x"], "--limit: 'x' is not a whole number"),
        (["run", "augment-gsm8k", "--augmenters", "ansaug,magic"], "--augmenters takes"),
        (["run", "augment-gsm8k", "--ansaug-n", "0"], "--ansaug-n must be at least 1"),
        (["run", "augment-gsm8k", "--backend", "nope"], "invalid choice"),
        (["run", "augment-gsm8k", "--perturb-programs", "teacher"], "--perturb-programs: program origins are"),
        (["run", "augment-gsm8k", "--wat"], "unrecognized arguments"),
        (["run", "no-such-flow"], "no flow named"),
        (["run"], "Name the flow"),
    ],
)
def test_bad_options_end_in_one_sentence(args, words):
    result = flows(*args)
    assert result.returncode != 0
    assert words.lower() in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_inputs_inside_the_flow_end_in_one_sentence(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "Q?"}\n')
    result = flows("run", "augment-gsm8k", "--dataset", str(bad), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert error_lines(result) == [f"error: Row 1 of {bad} has no 'answer' field; each row needs question and answer."]
    assert "Traceback" not in result.stderr + result.stdout

    result = flows(
        "run",
        "augment-gsm8k",
        "--backend",
        "openai",
        "--model",
        "m",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--out",
        str(tmp_path / "o2"),
        "--limit",
        "1",
    )
    assert result.returncode == 2
    [line] = error_lines(result)
    assert line.startswith("error: Cannot reach the LLM server at http://127.0.0.1:9/v1")
    assert "Traceback" not in result.stderr + result.stdout


def test_full_run_writes_every_output(tmp_path):
    out = tmp_path / "run"
    with FakeOpenAI(answer_for=bundled_oracle(3)) as server:
        result = run_on(server, out, "--limit", "3", "--mask-limit", "0")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "generated" in result.stdout and "GSM_FOBAR" in result.stdout  # the funnel is printed

    samples = pl.read_parquet(out / "samples.parquet")
    assert set(samples["type"]) == {"GSM_AnsAug", "GSM_Rephrased", "GSM_SV", "GSM_FOBAR"}
    assert samples["id"].n_unique() == samples.height
    assert {"type", "keep", "reason"} <= set(samples.columns)

    train = pl.read_parquet(out / "dataset" / "train.parquet")
    assert train.height == samples["keep"].sum() > 0
    lines = [json.loads(x) for x in (out / "dataset" / "metamathqa.jsonl").read_text().splitlines()]
    assert len(lines) == train.height
    assert set(lines[0]) == {"query", "response", "type", "original_question"}
    assert all(line["response"].rstrip().splitlines()[-1].startswith("The answer is: ") for line in lines)
    assert datasets.load_from_disk(str(out / "dataset")).num_rows == train.height

    stats = json.loads((out / "stats.json").read_text())
    for type_name in ["GSM_AnsAug", "GSM_Rephrased", "GSM_SV", "GSM_FOBAR"]:
        assert set(stats["funnel"][type_name]) >= {"generated", "parsed", "verified", "kept"}
        assert stats["funnel"][type_name]["kept"] > 0  # every type can pass the whole funnel
    # the fake answers every n draws alike: exact dedup keeps one AnsAug solution per problem
    assert stats["funnel"]["GSM_AnsAug"]["kept"] == 3
    assert stats["funnel"]["GSM_AnsAug"]["dropped_by"] == {"duplicate": 9}
    assert stats["funnel"]["total"]["kept"] == train.height


def test_rerun_on_a_finished_folder_regenerates_nothing(tmp_path):
    out = tmp_path / "run"
    with FakeOpenAI() as server:
        first = run_on(server, out, "--limit", "2", "--augmenters", "ansaug,fobar")
        assert first.returncode == 0, first.stderr[-2000:]
        asked = server.requests
        before = pl.read_parquet(out / "samples.parquet")
        second = run_on(server, out, "--limit", "2", "--augmenters", "ansaug,fobar")
        assert second.returncode == 0, second.stderr[-2000:]
        assert server.requests == asked  # nothing asked again
    after = pl.read_parquet(out / "samples.parquet")
    assert after.equals(before)
    assert json.loads((Path(out) / "stats.json").read_text())["pairs_skipped_as_done"] == 4


def test_changed_generation_settings_are_refused_on_resume(tmp_path):
    out = tmp_path / "run"
    with FakeOpenAI() as server:
        options = ["--limit", "1", "--augmenters", "ansaug", "--no-report"]
        assert run_on(server, out, *options).returncode == 0
        asked = server.requests
        changed_temperature = run_on(server, out, *options, "--temperature", "0.2")
        changed_count = run_on(server, out, *options, "--ansaug-n", "8")  # finished pairs made 4: no mixed counts
        assert server.requests == asked
    for result, expected in [(changed_temperature, "temperature=0.7, not 0.2"), (changed_count, "ansaug_n=4, not 8")]:
        assert result.returncode == 2
        [line] = error_lines(result)
        assert f"holds a run made with {expected}" in line


def test_a_slow_server_times_out_and_the_pair_is_listed_as_failed(tmp_path):
    out = tmp_path / "run"
    with FakeOpenAI(delay_s=3.0) as server:
        options = ["--limit", "1", "--augmenters", "ansaug", "--no-report", "--ansaug-n", "1"]
        result = run_on(server, out, *options, "--request-timeout", "0.5", "--max-retries", "1")
    assert result.returncode == 1, result.stderr[-2000:]  # the run is not complete
    assert "1 problem/augmenter pairs failed: run the same command again to retry them." in result.stdout
    stats = json.loads((out / "stats.json").read_text())
    assert stats["usage"]["retries"] == 1 and stats["pairs_failed"] == len(stats["failures"]) == 1
    assert "no answer within the request timeout of 0.5 s, 2 tries" in stats["failures"][0]
    assert "Traceback" not in result.stderr


def test_perturb_from_the_command_line(tmp_path):
    out = tmp_path / "run"
    with FakeOpenAI() as server:
        result = run_on(server, out, "--limit", "4", "--augmenters", "perturb", "--no-report", "--muggle-k", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = pl.read_parquet(out / "samples.parquet").filter(pl.col("type") == "GSM_Perturbed")
    problems = {p["id"]: p for p in load_problems("sample", limit=4).to_dicts()}
    # a draw with no values that keep the constraints is a row without a question (reason no_valid_values)
    drawn = rows.filter(pl.col("variant").str.starts_with("draw") & pl.col("query").is_not_null())
    assert drawn.height > 0  # the bundled problems' calculator marks give programs without the model
    assert drawn.filter(pl.col("keep") & (pl.col("verified_by") == "program")).height > 0  # reference solutions
    for row in drawn.iter_rows(named=True):
        assert row["query"] != problems[row["parent_id"]]["question"] and row["target"] is not None
    assert set(rows["parent_id"]) == set(problems)
