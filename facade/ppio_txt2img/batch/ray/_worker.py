"""A Ray batch's workers: each line submitted (claimed and paced by the coordinator), waited for and
downloaded; the images go back to the driver, which saves them. No Ray import: the driver makes
`Worker` an actor, and `ImageRequests` (the `map_batches` callable) runs `LineWorker` in its own.

The coordinator is reached through an actor handle (`coordinator.begin.remote(...)`, awaited): the
worker never touches the journal or the pacer itself.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, replace
from typing import Any

from ppio_txt2img._client import AsyncClient
from ppio_txt2img._errors import APIError, ValidationError, WaitTimeoutError
from ppio_txt2img.batch._input import BatchRequest
from ppio_txt2img.batch._runner import (
    ImageData,
    LineResult,
    Plan,
    PostFailure,
    WaitFailure,
    _failed,
    post_line,
    wait_for_task,
)

__all__ = ["LineWorker", "Outcome", "Worker"]

#: The longest a worker sleeps before asking the coordinator for a ticket again.
MAX_NAP = 2.0


@dataclass(frozen=True)
class Outcome:
    """How a line ended at a worker. `result` None: not started (the batch is stopping). A done line
    carries its `images` for the driver to save; `record` says whether the driver must journal the
    result (False when the coordinator already has: a POST's failure, a line ended by an earlier
    attempt); `retry` is a failed wait's (see `WaitFailure`)."""

    result: LineResult | None
    images: tuple[ImageData, ...] = ()
    record: bool = False
    retry: str | None = None
    #: The process id of the worker that ended the line.
    worker: int = 0


class LineWorker:
    """Runs lines with `client`, claiming each POST from `coordinator` (an actor handle)."""

    def __init__(self, coordinator: Any, client: AsyncClient) -> None:
        self.coordinator = coordinator
        self.client = client
        # POSTs go out unretried, so that every 429 reaches the account's pacer (as on one machine).
        self._submit_client = client.with_options(max_retries=0)
        # One line of this worker at a time asks for a ticket: the others queue here, not at the actor.
        self._gate = asyncio.Lock()

    async def process(self, request: BatchRequest, decision: Plan) -> Outcome:
        task_id = decision.task_id
        if decision.action == "submit":
            submitted = await self._submit(request)
            if isinstance(submitted, Outcome):
                return submitted
            task_id = submitted
        assert task_id is not None
        generation = await wait_for_task(self.client, request, task_id)
        if isinstance(generation, WaitFailure):
            return Outcome(generation.result, record=True, retry=generation.retry)
        images = tuple((image.index, image.format, image.data) for image in generation.images)
        result = LineResult(request.line, "done", request.prompt, task_id, generation.seed)
        return Outcome(result, images, record=True)

    async def _claim(self, request: BatchRequest) -> Any:
        async with self._gate:
            while True:
                begin = await self.coordinator.begin.remote(request)
                if begin.action != "later":
                    return begin
                await asyncio.sleep(min(begin.delay, MAX_NAP))

    async def _submit(self, request: BatchRequest) -> str | Outcome:
        """The line's task id, or how it ended without one."""
        assert request.prompt is not None
        while True:
            begin = await self._claim(request)
            if begin.action == "wait":
                return str(begin.task_id)
            if begin.action != "post":
                return Outcome(begin.result)  # ended by an earlier attempt, or stopping (None)
            try:
                task_id = await post_line(self._submit_client, request)
            except (APIError, ValidationError, WaitTimeoutError) as exc:
                failure = PostFailure.of(exc)
                await self.coordinator.post_failed.remote(request, failure)
                if failure.outcome == "abort":
                    raise
                if failure.outcome == "unknown":
                    return Outcome(LineResult(request.line, "unknown", request.prompt, error=failure.error))
                if failure.outcome == "failed":
                    return Outcome(_failed(request, failure.error))
                continue  # not sent (a 429, a refused connection): claimed again once the pacer allows
            await self.coordinator.posted.remote(request.line, task_id)
            return task_id


class Worker:
    """The Ray actor: a `LineWorker` with its own `AsyncClient`, made on first use in the actor's event
    loop. The API key arrives in the constructor (never in an environment variable or a log)."""

    def __init__(
        self, coordinator: str, api_key: str | None, base_url: str | None, options: dict[str, Any]
    ) -> None:
        self._coordinator = coordinator  # the coordinator actor's name (a handle would live in the
        # object store, and a restarted worker could not get it back once it went out of scope)
        self._connection = (api_key, base_url, options)
        self._worker: LineWorker | None = None

    def __repr__(self) -> str:
        return f"Worker(pid={os.getpid()})"

    def pid(self) -> int:
        return os.getpid()

    async def close(self) -> None:
        """Close the client's connections (before the actor is killed at the end of a run)."""
        if self._worker is not None:
            await self._worker.client.aclose()

    async def process(self, request: BatchRequest, decision: Plan) -> Outcome:
        if self._worker is None:
            import ray  # (this runs in a Ray actor)

            coordinator = ray.get_actor(self._coordinator)
            api_key, base_url, options = self._connection
            self._worker = LineWorker(coordinator, AsyncClient(api_key, base_url=base_url, **options))
        return replace(await self._worker.process(request, decision), worker=os.getpid())
