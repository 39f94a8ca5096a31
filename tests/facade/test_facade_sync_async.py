"""Sync and async clients give the same results from the same script of responses, and `on_progress`
is called once per change of status, progress or eta."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

import ppio_txt2img as ppio
from tests.facade.facade_helpers import (
    IMAGE_HOST,
    JPEG,
    PNG,
    TASK_ID,
    WEBP,
    AsyncClientFactory,
    ClientFactory,
    FakeClock,
    ScriptedAPI,
    async_client_for,
    client_for,
    error_response,
    image_entry,
    task_payload,
)


def rich_script(api: ScriptedAPI) -> None:
    """Queued, a failed poll, progress with an eta, an unknown status, three images (one retried)."""
    urls = [f"{IMAGE_HOST}/{TASK_ID}/{i}?sig={i}" for i in range(3)]
    api.results = [
        task_payload("QUEUED"),
        error_response(503, "GET_RESULT_FAILED"),
        task_payload("PROCESSING", progress=30, eta=4),
        task_payload("PROCESSING", progress=60, eta=2),
        task_payload("TASK_STATUS_WARMING_UP"),
        task_payload(
            "SUCCEED",
            images=[
                image_entry(urls[0], image_type="png", nsfw={"valid": True, "confidence": 3.5}),
                image_entry(urls[1], image_type="jpeg", ttl=60, nsfw={}),
                image_entry(urls[2], image_type="webp", ttl="0"),
            ],
            extra={"seed": "123"},
        ),
    ]
    api.images = {urls[0]: [PNG], urls[1]: [httpx.Response(502, text="bad gateway"), JPEG], urls[2]: [WEBP]}


def run_sync(
    script: Callable[[ScriptedAPI], None],
) -> tuple[ppio.Generation, ScriptedAPI, FakeClock, list[Any]]:
    random.seed(1234)  # the retry and poll jitter
    clock = FakeClock()
    api = ScriptedAPI(clock)
    script(api)
    seen: list[Any] = []
    with client_for(api, clock) as client:
        generation = client.txt2img("a cat", image_num=3, on_progress=seen.append)
    return generation, api, clock, seen


def run_async(
    script: Callable[[ScriptedAPI], None], backend: str = "asyncio"
) -> tuple[ppio.Generation, ScriptedAPI, FakeClock, list[Any]]:
    random.seed(1234)
    clock = FakeClock()
    api = ScriptedAPI(clock)
    script(api)
    seen: list[Any] = []

    async def main() -> ppio.Generation:
        async with async_client_for(api, clock) as client:
            return await client.txt2img("a cat", image_num=3, on_progress=seen.append)

    return anyio.run(main, backend=backend), api, clock, seen


def test_sync_and_async_give_the_same_generation_from_the_same_script(anyio_backend: str) -> None:
    sync_gen, sync_api, sync_clock, sync_seen = run_sync(rich_script)
    async_gen, async_api, async_clock, async_seen = run_async(rich_script, anyio_backend)

    assert sync_gen == async_gen  # every field: task, seed, images (bytes, format, size, url, expiry, nsfw)
    assert [image.data for image in sync_gen.images] == [PNG, JPEG, WEBP]
    assert [image.nsfw for image in sync_gen.images] == [
        ppio.NsfwResult(True, 3.5),
        ppio.NsfwResult(None, None),
        None,
    ]
    assert sync_gen.seed == 123
    assert sync_seen == async_seen
    # Same requests: the API calls in the same order; image downloads run concurrently, so per URL.
    assert [(r.method, r.url, r.body) for r in sync_api.api_requests] == [
        (r.method, r.url, r.body) for r in async_api.api_requests
    ]
    assert sorted(r.url for r in sync_api.image_requests) == sorted(r.url for r in async_api.image_requests)
    assert len(sync_api.requests) == len(async_api.requests) == 1 + 6 + 4
    assert sync_clock.sleeps == async_clock.sleeps


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(
            lambda api: setattr(api, "results", [task_payload("FAILED", reason="boom")]), id="failed"
        ),
        pytest.param(lambda api: setattr(api, "results", [error_response(404, "TASK_NOT_FOUND")]), id="404"),
        pytest.param(lambda api: setattr(api, "submit_script", [httpx.ReadError("reset")]), id="post-drop"),
        pytest.param(lambda api: setattr(api, "images", {}), id="image-404"),
    ],
)
def test_sync_and_async_raise_the_same_error_from_the_same_script(
    script: Callable[[ScriptedAPI], None], anyio_backend: str
) -> None:
    errors = []
    for run in (run_sync, lambda script: run_async(script, anyio_backend)):
        with pytest.raises(ppio.PPIOError) as info:
            run(script)
        errors.append(info.value)

    sync_error, async_error = errors
    assert type(sync_error) is type(async_error)
    assert str(sync_error) == str(async_error)
    assert sync_error.task_id == async_error.task_id


PROGRESS_SCRIPT = [
    task_payload("QUEUED"),
    task_payload("QUEUED"),  # nothing changed: no call
    task_payload("PROCESSING", progress=10, eta=5),
    task_payload("PROCESSING", progress=10, eta=5),  # nothing changed: no call
    task_payload("PROCESSING", progress=50, eta=5),  # progress changed
    task_payload("PROCESSING", progress=50, eta=2),  # eta changed
    task_payload("SUCCEED", images=[image_entry(f"{IMAGE_HOST}/0.png")]),
]
EXPECTED_PROGRESS = [
    ("TASK_STATUS_QUEUED", 0, 0),
    ("TASK_STATUS_PROCESSING", 10, 5),
    ("TASK_STATUS_PROCESSING", 50, 5),
    ("TASK_STATUS_PROCESSING", 50, 2),
    ("TASK_STATUS_SUCCEED", 100, 0),  # the API sends 0 once done: 100, what that stands for
]


def test_on_progress_is_called_on_every_change_and_only_then(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    api.results = PROGRESS_SCRIPT
    api.images = {f"{IMAGE_HOST}/0.png": [PNG]}
    seen: list[ppio.Task] = []

    make_client().wait(TASK_ID, on_progress=seen.append)

    assert [(t.status, t.progress, t.eta) for t in seen] == EXPECTED_PROGRESS
    assert all(t.id == TASK_ID for t in seen)
    assert len(api.polls) == len(PROGRESS_SCRIPT)


def test_async_on_progress_may_be_a_coroutine_function(
    api: ScriptedAPI, make_async_client: AsyncClientFactory, anyio_backend: str
) -> None:
    api.results = PROGRESS_SCRIPT
    api.images = {f"{IMAGE_HOST}/0.png": [PNG]}
    seen: list[ppio.Task] = []

    async def on_progress(task: ppio.Task) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(task)

    async def main() -> None:
        async with make_async_client() as client:
            await client.txt2img("a cat", on_progress=on_progress)

    anyio.run(main, backend=anyio_backend)
    assert [(t.status, t.progress, t.eta) for t in seen] == EXPECTED_PROGRESS


def test_async_on_progress_may_be_a_plain_function(
    api: ScriptedAPI, make_async_client: AsyncClientFactory, anyio_backend: str
) -> None:
    api.results = PROGRESS_SCRIPT
    api.images = {f"{IMAGE_HOST}/0.png": [PNG]}
    seen: list[ppio.Task] = []

    async def main() -> None:
        async with make_async_client() as client:
            await client.wait(TASK_ID, on_progress=seen.append)

    anyio.run(main, backend=anyio_backend)
    assert [(t.status, t.progress, t.eta) for t in seen] == EXPECTED_PROGRESS


@pytest.mark.parametrize("on_progress", [5, "print"])
def test_an_on_progress_that_is_not_callable_is_refused_before_any_request(
    api: ScriptedAPI, make_client: ClientFactory, on_progress: object
) -> None:
    client = make_client()
    with pytest.raises(ppio.ValidationError, match="on_progress"):
        client.txt2img("a cat", on_progress=on_progress)  # type: ignore[arg-type]
    with pytest.raises(ppio.ValidationError, match="on_progress"):
        client.wait(TASK_ID, on_progress=on_progress)  # type: ignore[arg-type]
    assert api.requests == []


def test_on_progress_is_refused_by_submit(api: ScriptedAPI, make_client: ClientFactory) -> None:
    with pytest.raises(ppio.ValidationError, match="on_progress"):
        make_client().submit("a cat", on_progress=print)  # type: ignore[call-arg]
    assert api.requests == []


def test_async_submit_get_task_and_wait_work_like_sync(
    api: ScriptedAPI, make_async_client: AsyncClientFactory, anyio_backend: str
) -> None:
    api.finish_with(("0.png", PNG))

    async def main() -> tuple[ppio.SubmittedTask, ppio.Task, ppio.Generation]:
        async with make_async_client() as client:
            submitted = await client.submit("a cat")
            task = await client.get_task(submitted)
            generation = await client.wait(task)
            return submitted, task, generation

    submitted, task, generation = anyio.run(main, backend=anyio_backend)
    assert submitted.id == task.id == generation.task_id == TASK_ID
    assert task.status == "TASK_STATUS_QUEUED"
    assert generation.images[0].data == PNG
    assert [r.path for r in api.requests] == ["/v3/async/txt2img"] + ["/v3/async/task-result"] * 3 + [
        f"/{TASK_ID}/0.png"
    ]
