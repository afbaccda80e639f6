"""One real `prefect server start` on loopback for the whole reliability suite, and one uninterrupted reference run.

Every `flows` subprocess here talks to that server through PREFECT_API_URL, so none pays the ~20 s start of an
ephemeral server: that is what lets the suite afford a dozen real CLI runs, kills and resumes included.
"""

from __future__ import annotations

import polars as pl
import pytest
from fake_openai import FakeOpenAI, oracle
from reliability_helpers import REFERENCE_LIMIT, PrefectServer, augment_args, flows

from core.datasets import load_problems


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """A Prefect API server on a free loopback port, with its own PREFECT_HOME; always stopped at the end."""
    with PrefectServer(tmp_path_factory.mktemp("prefect-home")) as server:
        yield server


@pytest.fixture(scope="session")
def answer_for():
    """Right answers for the reference problems, so every type of sample can be kept."""
    return oracle(load_problems("sample", limit=REFERENCE_LIMIT).to_dicts())


@pytest.fixture(scope="session")
def reference_run(prefect_server, answer_for, tmp_path_factory):
    """An uninterrupted, fault-free run that killed, resumed, faulty and scaled-out runs must match."""
    out = tmp_path_factory.mktemp("reference") / "run"
    with FakeOpenAI(answer_for=answer_for) as server:
        result = flows(prefect_server, *augment_args(server.url, out))
        assert result.returncode == 0, result.stderr[-3000:]
    samples = pl.read_parquet(out / "samples.parquet")
    assert samples.filter("keep").height > 0  # a comparison of empty sets would prove nothing
    return out
