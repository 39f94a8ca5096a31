"""`submit()` and then `wait()`, as apps with many tasks and the batch runner do, wait as `txt2img()` does:
the wait learns the task's duration and uses what was learnt, its first poll is counted from the
submission (however late the wait starts), and a webhook asked for and never come is told. A task this
client did not submit (another client's, a resumed batch's) is waited for as before."""

from __future__ import annotations

import itertools
import logging
from typing import Any

import httpx
import pytest

import ppio_txt2img as ppio
from ppio_txt2img.sandbox import Sandbox
from ppio_txt2img.webhooks import WebhookReceiver
from tests.facade.facade_helpers import (
    IMAGE_HOST,
    PNG,
    UNHEARD_URL,
    ClientFactory,
    FakeClock,
    ScriptedAPI,
    succeeded,
    task_payload,
    unheard_receiver_client,
)

#: Every task takes this long from its POST, and the server tells nothing of how far it is.
DURATION = 6.0
SHAPE: ppio.RequestOptions = {"width": 1024, "height": 1024, "steps": 20}
SMALL: ppio.RequestOptions = {"width": 128, "height": 128, "steps": 4}


class Tasks:
    """The scripted API's tasks: each created by a POST, done `DURATION` s later (no eta, no progress)."""

    def __init__(self, api: ScriptedAPI, clock: FakeClock) -> None:
        self.clock = clock
        self.created: dict[str, float] = {}
        self.polls: dict[str, int] = {}
        self._ids = itertools.count(1)
        api.submit_script = [self.submit]
        api.results = [self.result]
        self.api = api

    def submit(self, request: httpx.Request) -> dict[str, Any]:
        task_id = f"task-{next(self._ids)}"
        self.created[task_id] = self.clock()
        url = f"{IMAGE_HOST}/{task_id}/0.png?sig=1"
        self.api.images[url] = [PNG]
        return {"task_id": task_id}

    def result(self, request: httpx.Request) -> dict[str, Any]:
        task_id = request.url.params["task_id"]
        self.polls[task_id] = self.polls.get(task_id, 0) + 1
        if self.clock() - self.created[task_id] < DURATION:
            return task_payload("PROCESSING", task_id=task_id)
        return succeeded(f"{IMAGE_HOST}/{task_id}/0.png?sig=1", task_id=task_id)


@pytest.fixture
def tasks(api: ScriptedAPI, clock: FakeClock) -> Tasks:
    return Tasks(api, clock)


def test_a_wait_after_submit_learns_and_then_sleeps_to_the_finish(
    make_client: ClientFactory, tasks: Tasks
) -> None:
    client = make_client()
    for _ in range(3):  # two to learn from (`_durations.MIN_SAMPLES`), then one that uses it
        client.wait(client.submit("a fox", **SHAPE))
    *learning, last = tasks.polls.values()
    assert min(learning) >= 10  # nothing learnt: a 0.5 s poller's pace, from 0.5 s on
    assert last <= 6  # slept to the window around the learnt finish, polled every 0.1 s in it


def test_a_task_this_client_did_not_submit_is_waited_for_as_before(
    make_client: ClientFactory, tasks: Tasks
) -> None:
    client, other = make_client(), make_client()
    for _ in range(2):
        client.wait(client.submit("a fox", **SHAPE))
    client.wait(other.submit("a fox", **SHAPE))  # submitted by another client: nothing known of it
    assert list(tasks.polls.values())[-1] >= 10


def test_the_first_poll_is_counted_from_the_submission_not_from_the_wait(
    make_client: ClientFactory, tasks: Tasks, clock: FakeClock
) -> None:
    client = make_client()
    task = client.submit("a fox", **SHAPE)
    clock.advance(DURATION + 1)  # the app comes back to it later: the task is done by now
    before = clock()
    client.wait(task)
    assert tasks.polls[task.id] == 1
    assert clock() == before  # polled at once: its first-poll delay was over long ago


def test_a_wait_begun_long_after_its_task_finished_teaches_nothing(
    make_client: ClientFactory, tasks: Tasks, clock: FakeClock
) -> None:
    client = make_client()
    early = [client.submit("a fox", **SHAPE) for _ in range(2)]
    clock.advance(40)  # the app comes back later: both are long done, found so by their first poll
    for task in early:
        client.wait(task)
    assert [tasks.polls[task.id] for task in early] == [1, 1]
    fresh = client.submit("a fox", **SHAPE)
    client.wait(fresh)
    # Nothing learnt from the late waits (how late they looked says nothing of how long the tasks took):
    # a 0.5 s poller's pace, not polls every 0.1 s over a 0-40 s window learnt from them.
    assert 10 <= tasks.polls[fresh.id] <= 14


def test_only_the_first_wait_on_a_submitted_task_takes_what_submit_noted(
    make_client: ClientFactory, tasks: Tasks, clock: FakeClock
) -> None:
    client = make_client()
    task = client.submit("a fox", **SHAPE)
    assert client.wait(task).task_id == task.id
    polls = tasks.polls[task.id]
    client.wait(task)  # again: a task done long ago, polled at once, nothing learnt twice
    assert tasks.polls[task.id] == polls + 1


