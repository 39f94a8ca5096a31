"""Batches: thousands of prompts at the account's rate limit, crash-safe, never paying twice.

    import ppio_txt2img as ppio
    from ppio_txt2img.batch import run_batch_sync

    summary = run_batch_sync(["a red fox", {"prompt": "a lighthouse", "width": 768}], "out", ipm=20)
    print(summary.done, summary.failed, summary.unknown)

    async with ppio.AsyncClient() as client:                  # or, in async code:
        summary = await run_batch(client, read_lines("prompts.jsonl"), "out", on_result=print)

Writes `out/images/<line>-<i>.<ext>`, `out/manifest.jsonl` and `out/journal.sqlite3`; running the
same batch again resumes it (see the README's "Batches").
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import anyio

from ppio_txt2img._client import AsyncClient

from ._input import BatchRequest, count_lines, parse_set, read_lines, to_request
from ._pacer import AdaptivePacer, Pacer, Ticket, WindowPacer
from ._runner import Batch, BatchBusyError, BatchProgress, BatchSummary, LineResult

__all__ = [
    "AdaptivePacer",
    "Batch",
    "BatchBusyError",
    "BatchProgress",
    "BatchRequest",
    "BatchSummary",
    "LineResult",
    "Pacer",
    "Ticket",
    "WindowPacer",
    "count_lines",
    "parse_set",
    "read_lines",
    "run_batch",
    "run_batch_sync",
    "to_request",
]

_Requests = Iterable[BatchRequest | str | Mapping[str, Any]]


async def run_batch(
    client: AsyncClient, requests: _Requests, out_dir: str | os.PathLike[str], **options: Any
) -> BatchSummary:
    """Run a batch with `client`; `options` are `Batch`'s (ipm, concurrency, on_result, ...)."""
    return await Batch(client, out_dir, **options).run(requests)


def run_batch_sync(
    requests: _Requests,
    out_dir: str | os.PathLike[str],
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    **options: Any,
) -> BatchSummary:
    """`run_batch` for scripts: makes its own `AsyncClient` (key from `PPIO_API_KEY`) and event loop."""

    async def main() -> BatchSummary:
        async with AsyncClient(api_key, base_url=base_url) as client:
            return await run_batch(client, requests, out_dir, **options)

    return anyio.run(main)
