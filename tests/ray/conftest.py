"""A real local Ray cluster (2 CPUs) shared by the tests of this directory, started once.

These tests run in one process (`make test-ray`, which `make test` calls): under pytest-xdist each
worker would start a cluster of its own, so there they are skipped, saying where they run."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
import ray


@pytest.fixture(scope="session")
def cluster() -> Iterator[None]:
    """`ray.init` in this process, for the session."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.skip("tests/ray start a Ray cluster: they run on their own, in `make test-ray`")
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()
