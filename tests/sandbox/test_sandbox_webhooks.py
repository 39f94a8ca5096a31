"""Webhooks: the ASYNC_TASK_RESULT event on completion, retries, test mode, and recorded deliveries."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from ppio_txt2img.sandbox import Sandbox, WebhookDelivery
from tests.loopback import TLS
from tests.sandbox.sandbox_helpers import (
    AUTH,
    FakeClock,
    Receiver,
    assert_conforms,
    make_body,
    poll_until_done,
    submit,
)

ReceiverFactory = Callable[[Callable[[int], tuple[int, float]]], Receiver]


def _deliveries(sandbox: Sandbox, count: int, timeout: float = 5.0) -> list[WebhookDelivery]:
    """The recorded attempts, once there are `count` (an attempt is recorded after its answer)."""
    deadline = time.monotonic() + timeout
    while len(sandbox.webhook_deliveries) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return sandbox.webhook_deliveries


def test_webhook_is_delivered_on_completion_with_the_task_result_payload(
    receiver_factory: ReceiverFactory,
) -> None:
    receiver = receiver_factory(lambda attempt: (200, 0.0))
    sandbox = Sandbox(speed=20, queue_delay=0.0)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        task_id = submit(client, make_body(extra={"webhook": {"url": receiver.url}}))
        (event,) = receiver.wait_for(1)
        polled = poll_until_done(client, task_id)[-1]
        image = httpx.get(event["payload"]["images"][0]["image_url"], verify=TLS)
    assert_conforms("WebhookEvent", event)
    assert event["event_type"] == "ASYNC_TASK_RESULT"
    payload = event["payload"]
    assert payload["task"]["task_id"] == task_id
    assert payload["task"]["status"] == "TASK_STATUS_SUCCEED"
    assert payload["extra"]["webhook"] == {"url": receiver.url}  # echoed, as the docs show
    assert len(payload["images"]) == 2
    assert image.status_code == 200
    assert payload["task"] == polled["task"]
    (delivery,) = _deliveries(sandbox, 1)
    assert delivery.ok
    assert delivery.attempt == 1
    assert delivery.status_code == 200
    assert delivery.url == receiver.url
    assert delivery.task_id == task_id
    assert delivery.payload == event
    finished = sandbox.finished_at(task_id)
    assert finished is not None
    assert delivery.sent_at >= finished


def test_webhook_is_retried_after_non_2xx_answers(receiver_factory: ReceiverFactory) -> None:
    receiver = receiver_factory(lambda attempt: (500 if attempt <= 2 else 204, 0.0))
    sandbox = Sandbox(speed=50, queue_delay=0.0)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        submit(client, make_body(extra={"webhook": {"url": receiver.url}}))
        events = receiver.wait_for(3)
        deliveries = _deliveries(sandbox, 3)
    assert [e["payload"]["task"]["task_id"] for e in events] == [events[0]["payload"]["task"]["task_id"]] * 3
    assert [(d.attempt, d.status_code) for d in deliveries] == [(1, 500), (2, 500), (3, 204)]
    assert deliveries[1].sent_at - deliveries[0].sent_at >= 0.09  # a short backoff between attempts


def test_webhook_is_retried_after_a_timeout(receiver_factory: ReceiverFactory) -> None:
    receiver = receiver_factory(lambda attempt: (200, 0.6 if attempt == 1 else 0.0))
    sandbox = Sandbox(speed=50, queue_delay=0.0, webhook_timeout=0.2)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        submit(client, make_body(extra={"webhook": {"url": receiver.url}}))
        receiver.wait_for(2)
        deliveries = _deliveries(sandbox, 2)
    assert deliveries[0].status_code is None
    assert deliveries[0].error is not None
    assert "Timeout" in deliveries[0].error
    assert deliveries[1].ok
    assert deliveries[1].attempt == 2


def test_webhook_gives_up_after_the_configured_retries(receiver_factory: ReceiverFactory) -> None:
    receiver = receiver_factory(lambda attempt: (503, 0.0))
    sandbox = Sandbox(speed=50, queue_delay=0.0, webhook_retries=2)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        submit(client, make_body(extra={"webhook": {"url": receiver.url}}))
        receiver.wait_for(3)
        time.sleep(0.6)  # longer than the next backoff (0.4 s): no fourth attempt comes
    assert len(receiver.events) == 3
    assert [d.attempt for d in sandbox.webhook_deliveries] == [1, 2, 3]


def test_webhook_test_mode_sends_the_requested_status_at_once(receiver_factory: ReceiverFactory) -> None:
    receiver = receiver_factory(lambda attempt: (200, 0.0))
    sandbox = Sandbox(clock=FakeClock())  # time stands still: the real task never even starts
    test_mode = {"enabled": True, "return_task_status": "TASK_STATUS_FAILED"}
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        task_id = submit(client, make_body(extra={"webhook": {"url": receiver.url, "test_mode": test_mode}}))
        (event,) = receiver.wait_for(1, timeout=3.0)
        assert sandbox.tasks[task_id].status == "TASK_STATUS_QUEUED"
    assert_conforms("WebhookEvent", event)
    task = event["payload"]["task"]
    assert task["task_id"] == task_id
    assert task["status"] == "TASK_STATUS_FAILED"
    assert task["reason"]
    assert event["payload"]["extra"]["webhook"]["test_mode"] == test_mode


def test_webhook_test_mode_success_points_at_a_downloadable_test_image(
    receiver_factory: ReceiverFactory,
) -> None:
    receiver = receiver_factory(lambda attempt: (200, 0.0))
    sandbox = Sandbox(clock=FakeClock())
    test_mode = {"enabled": True, "return_task_status": "TASK_STATUS_SUCCEED"}
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        submit(client, make_body(extra={"webhook": {"url": receiver.url, "test_mode": test_mode}}))
        (event,) = receiver.wait_for(1, timeout=3.0)
        (image,) = event["payload"]["images"]
        download = httpx.get(image["image_url"], verify=TLS)
    assert event["payload"]["task"]["status"] == "TASK_STATUS_SUCCEED"
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/jpeg"


def test_closing_the_sandbox_drops_pending_webhooks(receiver_factory: ReceiverFactory) -> None:
    receiver = receiver_factory(lambda attempt: (200, 0.0))
    sandbox = Sandbox(clock=FakeClock())
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        submit(client, make_body(extra={"webhook": {"url": receiver.url}}))
    assert sandbox.webhook_deliveries == []
    assert receiver.events == []
