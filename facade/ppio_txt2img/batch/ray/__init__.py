"""Batches on a Ray cluster: the same output and journal as `ppio_txt2img.batch`, one rate limit for
the whole account, and exactly-once submission across worker failures. Needs the `ray` extra
(`pip install 'ppio-txt2img[ray]'`); importing `ppio_txt2img` or `ppio_txt2img.batch` never imports Ray.

    from ppio_txt2img.batch.ray import run_batch_ray

    summary = run_batch_ray(read_lines("prompts.jsonl"), "out", workers=4, ipm=1000)

    ds = ray.data.from_items([{"line": 1, "prompt": "a red fox"}, ...])       # or, in a Ray Data pipeline:
    with coordinator("out", ipm=1000) as name:
        results = ds.map_batches(
            ImageRequests, fn_constructor_kwargs={"coordinator": name}, concurrency=4, batch_size=16
        ).materialize()                # rows: line, status, task_id, seed, images (bytes), formats, error

See `docs/scale-out.md` for the design, its limits and measured figures.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from ppio_txt2img.batch._input import BatchRequest
from ppio_txt2img.batch._runner import BatchSummary

from ._data import ImageRequests, coordinator
from ._driver import RayBatch

__all__ = ["ImageRequests", "RayBatch", "coordinator", "run_batch_ray"]


def run_batch_ray(
    requests: Iterable[BatchRequest | str | Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    *,
    workers: int = 2,
    address: str | None = None,
    **options: Any,
) -> BatchSummary:
    """Run a batch on Ray (a local cluster unless `address` or an initialised Ray says otherwise);
    `options` are `RayBatch`'s (api_key, base_url, ipm, concurrency, on_result, ...)."""
    return RayBatch(out_dir, workers=workers, address=address, **options).run(requests)
