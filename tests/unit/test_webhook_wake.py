"""A webhook wakes its wait with no delay: the wait flow's very next action after the wake is the one
confirming poll (no sleep, no backoff in between), and a waiter notified from another thread ends an
async sleep at once without that thread waiting for the event loop. Driven step by step on a fake clock;
nothing is timed."""

from __future__ import annotations

import json
import logging
import threading

import anyio
import anyio.lowlevel
import httpx
import pytest

from ppio_txt2img._call import Deadline, Settings, Tracker
from ppio_txt2img._constants import POLL_FIRST_AFTER_SUBMIT
from ppio_txt2img._io import Reply, Send, Sleep
from ppio_txt2img._results import TaskStatus
from ppio_txt2img._submissions import Submitted
from ppio_txt2img._tasks import wait_flow
from ppio_txt2img._wakeups import Waiter, Wakeups
from tests.unit.flow_settings import flow_settings

FALLBACK = 15.0
#: The receiver's URL, which the tasks' webhooks were sent to.
HOOK = "http://hooks.test/ppio-webhook"


def _reply(status: str) -> Reply:
    images = [{"image_url": "https://images.test/0.png"}] if status == TaskStatus.SUCCEED else []
    body = {"task": {"task_id": "t1", "status": status}, "images": images}
    return Reply(200, httpx.Headers(), json.dumps(body).encode())


def _settings(wakeups: Wakeups, clock: list[float]) -> Settings:
    return flow_settings(wakeups=wakeups, clock=lambda: clock[0], rng=lambda: 0.5)


def test_a_webhook_wakes_the_wait_straight_into_its_confirming_poll() -> None:
    clock = [0.0]
    wakeups = Wakeups(FALLBACK)
    settings = _settings(wakeups, clock)
    flow = wait_flow(
        settings, Deadline(settings.clock, 300), Tracker(), "t1", submitted=Submitted(0.0, "s", HOOK)
    )

    first = next(flow)
    assert isinstance(first, Sleep)
    assert first.seconds == FALLBACK
    assert first.waiter is not None
    clock[0] += 5.0  # the task finishes while the wait sleeps; its webhook arrives
    assert wakeups.notify("t1") == 1
    poll = flow.send(None)  # the driver ends the sleep at the wake-up, whatever is left of it
    assert isinstance(poll, Send)
    assert poll.method == "GET"
    assert "task_id=t1" in poll.url
    with pytest.raises(StopIteration) as done:  # the wait ends with the poll's answer
        flow.send(_reply(TaskStatus.SUCCEED))
    assert done.value.value.status == TaskStatus.SUCCEED


def test_a_webhook_that_comes_during_a_poll_is_kept_for_the_next_sleep() -> None:
    clock = [0.0]
    wakeups = Wakeups(FALLBACK)
    settings = _settings(wakeups, clock)
    flow = wait_flow(
        settings, Deadline(settings.clock, 300), Tracker(), "t1", submitted=Submitted(0.0, "s", HOOK)
    )
    sleep = next(flow)
    assert isinstance(sleep, Sleep)
    assert sleep.waiter is not None
    waiter = sleep.waiter
    flow.send(None)  # the fallback poll is sent ...
    wakeups.notify("t1")  # ... and the webhook arrives before its (still running) answer
    again = flow.send(_reply(TaskStatus.PROCESSING))
    assert isinstance(again, Sleep)
    assert again.waiter is waiter
    waiter.sleep_sync(3600)  # returns at once: the notification was kept


