"""A poll's answer is dated between the poll going out and the answer being read: the server read its
clock somewhere in that span. With many requests at once an exchange can take far longer than the
network's round trip (a slot to wait for, an answer waiting in a busy event loop), and an answer dated
when read would put every estimate, and so every next poll, that much too late. Driven by hand on a fake
clock."""

from __future__ import annotations

import json

import httpx
import pytest

from ppio_txt2img._call import Deadline, Tracker
from ppio_txt2img._constants import POLL_FLOOR
from ppio_txt2img._durations import DurationMemory
from ppio_txt2img._io import Reply, Send, Sleep
from ppio_txt2img._submissions import Submitted
from ppio_txt2img._tasks import wait_flow
from tests.unit.flow_settings import flow_settings

FINISH = 10.37  # when the task finishes, on the one clock (no whole number of seconds from any poll)
SHAPE = ("model", 128, 128, 20, 1, None, None, None)


def _answer(server_time: float) -> Reply:
    done = server_time >= FINISH
    task = {
        "task_id": "t1",
        "status": "TASK_STATUS_SUCCEED" if done else "TASK_STATUS_PROCESSING",
        "eta": 0 if done else FINISH - server_time,  # exact: a fraction of a second is kept as it is
    }
    images = [{"image_url": "https://images.test/0.png"}] if done else []
    return Reply(200, httpx.Headers(), json.dumps({"task": task, "images": images}).encode())


def _polls(
    exchange: float, durations: DurationMemory | None = None, *, busy_first: int | None = None
) -> list[float]:
    """When each poll went out, for a wait whose every exchange takes `exchange` seconds, the server
    answering from its middle; `busy_first`: the first poll is answered 429 with that `Retry-After`."""
    clock = [0.0]
    settings = flow_settings(clock=lambda: clock[0], rng=lambda: 0.0, durations=durations or DurationMemory())
    deadline = Deadline(settings.clock, 300)
    flow = wait_flow(settings, deadline, Tracker(), "t1", submitted=Submitted(0.0, SHAPE))
    sent: list[float] = []
    action = next(flow)
    while True:
        if isinstance(action, Sleep):
            clock[0] += action.seconds
            reply = None
        else:
            assert isinstance(action, Send)
            sent.append(clock[0])
            clock[0] += exchange / 2
            reply = _answer(clock[0])
            if busy_first is not None and len(sent) == 1:
                reply = Reply(429, httpx.Headers({"Retry-After": str(busy_first)}), b"{}")
            clock[0] += exchange / 2
        try:
            action = flow.send(reply)
        except StopIteration:
            return sent


@pytest.mark.parametrize("exchange", [0.0, 0.4, 1.0])
def test_a_slow_exchange_answered_from_its_middle_finds_the_task_done_as_soon_as_a_quick_one(
    exchange: float,
) -> None:
    polls = _polls(exchange)
    # The poll that finds the task done goes out within one `POLL_FLOOR` of the finish, as with no delay
    # at all; dated when read, every estimate was `exchange / 2` late, and so was that poll.
    assert FINISH - exchange / 2 <= polls[-1] <= FINISH + POLL_FLOOR
    assert len(polls) <= 5


def test_the_learnt_duration_spans_the_exchanges_that_saw_it_running_and_done() -> None:
    durations = DurationMemory()
    polls = _polls(1.0, durations)
    durations_seen = durations._durations[SHAPE]  # (duration, half the interval it was measured in)
    assert len(durations_seen) == 1
    duration, half = durations_seen[0]
    # Running when the last unfinished answer was asked for, done when the finished one was read: the
    # interval holds the true finish, however slow the exchanges.
    assert duration - half <= FINISH <= duration + half
    assert duration - half == pytest.approx(polls[-2])


@pytest.mark.parametrize("exchange", [0.0, 1.0])
def test_a_poll_retried_after_a_429_is_dated_by_the_attempt_that_got_the_answer(exchange: float) -> None:
    quick = _polls(exchange)
    retried = _polls(exchange, busy_first=6)
    # The retry's sleep is no part of the exchange that answered: the estimates stay right, so the wait
    # costs one poll more (the one answered 429) at most, and still finds the task done at once.
    assert len(retried) <= len(quick) + 1
    assert FINISH - exchange / 2 <= retried[-1] <= FINISH + POLL_FLOOR
