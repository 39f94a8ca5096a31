"""Crowds, whole waits on a simulated clock: several `wait_flow`s driven together by a small event
simulation (their polls answered by tasks of given durations, their sleeps on one clock, a crowd's wake
delivered the moment it is given), so that when each poll goes out is exact and repeatable."""

from __future__ import annotations

import heapq
import itertools
import json
import math
import random
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ppio_txt2img._call import Deadline, Tracker
from ppio_txt2img._crowds import SCOUTS
from ppio_txt2img._io import Notify, Reply, Send, Sleep
from ppio_txt2img._submissions import Submitted
from ppio_txt2img._tasks import wait_flow
from ppio_txt2img._wakeups import Waiter
from tests.unit.flow_settings import flow_settings

SHAPE = ("model", 128, 128, 20, 1, None, None, None)
RTT = 0.002  # seconds from a poll to its answer


@dataclass
class Simulation:
    """Tasks (id -> (created, duration)) and the waits on them, on one simulated clock."""

    tasks: dict[str, tuple[float, float]]
    now: float = 0.0
    polls: dict[str, list[float]] = field(default_factory=dict)
    known: dict[str, float] = field(default_factory=dict)
    seed: int = 11
    #: Durations the client learnt before (each measured within +/- 0.05 s), as `DurationMemory` keeps.
    learnt: tuple[float, ...] = ()
    #: Whether the server tells each task's eta (whole seconds left, rounded up), as the API may.
    eta: bool = False

    def clock(self) -> float:
        return self.now

    def answer(self, action: Send) -> Reply:
        task_id = parse_qs(urlsplit(action.url).query)["task_id"][0]
        self.polls.setdefault(task_id, []).append(self.now)
        created, duration = self.tasks[task_id]
        done = self.now >= created + duration
        task: dict[str, Any] = {
            "task_id": task_id,
            "status": "TASK_STATUS_SUCCEED" if done else "TASK_STATUS_PROCESSING",
        }
        if self.eta and not done:
            task["eta"] = math.ceil(created + duration - self.now)
        body = {"task": task, "images": [{"image_url": f"https://img.test/{task_id}.png"}] if done else []}
        return Reply(200, httpx.Headers({"content-type": "application/json"}), json.dumps(body).encode())

    def run(self, starts: dict[str, float]) -> None:
        """Start a wait on each task at its time (as if just submitted), and run them all to the end."""
        settings = flow_settings(
            clock=self.clock, rng=random.Random(self.seed).random
        )  # same jitter each run
        for duration in self.learnt:
            settings.durations.record(SHAPE, submitted_at=0.0, lower=duration - 0.05, upper=duration + 0.05)
        order = itertools.count()
        events: list[tuple[float, int, str, Any]] = []  # (time, order, task id, value to send)
        flows: dict[str, Generator[Any, Any, Any]] = {}
        sleeping: dict[str, tuple[Waiter, int]] = {}  # task id -> (its waiter, its timer's order)
        cancelled: set[int] = set()
        for task_id, at in starts.items():
            heapq.heappush(events, (at, next(order), task_id, None))
        while events:
            self.now, number, task_id, value = heapq.heappop(events)
            if number in cancelled:
                continue
            if task_id not in flows:
                deadline = Deadline(self.clock, 120.0)
                submitted = Submitted(at=self.now, shape=SHAPE)
                flows[task_id] = wait_flow(settings, deadline, Tracker(), task_id, None, submitted)
            sleeping.pop(task_id, None)
            self._step(task_id, flows[task_id], value, events, order, sleeping)
            for other, (waiter, timer) in list(sleeping.items()):  # a crowd's wake, delivered at once
                if waiter.notified:
                    waiter.clear()
                    cancelled.add(timer)
                    del sleeping[other]
                    heapq.heappush(events, (self.now, next(order), other, True))

    def _step(
        self,
        task_id: str,
        flow: Generator[Any, Any, Any],
        value: Any,
        events: list[tuple[float, int, str, Any]],
        order: itertools.count[int],
        sleeping: dict[str, tuple[Waiter, int]],
    ) -> None:
        while True:
            try:
                action = flow.send(value)
            except StopIteration:
                self.known[task_id] = self.now
                return
            if isinstance(action, Send):
                heapq.heappush(events, (self.now + RTT, next(order), task_id, self.answer(action)))
                return
            if isinstance(action, Sleep):
                number = next(order)
                heapq.heappush(events, (self.now + action.seconds, number, task_id, False))
                if action.waiter is not None:
                    sleeping[task_id] = (action.waiter, number)
                return
            assert isinstance(action, Notify)
            value = None


@pytest.mark.parametrize("seed", range(6))
def test_a_crowds_wait_seen_running_older_than_the_first_finish_goes_back_to_a_lone_waits_pace(
    seed: int,
) -> None:
    # One task submitted 2.5 s before 15 of its shape, and slower. When the crowd's first finish is
    # seen, the first task was already seen running older than that: the finish gives it no age to look
    # at, but the crowd's pace is over, and it must not sleep out the crowd's long interval (it did: up
    # to 1.9 s late on these seeds).
    tasks = {"slow": (0.0, 6.8)} | {f"t{i}": (2.5, 4.0) for i in range(15)}
    simulation = Simulation(tasks, seed=seed)
    simulation.run({task_id: created for task_id, (created, _) in tasks.items()})
    assert set(simulation.known) == set(tasks)
    first_finish_seen = min(simulation.known[f"t{i}"] for i in range(15))
    slow_polls = simulation.polls["slow"]
    assert any(first_finish_seen - 2.5 <= at < first_finish_seen for at in slow_polls)  # the case
    # Noticed as a lone wait notices: within its 0.5 s pace and a round trip.
    assert simulation.known["slow"] - 6.8 <= 0.5 + RTT, slow_polls


