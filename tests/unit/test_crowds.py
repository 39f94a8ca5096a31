"""Crowds: tasks of one shape in flight together, which the server tells nothing, poll as a whole
(`_crowds.py`): with nothing learnt, and with a learnt duration (scouts).

The registry's decisions on their own, then whole clients (async, and sync shared by threads) on a
MockTransport whose silent tasks take real time: every task arrives, with a fraction of the polls a
lone wait makes."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

import ppio_txt2img as ppio
from ppio_txt2img._constants import POLL_BLIND_FIRST, POLL_CAP
from ppio_txt2img._crowds import MISS_GAP, SCOUTS, WAKE_GAIN, Crowds, miss_gap
from ppio_txt2img._polling import Observation, blind_delay

_FIRST = [Observation(at=0.5, status="TASK_STATUS_PROCESSING")]
_SECOND = [*_FIRST, Observation(at=1.5, status="TASK_STATUS_PROCESSING")]


def test_a_lone_wait_keeps_a_half_second_pollers_pace() -> None:
    assert blind_delay(_SECOND, now=1.5, jitter=0.5) == blind_delay(_SECOND, now=1.5, jitter=0.5, crowd=1)
    assert blind_delay(_SECOND, now=1.5, jitter=0.5, crowd=1) == 0.5
    assert blind_delay(_FIRST, now=0.5, jitter=0.0, crowd=1) == pytest.approx(0.5 * 0.95)


def test_a_crowd_of_k_polls_sqrt_k_times_less_often_each_up_to_the_cap() -> None:
    assert blind_delay(_SECOND, now=1.5, jitter=0.5, crowd=4) == pytest.approx(1.0)
    assert blind_delay(_SECOND, now=1.5, jitter=0.5, crowd=16) == pytest.approx(2.0)
    assert blind_delay(_SECOND, now=1.5, jitter=0.5, crowd=10_000) == pytest.approx(POLL_CAP)


def test_after_their_first_poll_together_a_crowds_waits_spread_over_a_whole_interval() -> None:
    assert blind_delay(_FIRST, now=0.5, jitter=0.0, crowd=16) == 0.0
    assert blind_delay(_FIRST, now=0.5, jitter=0.5, crowd=16) == pytest.approx(1.0)
    assert blind_delay(_FIRST, now=0.5, jitter=0.999, crowd=16) == pytest.approx(0.999 * 2.0)


def test_the_first_finish_wakes_the_waits_that_would_poll_well_after_that_age() -> None:
    crowds = Crowds()
    first = crowds.join("shape", submitted_at=0.0)
    late = crowds.join("shape", submitted_at=0.1)
    soon = crowds.join("shape", submitted_at=0.2)
    seen_older = crowds.join("shape", submitted_at=0.3)
    other_shape = crowds.join("other", submitted_at=0.0)
    assert crowds.size("shape") == 4
    assert crowds.size("other") == 1
    crowds.saw_running(late, 3.0)
    crowds.plan(late, next_poll=9.0)  # would poll at age 8.9: woken
    crowds.saw_running(soon, 3.0)
    crowds.plan(soon, next_poll=5.21)  # polls at age 5.01 anyway: left alone
    crowds.saw_running(seen_older, 5.5)
    crowds.plan(seen_older, next_poll=9.0)  # seen running past 5.0: back to a lone wait's pace
    crowds.saw_running(other_shape, 0.0)
    crowds.plan(other_shape, next_poll=9.0)

    assert crowds.finished(first, age=5.0) == 2
    assert late.waiter.notified
    assert not soon.waiter.notified
    assert seen_older.waiter.notified
    assert not other_shape.waiter.notified
    assert crowds.hint(late) == 5.0
    assert crowds.hint(seen_older) is None  # already older than that, and still running: no age to go by
    assert crowds.size("shape") == 1  # from now on, a single wait's pace

    # An older finish tells nobody anything new; a younger one does.
    assert crowds.finished(soon, age=5.2) == 0
    crowds.leave(first)
    crowds.leave(soon)
    crowds.saw_running(late, 3.0)
    crowds.plan(late, next_poll=9.0)
    assert crowds.finished(seen_older, age=4.0) == 1
    assert crowds.hint(late) == 4.0


def test_what_a_crowd_saw_is_forgotten_with_it() -> None:
    crowds = Crowds()
    a, b = crowds.join("shape", 0.0), crowds.join("shape", 0.0)
    crowds.finished(a, age=5.0)
    crowds.leave(a)
    assert crowds.hint(b) == 5.0
    crowds.leave(b)
    c = crowds.join("shape", 10.0)
    assert crowds.hint(c) is None
    assert crowds.size("shape") == 1


def test_the_first_waits_to_join_a_crowd_are_its_scouts_counted_afresh_when_it_forms_again() -> None:
    crowds = Crowds()
    members = [crowds.join("shape", float(i)) for i in range(SCOUTS + 3)]
    assert [m.scout for m in members] == [True] * SCOUTS + [False] * 3
    assert crowds.join("other", 0.0).scout  # each shape its own crowd
    for member in members:
        crowds.leave(member)
    assert crowds.join("shape", 100.0).rank == 0


def test_a_finish_tells_the_others_to_look_when_they_are_as_old() -> None:
    crowds = Crowds()
    scout = crowds.join("shape", submitted_at=10.0)
    other = crowds.join("shape", submitted_at=10.5)
    crowds.plan(other, next_poll=16.0)  # the end of its learnt window
    assert crowds.finished(scout, age=5.0) == 1
    age = crowds.hint(other)
    assert age == 5.0
    assert other.done_by(age) == 15.5


def test_a_wait_is_woken_only_when_that_brings_its_poll_forward_by_more_than_the_gain() -> None:
    crowds = Crowds()
    scout, near, far = (crowds.join("shape", 0.0) for _ in range(3))
    crowds.plan(near, next_poll=5.0 + WAKE_GAIN / 2)
    crowds.plan(far, next_poll=5.0 + WAKE_GAIN * 2)
    assert crowds.finished(scout, age=5.0) == 1  # `far` only


def test_the_gap_after_misses_is_none_after_one_then_doubles_up_to_a_half_second_pollers_interval() -> None:
    assert [miss_gap(misses) for misses in range(10)] == [
        0.0,
        0.0,
        MISS_GAP,
        2 * MISS_GAP,
        4 * MISS_GAP,
        8 * MISS_GAP,
        POLL_BLIND_FIRST,
        POLL_BLIND_FIRST,
        POLL_BLIND_FIRST,
        POLL_BLIND_FIRST,
    ]
    assert miss_gap(10**9) == POLL_BLIND_FIRST  # no overflow however long a wait lasts


def test_a_wait_seen_running_past_its_crowds_finishes_goes_by_ages_ever_further_on() -> None:
    crowds = Crowds()
    waiting = crowds.join("shape", submitted_at=0.0)
    crowds.saw_running(waiting, 0.5)
    assert (waiting.misses, waiting.outlived) == (0, False)  # nothing finished yet: no miss
    others = [crowds.join("shape", submitted_at=0.0) for _ in range(20)]
    for i, other in enumerate(others):  # finish ages 1.000, 1.005, ... 1.095
        crowds.finished(other, age=1.0 + 0.005 * i)
    assert crowds.hint(waiting) == 1.0
    crowds.saw_running(waiting, 1.0)  # a miss by a hair: the next age, however close
    assert (waiting.misses, waiting.outlived) == (1, True)
    assert crowds.hint(waiting) == 1.005
    crowds.saw_running(waiting, 1.005)  # a second miss: an age at least MISS_GAP further on
    assert (waiting.misses, waiting.outlived) == (2, True)
    assert crowds.hint(waiting) == pytest.approx(1.005 + MISS_GAP + 0.005)
    crowds.saw_running(waiting, 1.06)  # a third: twice that gap, and no finish age left that far on
    assert (waiting.misses, waiting.outlived) == (3, True)
    assert crowds.hint(waiting) is None


def test_a_later_finish_wakes_the_waits_it_gives_a_nearer_age_to_look_at() -> None:
    crowds = Crowds()
    first, queued, ahead = (crowds.join("shape", submitted_at=0.0) for _ in range(3))
    crowds.finished(first, age=1.0)
    crowds.saw_running(queued, 1.0)  # queued: outlived its crowd's first finish, and no age to go by
    crowds.plan(queued, next_poll=1.5)
    crowds.saw_running(ahead, 0.5)
    crowds.plan(ahead, next_poll=1.02)  # it looks at age 1.0 anyway
    assert crowds.hint(queued) is None
    assert crowds.finished(ahead, age=1.2) == 1  # not the youngest finish, but news to `queued`
    assert queued.waiter.notified
    assert crowds.hint(queued) == 1.2
    queued.waiter.clear()
    crowds.plan(queued, next_poll=1.2)
    late = crowds.join("shape", submitted_at=0.0)
    assert crowds.finished(late, age=1.3) == 0  # `queued` looks at 1.2 first: nothing new
    crowds.leave(queued)
    assert crowds.finished(first, age=1.1) == 0  # a wait that left is not woken


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (128, 128)).save(buffer, format="PNG")
    return buffer.getvalue()


class SilentServer:
    """Tasks that take `duration` seconds of real time and say nothing of their progress."""

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self.created: dict[str, float] = {}
        self.polls: dict[str, int] = {}
        self.lock = threading.Lock()
        self.image = _png()

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "images.test":
            return httpx.Response(200, content=self.image)
        with self.lock:
            if request.method == "POST":
                task_id = f"t{len(self.created)}"
                self.created[task_id] = time.monotonic()
                self.polls[task_id] = 0
                return httpx.Response(200, json={"task_id": task_id})
            task_id = request.url.params["task_id"]
            self.polls[task_id] += 1
            done = time.monotonic() - self.created[task_id] >= self.duration
        task = {"task_id": task_id, "status": "TASK_STATUS_SUCCEED" if done else "TASK_STATUS_PROCESSING"}
        images = [{"image_url": f"https://images.test/{task_id}.png", "image_type": "png"}] if done else []
        return httpx.Response(200, json={"task": task, "images": images})

    def lone_wait_polls(self) -> float:
        """What a lone wait (a 0.5 s poller's pace) needs: one poll each half second, and the last."""
        return self.duration / 0.5 + 1


def test_an_async_crowd_gets_every_task_with_a_fraction_of_a_lone_waits_polls() -> None:
    server = SilentServer(duration=2.0)
    count = 40

    async def main() -> list[ppio.Generation]:
        http = httpx.AsyncClient(transport=httpx.MockTransport(server.handler))
        async with ppio.AsyncClient("k", base_url="https://api.test", http_client=http) as client:
            return await asyncio.gather(
                *(
                    client.txt2img(f"fox {i}", width=128, height=128, steps=4, timeout=60)
                    for i in range(count)
                )
            )

    generations = asyncio.run(main())
    assert sorted(g.task_id for g in generations) == sorted(server.created)
    assert all(len(g.images) == 1 for g in generations)
    polls = sum(server.polls.values()) / count
    # 2.35-2.55 polls each in repeated runs; without crowds, 4-5 (a lone wait's pace: 5).
    assert polls <= server.lone_wait_polls() * 0.6, server.polls


def test_with_a_learnt_duration_the_crowd_past_its_scouts_polls_once_each() -> None:
    server = SilentServer(duration=1.0)
    count = SCOUTS + 24

    async def main() -> list[ppio.Generation]:
        http = httpx.AsyncClient(transport=httpx.MockTransport(server.handler))
        async with ppio.AsyncClient("k", base_url="https://api.test", http_client=http) as client:
            for i in range(3):  # one after the other: the client learns how long the shape takes
                await client.txt2img(f"warm {i}", width=128, height=128, steps=4, timeout=60)
            return await asyncio.gather(
                *(
                    client.txt2img(f"fox {i}", width=128, height=128, steps=4, timeout=60)
                    for i in range(count)
                )
            )

    generations = asyncio.run(main())
    crowd = [g.task_id for g in generations]
    assert len(set(crowd)) == count
    once = sum(server.polls[task_id] == 1 for task_id in crowd)
    # The waits past the scouts sleep to their window's end, and are woken by the first scout to see
    # its task done, to poll when their own is as old (tasks of the same shape take as long): all 24
    # poll once on an idle machine (24-25 with two CPU burners); half of them at least, however busy
    # (real time here: tests/unit/test_crowd_flows.py pins the exact schedule on a simulated clock).
    # Without scouts, none of the 40 polls once.
    assert once >= (count - SCOUTS) // 2, {task_id: server.polls[task_id] for task_id in crowd}


def test_a_sync_client_shared_by_threads_forms_one_crowd() -> None:
    server = SilentServer(duration=2.0)
    count = 16
    client = ppio.Client(
        "k",
        base_url="https://api.test",
        http_client=httpx.Client(transport=httpx.MockTransport(server.handler)),
    )
    with client, ThreadPoolExecutor(count) as pool:
        generations = list(
            pool.map(
                lambda i: client.txt2img(f"fox {i}", width=128, height=128, steps=4, timeout=60), range(count)
            )
        )
    assert sorted(g.task_id for g in generations) == sorted(server.created)
    polls = sum(server.polls.values()) / count
    assert polls < server.lone_wait_polls(), server.polls
