"""Deployments for real: `prefect server start` on loopback, `flows serve`, `prefect deployment run` until the run
completes; `flows deploy` registering every flow with a process work pool; prefect.yaml applied by `prefect deploy`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import httpx
import polars as pl
from fake_openai import FakeOpenAI
from reliability_helpers import REPO, ctrl_c_reaches_children, flows, flows_cmd, stats, stop

from flows.deploy import FLOW_OBJECTS

PREFECT_FLOW_NAMES = {
    "augment-gsm8k": "augment-gsm8k",
    "diversity-report": "diversity-report",
    "sft": "sft",
    "grpo": "grpo",
    "evaluate": "evaluate",
    "export": "export-dataset",
    "prm-labels": "prm-labels",
    "self-train": "self-train",
    "mine-failures": "mine-failures",
    "behaviours": "behaviours",
}


def prefect(server, *args: str, timeout: int = 300, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "prefect", *args],
        capture_output=True, text=True, timeout=timeout, env=server.env, cwd=cwd,
    )  # fmt: skip


def wait_for_deployment(server, name: str, proc: subprocess.Popen, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        assert proc.poll() is None, "flows serve ended early"
        try:
            return server.get(f"/deployments/name/{name}")
        except httpx.HTTPStatusError:
            assert time.monotonic() < deadline, f"{name} was not served within {timeout_s}s"
            time.sleep(0.5)


def test_served_deployment_runs_when_triggered_by_prefect_deployment_run(prefect_server, tmp_path):
    out = tmp_path / "served-run"
    log = (tmp_path / "serve.log").open("w")
    with FakeOpenAI() as llm:
        with ctrl_c_reaches_children():  # the stop below is a Ctrl-C
            serve = subprocess.Popen(
                flows_cmd(
                    "serve", "--flow", "augment-gsm8k", "--flow", "diversity-report",
                    "--cron", "augment-gsm8k=0 2 * * *",
                    "--param", "augment-gsm8k.backend=openai", "--param", "augment-gsm8k.model=fake",
                    "--param", f"augment-gsm8k.base_url={llm.url}", "--param", "augment-gsm8k.limit=2",
                ),
                stdout=log, stderr=subprocess.STDOUT, env=prefect_server.env, cwd=tmp_path, start_new_session=True,
            )  # fmt: skip
        try:
            deployment = wait_for_deployment(prefect_server, "augment-gsm8k/mathaug", serve)
            wait_for_deployment(prefect_server, "diversity-report/mathaug", serve)
            assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["0 2 * * *"]
            assert deployment["parameters"] == {"backend": "openai", "model": "fake", "base_url": llm.url, "limit": 2}

            params = {"out": str(out), "augmenters": ["ansaug", "fobar"], "report": False}
            params["filters"] = {"dedup_threshold": None, "decontaminate": None}
            run = prefect(
                prefect_server, "deployment", "run", "augment-gsm8k/mathaug",
                "--params", json.dumps(params), "--watch", "--watch-timeout", "240",
            )  # fmt: skip
        finally:
            stop(serve)
            log.close()
    served_log = (tmp_path / "serve.log").read_text()
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:] + served_log[-3000:]
    assert "Completed" in run.stdout

    [flow_run] = prefect_server.post("/flow_runs/filter", {"deployments": {"id": {"any_": [deployment["id"]]}}})
    assert flow_run["state"]["type"] == "COMPLETED"
    assert flow_run["parameters"]["limit"] == 2  # the deployment's default, merged with the trigger's
    artifacts = prefect_server.post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [flow_run["id"]]}}})
    assert {"augment-funnel", "augment-progress"} <= {a["key"] for a in artifacts}  # what the UI shows
    assert stats(out)["problems"] == 2
    assert pl.read_parquet(out / "samples.parquet").height > 0
    assert "Pausing all deployments" in served_log  # stopped cleanly: its schedules pause with it


def test_flows_deploy_registers_every_flow_with_a_process_work_pool(prefect_server, tmp_path):
    result = flows(
        prefect_server, "deploy", "--pool", "mathaug-test", "--name", "nightly", "--workdir", str(tmp_path),
        "--cron", "augment-gsm8k=30 1 * * *", "--param", "augment-gsm8k.limit=100",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "prefect worker start --pool mathaug-test" in result.stdout

    assert prefect_server.get("/work_pools/mathaug-test")["type"] == "process"
    for name in FLOW_OBJECTS:
        deployment = prefect_server.get(f"/deployments/name/{PREFECT_FLOW_NAMES[name]}/nightly")
        assert deployment["work_pool_name"] == "mathaug-test"
        assert deployment["job_variables"] == {"working_dir": str(tmp_path)}
        assert deployment["entrypoint"] == FLOW_OBJECTS[name].replace(":", ".")  # importable from any folder
    augment = prefect_server.get("/deployments/name/augment-gsm8k/nightly")
    assert augment["parameters"] == {"limit": 100}
    assert [s["schedule"]["cron"] for s in augment["schedules"]] == ["30 1 * * *"]


def test_prefect_yaml_deploys_every_flow(prefect_server, tmp_path):
    shutil.copy(REPO / "prefect.yaml", tmp_path / "prefect.yaml")
    created = prefect(prefect_server, "work-pool", "create", "mathaug", "--type", "process", cwd=tmp_path)
    assert created.returncode == 0, created.stdout + created.stderr
    deployed = prefect(prefect_server, "--no-prompt", "deploy", "--all", cwd=tmp_path)
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    for name in FLOW_OBJECTS:
        deployment = prefect_server.get(f"/deployments/name/{PREFECT_FLOW_NAMES[name]}/mathaug-pool")
        assert deployment["work_pool_name"] == "mathaug"
    nightly = prefect_server.get("/deployments/name/augment-gsm8k/mathaug-pool")
    assert [(s["schedule"]["cron"], s["active"]) for s in nightly["schedules"]] == [("0 2 * * *", False)]
