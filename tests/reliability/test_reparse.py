"""Raw replies are journaled, so a re-run with a changed parser rebuilds every sample without asking the model."""

from __future__ import annotations

import shutil
import subprocess
import sys

import polars as pl
from fake_openai import FakeOpenAI
from reliability_helpers import REFERENCE_AUGMENTERS, REFERENCE_LIMIT, REPO, augment_args, journal_pairs, stats

TOTAL_PAIRS = REFERENCE_LIMIT * len(REFERENCE_AUGMENTERS.split(","))
# the same CLI with a different final-answer parser: every solution now "answers" 999
PATCHED_PARSER = (
    "import sys, augmenters.base as base; base.extract_answer = lambda text: '999'; "
    "from flows.cli import main; sys.exit(main(sys.argv[1:]))"
)


def test_a_rerun_with_a_changed_parser_rebuilds_the_samples_from_stored_replies(
    prefect_server, reference_run, tmp_path
):
    out = tmp_path / "run"
    shutil.copytree(reference_run, out)
    reference = pl.read_parquet(reference_run / "samples.parquet")
    with FakeOpenAI() as server:  # answers nothing right: any reply it gave would show
        patched = subprocess.run(
            [sys.executable, "-c", PATCHED_PARSER, *augment_args(server.url, out)],
            capture_output=True, text=True, timeout=300, env=prefect_server.env, cwd=REPO,
        )  # fmt: skip
        assert patched.returncode == 0, patched.stderr[-3000:]
        assert server.requests == 0  # zero model calls
    assert stats(out)["pairs_rebuilt_from_replies"] == TOTAL_PAIRS
    assert stats(out)["requests_replayed"] > 0

    samples = pl.read_parquet(out / "samples.parquet")
    assert sorted(samples["id"]) == sorted(reference["id"])  # the same replies ...
    solved = samples.filter(pl.col("type").is_in(["GSM_AnsAug", "GSM_FOBAR"]))
    assert solved.height > 0 and set(solved["answer"]) == {"999"}  # ... read by the new parser
    assert solved.filter("keep").height == 0 and set(solved["reason"]) == {"wrong_answer"}
    assert reference.filter(pl.col("type").is_in(["GSM_AnsAug", "GSM_FOBAR"]) & pl.col("keep")).height > 0
    assert len(journal_pairs(out)) == TOTAL_PAIRS  # nothing journaled twice
