"""The augment flow for real: SmolLM2 in a real Prefect flow run, and a kill -9 in the middle of a run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from fake_openai import FakeOpenAI

from core.journal import written_pairs

TYPES = {"GSM_AnsAug", "GSM_Rephrased", "GSM_SV", "GSM_FOBAR"}


@pytest.mark.slow
def test_smollm2_end_to_end_attempts_every_type(prefect_harness, tmp_path):
    from flows.augment import augment_gsm8k

    out = tmp_path / "run"
    result = asyncio.run(
        augment_gsm8k(
            limit=2,
            out=str(out),
            config={"ansaug_n": 2, "rephrase_n": 1, "mask_limit": 1, "max_tokens": 96},
            filters={"decontaminate": "gsm8k-test"},
        )
    )
    samples = pl.read_parquet(out / "samples.parquet")
    assert set(samples["type"]) == TYPES  # every type attempted on the real model
    assert samples["parent_id"].n_unique() == 2
    assert set(samples["model"]) == {"SmolLM2-135M-Instruct"}
    assert samples["id"].n_unique() == samples.height
    # what a tiny model wrote is judged, not assumed: every row is kept or has a reason
    assert samples.filter(~pl.col("keep") & pl.col("reason").is_null()).height == 0
    for type_name in TYPES:
        row = result["funnel"][type_name]
        assert row["generated"] >= row["parsed"] >= row["verified"] >= row["kept"] >= 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["usage"]["completion_tokens"] > 0
    assert (out / "report.html").exists() and (out / "diversity.json").exists()
    assert (out / "dataset" / "metamathqa.jsonl").exists()


def _journal_pairs(out: Path) -> list[tuple[str, str]]:
    return written_pairs(out / "journal")


def _cli(out: Path, url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "flows.cli",
        "run",
        "augment-gsm8k",
        "--backend",
        "openai",
        "--model",
        "fake",
        "--base-url",
        url,
        "--limit",
        "6",
        "--augmenters",
        "ansaug,rephrase,fobar",
        "--shard-size",
        "2",
        "--concurrency",
        "2",
        "--no-report",
        "--no-near-dedup",
        "--out",
        str(out),
    ]


def _temporary_servers_of(pid: int) -> list[int]:
    """The Prefect temporary servers (uvicorn processes) that process `pid` started (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and b"uvicorn" in command and b"prefect.server.api.server:create_app" in command:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return b"uvicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def test_kill_9_then_resume_loses_and_duplicates_nothing(tmp_path):
    env = {**os.environ, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90"}
    with FakeOpenAI(delay_s=0.15) as server:
        reference = tmp_path / "reference"
        done = subprocess.run(_cli(reference, server.url), capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        total_requests = server.requests

        out = tmp_path / "killed"
        proc = subprocess.Popen(_cli(out, server.url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 300
        while len(_journal_pairs(out)) < 4 if (out / "journal").exists() else True:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        servers = _temporary_servers_of(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # Prefect's temporary server ends with the killed command instead of serving on, orphaned
        assert len(servers) == 1
        deadline = time.monotonic() + 10
        while _alive(servers[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(servers[0]), "the killed command's temporary Prefect server is still running"
        before_kill = _journal_pairs(out)
        journal_before = {p.name: p.read_text() for p in (out / "journal").glob("*.jsonl")}
        assert 4 <= len(before_kill) < 18  # killed in the middle: 6 problems x 3 augmenters

        asked_before_resume = server.requests
        resumed = subprocess.run(_cli(out, server.url), capture_output=True, text=True, env=env, timeout=600)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        asked_by_resume = server.requests - asked_before_resume

    pairs = _journal_pairs(out)
    assert len(pairs) == 18 and max(Counter(pairs).values()) == 1  # every pair once
    for name, text in journal_before.items():  # what was durable before the kill is still there, unchanged
        complete = text[: text.rfind("\n") + 1]
        assert (out / "journal" / name).read_text().startswith(complete)
    assert asked_by_resume < total_requests  # finished pairs were not asked again

    kept = pl.read_parquet(out / "samples.parquet")
    reference_kept = pl.read_parquet(reference / "samples.parquet")
    assert kept["id"].n_unique() == kept.height
    assert sorted(kept.filter("keep")["id"]) == sorted(reference_kept.filter("keep")["id"])
    assert kept.sort("id").equals(reference_kept.sort("id"))
