"""The diversity-report flow on a real Prefect server, through the real `flows` command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import flows.cli as cli

REGISTRATION = "flows.diversity_report:COMMAND"


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(cli.FLOWS, "diversity-report", REGISTRATION)


def test_cli_runs_the_flow_and_publishes_a_link_and_a_table(prefect_harness, registered, run_dir, shared_cache, capsys):
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    code = cli.main(["run", "diversity-report", "--run", str(run_dir), "--cache-dir", str(shared_cache),
                     "--select-budget", "5"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "diversity gain: GSM_AnsAug" in out and str(run_dir / "report.html") in out
    report = json.loads((run_dir / "diversity.json").read_text())
    assert report["selection"]["selected_count"] == 5 and (run_dir / "selected.jsonl").exists()

    with get_client(sync_client=True) as client:
        link = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["diversity-report"])))
        table = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["diversity-gain"])))
    assert len(link) == 1 and len(table) == 1
    # a link artifact is stored as markdown: [text](file:///.../report.html)
    assert link[0].data == f"[diversity report (report.html)]({(run_dir / 'report.html').resolve().as_uri()})"
    rows = json.loads(table[0].data) if isinstance(table[0].data, str) else table[0].data
    by_type = {row["type"]: row for row in rows}
    assert by_type["GSM_Muggle"]["kept"] == 8
    assert by_type["GSM_Muggle"]["gain"] == pytest.approx(report["types"]["GSM_Muggle"]["gain"], abs=1e-4)
    assert "selected subset (5)" in by_type and "random subset (5)" in by_type


def _flows_subprocess(*args: str) -> subprocess.CompletedProcess:
    """The real `flows` entry point in a fresh interpreter, with this flow registered as the lead will."""
    script = (
        "import sys, flows.cli as cli; "
        f"cli.FLOWS.setdefault('diversity-report', {REGISTRATION!r}); sys.exit(cli.main(sys.argv[1:]))"
    )
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120)


def test_missing_run_folder_is_one_sentence_without_traceback(tmp_path):
    done = _flows_subprocess("run", "diversity-report", "--run", str(tmp_path / "nope"))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"flows run diversity-report: --run: the folder {str(tmp_path / 'nope')!r} does not exist; "
        "see `flows run diversity-report --help`."
    )
    assert "Traceback" not in done.stderr


def test_folder_without_samples_and_bad_budget_are_user_errors(tmp_path, registered, capsys, run_dir):
    assert cli.main(["run", "diversity-report", "--run", str(tmp_path)]) == 2
    assert "has no samples.parquet" in capsys.readouterr().err
    assert cli.main(["run", "diversity-report", "--run", str(run_dir), "--select-budget", "0"]) == 2
    assert "--select-budget must be at least 1" in capsys.readouterr().err