def test_a_sync_sleep_ends_when_another_thread_notifies_and_says_it_was_woken() -> None:
    waiter = Waiter()
    woken: list[bool] = []
    sleeper = threading.Thread(target=lambda: woken.append(waiter.sleep_sync(3600)))
    sleeper.start()
    for _ in range(60_000):  # until the sleep has begun (bounded: a sleep never begun fails below)
        if waiter._wake is not None:
            break
        threading.Event().wait(0.001)
    waiter.notify()
    sleeper.join(60)  # a failure, not a timing: the wake-up never came
    assert woken == [True]
    assert not waiter.notified  # the sleep took the notification
    assert waiter.sleep_sync(0) is False


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_an_async_sleep_ends_when_another_thread_notifies_and_that_thread_does_not_wait(backend: str) -> None:
    waiter = Waiter()
    notified = threading.Event()

    def webhook_thread() -> None:
        waiter.notify()  # does not block on the event loop, which is busy sleeping
        notified.set()

    thread = threading.Thread(target=webhook_thread)

    async def main() -> None:
        with anyio.fail_after(60):  # a failure, not a timing: the wake-up never came
            async with anyio.create_task_group() as group:
                group.start_soon(waiter.sleep_async, 3600)
                await anyio.lowlevel.checkpoint()  # the sleep has begun
                thread.start()

    anyio.run(main, backend=backend)
    thread.join(60)
    assert notified.is_set()


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_an_async_sleep_ends_when_its_own_event_loop_notifies_and_says_it_was_woken(backend: str) -> None:
    waiter = Waiter()
    woken: list[bool] = []

    async def sleeper() -> None:
        woken.append(await waiter.sleep_async(3600))

    async def main() -> None:
        with anyio.fail_after(60):  # a failure, not a timing: the wake-up never came
            async with anyio.create_task_group() as group:
                group.start_soon(sleeper)
                await anyio.lowlevel.checkpoint()  # the sleep has begun
                waiter.notify()  # a webhook handled on the same loop (`serve_async`)

    anyio.run(main, backend=backend)
    assert woken == [True]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_an_async_sleep_that_runs_out_says_it_was_not_woken_and_a_later_notify_is_kept(backend: str) -> None:
    waiter = Waiter()

    async def main() -> list[bool]:
        results = [await waiter.sleep_async(0.01)]  # nobody notifies: it runs out
        waiter.notify()  # between sleeps: kept for the next one, which returns at once
        with anyio.fail_after(60):
            results.append(await waiter.sleep_async(3600))
        return results

    assert anyio.run(main, backend=backend) == [False, True]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_notify_after_a_cancelled_sleep_reaches_no_ended_loop(backend: str) -> None:
    waiter = Waiter()

    async def main() -> None:
        with anyio.move_on_after(0.01):
            await waiter.sleep_async(3600)

    anyio.run(main, backend=backend)
    waiter.notify()  # the loop the sleep was in has ended: nothing is scheduled there, nothing raises
    assert waiter.sleep_sync(0)  # and the notification is kept


def test_tasks_found_done_with_no_webhook_are_counted_and_logged_sparingly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wakeups = Wakeups(FALLBACK)
    with caplog.at_level(logging.DEBUG, logger="ppio_txt2img.webhooks"):
        for i in range(1, 251):
            wakeups.missed(f"t{i}", "https://hooks.example/ppio")
    assert wakeups.missing == 250
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3  # the 1st, the 10th and the 100th
    assert all("https://hooks.example/ppio" in m for m in warnings)
    assert ["t1 " in warnings[0], "t10 " in warnings[1], "t100 " in warnings[2]] == [True, True, True]
    assert "(100 such tasks so far)" in warnings[2]


def test_once_a_webhook_has_come_a_task_found_done_first_is_no_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A poll can land between a task's finish and its webhook: with webhooks arriving, that is a race,
    # not a receiver the API cannot reach.
    wakeups = Wakeups(FALLBACK)
    wakeups.notify("t0")
    with caplog.at_level(logging.DEBUG, logger="ppio_txt2img.webhooks"):
        wakeups.missed("t1", "https://hooks.example/ppio")
    assert wakeups.missing == 1
    assert [r.levelno for r in caplog.records if r.name == "ppio_txt2img.webhooks"] == [logging.DEBUG]


def test_a_task_whose_webhook_went_elsewhere_is_polled_for_not_slept_on() -> None:
    """Submitted with another webhook URL (or none): no webhook can wake this wait, so it keeps the
    schedule of a client without a receiver, not the receiver's slow fallback."""
    clock = [0.0]
    wakeups = Wakeups(FALLBACK)
    settings = _settings(wakeups, clock)
    elsewhere = Submitted(0.0, "s", webhook_url=None)
    flow = wait_flow(settings, Deadline(settings.clock, 300), Tracker(), "t1", submitted=elsewhere)
    first = next(flow)
    assert isinstance(first, Sleep)
    assert first.waiter is None
    assert first.seconds == pytest.approx(POLL_FIRST_AFTER_SUBMIT)
    assert wakeups.notify("t1") == 0  # nobody waits for its webhook here


