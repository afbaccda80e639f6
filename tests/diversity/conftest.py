"""Fixtures of the diversity tests: a run folder, and an embedding cache shared by the session."""

from __future__ import annotations

from pathlib import Path

import pytest
from diversity_fixtures import write_run


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path / "run")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One embedding cache for tests that don't count embeddings, so the model runs once per text per session."""
    return tmp_path_factory.mktemp("embeddings")
