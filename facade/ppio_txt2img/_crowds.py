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

On a server that queues tasks, a crowd's tasks finish over a long time, and its waits see many finish
ages close together: a wait whose task is still queued polled at each of them in turn (46 polls of one
task within 0.2 s were seen). So once a poll has found its task running at an age at which a sibling's
was done (a miss), a wait goes by the next finish age only if it is a gap older than where its task was
last seen running, the gap growing with each miss (`miss_gap`), and it polls at least at a lone wait's
blind pace (`_polling.blind_delay`: a 0.5 s poller's for 30 s, then backing off; its crowd no longer
tells when its task ends). A task that finishes a hair after its sibling is still noticed at once; one
that waits in a queue is polled about as often as by a lone wait, and noticed sooner. A wait the
server gives an eta or a progress goes by those, as ever. A finish wakes the waits it gives a nearer
age to look at, not only when it is the crowd's youngest: a queued task's finish age is usually one not
seen before it.
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
from collections.abc import Hashable
from dataclasses import dataclass, field

from ._constants import POLL_BLIND_FIRST
from ._wakeups import Waiter

__all__ = ["MISS_GAP", "SCOUTS", "Crowds", "Member", "miss_gap"]

#: With a learnt duration, how many of a crowd's waits poll inside the learnt window. Each polls about
#: 2.5 times there, the rest once: 8 keeps a crowd of 200 under 1.1 polls per task (16 measured 1.08-1.12,
#: 8 measured 1.05-1.09), and 8 waits each polling every `POLL_FLOOR` still look every 12 ms or so.
SCOUTS = 8
#: A wait is woken when that brings its poll forward by more than this many seconds.
WAKE_GAIN = 0.02
#: The gap after a second miss (see the module's docstring); it doubles with each further one, up to a
#: 0.5 s poller's interval.
MISS_GAP = 0.05


def miss_gap(misses: int) -> float:
    """How much older than the age its task was last seen running a sibling's finish age must be for a
    wait to poll at it, after `misses` polls found its task running at such ages: none after one (the
    next sibling's finish may be a hair later, as its own), then `MISS_GAP` doubling up to a 0.5 s
    poller's interval."""
    if misses <= 1:
        return 0.0
    return min(POLL_BLIND_FIRST, MISS_GAP * 2.0 ** min(misses - 2, 16))


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
    #: Polls that found the task running at an age at which one of its crowd's was seen done.
    misses: int = 0
    #: Its entry in its crowd's plans (see `Crowds.plan`), while it plans a poll it may be woken from:
    #: the task's age at that poll first.
    planned: tuple[float, int, Member] | None = None

    @property
    def scout(self) -> bool:
        """Whether it polls inside a learnt window (the others wait for a scout's finish)."""
        return self.rank < SCOUTS

    @property
    def outlived(self) -> bool:
        """Whether a poll saw its task running at an age at which one of its crowd's was seen done: on a
        server that queues tasks, what the crowd saw no longer says when this one ends, and the wait
        (while the server tells it nothing) polls at least at a lone wait's blind pace."""
        return self.misses > 0

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
        # The waits that plan a poll they may be woken from: (the age it is planned at, rank, member),
        # sorted, so that a finish finds the waits it could bring forward without looking at the others.
        self._plans: dict[Hashable, list[tuple[float, int, Member]]] = {}

    def join(self, shape: Hashable, submitted_at: float) -> Member:
        with self._lock:
            rank = self._joined.get(shape, 0)
            self._joined[shape] = rank + 1
            member = Member(shape, submitted_at, rank)
            self._members.setdefault(shape, {})[member] = None
        return member

    def leave(self, member: Member) -> None:
        with self._lock:
            self._unplan(member)
            members = self._members.get(member.shape, {})
            members.pop(member, None)
            if not members:  # the crowd is gone: what it saw is in the client's learnt durations
                self._members.pop(member.shape, None)
                self._finished.pop(member.shape, None)
                self._joined.pop(member.shape, None)
                self._plans.pop(member.shape, None)

    def size(self, shape: Hashable) -> int:
        """How many waits the crowd has; 1 once one of its tasks has finished (a single wait's pace)."""
        with self._lock:
            return 1 if self._finished.get(shape) else max(1, len(self._members.get(shape, ())))

    def saw_running(self, member: Member, age: float) -> None:
        """A poll saw `member`'s task unfinished at `age`: a miss if one of its crowd's was seen done
        younger."""
        with self._lock:
            ages = self._finished.get(member.shape)
            if ages and ages[0] <= age:
                member.misses += 1
            member.running_until = age

    def plan(self, member: Member, *, next_poll: float) -> int:
        """`member` plans to poll next at `next_poll` (client clock; -inf: it goes by the server's eta or
        progress, and no finish should wake it); how many waits its crowd has."""
        with self._lock:
            self._unplan(member)
            if math.isfinite(next_poll):
                member.planned = (next_poll - member.submitted_at, member.rank, member)
                bisect.insort(self._plans.setdefault(member.shape, []), member.planned)
            return len(self._members.get(member.shape, ()))

    def _unplan(self, member: Member) -> None:
        if member.planned is None:
            return
        plans = self._plans.get(member.shape, [])
        i = bisect.bisect_left(plans, member.planned)
        if i < len(plans) and plans[i][2] is member:
            del plans[i]
        member.planned = None

    def hint(self, member: Member) -> float | None:
        """The age by which the task is expected to finish: the youngest age at which one of the crowd's
        tasks was seen done and this one was not yet seen running (by `miss_gap` at least, after misses);
        None if there is none. (Its time on the client clock is `member.done_by(age)`.)"""
        with self._lock:
            return self._hint(member)

    def _hint(self, member: Member) -> float | None:
        ages = self._finished.get(member.shape, [])
        i = bisect.bisect_right(ages, member.running_until + miss_gap(member.misses))
        return ages[i] if i < len(ages) else None

    def finished(self, member: Member, age: float) -> int:
        """`member`'s task was seen done at `age`: wake the waits this tells something new, those that
        plan to poll well after they would be done by that age: when it is the crowd's youngest finish,
        every such wait (those seen running older go back to a lone wait's pace), otherwise those it
        gives a hint they did not have (see `hint`). Returns how many."""
        with self._lock:
            ages = self._finished.setdefault(member.shape, [])
            youngest = not ages or age < ages[0]
            bisect.insort(ages, age)
            plans = self._plans.get(member.shape, [])
            later = itertools.islice(plans, bisect.bisect_right(plans, (age + WAKE_GAIN, math.inf)), None)
            woken = [
                other.waiter
                for _, _, other in later
                if other is not member and (youngest or self._hint(other) == age)
            ]
        for waiter in woken:
            waiter.notify()
        return len(woken)
