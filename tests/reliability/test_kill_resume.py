"""kill -9 of a running `flows run augment-gsm8k` at random points, then the same command again: the final samples
equal an uninterrupted run's with the same seed, every (problem, augmenter) pair done once, no duplicate ids.

Kill points are drawn from a seeded random generator: a few seconds in (import, Prefect handshake or the first
requests), after k of the 18 pairs are journaled, twice in a row, and after the last pair (filters and writing).
`python bench/bench_orchestration.py --kill-trials N` runs many more.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import polars as pl
import pytest
from fake_openai import FakeOpenAI
from reliability_helpers import (
    REFERENCE_AUGMENTERS,
    REFERENCE_LIMIT,
    REPO,
    augment_args,
    flows,
    flows_cmd,
    journal_pairs,
    most_repeated,
    stats,
)

TOTAL_PAIRS = REFERENCE_LIMIT * len(REFERENCE_AUGMENTERS.split(","))


def kill_points(trial: int) -> list[tuple[str, float]]:
    """Where trial `trial` kills: ("seconds", t) after the start, ("pairs", k) journaled pairs, or ("done", 0)."""
    rng = random.Random(7919 + trial)
    kinds = [
        [("seconds", rng.uniform(0.5, 3.0))],
        [("pairs", rng.randint(1, TOTAL_PAIRS // 2))],
        [("pairs", rng.randint(TOTAL_PAIRS // 2, TOTAL_PAIRS - 1))],
        sorted([("pairs", rng.randint(1, TOTAL_PAIRS // 2)), ("pairs", rng.randint(TOTAL_PAIRS // 2 + 1, 17))]),
        [("done", 0)],
    ]
    return kinds[trial % len(kinds)]


def run_and_kill(cmd: list[str], env: dict, out: Path, point: tuple[str, float], timeout_s: float = 240) -> int:
    """Start the command, SIGKILL it at `point`; its exit code (-9 when the kill landed before it ended)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
    kind, value = point
    started = time.monotonic()
    while proc.poll() is None:
        elapsed = time.monotonic() - started
        done = len(journal_pairs(out)) if (out / "journal").exists() else 0
        reached = {"seconds": elapsed >= value, "pairs": done >= value, "done": done >= TOTAL_PAIRS}[kind]
        if reached or elapsed > timeout_s:
            proc.send_signal(signal.SIGKILL)
            assert reached, f"no kill point {point} within {timeout_s}s"
            break
        time.sleep(0.02)
    return proc.wait(timeout=60)


@pytest.fixture(scope="module")
def slow_server(answer_for):
    """The reference's answers, 0.1 s each: a run lasts long enough to be killed in the middle."""
    with FakeOpenAI(delay_s=0.1, answer_for=answer_for) as server:
        yield server


@pytest.mark.parametrize("trial", range(5))
def test_kill_9_at_random_points_then_resume_matches_uninterrupted_run(
    trial, prefect_server, reference_run, slow_server, tmp_path
):
    out = tmp_path / "run"
    cmd = flows_cmd(*augment_args(slow_server.url, out))
    for point in kill_points(trial):
        before = {p.name: p.read_bytes() for p in (out / "journal").glob("*.jsonl")} if out.exists() else {}
        code = run_and_kill(cmd, prefect_server.env, out, point)
        assert code == -signal.SIGKILL, f"the run ended ({code}) before the kill at {point}"
        for name, data in before.items():  # what was durable before this kill is still there, unchanged
            complete = data[: data.rfind(b"\n") + 1]
            assert (out / "journal" / name).read_bytes().startswith(complete)
    pairs_before_resume = len(journal_pairs(out)) if (out / "journal").exists() else 0

    resumed = flows(prefect_server, *augment_args(slow_server.url, out))
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    pairs = journal_pairs(out)
    assert len(pairs) == TOTAL_PAIRS and most_repeated(pairs) == 1  # every pair once: nothing lost, nothing twice
    run_stats = stats(out)
    assert run_stats["pairs_skipped_as_done"] == pairs_before_resume  # finished work was not redone
    assert run_stats["pairs_done_now"] == TOTAL_PAIRS - pairs_before_resume
    samples = pl.read_parquet(out / "samples.parquet")
    reference = pl.read_parquet(reference_run / "samples.parquet")
    assert samples["id"].n_unique() == samples.height
    assert sorted(samples.filter("keep")["id"]) == sorted(reference.filter("keep")["id"])
    assert samples.sort("id").equals(reference.sort("id"))
    train = pl.read_parquet(out / "dataset" / "train.parquet")
    assert sorted(train["id"]) == sorted(reference.filter("keep")["id"])
