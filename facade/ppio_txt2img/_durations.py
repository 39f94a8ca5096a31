"""How long tasks of one shape took: the prior of the poll schedule when the server gives neither `eta`
nor `progress_percent`.

A client remembers, per request shape (model, size, steps, images, hires fix, refiner), the durations of
its last finished tasks, each measured from submission to the middle of the interval in which the task
finished (between the last poll that saw it running and the first that saw it done). After `MIN_SAMPLES`
tasks of a shape, the next one's first poll goes just before the expected finish (see `prior_from`).
Pure but for a lock: no I/O, no clock of its own.
"""

from __future__ import annotations

import statistics
import threading
from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DurationMemory", "Prior", "least_spread", "prior_from", "shape_of"]

#: Finished tasks of a shape needed before their durations are trusted.
MIN_SAMPLES = 2
#: Durations kept per shape (the most recent ones).
KEPT = 16
#: Shapes kept per client (the least recently recorded one is forgotten first).
MAX_SHAPES = 256
#: The smallest uncertainty a prior is given, relative to its duration and in seconds.
MIN_RELATIVE_SPREAD = 0.02
MIN_SPREAD = 0.05


@dataclass(frozen=True)
class Prior:
    """A task's expected duration from submission, and how far off it may be (seconds)."""

    duration: float
    spread: float


def shape_of(body: Mapping[str, Any]) -> Hashable:
    """What makes tasks take the same time: model, size, steps, images, hires fix, refiner."""
    request = body["request"]
    hires = request.get("hires_fix") or {}
    refiner = request.get("refiner") or {}
    return (
        request.get("model_name"),
        request.get("width"),
        request.get("height"),
        request.get("steps"),
        request.get("image_num"),
        hires.get("target_width"),
        hires.get("target_height"),
        refiner.get("switch_at"),
    )


class DurationMemory:
    """The recent durations of finished tasks, per shape. Safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Per shape: (duration, half the width of the interval it was measured in), oldest first.
        self._durations: dict[Hashable, deque[tuple[float, float]]] = {}

    def record(self, shape: Hashable, *, submitted_at: float, lower: float, upper: float) -> None:
        """A task of `shape` submitted at `submitted_at` finished between `lower` and `upper`."""
        duration = (lower + upper) / 2 - submitted_at
        if not duration > 0 or upper < lower:
            return
        with self._lock:
            kept = self._durations.pop(shape, None) or deque(maxlen=KEPT)
            kept.append((duration, (upper - lower) / 2))
            self._durations[shape] = kept  # most recently recorded last
            while len(self._durations) > MAX_SHAPES:
                del self._durations[next(iter(self._durations))]

    def prior(self, shape: Hashable) -> Prior | None:
        """The expected duration of a task of `shape`; None until `MIN_SAMPLES` of them finished."""
        with self._lock:
            samples = list(self._durations.get(shape, ()))
        if len(samples) < MIN_SAMPLES:
            return None
        return prior_from(samples)


def prior_from(samples: Sequence[tuple[float, float]]) -> Prior:
    """The prior from (duration, half the width of the interval it was measured in) samples.

    When one duration fits every measurement (their intervals overlap), it lies where they overlap: a
    task noticed by dense polls pins it down, however coarse the others were (but it is known no better
    than the best measurement: two coarse intervals may overlap in a sliver by chance). Otherwise the
    tasks do vary: the median, as uncertain as the tasks vary and as the measurements were coarse."""
    durations = [duration for duration, _ in samples]
    lowest = max(duration - half for duration, half in samples)
    highest = min(duration + half for duration, half in samples)
    if lowest <= highest:
        middle = (lowest + highest) / 2
        best = min(half for _, half in samples)
        return Prior(duration=middle, spread=max((highest - lowest) / 2, best, least_spread(middle)))
    middle = statistics.median(durations)
    deviation = statistics.median(abs(d - middle) for d in durations)
    # A finish noticed by a sparse poll is only known to within that poll's interval (later ones,
    # polled densely, narrow it).
    coarseness = statistics.median(half_width for _, half_width in samples)
    return Prior(duration=middle, spread=max(1.5 * deviation, coarseness, least_spread(middle)))


def least_spread(duration: float) -> float:
    """The least uncertainty of a duration: `MIN_RELATIVE_SPREAD` of it, at least `MIN_SPREAD`."""
    return max(MIN_RELATIVE_SPREAD * duration, MIN_SPREAD)
