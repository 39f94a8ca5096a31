"""Fixtures of the batch tests (the helpers they share are in `batch_helpers.py`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ppio_txt2img.cli import main


@pytest.fixture
def ppio_batch() -> Callable[..., int]:
    """`ppio batch ...` in this process; its exit status."""

    def run(*argv: str) -> int:
        return main(["batch", *argv, "-q"])

    return run
