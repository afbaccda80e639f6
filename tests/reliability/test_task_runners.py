"""Shards on Prefect task runners: threads (always) and Dask (when prefect-dask is installed), each against a
flaky server; the samples equal the default in-loop run's, and the shards' retries reach stats.json.
"""

from __future__ import annotations

import importlib.util

import polars as pl
import pytest
from fake_openai import FakeOpenAI
from reliability_helpers import augment_args, flows, journal_pairs, most_repeated, stats


@pytest.mark.parametrize(
    "runner",
    [
        "threads",
        pytest.param(
            "dask",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("prefect_dask") is None, reason="pip install 'mathaug[scale]'"
            ),
        ),
    ],
)
def test_task_runner_gives_the_in_loop_result(runner, prefect_server, reference_run, answer_for, tmp_path):
    out = tmp_path / "run"
    with FakeOpenAI(fault_share=0.2, answer_for=answer_for) as server:
        result = flows(prefect_server, *augment_args(server.url, out, "--task-runner", runner, "--workers", "2"))
        assert result.returncode == 0, result.stderr[-3000:]
        faults = server.faults

    samples = pl.read_parquet(out / "samples.parquet")
    reference = pl.read_parquet(reference_run / "samples.parquet")
    assert samples.sort("id").equals(reference.sort("id"))
    pairs = journal_pairs(out)
    assert len(pairs) == len(journal_pairs(reference_run)) and most_repeated(pairs) == 1
    usage, reference_usage = stats(out)["usage"], stats(reference_run)["usage"]
    assert faults > 0 and usage["retries"] == faults  # counted in the shards' own backends, summed by the flow
    assert usage["calls"] == reference_usage["calls"]
    assert usage["completion_tokens"] == reference_usage["completion_tokens"]
