"""Fixtures of the gallery tests: a batch output directory with images and a manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gallery.gallery_helpers import BatchOut, make_batch_out


@pytest.fixture
def batch_out(tmp_path: Path) -> BatchOut:
    return make_batch_out(tmp_path / "out")
