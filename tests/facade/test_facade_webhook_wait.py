"""Webhooks as a wait mode, against the sandbox on loopback (which delivers real webhooks): a wait
sleeps until its task's webhook wakes it and confirms with one poll; a forged or early webhook costs
one poll and nothing else; with no webhook at all, the wait still ends by polling slowly."""

from __future__ import annotations

import json
import logging
import threading
import time

import anyio
import httpx
import pytest

import ppio_txt2img as ppio
from ppio_txt2img.sandbox import Sandbox
from ppio_txt2img.webhooks import WebhookReceiver
from tests.facade.facade_helpers import FakeClock, unheard_receiver_client

SMALL: ppio.RequestOptions = {"width": 128, "height": 128, "steps": 4}


def test_sync_wait_wakes_on_the_webhook_and_confirms_with_one_poll() -> None:
    sandbox = Sandbox(speed=10, queue_delay=0.1, seed=1)
    receiver = WebhookReceiver(fallback_poll=60)
    with (
        sandbox.serve() as url,
        receiver.serve() as hook_url,
        ppio.Client("k", base_url=url, webhooks=receiver) as client,
    ):
        assert receiver.url == hook_url
        generation = client.txt2img("a fox", **SMALL, timeout=30)
    assert generation.images[0].size == (128, 128)
    assert sandbox.stats["task_result"].requests == 1  # the confirming poll, nothing else
    assert (receiver.received, receiver.woken) == (1, 1)
    assert sandbox.tasks[generation.task_id].request["extra"]["webhook"]["url"] == hook_url
    assert receiver.url is None  # the server's URL went with the server


def test_async_waits_wake_on_their_own_webhooks() -> None:
    sandbox = Sandbox(speed=10, queue_delay=0.1, seed=2)
    receiver = WebhookReceiver(fallback_poll=60)

    async def main(url: str) -> list[ppio.Generation]:
        async with ppio.AsyncClient("k", base_url=url, webhooks=receiver) as client:
            results: list[ppio.Generation] = []

            async def one(prompt: str) -> None:
                results.append(await client.txt2img(prompt, **SMALL, timeout=30))

            async with anyio.create_task_group() as group:
                for prompt in ("a fox", "a cat", "a dog"):
                    group.start_soon(one, prompt)
            return results

    with sandbox.serve() as url, receiver.serve():
        generations = anyio.run(main, url)
    assert len(generations) == 3
    assert sandbox.stats["task_result"].requests == 3  # one confirming poll per task
    assert receiver.woken == 3


@pytest.mark.anyio
async def test_async_waits_wake_on_webhooks_served_on_their_own_event_loop() -> None:
    sandbox = Sandbox(speed=10, queue_delay=0.1, seed=2)
    receiver = WebhookReceiver(fallback_poll=60)
    results: list[ppio.Generation] = []
    with sandbox.serve() as url:
        async with (
            receiver.serve_async() as hook_url,
            ppio.AsyncClient("k", base_url=url, webhooks=receiver) as client,
        ):

            async def one(prompt: str) -> None:
                results.append(await client.txt2img(prompt, **SMALL, timeout=30))

            async with anyio.create_task_group() as group:
                for prompt in ("a fox", "a cat", "a dog"):
                    group.start_soon(one, prompt)
    assert len(results) == 3
    assert sandbox.stats["task_result"].requests == 3  # one confirming poll per task
    assert (receiver.received, receiver.woken) == (3, 3)
    assert {sandbox.tasks[g.task_id].request["extra"]["webhook"]["url"] for g in results} == {hook_url}


