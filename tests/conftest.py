"""Shared fixtures. One Prefect test harness per session: its server takes up to ~25 s to start here."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Every Embedder the tests make (the filters' in flows and CLI subprocesses too) caches its vectors in a temporary
# folder, never in ~/.cache: set at import, before any test module copies os.environ for its subprocesses.
_EMBEDDING_CACHE = tempfile.mkdtemp(prefix="mathaug-test-embeddings-")
os.environ["MATHAUG_EMBEDDING_CACHE"] = _EMBEDDING_CACHE  # core.embeddings.CACHE_ENV


def pytest_unconfigure(config) -> None:
    shutil.rmtree(_EMBEDDING_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def prefect_harness():
    """Use in any test that runs a real Prefect flow in-process."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield
