"""Crowds: waits on tasks of one shape that the client submitted, in flight at the same time, as in a
batch, while the server tells them nothing (no eta, no progress).

A crowd looks as a whole rather than each wait on its own. With nothing learnt of the shape, each of its
k waits polls `sqrt(k)` times less often while none of its tasks has finished (see
`_polling.blind_delay`): together they still look several times a second, so the first task to finish
is noticed soon after it does, with a fraction of the polls. With a learnt duration, only the first
`SCOUTS` waits poll inside the learnt window (as a lone wait does, spread by their jitter); the others
plan to look at its end. Either way, when one task is seen done, the waits it tells something new are
woken: each polls when its task is as old as that one was (its age at the finish is the best guess of
theirs), and from then on the crowd's waits poll at a single wait's pace. Thread-safe: sync clients
share it between threads, async ones between tasks.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Hashable
from dataclasses import dataclass, field

from ._wakeups import Waiter

__all__ = ["SCOUTS", "Crowds", "Member"]

#: With a learnt duration, how many of a crowd's waits poll inside the learnt window. Each polls about
#: 2.5 times there, the rest once: 8 keeps a crowd of 200 under 1.1 polls per task (16 measured 1.08-1.12,
#: 8 measured 1.05-1.09), and 8 waits each polling every `POLL_FLOOR` still look every 12 ms or so.
SCOUTS = 8
#: A wait is woken when that brings its poll forward by more than this many seconds.
WAKE_GAIN = 0.02


@dataclass(eq=False)
class Member:
    """One wait of a crowd: when its task was submitted (client clock) and what it knows so far."""

    shape: Hashable
    submitted_at: float
    #: How many waits joined the crowd before this one (since it last formed).
    rank: int = 0
    waiter: Waiter = field(default_factory=Waiter)
    #: The task's age (seconds since `submitted_at`) when a poll last saw it unfinished.
    running_until: float = 0.0
    #: When (client clock) the wait plans to poll next.
    next_poll: float = float("inf")

    @property
    def scout(self) -> bool:
        """Whether it polls inside a learnt window (the others wait for a scout's finish)."""
        return self.rank < SCOUTS

    def done_by(self, age: float) -> float:
        """When (client clock) the task is done if it takes as long as a task of its crowd that was seen
        done at `age` (a `hint`)."""
        return self.submitted_at + age


class Crowds:
    """The crowds of one client, by shape, and the ages at which their finished tasks were seen done."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._members: dict[Hashable, dict[Member, None]] = {}
        self._finished: dict[Hashable, list[float]] = {}  # ages, sorted
        self._joined: dict[Hashable, int] = {}

    def join(self, shape: Hashable, submitted_at: float) -> Member:
        with self._lock:
            rank = self._joined.get(shape, 0)
            self._joined[shape] = rank + 1
            member = Member(shape, submitted_at, rank)
            self._members.setdefault(shape, {})[member] = None
        return member

    def leave(self, member: Member) -> None:
        with self._lock:
            members = self._members.get(member.shape, {})
            members.pop(member, None)
            if not members:  # the crowd is gone: what it saw is in the client's learnt durations
                self._members.pop(member.shape, None)
                self._finished.pop(member.shape, None)
                self._joined.pop(member.shape, None)

    def size(self, shape: Hashable) -> int:
        """How many waits the crowd has; 1 once one of its tasks has finished (a single wait's pace)."""
        with self._lock:
            return 1 if self._finished.get(shape) else max(1, len(self._members.get(shape, ())))

    def saw_running(self, member: Member, age: float) -> None:
        """A poll saw `member`'s task unfinished at `age`."""
        with self._lock:
            member.running_until = age

    def plan(self, member: Member, *, next_poll: float) -> int:
        """`member` plans to poll next at `next_poll` (client clock); how many waits its crowd has."""
        with self._lock:
            member.next_poll = next_poll
            return len(self._members.get(member.shape, ()))

    def hint(self, member: Member) -> float | None:
        """The age by which the task is expected to finish: the youngest age at which one of the crowd's
        tasks was seen done and this one was not yet seen running; None if there is none. (Its time on
        the client clock is `member.done_by(age)`.)"""
        with self._lock:
            ages = self._finished.get(member.shape, [])
            i = bisect.bisect_right(ages, member.running_until)
            return ages[i] if i < len(ages) else None

    def finished(self, member: Member, age: float) -> int:
        """`member`'s task was seen done at `age`: wake the waits this tells something new (those that
        plan to poll well after they would be done by that age: see `hint`; those seen running older
        still go back to a lone wait's pace). Returns how many."""
        with self._lock:
            ages = self._finished.setdefault(member.shape, [])
            youngest = not ages or age < ages[0]
            bisect.insort(ages, age)
            if not youngest:  # the waits were woken for a younger age already, and poll from there
                return 0
            woken = [
                other.waiter
                for other in self._members.get(member.shape, ())
                if other is not member and other.next_poll > other.done_by(age) + WAKE_GAIN
            ]
        for waiter in woken:
            waiter.notify()
        return len(woken)
