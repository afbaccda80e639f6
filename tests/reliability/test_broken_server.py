"""A run against a server that breaks: it stops in seconds with one sentence, keeps what finished, and resumes.

- the server is killed mid-run: connection refused on every new request -> the run ends within seconds;
- a wrong model name (HTTP 404 on every request) -> the run ends within seconds, naming the 404;
- SIGTERM mid-run -> the process exits within 10 s, the journal intact, and the same command finishes the run.
Each stop prints one sentence; what was journaled before stays, and the resumed run equals an uninterrupted one.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import polars as pl
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
    stop,
)

TOTAL_PAIRS = REFERENCE_LIMIT * len(REFERENCE_AUGMENTERS.split(","))


def start(cmd: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO, start_new_session=True
    )


def wait_for_pairs(proc: subprocess.Popen, out: Path, pairs: int, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while len(journal_pairs(out)) < pairs if (out / "journal").exists() else True:
        assert proc.poll() is None, f"the run ended before {pairs} pairs: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, f"fewer than {pairs} pairs journaled in {timeout_s} s"
        time.sleep(0.05)


def error_sentences(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def assert_matches_reference(out: Path, reference: Path) -> None:
    pairs = journal_pairs(out)
    assert len(pairs) == TOTAL_PAIRS and most_repeated(pairs) == 1
    samples = pl.read_parquet(out / "samples.parquet")
    assert samples.sort("id").equals(pl.read_parquet(reference / "samples.parquet").sort("id"))


def test_a_server_killed_mid_run_stops_the_run_in_seconds_keeping_what_finished(prefect_server, answer_for, tmp_path):
    out = tmp_path / "run"
    with FakeOpenAI(delay_s=0.2, answer_for=answer_for) as server:
        proc = start(flows_cmd(*augment_args(server.url, out)), prefect_server.env)
        try:
            wait_for_pairs(proc, out, 4)
        except BaseException:
            stop(proc)
            raise
    killed_at = time.monotonic()  # the server is gone: nothing listens on its port any more
    before = journal_pairs(out)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        stop(proc)
    took = time.monotonic() - killed_at
    assert proc.returncode == 2, stderr[-3000:]
    assert took < 15, f"the run took {took:.1f} s to stop"
    [sentence] = error_sentences(stderr)
    assert "connection refused" in sentence and "the same command resumes" in sentence
    after = journal_pairs(out)
    assert after[: len(before)] == before and most_repeated(after) == 1  # what finished is kept, once
    assert len(after) < TOTAL_PAIRS  # (resuming is shown below, after SIGTERM, and by test_kill_resume)


def test_a_wrong_model_name_stops_the_run_in_seconds_with_one_sentence(prefect_server, tmp_path):
    out = tmp_path / "run"
    with FakeOpenAI() as server:
        args = augment_args(server.url, out)
        args[args.index("--model") + 1] = "missing"
        started = time.monotonic()
        result = flows(prefect_server, *args)
        took = time.monotonic() - started
        asked = server.requests
    assert result.returncode == 2, result.stderr[-3000:]
    [sentence] = error_sentences(result.stderr)
    assert "HTTP 404" in sentence and "does not exist" in sentence and "--model" in sentence
    assert "Traceback" not in result.stderr
    assert asked < 40  # it stopped asking: 18 pairs with retries would make well over a hundred requests
    assert took < 60, f"{took:.1f} s, most of it the CLI's start"  # the stop itself: within a few requests


def test_sigterm_mid_run_exits_within_10_s_and_the_same_command_resumes(
    prefect_server, reference_run, answer_for, tmp_path
):
    out = tmp_path / "run"
    # 9 requests answered, the rest held: at least 3 of the first 9 are one-request pairs (only 6 pairs start with a
    # rephrasing), and at most 9 of the 18 pairs can finish, so the run is mid-way when the signal comes
    with FakeOpenAI(answer_for=answer_for, hold_after=TOTAL_PAIRS // 2) as server:
        cmd = flows_cmd(*augment_args(server.url, out))
        proc = start(cmd, prefect_server.env)
        try:
            wait_for_pairs(proc, out, 3)
            proc.send_signal(signal.SIGTERM)  # to the process alone, as `kill PID` does
            sent = time.monotonic()
            _, stderr = proc.communicate(timeout=30)
            took = time.monotonic() - sent
        finally:
            stop(proc)
        assert took < 10, f"{took:.1f} s after SIGTERM"
        assert "interrupted: finished work is saved" in stderr and proc.returncode == 128 + signal.SIGTERM
        kept = journal_pairs(out)
        assert 3 <= len(kept) < TOTAL_PAIRS and most_repeated(kept) == 1

        server.release()
        resumed = flows(prefect_server, *augment_args(server.url, out))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_matches_reference(out, reference_run)