def test_a_forged_webhook_costs_one_poll_and_the_wait_goes_on() -> None:
    # The sandbox's time moves only when the test says (after the wait's first poll): the task is
    # still queued when the forged webhook is checked, however loaded the machine is.
    clock = FakeClock()
    sandbox = Sandbox(clock=clock, queue_delay=0.5, seed=3)
    receiver = WebhookReceiver(fallback_poll=60)

    def finish_after_the_first_poll() -> None:
        # After the first poll was answered, not merely received: the answer reads the clock.
        deadline = time.monotonic() + 30
        while sandbox.stats["task_result"].count(200) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        clock.advance(3600)

    with (
        sandbox.serve() as url,
        receiver.serve() as hook_url,
        ppio.Client("k", base_url=url, webhooks=receiver) as client,
    ):
        task = client.submit("a fox", **SMALL)
        forged = {
            "event_type": "ASYNC_TASK_RESULT",
            "payload": {"task": {"task_id": task.id, "status": "TASK_STATUS_SUCCEED"}},
        }
        # Early: the wait is not registered yet; the receiver keeps it for the wait that comes.
        assert httpx.post(hook_url, content=json.dumps(forged)).status_code == 200
        mover = threading.Thread(target=finish_after_the_first_poll, daemon=True)
        mover.start()
        generation = client.wait(task, timeout=30)
        mover.join()
    assert generation.task_id == task.id
    # The early, forged webhook is answered by the wait's first poll (the task still queued) and
    # wakes nobody again; the real one wakes the wait when the task is done.
    assert sandbox.stats["task_result"].requests == 2
    assert sandbox.tasks[task.id].status == "TASK_STATUS_SUCCEED"


def test_with_no_webhook_the_wait_still_ends_by_polling_slowly_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="ppio_txt2img.webhooks"),
        unheard_receiver_client(seed=4) as (sandbox, receiver, client),
    ):
        generation = client.txt2img("a fox", **SMALL, timeout=30)
        again = client.wait(generation.task_id)  # done before this wait began: no webhook to miss
    assert generation.images
    assert again.task_id == generation.task_id
    assert receiver.received == 0
    assert sandbox.stats["task_result"].requests >= 1
    assert receiver.wakeups.missing == 1
    [warning] = [r for r in caplog.records if r.name == "ppio_txt2img.webhooks"]
    assert generation.task_id in warning.getMessage()
    assert "http://127.0.0.1:9/never-called" in warning.getMessage()  # where the API was told to send


def test_a_task_submitted_elsewhere_is_no_missed_webhook(caplog: pytest.LogCaptureFixture) -> None:
    # Submitted by a client without the receiver (or with another webhook URL, as a batch resumed in a new
    # process): the API was never told to send its webhook here, so none is missed.
    sandbox = Sandbox(speed=10, queue_delay=0.1, seed=8)
    receiver = WebhookReceiver("http://127.0.0.1:9/never-called", fallback_poll=0.5)
    with (
        caplog.at_level(logging.DEBUG, logger="ppio_txt2img.webhooks"),
        sandbox.serve() as url,
        ppio.Client("k", base_url=url) as plain,
        ppio.Client("k", base_url=url, webhooks=receiver) as hooked,
    ):
        task = plain.submit("a fox", **SMALL)
        other = hooked.submit(
            "a cat", width=128, height=128, steps=4, webhook_url="http://127.0.0.1:9/elsewhere"
        )
        generations = [hooked.wait(task, timeout=30), hooked.wait(other, timeout=30)]
    assert [g.task_id for g in generations] == [task.id, other.id]
    assert receiver.wakeups.missing == 0
    assert not [r for r in caplog.records if r.name == "ppio_txt2img.webhooks"]