def test_with_a_learnt_duration_a_crowd_past_its_scouts_polls_once_each_even_joining_late() -> None:
    # 40 tasks of 5 s submitted together after the client learnt that the shape takes 5 s; one more
    # submitted after the crowd has seen a finish, while a straggler keeps the crowd alive: it looks at
    # that finish's age, not at its own window's end.
    crowd = {f"t{i}": (0.0, 5.0) for i in range(SCOUTS + 24)}
    tasks = crowd | {"straggler": (0.0, 9.0), "later": (6.0, 5.0)}
    simulation = Simulation(tasks, learnt=(5.0, 5.0))
    simulation.run({task_id: created for task_id, (created, _) in tasks.items()})
    assert set(simulation.known) == set(tasks)
    polls = {task_id: len(simulation.polls[task_id]) for task_id in [*crowd, "later"]}
    assert sorted(polls.values()).count(1) >= 24 + 1, polls  # all but the scouts, and the later one
    assert polls["later"] == 1
    first_seen_done = min(simulation.known[task_id] for task_id in crowd)  # its age: the crowd's were 0
    assert simulation.polls["later"][0] - 6.0 == pytest.approx(first_seen_done, abs=RTT)
    late = max(simulation.known[task_id] - sum(tasks[task_id]) for task_id in polls)
    assert late <= 0.1 + 2 * RTT  # the scouts poll every 0.1 s in the window, the others at its age


def _queued(
    seed: int, count: int = 100, every: float = 0.11, slots: int = 8, run: float = 1.0
) -> dict[str, tuple[float, float]]:
    """Tasks submitted one every `every` s (give or take 20 ms) to a server that runs `slots` at a time,
    first come first served, for `run` s each: (created, duration from creation to finish) by task id.
    By default submitted a little faster than it works, so the queue grows: tasks of one shape take
    1.0-2.5 s, and their finish ages are spread densely over that range."""
    rng = random.Random(seed)
    free = [0.0] * slots
    tasks = {}
    for i in range(count):
        created = i * every + rng.uniform(0.0, 0.02)
        start = max(created, heapq.heappop(free))
        finish = start + run + rng.uniform(0.0, 0.005)
        heapq.heappush(free, finish)
        tasks[f"t{i}"] = (created, finish - created)
    return tasks


@pytest.mark.parametrize("seed", range(4))
def test_on_a_server_that_queues_a_crowd_polls_without_storms(seed: int) -> None:
    # A wait whose task is queued sees its crowd's tasks finish at ages close together, and polled at
    # each of them in turn: 28-31 polls per task here, up to 23 of one task within 0.1 s (46 within
    # 0.2 s on a sandbox). Each such poll now asks for a finish age further on than the last.
    tasks = _queued(seed)
    simulation = Simulation(tasks, seed=seed)
    simulation.run({task_id: created for task_id, (created, _) in tasks.items()})
    assert set(simulation.known) == set(tasks)
    for task_id, polls in simulation.polls.items():
        crowded = max(sum(1 for at in polls if start <= at < start + 0.1) for start in polls)
        assert crowded <= 3, (task_id, polls)
    # A 0.5 s poller: its first poll at 0.5 s, then one every 0.5 s after each answer.
    poller = sum(math.ceil(max(0.0, d - 0.5) / (0.5 + RTT)) + 1 for _, d in tasks.values())
    assert sum(map(len, simulation.polls.values())) <= 2 * poller
    late = sorted(simulation.known[task_id] - sum(tasks[task_id]) for task_id in tasks)
    assert late[len(late) // 2] <= 0.25  # a 0.5 s poller's, on average


def _alone(tasks: dict[str, tuple[float, float]], *, eta: bool) -> int:
    """The polls the same tasks take when each is waited for alone (no crowd)."""
    total = 0
    for task_id, (_, duration) in tasks.items():
        alone = Simulation({task_id: (0.0, duration)}, eta=eta)
        alone.run({task_id: 0.0})
        total += len(alone.polls[task_id])
    return total


@pytest.mark.parametrize("eta", [True, False])
def test_on_a_long_queue_a_crowds_waits_poll_no_more_than_alone(eta: bool) -> None:
    # 80 tasks submitted together, 4 run at a time for 5 s: the last waits 95 s in the queue. With an
    # eta, each wait goes by it, as alone (capped at every 0.5 s once past a sibling's finish, they
    # polled 3 times as often); with none, each backs off after 30 s, as alone (capped, they did not).
    tasks = _queued(0, count=80, every=0.0, slots=4, run=5.0)
    simulation = Simulation(tasks, eta=eta)
    simulation.run({task_id: created for task_id, (created, _) in tasks.items()})
    assert set(simulation.known) == set(tasks)
    assert sum(map(len, simulation.polls.values())) <= _alone(tasks, eta=eta)
