"""`ImageRequests` in a real Ray Data pipeline (`Dataset.map_batches`): rows of requests in, rows of
results out, one coordinator (journal and pacer) for every actor of the pool."""

from __future__ import annotations

from pathlib import Path

import pytest
import ray

from ppio_txt2img.batch.ray import ImageRequests, coordinator
from ppio_txt2img.sandbox import Sandbox
from tests.ray.ray_helpers import API_KEY, SMALL, created_per_prompt

# Ray Data's own DataContext warns about its own deprecated field when it is built.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")


def test_map_batches_turns_request_rows_into_result_rows(cluster: None, tmp_path: Path) -> None:
    rows = [{"line": n, "prompt": f"data row {n}", **SMALL, "image_num": 1 + n % 2} for n in range(1, 9)]
    sandbox = Sandbox(speed=50.0, queue_delay=0.05, concurrency=32)
    with sandbox.serve() as url, coordinator(tmp_path, ipm=100) as name:
        kwargs = {"coordinator": name, "api_key": API_KEY, "base_url": url}
        first = ray.data.from_items(rows).map_batches(
            ImageRequests, fn_constructor_kwargs=kwargs, concurrency=2, batch_size=4
        )
        results = sorted(first.take_all(), key=lambda row: row["line"])
    assert [row["line"] for row in results] == list(range(1, 9))
    assert all(row["status"] == "done" and row["error"] is None for row in results)
    assert [len(row["images"]) for row in results] == [1 + n % 2 for n in range(1, 9)]
    assert all(image[:8] == b"\x89PNG\r\n\x1a\n" for row in results for image in row["images"])
    assert {row["task_id"] for row in results} == set(sandbox.tasks)
    assert all(count == 1 for count in created_per_prompt(sandbox).values())
    assert (tmp_path / "manifest.jsonl").read_text().count('"done"') == 8
