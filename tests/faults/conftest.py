"""Fixtures of the fault tests: a `FaultKit` (two raw misbehaving servers on loopback), stopped after
the test. The kit itself lives in `raw_server.py`, the fault matrix's data in `fault_cases.py`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.raw_server import FaultKit


@pytest.fixture
def kit() -> Iterator[FaultKit]:
    with FaultKit() as running:
        yield running
    assert running.errors == [], f"the kit itself failed: {running.errors!r}"
