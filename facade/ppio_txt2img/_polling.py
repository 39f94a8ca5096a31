"""When to poll next. Pure functions of what the server said so far; shared by sync and async.

The server reports `eta` (seconds left) and `progress_percent` while a task runs. From them the
schedule estimates when the task will finish and the earliest moment it plausibly could, sleeps until
one `POLL_FLOOR` after that earliest moment, and polls densely (every `POLL_FLOOR` seconds) only inside
the short window around the expected finish. Each poll refreshes the estimate, so a long task costs a
handful of polls and is still noticed within about `POLL_FLOOR` of finishing. How much the estimates
can be trusted is learnt from how well successive ones agree.

With neither eta nor progress (the docs' examples send `eta: 0`), the schedule uses a `prior`: when
tasks of the same shape finished (see `_durations.py`), the expected finish they give, treated like an
estimate. With no prior either, it polls at a fixed 0.5 s poller's pace (`POLL_BLIND_FIRST`, so never
slower to notice and never more polls) for `POLL_BLIND_STEADY` seconds, then ever more sparsely up to
`POLL_BLIND_CAP`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ._constants import (
    POLL_BLIND_CAP,
    POLL_BLIND_FIRST,
    POLL_BLIND_GROWTH,
    POLL_BLIND_STEADY,
    POLL_CAP,
    POLL_FLOOR,
    POLL_JITTER,
)

__all__ = [
    "Estimate",
    "Observation",
    "blind_delay",
    "estimate_finish",
    "next_poll_delay",
    "prior_step",
]

PROCESSING = "TASK_STATUS_PROCESSING"
#: Until successive estimates show otherwise, assume an eta may be off by this fraction.
_DEFAULT_ERROR = 0.2
_MIN_ERROR = 0.03
_MAX_ERROR = 0.5
#: Added to every uncertainty window: network round trip and timer slack, in seconds.
_SLACK = 0.03


@dataclass(frozen=True)
class Observation:
    """One poll's answer: when it arrived (client clock) and what it said."""

    at: float
    status: str
    eta: float | None = None  # seconds left; None when the server gave none (or 0)
    progress: float | None = None  # 0-100; None when the server gave none (or 0)


@dataclass(frozen=True)
class Estimate:
    """Expected finish time and the uncertainty (seconds either side), on the client clock."""

    finish: float
    error: float


@dataclass(frozen=True)
class _Raw:
    """What one observation says about the finish: when, how long from then, and a known error bound
    (from rounding: an eta in whole seconds, or an uncertain processing start)."""

    finish: float
    remaining: float
    rounding: float


def _raw_estimate(history: Sequence[Observation], i: int) -> _Raw | None:
    """Expected finish from observation i (and those before it), from progress if it can, else from eta."""
    obs = history[i]
    progress = obs.progress
    if progress is not None and obs.status == PROCESSING and progress >= 100:
        # Progress complete, status not yet: done any moment (servers finish the images, upload them).
        # Expected since the first such answer, so that a long wait past it backs off gently.
        first_full = next(o for o in history[: i + 1] if o.status == PROCESSING and (o.progress or 0) >= 100)
        return _Raw(first_full.at, 0.0, 0.0)
    if progress is not None and obs.status == PROCESSING:
        # The rate of progress: from the first processing observation with progress to this one; with
        # only this one, from the processing start (between the last earlier poll and this one).
        first = next((o for o in history[:i] if o.status == PROCESSING and o.progress is not None), None)
        if (
            first is not None
            and first.progress is not None
            and progress > first.progress
            and obs.at > first.at
        ):
            gained = progress - first.progress
            rate = gained / (obs.at - first.at)
            remaining = (100 - progress) / rate
            # Each reading is rounded (to whole percents, or to tenths when either has a fraction): the
            # rate is uncertain by one step over what was gained, and the remaining time with it.
            step = 1.0 if float(progress).is_integer() and float(first.progress).is_integer() else 0.1
            return _Raw(obs.at + remaining, remaining, remaining * min(1.0, step / gained))
        before = history[i - 1] if i > 0 and first is None else None
        if before is not None and before.status != PROCESSING:
            half_gap = (obs.at - before.at) / 2
            elapsed = obs.at - (before.at + half_gap)
            if elapsed > 0:
                remaining = elapsed * (100 - progress) / progress
                return _Raw(obs.at + remaining, remaining, remaining * half_gap / elapsed)
    if obs.eta is not None and obs.eta > 0:
        if float(obs.eta).is_integer():  # whole seconds, rounded up: the finish is within (eta-1, eta]
            return _Raw(obs.at + obs.eta - 0.5, obs.eta - 0.5, 0.5)
        return _Raw(obs.at + obs.eta, obs.eta, 0.0)
    return None


