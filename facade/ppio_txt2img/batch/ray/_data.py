"""Ray Data: `ImageRequests`, a callable class for `Dataset.map_batches`: rows of requests in, rows of
results out, every POST claimed and paced by one coordinator (`coordinator()`, in the driver).

    with coordinator("out", ipm=1000) as name:
        results = ds.map_batches(
            ImageRequests, fn_constructor_kwargs={"coordinator": name}, concurrency=4, batch_size=16
        ).materialize()

Input columns: `line` (a stable, unique integer id: it is what makes a retried batch never buy a row
twice), `prompt`, and any txt2img option (`width`, `image_num`, ...; None or absent: the default).
Output columns: `line`, `status` (done, failed, unknown), `task_id`, `seed`, `images` (a list of the
images' bytes), `formats` (their formats) and `error`. A row done by an earlier run comes back done
without its bytes (`images` empty): the journal says it was bought, not where you stored it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ppio_txt2img import _constants as C
from ppio_txt2img._client import AsyncClient, _api_key
from ppio_txt2img.batch._input import BatchRequest, to_request
from ppio_txt2img.batch._runner import Plan

from ._worker import LineWorker, Outcome

__all__ = ["ImageRequests", "coordinator"]


@contextlib.contextmanager
def coordinator(
    journal_dir: str | os.PathLike[str], *, ipm: int | None = None, window: float = 60.0
) -> Iterator[str]:
    """Start a batch's coordinator for Ray Data (Ray must be initialised): the journal in `journal_dir`
    on this node, one pacer for every `ImageRequests` actor. Yields its name; on exit the journal is
    committed, `journal_dir/manifest.jsonl` written, and the actor stopped."""
    import ray

    from ._driver import start_coordinator

    Path(journal_dir).mkdir(parents=True, exist_ok=True)
    name, actor = start_coordinator(Path(journal_dir), ipm=ipm, window=window)
    ray.get(actor.start.remote())
    try:
        yield name
    finally:
        ray.get(actor.finish.remote(None))
        ray.kill(actor, no_restart=True)


class ImageRequests:
    """The `map_batches` callable (see the module). `coordinator`: the name `coordinator()` yields;
    `api_key` (or `PPIO_API_KEY` where the actor runs), `base_url`, `client_options`: the client's;
    `defaults`: options for every row; `concurrency`: rows of a batch in flight at once."""

    def __init__(
        self,
        coordinator: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        client_options: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
        concurrency: int = 16,
    ) -> None:
        import ray

        self._coordinator: Any = ray.get_actor(coordinator)
        self._connection = (
            _api_key(api_key),
            base_url or os.environ.get(C.ENV_BASE_URL),
            dict(client_options or {}),
        )
        self.defaults = dict(defaults or {})
        self.concurrency = concurrency

    def __repr__(self) -> str:  # never the key
        return f"ImageRequests(concurrency={self.concurrency})"

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list[Any]]:
        columns = {name: list(values) for name, values in batch.items()}
        rows = len(columns.get("line", []))
        requests = [
            to_request(
                int(columns["line"][i]),
                {n: _plain(v[i]) for n, v in columns.items() if n != "line" and v[i] is not None},
                self.defaults,
            )
            for i in range(rows)
        ]
        outcomes = asyncio.run(self._run(requests))
        results = [outcome.result for outcome in outcomes]
        return {
            "line": [request.line for request in requests],
            "status": [r.status if r else "unknown" for r in results],
            "task_id": [r.task_id if r else None for r in results],
            "seed": [r.seed if r else None for r in results],
            "images": [[data for _, _, data in outcome.images] for outcome in outcomes],
            "formats": [[image_format for _, image_format, _ in outcome.images] for outcome in outcomes],
            "error": [r.error if r else None for r in results],
        }

    async def _run(self, requests: list[BatchRequest]) -> list[Outcome]:
        coordinator = self._coordinator
        plans: list[Plan] = await coordinator.plan.remote(
            requests, resubmit_unknown=False, retry_failed=False
        )
        api_key, base_url, options = self._connection
        slots = asyncio.Semaphore(self.concurrency)
        async with AsyncClient(api_key, base_url=base_url, **options) as client:
            worker = LineWorker(coordinator, client)

            async def one(request: BatchRequest, decision: Plan) -> Outcome:
                if decision.action == "none":
                    return Outcome(decision.result)
                async with slots:
                    outcome = await worker.process(request, decision)
                if outcome.record and outcome.result is not None:
                    await coordinator.ended.remote(outcome.result, request.digest, outcome.retry)
                return outcome

            return list(await asyncio.gather(*(one(r, p) for r, p in zip(requests, plans, strict=True))))


def _plain(value: Any) -> Any:
    """A column's value as plain Python (numpy scalars and arrays from Ray Data's batches)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return value
