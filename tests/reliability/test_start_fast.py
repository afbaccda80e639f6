"""Start fast, end fast: an openai-backend run loads no model stack (nor numpy) before its first request, and a
finished run's process ends at once with everything sent (its outputs written, its flow run completed, its last log
lines in Prefect). The real CLI in a subprocess, against the suite's Prefect server and a fake OpenAI server."""

from __future__ import annotations

import json
import subprocess
import sys

from fake_openai import FakeOpenAI
from reliability_helpers import REPO, augment_args, flows

# numpy and faiss: only the filters that embed use them, after generation
HEAVY = ("torch", "transformers", "sentence_transformers", "faiss", "numpy")

# `flows run ...` as the console script runs it, but the first chat request notes which heavy modules are loaded
# and whether the heap is frozen, then ends the process: what comes after the first request is not this test's
# business (and would load MiniLM).
FIRST_REQUEST_PROBE = """
import gc, json, os, runpy, sys
import core.llm.openai_backend as backend

async def first_request(self, *args, **kwargs):
    loaded = sorted(m for m in {heavy!r} if m in sys.modules)
    with open({path!r}, "w") as f:
        json.dump({{"loaded": loaded, "frozen": gc.get_freeze_count(), "collecting": gc.isenabled()}}, f)
    os._exit(0)

backend.OpenAIBackend._create = first_request
sys.argv = ["flows", *sys.argv[1:]]
runpy.run_module("flows.cli", run_name="__main__")
"""


def test_openai_run_loads_no_model_stack_before_its_first_request(prefect_server, tmp_path):
    """With the default filters (near dedup and decontamination need MiniLM later) and no report."""
    probe_out = tmp_path / "loaded.json"
    code = FIRST_REQUEST_PROBE.format(heavy=HEAVY, path=str(probe_out))
    with FakeOpenAI() as server:
        args = ["run", "augment-gsm8k", "--backend", "openai", "--model", "fake", "--base-url", server.url]
        result = subprocess.run(
            [sys.executable, "-c", code, *args, "--limit", "2", "--no-report", "--out", str(tmp_path / "run")],
            capture_output=True,
            text=True,
            timeout=300,
            env=prefect_server.env,
            cwd=REPO,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert probe_out.exists(), "the run never sent a request"
    probe = json.loads(probe_out.read_text())
    assert probe["loaded"] == []
    # generation runs with the heap frozen (core.heap): the collector on, walking only what generation makes
    assert probe["collecting"] and probe["frozen"] > 100_000


def test_finished_run_ends_its_process_with_everything_sent(prefect_server, tmp_path):
    """The process ends right after the run (flows.cli._exit_after_run), yet nothing is lost on the way out."""
    out = tmp_path / "run"
    with FakeOpenAI() as server:
        result = flows(prefect_server, *augment_args(server.url, out, limit=3, augmenters="ansaug"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "kept" in result.stdout  # the summary printed before the process ended
    for name in ("samples.parquet", "stats.json", "dataset/train.parquet", "dataset/dataset_info.json"):
        assert (out / name).is_file(), name
    runs = [
        run
        for run in prefect_server.post("/flow_runs/filter", {"limit": 200, "sort": "EXPECTED_START_TIME_DESC"})
        if run["parameters"].get("out") == str(out)
    ]
    assert len(runs) == 1
    assert runs[0]["state_type"] == "COMPLETED"
    logs = prefect_server.post("/logs/filter", {"logs": {"flow_run_id": {"any_": [runs[0]["id"]]}}, "limit": 200})
    # the flow's own last line and Prefect's last word on the run reached the server before the process ended
    messages = [log["message"] for log in logs]
    assert any(m.startswith("funnel:") for m in messages), messages
    assert any(m.startswith("Finished in state Completed") for m in messages), messages