def estimate_finish(history: Sequence[Observation]) -> Estimate | None:
    """Best estimate of when the task finishes, with an uncertainty learnt from past estimates."""
    if not history:
        return None
    latest = _raw_estimate(history, len(history) - 1)
    if latest is None:
        return None
    # How far did earlier estimates miss this one (beyond their known rounding), relative to the time
    # they had left?
    misses = []
    for i in range(max(0, len(history) - 6), len(history) - 1):
        earlier = _raw_estimate(history, i)
        if earlier is not None and earlier.remaining > 0:
            miss = abs(earlier.finish - latest.finish) - earlier.rounding - latest.rounding
            misses.append(max(0.0, miss) / earlier.remaining)
    rel = _DEFAULT_ERROR if not misses else min(_MAX_ERROR, max(_MIN_ERROR, 1.5 * max(misses)))
    return Estimate(finish=latest.finish, error=rel * latest.remaining + latest.rounding + _SLACK)


def blind_delay(history: Sequence[Observation], *, now: float, jitter: float = 0.0, crowd: int = 1) -> float:
    """The delay with nothing to go on: a 0.5 s poller's pace at first, then growing to the cap.

    The jitter here is symmetric (+/- half of `POLL_JITTER`): with no expected finish to overshoot, it
    spreads clients without adding polls on average.

    A wait in a crowd of `crowd` (see `_crowds.py`) polls `sqrt(crowd)` times less often, up to
    `POLL_CAP`: the crowd as a whole still looks `sqrt(crowd)` times as often as one wait. Its waits
    polled together once (their first poll, which tells whether the server sends an eta: polls sent
    together cost less CPU than the same polls spread out), then each waits anywhere up to that
    interval, so that their polls spread over every phase of it."""
    started = history[0].at if history else now
    steady_polls = sum(1 for o in history if o.at - started > POLL_BLIND_STEADY)
    delay = min(POLL_BLIND_CAP, POLL_BLIND_FIRST * POLL_BLIND_GROWTH**steady_polls)
    if crowd > 1:
        delay = max(delay, min(POLL_CAP, delay * math.sqrt(crowd)))
        if len(history) == 1:
            return jitter * delay
    return delay * (1 + POLL_JITTER * (jitter - 0.5))


def next_poll_delay(
    history: Sequence[Observation],
    *,
    now: float,
    jitter: float = 0.0,
    prior: Estimate | None = None,
    crowd: int = 1,
) -> float:
    """Seconds to sleep before the next poll.

    `jitter` is a random number in [0, 1); it only ever shortens the delay (by up to `POLL_JITTER`, and
    by at most `POLL_FLOOR` when sleeping up to the window), so that many clients spread out without
    ever sleeping past the expected finish. `prior` is the
    expected finish learnt from earlier tasks of the same shape, used when the server says nothing;
    `crowd`, the size of the wait's crowd, paces its polls when there is nothing to go on.
    """
    estimate = estimate_finish(history)
    cap = POLL_CAP  # the server's estimate is refreshed by every poll: do not sleep long on an old one
    if estimate is None and prior is not None and now <= prior.finish + 2 * prior.error:
        estimate = prior  # well past the learnt window, the task is not like the others: poll blind
        cap = math.inf  # a silent server has nothing to add before the window
    if estimate is None:
        return max(POLL_FLOOR, blind_delay(history, now=now, jitter=jitter, crowd=crowd))
    # The first poll of the window goes one `POLL_FLOOR` after its start (or at the expected finish, if
    # the window is narrower): a task that finishes at the earliest plausible moment is still noticed
    # within `POLL_FLOOR`, and the poll is not spent where the task can hardly be done yet.
    first = min(estimate.finish, estimate.finish - estimate.error + POLL_FLOOR)
    if first - now > POLL_FLOOR:
        delay = min(cap, first - now)
        if crowd > 1 and estimate is not prior:
            # A crowd's waits, each on the server's estimate of its own task: submitted together, their
            # windows open together, and jittered, most would poll once before their task is done, all
            # in the moment the crowd finishes, when its polls, downloads and decodes compete for the
            # client (1,000 tasks: 0.4 such polls per task, 3 points more wall time). Their submissions
            # spread their polls already. (A crowd sharing a learnt prior keeps the jitter: spread by it,
            # its scouts' polls sample the window finer than one wait can.)
            return delay
        # Sleeping up to the window: the jitter spreads clients by at most one `POLL_FLOOR`, so that a
        # long sleep does not end far ahead of the window (10 % of 5 s is half a second of early polls).
        return max(POLL_FLOOR, delay - min(POLL_JITTER * delay, POLL_FLOOR) * jitter)
    # Inside the window: poll densely; if the task is overdue, back off gently.
    overdue = max(0.0, now - (estimate.finish + estimate.error))
    step = POLL_FLOOR if estimate is not prior else prior_step(estimate)
    delay = min(POLL_CAP, step + 0.25 * overdue)
    return max(POLL_FLOOR, delay * (1 - POLL_JITTER * jitter))


def prior_step(prior: Estimate) -> float:
    """How often to poll inside a prior's window: every `POLL_FLOOR` in a narrow one, about four times
    across a wide one (durations that varied, or were measured coarsely: every `POLL_FLOOR` across a
    window of +/- 1 s was 20 polls for one task), and never less often than a 0.5 s poller."""
    return min(POLL_BLIND_FIRST, max(POLL_FLOOR, prior.error / 2))