def test_a_task_submitted_elsewhere_is_polled_on_its_eta_not_every_fallback_poll() -> None:
    # Its webhook may go anywhere (a batch resumed in a new process, another service): a client with a
    # receiver waits for it as one without, its webhook only cutting a sleep short.
    sandbox = Sandbox(speed=10, queue_delay=0.1, seed=9)
    receiver = WebhookReceiver(fallback_poll=60)
    with (
        sandbox.serve() as url,
        receiver.serve(),
        ppio.Client("k", base_url=url) as plain,
        ppio.Client("k", base_url=url, webhooks=receiver) as hooked,
    ):
        task = plain.submit("a fox", **SMALL)
        started = time.monotonic()
        generation = hooked.wait(task, timeout=30)  # every 60 s, it would end in WaitTimeoutError
        took = time.monotonic() - started
    assert generation.task_id == task.id
    assert took < 15  # it takes under a second; polled every 60 s, the wait's last look came at 29.75 s
    assert 1 < sandbox.stats["task_result"].requests < 20  # on the eta's schedule


def test_waits_sleeping_for_a_webhook_when_the_receivers_server_ends_poll_on_their_tasks_schedule() -> None:
    # No webhook can come once the server has ended: the waits look at once, then poll as without a
    # receiver (not every 60 s; the deadline's last look would come at 29.75 s).
    sandbox = Sandbox(speed=1, queue_delay=0.1, seed=11)
    receiver = WebhookReceiver(fallback_poll=60)
    results: list[ppio.Generation] = []
    with sandbox.serve() as url, ppio.Client("k", base_url=url, webhooks=receiver) as client:
        with receiver.serve():
            waiting = threading.Thread(
                target=lambda: results.append(client.txt2img("a fox", **SMALL, timeout=30))
            )
            waiting.start()
            deadline = time.monotonic() + 10
            while not sandbox.tasks and time.monotonic() < deadline:
                time.sleep(0.01)  # submitted: the wait now sleeps for the webhook
            time.sleep(0.2)
        ended = time.monotonic()
        waiting.join(30)
        took = time.monotonic() - ended
    assert len(results) == 1
    assert took < 15
    assert not receiver.wakeups.listening
    assert receiver.received == 0  # no webhook reached the receiver: the polls found the task done


def test_a_wait_its_webhook_woke_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    sandbox = Sandbox(speed=10, queue_delay=0.1, seed=5)
    receiver = WebhookReceiver(fallback_poll=60)
    with (
        caplog.at_level(logging.WARNING, logger="ppio_txt2img.webhooks"),
        sandbox.serve() as url,
        receiver.serve(),
        ppio.Client("k", base_url=url, webhooks=receiver) as client,
    ):
        client.txt2img("a fox", **SMALL, timeout=30)
    assert (receiver.woken, receiver.wakeups.missing) == (1, 0)
    assert not [r for r in caplog.records if r.name == "ppio_txt2img.webhooks"]


@pytest.mark.parametrize(("method", "body", "status"), [("GET", b"", 405), ("POST", b"not json", 400)])
def test_the_receiver_answers_what_is_not_a_webhook_without_waking_anyone(
    method: str, body: bytes, status: int
) -> None:
    receiver = WebhookReceiver()
    assert receiver.handle(method, body) == status
    assert receiver.woken == 0


def test_the_receiver_is_an_asgi_app() -> None:
    receiver = WebhookReceiver("https://example.test/hook")
    waiter = receiver.wakeups.register("t1")
    event = {
        "event_type": "ASYNC_TASK_RESULT",
        "payload": {"task": {"task_id": "t1", "status": "TASK_STATUS_SUCCEED"}},
    }

    async def main() -> int:
        transport = httpx.ASGITransport(app=receiver)
        async with httpx.AsyncClient(transport=transport, base_url="https://example.test") as http:
            return (await http.post("/hook", json=event)).status_code

    assert anyio.run(main) == 200
    assert receiver.woken == 1
    waiter.sleep_sync(5)  # returns at once: it was notified
    receiver.wakeups.unregister("t1", waiter)


def test_a_client_with_a_receiver_that_has_no_url_refuses_before_sending() -> None:
    with (
        ppio.Client("k", base_url="https://api.test.invalid", webhooks=WebhookReceiver()) as client,
        pytest.raises(ppio.ValidationError, match="webhooks"),
    ):
        client.submit("a fox")