def test_a_receiver_listens_until_its_last_server_ends_which_wakes_the_waits() -> None:
    wakeups = Wakeups(60)
    listening = [wakeups.listening]  # mounted in an app it cannot see: taken to listen
    waiter = wakeups.register("t1")
    with wakeups.serving():
        with wakeups.serving():
            pass
        listening.append(wakeups.listening)
        assert not waiter.sleep_sync(0)  # one server still runs: nobody woken
    listening.append(wakeups.listening)
    assert listening == [True, True, False]
    assert waiter.sleep_sync(0)  # woken: it looks at its task now, then polls on its own schedule


def _flood(wakeups: Wakeups) -> None:
    """Webhooks for ids no client of the receiver created, enough to fill its memory of unknown ids: forged,
    or late duplicates of tasks long done (webhooks are unsigned)."""
    for i in range(Wakeups.REMEMBERED + 1):
        wakeups.notify(f"forged-{i}")


def test_an_early_webhook_of_an_expected_task_outlasts_a_flood_of_forged_ones() -> None:
    wakeups = Wakeups(FALLBACK)
    wakeups.expect("t1")  # created, told to send its webhook here; no wait yet (submit(), then wait())
    assert wakeups.notify("t1") == 0  # its webhook, before the wait
    _flood(wakeups)
    assert wakeups.register("t1").notified  # the wait is woken at once: no sleep until the fallback poll


def test_a_webhook_that_beats_its_posts_answer_is_kept_once_the_task_is_expected() -> None:
    wakeups = Wakeups(FALLBACK)
    assert wakeups.notify("t1") == 0  # before the POST's answer: the id is not known yet
    wakeups.expect("t1")  # the answer names it: from now on no flood pushes it out
    _flood(wakeups)
    assert wakeups.register("t1").notified


def test_an_unknown_ids_webhook_is_remembered_first_in_first_out_and_a_flood_pushes_it_out() -> None:
    """What the expected tasks are protected from: a webhook for an id nobody said to expect (another
    client's, a wait begun by id alone) is kept only among the newest `REMEMBERED`."""
    wakeups = Wakeups(FALLBACK)
    wakeups.notify("t1")
    assert wakeups.register("t2").notified is False  # no webhook for another task wakes a wait
    wakeups.notify("t3")
    _flood(wakeups)
    assert wakeups.register("t3").notified is False


def test_an_expected_task_whose_webhook_has_not_come_is_not_woken_and_is_forgotten_once_waited() -> None:
    wakeups = Wakeups(FALLBACK)
    wakeups.expect("t1")
    waiter = wakeups.register("t1")
    assert waiter.notified is False
    wakeups.unregister("t1", waiter)
    assert wakeups.notify("t1") == 0  # a late duplicate: among unknown ids now, not among the expected
    assert "t1" not in wakeups._expected


def test_the_tasks_expected_are_bounded_the_oldest_forgotten_first() -> None:
    wakeups = Wakeups(FALLBACK)
    for i in range(Wakeups.EXPECTED + 1):
        wakeups.expect(f"t{i}")
    assert len(wakeups._expected) == Wakeups.EXPECTED
    assert "t0" not in wakeups._expected
    assert f"t{Wakeups.EXPECTED}" in wakeups._expected


def test_submitting_with_the_receivers_url_makes_the_task_expected() -> None:
    """`submitted_flow` (behind `submit()` and `txt2img()`) tells the receiver of each task created with its
    URL; not of one whose webhook goes elsewhere."""
    from ppio_txt2img._operations import submitted_flow

    for webhook_url, expected in ((HOOK, True), ("https://elsewhere.test/hook", False)):
        wakeups = Wakeups(FALLBACK)
        settings = _settings(wakeups, [0.0])
        request = {"model_name": "m", "prompt": "p", "width": 64, "height": 64, "image_num": 1, "steps": 1}
        request |= {"guidance_scale": 7.5, "sampler_name": "Euler a"}
        body = {"request": request, "extra": {"webhook": {"url": webhook_url}}}
        flow = submitted_flow(settings, Deadline(settings.clock, 60), Tracker(), body, receiver_url=HOOK)
        post = next(flow)
        assert isinstance(post, Send)
        assert post.method == "POST"
        with pytest.raises(StopIteration):
            flow.send(Reply(200, httpx.Headers(), b'{"task_id": "t1"}'))
        assert ("t1" in wakeups._expected) is expected