def test_a_webhook_asked_for_by_submit_and_never_come_is_told(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="ppio_txt2img.webhooks"),
        unheard_receiver_client(seed=4) as (_, receiver, client),
    ):
        task = client.submit("a fox", **SMALL)
        client.wait(task, timeout=30)
    assert receiver.wakeups.missing == 1
    [warning] = [r for r in caplog.records if r.name == "ppio_txt2img.webhooks"]
    assert task.id in warning.getMessage()
    assert UNHEARD_URL in warning.getMessage()


def test_a_task_whose_webhook_goes_elsewhere_is_polled_for_and_no_webhook_is_missed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox = Sandbox(speed=10, queue_delay=0.1, seed=8)
    # No webhook of these tasks can come here: a wait sleeping for one would poll again only after a
    # minute, past its 10 s deadline. They are polled for as a client without a receiver would.
    receiver = WebhookReceiver("http://127.0.0.1:9/never-called", fallback_poll=60)
    elsewhere = "http://127.0.0.1:9/elsewhere"
    with (
        caplog.at_level(logging.DEBUG, logger="ppio_txt2img.webhooks"),
        sandbox.serve() as url,
        ppio.Client("k", base_url=url, webhooks=receiver) as client,
    ):
        options: ppio.RequestOptions = {**SMALL, "webhook_url": elsewhere}
        generations = [
            client.wait(client.submit("a fox", **options), timeout=10),
            client.txt2img("a cat", **options, timeout=10),
        ]
    assert all(g.images for g in generations)
    assert receiver.wakeups.missing == 0
    assert not [r for r in caplog.records if r.name == "ppio_txt2img.webhooks"]


@pytest.mark.anyio
async def test_the_async_client_remembers_its_submissions_too(make_async_client: Any, tasks: Tasks) -> None:
    async with make_async_client() as client:
        for _ in range(3):
            await client.wait(await client.submit("a fox", **SHAPE))
    *learning, last = tasks.polls.values()
    assert min(learning) >= 10
    assert last <= 6


def test_a_client_that_never_waits_keeps_only_the_newest_submissions() -> None:
    from ppio_txt2img import _submissions
    from ppio_txt2img._submissions import Submissions, Submitted

    kept = Submissions()
    for i in range(_submissions.KEPT + 5):
        kept.add(f"t{i}", Submitted(float(i), "shape"))
    assert len(kept) == _submissions.KEPT
    assert kept.take("t0") is None  # the oldest went first
    newest = kept.take(f"t{_submissions.KEPT + 4}")
    assert newest is not None
    assert newest.at == _submissions.KEPT + 4
    assert kept.take(f"t{_submissions.KEPT + 4}") is None  # taken once


@pytest.mark.parametrize("fewer", ["images", "size"])
def test_a_wait_after_submit_checks_the_images_as_txt2img_does(fewer: str) -> None:
    """The README's promise: a task this client's `submit()` made is waited for as `txt2img()` would,
    every image asked for at the size asked for (it returned 1 image of 2 without a word:
    /tmp/newuser28, finding 2). A wait on another client's task cannot know what was asked."""
    knobs: dict[str, Any] = (
        {"missing_images": 1} if fewer == "images" else {"image_size_override": (320, 320)}
    )
    sandbox = Sandbox(speed=50, queue_delay=0.02, seed=3, **knobs)
    with sandbox.serve() as url, ppio.Client("k", base_url=url) as client:
        task = client.submit("two foxes", width=128, height=128, steps=4, image_num=2)
        with pytest.raises(ppio.ImageError) as caught:
            client.wait(task.id)
        with pytest.raises(ppio.ImageError):  # a second wait checks as the first did (/tmp/attack29, 3)
            client.wait(task.id)
        with ppio.Client("k", base_url=url) as another:
            generation = another.wait(task.id)  # knows nothing of the request: takes what came
    if fewer == "images":
        assert "the task succeeded with 1 of 2 images" in str(caught.value)
        assert len(caught.value.images) == 1
        assert len(generation.images) == 1
    else:
        assert "320x320" in str(caught.value), str(caught.value)
        assert [image.size for image in generation.images] == [(320, 320), (320, 320)]


def test_a_size_or_count_set_by_extra_body_is_not_checked_against_the_typed_one() -> None:
    """`extra_body` is merged unchecked: the images it asks for are the right ones. The typed width made
    `wait()` (and `txt2img()`) refuse correct 256x256 images (/tmp/attack29, finding 4)."""
    with Sandbox(speed=50, queue_delay=0.02, seed=3).serve() as url, ppio.Client("k", base_url=url) as client:
        wider = {"request": {"width": 256, "height": 256}}
        task = client.submit("an owl", width=128, height=128, steps=4, extra_body=wider)
        assert [image.size for image in client.wait(task.id).images] == [(256, 256)]
        generation = client.txt2img("an owl", width=128, height=128, steps=4, extra_body=wider)
        assert [image.size for image in generation.images] == [(256, 256)]
