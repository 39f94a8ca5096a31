"""The facade end to end against the sandbox, over a real loopback socket: the whole SDK, offline."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import httpx
import pytest

import ppio_txt2img as ppio
from ppio_txt2img.sandbox import Sandbox
from tests.loopback import TLS

FAST: dict[str, Any] = {"speed": 20.0, "queue_delay": 0.05, "seed": 7}
# Back-offs shortened: these tests pin what is retried, not how long the client waits.
QUICK_RETRIES: dict[str, Any] = {"max_retries": 6, "sleep": lambda seconds: time.sleep(min(seconds, 0.05))}
SMALL: dict[str, Any] = {"width": 128, "height": 128, "steps": 4}


def run(
    sandbox: Sandbox, prompt: str = "a red fox", client_kwargs: Any = None, **options: Any
) -> ppio.Generation:
    with (
        sandbox.serve() as base_url,
        ppio.Client("test-key", base_url=base_url, **(client_kwargs or {})) as client,
    ):
        return client.txt2img(prompt, **{**SMALL, "timeout": 30, **options})


@pytest.mark.parametrize("image_type", ["png", "jpeg", "webp"])
def test_each_image_type_arrives_decoded_at_the_asked_size(image_type: str) -> None:
    sandbox = Sandbox(**FAST)
    generation = run(sandbox, image_num=2, width=192, height=128, response_image_type=image_type, seed=11)
    assert [img.index for img in generation.images] == [0, 1]
    for img in generation.images:
        assert img.format == image_type
        assert img.size == (192, 128)
        assert img.to_pil().size == (192, 128)
    assert generation.seed == 11
    assert sandbox.storage_requests_with_authorization == 0


def test_a_transparent_png_has_an_alpha_channel_with_transparent_pixels() -> None:
    generation = run(Sandbox(**FAST), enable_transparent_background=True)
    image = generation.images[0].to_pil()
    assert image.mode == "RGBA"
    alpha_min, _ = image.getchannel("A").getextrema()
    assert alpha_min == 0


def test_a_failed_task_raises_task_failed_error_with_the_reason() -> None:
    with pytest.raises(ppio.TaskFailedError) as caught:
        run(Sandbox(**FAST), prompt="please FAIL now")
    assert caught.value.task_id
    assert caught.value.reason
    assert caught.value.reason in str(caught.value)


def test_a_429_storm_on_every_endpoint_is_ridden_out_without_a_second_task() -> None:
    storm = {"txt2img": {429: 0.5}, "task_result": {429: 0.5}, "storage": {429: 0.5}}
    sandbox = Sandbox(**FAST, error_rates=storm, retry_after=0)
    generation = run(sandbox, client_kwargs={"max_retries": 8}, image_num=2)
    assert len(generation.images) == 2
    assert sandbox.stats["txt2img"].count(429) > 0 or sandbox.stats["task_result"].count(429) > 0
    assert len(sandbox.tasks) == 1  # 429s create nothing; the one task is the one we got


def test_5xx_on_polls_and_downloads_are_retried() -> None:
    faults = {"task_result": {500: 0.3, 503: 0.3}, "storage": {500: 0.3, 502: 0.2}}
    sandbox = Sandbox(**FAST, error_rates=faults, retry_after=0)
    generation = run(sandbox, client_kwargs=QUICK_RETRIES, image_num=3)
    assert len(generation.images) == 3
    served_errors = sum(
        sandbox.stats[e].count(s) for e in ("task_result", "storage") for s in (500, 502, 503)
    )
    assert served_errors > 0


def test_a_500_on_the_post_is_not_resent_and_says_the_outcome_is_unknown() -> None:
    sandbox = Sandbox(**FAST, error_rates={"txt2img": {500: 1.0}})
    with pytest.raises(ppio.ServerError) as caught:
        run(sandbox)
    assert caught.value.status_code == 500
    assert caught.value.outcome_unknown
    assert sandbox.stats["txt2img"].requests == 1


def test_dropped_connections_on_polls_and_downloads_are_retried() -> None:
    sandbox = Sandbox(**FAST, drop_rates={"task_result": 0.3, "storage": 0.3})
    generation = run(sandbox, client_kwargs=QUICK_RETRIES, image_num=2)
    assert len(generation.images) == 2
    assert sandbox.stats["task_result"].dropped + sandbox.stats["storage"].dropped > 0


def test_a_post_dropped_after_the_task_was_created_is_not_resent() -> None:
    sandbox = Sandbox(**FAST, drop_rates={"txt2img_after_create": 1.0})
    with pytest.raises(ppio.APIConnectionError) as caught:
        run(sandbox)
    assert caught.value.outcome_unknown
    assert "may have been created" in str(caught.value)
    assert sandbox.stats["txt2img"].requests == 1
    assert len(sandbox.tasks) == 1  # the server did create (and would bill) one task


def test_a_post_dropped_before_the_task_was_created_is_resent_safely() -> None:
    sandbox = Sandbox(**FAST, drop_rates={"txt2img": 0.5})
    generation = run(sandbox, client_kwargs={"max_retries": 8})
    assert len(generation.images) == 1
    assert len(sandbox.tasks) == 1


def test_a_truncated_image_raises_image_error_with_task_and_index() -> None:
    sandbox = Sandbox(**FAST, truncated_image_rate=1.0)
    with pytest.raises(ppio.ImageError) as caught:
        run(sandbox, client_kwargs={"sleep": QUICK_RETRIES["sleep"]}, image_num=2)
    assert caught.value.task_id in sandbox.tasks
    assert caught.value.index in (0, 1)


def test_an_expired_url_is_refreshed_through_the_task_result_before_downloading() -> None:
    sandbox = Sandbox(**FAST)
    calls = iter(range(1_000_000))

    def two_hours_pass_between_calls() -> datetime:  # so every URL has expired when it is used
        return datetime.now(UTC) + timedelta(hours=2 * next(calls))

    polls: list[str] = []
    generation = run(
        sandbox,
        client_kwargs={"now": two_hours_pass_between_calls},
        image_num=2,
        on_progress=lambda task: polls.append(task.status),
    )
    assert len(generation.images) == 2
    assert sandbox.stats["storage"].requests == 2  # no download of a stale URL
    assert sandbox.stats["task_result"].requests >= len(polls) + 2  # plus one refresh per image


def test_a_url_that_expires_in_flight_is_refreshed_once_then_reported() -> None:
    sandbox = Sandbox(**FAST, image_url_ttl=1, slow_seconds={"storage": 2.2})
    with pytest.raises(ppio.ImageError) as caught:
        run(sandbox)
    assert caught.value.status_code == 403
    assert "refresh" in str(caught.value)
    assert sandbox.stats["storage"].count(403) == 2  # the first URL, and the refreshed one


def test_unknown_statuses_are_not_terminal_and_reach_on_progress() -> None:
    # The sandbox's time stands still until the first poll has seen the unknown status, then jumps
    # past the task's end: the statuses seen do not depend on the machine's pace.
    now = [1000.0]
    sandbox = Sandbox(**FAST, unknown_status_seconds=1.0, clock=lambda: now[0])

    def finish_after_the_first_poll() -> None:
        deadline = time.monotonic() + 30
        while sandbox.stats["task_result"].count(200) < 1 and time.monotonic() < deadline:  # answered
            time.sleep(0.01)
        now[0] += 60

    seen: list[str] = []
    mover = threading.Thread(target=finish_after_the_first_poll, daemon=True)
    mover.start()
    generation = run(sandbox, on_progress=lambda task: seen.append(task.status))
    mover.join()
    assert generation.images
    assert seen[0] == "TASK_STATUS_WARMING_UP"
    assert seen[-1] == ppio.TaskStatus.SUCCEED


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_webhook_is_delivered_on_completion(webhook_receiver: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = webhook_receiver
    sandbox = Sandbox(**FAST)
    with sandbox.serve() as base_url, ppio.Client("k", base_url=base_url) as client:
        generation = client.txt2img("a fox", webhook_url=url, **SMALL)
        for _ in range(100):
            if received:
                break
            threading.Event().wait(0.05)
    assert received, sandbox.webhook_deliveries
    event = received[0]
    assert event["event_type"] == "ASYNC_TASK_RESULT"
    assert event["payload"]["task"]["task_id"] == generation.task_id
    assert event["payload"]["task"]["status"] == "TASK_STATUS_SUCCEED"
    task = ppio.parse_webhook(event)
    assert task is not None
    assert task.id == generation.task_id
    assert task.succeeded
    assert len(task.images) == len(generation.images)


def test_storage_never_sees_an_authorization_header_even_from_a_client_with_one() -> None:
    sandbox = Sandbox(**FAST)
    with sandbox.serve() as base_url:
        http = httpx.Client(headers={"Authorization": "Bearer user-default-header"}, verify=TLS)
        with http, ppio.Client("test-key", base_url=base_url, http_client=http) as client:
            generation = client.txt2img("a fox", image_num=2, **SMALL)
    assert len(generation.images) == 2
    assert sandbox.stats["storage"].requests == 2
    assert sandbox.storage_requests_with_authorization == 0


def test_a_wrong_key_is_an_authentication_error_and_a_missing_task_a_not_found_error() -> None:
    sandbox = Sandbox(**FAST, accepted_api_keys=frozenset({"right"}))
    with sandbox.serve() as base_url:
        with (
            ppio.Client("wrong", base_url=base_url) as client,
            pytest.raises(ppio.AuthenticationError) as auth,
        ):
            client.txt2img("a fox", **SMALL)
        with ppio.Client("right", base_url=base_url) as client, pytest.raises(ppio.NotFoundError) as missing:
            client.get_task("no-such-task")
    assert auth.value.status_code == 403
    assert auth.value.reason == "INVALID_API_KEY"
    assert missing.value.reason == "TASK_NOT_FOUND"
    assert missing.value.task_id == "no-such-task"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_async_client_gets_the_same_images_as_the_sync_client(backend: str) -> None:
    """Also over real sockets under trio: the async client's own httpx client on httpcore's trio backend."""
    sandbox = Sandbox(**FAST)
    options: dict[str, Any] = {**SMALL, "image_num": 2, "seed": 5, "response_image_type": "png"}
    with sandbox.serve() as base_url:
        with ppio.Client("k", base_url=base_url) as client:
            sync_generation = client.txt2img("a fox", **options)

        async def main() -> ppio.Generation:
            async with ppio.AsyncClient("k", base_url=base_url) as aclient:
                return await aclient.txt2img("a fox", **options)

        async_generation = anyio.run(main, backend=backend)
    assert [i.data for i in sync_generation.images] == [i.data for i in async_generation.images]
    assert sync_generation.seed == async_generation.seed == 5


def test_models_are_listed_over_every_page() -> None:
    with Sandbox(**FAST).serve() as base_url, ppio.Client("k", base_url=base_url) as client:
        every = list(client.models(page_size=2))
        checkpoints = list(client.models(types="checkpoint", page_size=3))
    assert len({m.id for m in every}) == len(every) > 4
    assert checkpoints
    assert all(m.type == "checkpoint" for m in checkpoints)
