"""A flaky LLM server: 20 % of requests answer 429, 500, truncated JSON or empty content, stall past the client's
timeout or drop the connection, and prompts over a context limit are refused for good (HTTP 400).

The run completes; every transient fault costs exactly one retry, counted in stats.json; each permanently failed
(problem, augmenter) pair is listed in stats.json with its reason, is not journaled, and is the only thing a
re-run asks for again.
"""

from __future__ import annotations

import json

import polars as pl
from fake_openai import FakeOpenAI, oracle
from reliability_helpers import augment_args, flows, journal_pairs, most_repeated, stats

from core.datasets import bundled_path, problem_id

FAULTS = ("429", "500", "timeout", "json", "empty", "disconnect")
AUGMENTERS = ["ansaug", "rephrase", "sv", "fobar"]
CONTEXT_LIMIT = 50_000  # characters; the long question has 100,000
REFUSAL = "This model's maximum context length is 8192 tokens, but the prompt is longer."
REQUEST_TIMEOUT = ["--request-timeout", "1"]  # a stalled reply (3 s) then costs a second and one retry


def refuse_long_prompts(text: str) -> str | None:
    return REFUSAL if len(text) > CONTEXT_LIMIT else None


def test_flaky_server_run_completes_counts_retries_and_records_failures(prefect_server, tmp_path):
    rows = [json.loads(line) for line in bundled_path("train").read_text().splitlines()[:4]]
    long_question = ("A baker puts 3 trays of 12 rolls in the oven. " * 2200)[:100_000] + " How many rolls?"
    rows.append({"question": long_question, "answer": "Each tray holds 12 rolls. #### 36"})
    data = tmp_path / "problems.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    problems = [{"question": r["question"], "answer": r["answer"].split("####")[-1].strip()} for r in rows[:4]]
    long_id = problem_id(long_question)
    out = tmp_path / "run"

    with FakeOpenAI(
        fault_share=0.2, faults=FAULTS, stall_s=3.0, answer_for=oracle(problems), reject_for=refuse_long_prompts
    ) as server:
        args = augment_args(server.url, out, "--dataset", str(data), limit=5, augmenters=",".join(AUGMENTERS))
        args += REQUEST_TIMEOUT
        result = flows(prefect_server, *args)
        assert result.returncode == 0, result.stderr[-3000:]
        transient = sum(n for kind, n in server.fault_counts.items() if kind != "400")
        refused = server.fault_counts["400"]
        first_stats = stats(out)
        journal_after_first_run = journal_pairs(out)

        asked_before = server.requests
        again = flows(prefect_server, *args)
        assert again.returncode == 0, again.stderr[-3000:]
        asked_again = server.requests - asked_before
        refused_again = server.fault_counts["400"] - refused

    assert set(FAULTS) <= set(server.fault_counts)  # every kind of fault happened
    assert f"{len(AUGMENTERS)} problem/augmenter pairs failed" in result.stdout

    # the first run: every transient fault retried once and counted, each refused pair recorded with its reason
    assert first_stats["usage"]["retries"] == transient
    assert first_stats["usage"]["failures"] == refused >= len(AUGMENTERS)
    assert first_stats["pairs_failed"] == len(AUGMENTERS)
    failed = {line.split(" on ")[0]: line for line in first_stats["failures"]}
    assert sorted(failed) == sorted(AUGMENTERS)
    for line in failed.values():
        assert line.startswith(tuple(f"{a} on {long_id}: LLMCallError: HTTP 400: " for a in AUGMENTERS))
        assert "maximum context length" in line
    # everything else is done, once
    assert len(journal_after_first_run) == 4 * len(AUGMENTERS) and most_repeated(journal_after_first_run) == 1
    assert long_id not in {p for p, _ in journal_after_first_run}
    for type_name, row in first_stats["funnel"].items():
        assert row["kept"] > 0, type_name

    # the re-run asks only for the failed pairs (all refused again) and leaves the rest as it was
    assert asked_again == refused_again > 0
    rerun_stats = stats(out)
    assert rerun_stats["pairs_skipped_as_done"] == 4 * len(AUGMENTERS)
    assert rerun_stats["pairs_failed"] == len(AUGMENTERS)
    assert journal_pairs(out) == journal_after_first_run
    samples = pl.read_parquet(out / "samples.parquet")
    assert samples["id"].n_unique() == samples.height
