"""An injected clock drives every timeline: tests move time instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from ppio_txt2img.sandbox import Sandbox
from tests.loopback import TLS
from tests.sandbox.sandbox_helpers import AUTH, FakeClock, Receiver, make_body, submit

#: Tasks that would take an hour of real time: only a moved clock can finish them.
SLOW: dict[str, Any] = {"speed": 1.0, "base_seconds": 3600.0, "queue_delay": 60.0, "image_url_ttl": 600}


def _status(client: httpx.Client, task_id: str) -> httpx.Response:
    return client.get("/v3/async/task-result", params={"task_id": task_id})


def test_a_task_finishes_when_the_fake_clock_moves_with_no_real_sleep() -> None:
    clock = FakeClock()
    sandbox = Sandbox(clock=clock, **SLOW)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        task_id = submit(client)
        queued = _status(client, task_id).json()
        clock.advance(61)
        processing = _status(client, task_id).json()
        clock.advance(3700)
        done = _status(client, task_id).json()
        (image, _) = done["images"]
        fresh = httpx.get(image["image_url"], verify=TLS)
        clock.advance(601)
        expired = httpx.get(image["image_url"], verify=TLS)
    assert queued["task"]["status"] == "TASK_STATUS_QUEUED"
    assert queued["task"]["eta"] > 3600
    assert processing["task"]["status"] == "TASK_STATUS_PROCESSING"
    assert done["task"]["status"] == "TASK_STATUS_SUCCEED"
    assert fresh.status_code == 200
    assert expired.status_code == 403
    assert b"Request has expired" in expired.content
    info = sandbox.tasks[task_id]
    assert info.finished_at is not None
    assert info.finished_at - info.created_at > 3600  # on the sandbox's clock, not the real one


def test_a_webhook_is_delivered_when_the_fake_clock_reaches_the_finish(
    receiver_factory: Callable[[Callable[[int], tuple[int, float]]], Receiver],
) -> None:
    clock = FakeClock()
    receiver = receiver_factory(lambda attempt: (200, 0.0))
    sandbox = Sandbox(clock=clock, **SLOW)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        submit(client, make_body(extra={"webhook": {"url": receiver.url}}))
        assert receiver.events == []
        clock.advance(3700)
        (event,) = receiver.wait_for(1)
    assert event["payload"]["task"]["status"] == "TASK_STATUS_SUCCEED"
