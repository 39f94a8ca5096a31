"""What every public call carries: the client's settings, one deadline, what is known so far, and
the guard that turns a passed deadline or an interruption into a useful error."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from ._crowds import Crowds
from ._durations import DurationMemory
from ._errors import ClientClosedError, PPIOError, WaitTimeoutError
from ._io import ClientClosed, Flow
from ._results import TaskStatus
from ._retry import Failure, classify_exception
from ._submissions import Submissions
from ._wakeups import Wakeups

T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Settings:
    """A client's configuration, as the flows see it."""

    base_url: str
    api_key: str = field(repr=False)
    max_retries: int
    request_timeout: float
    connect_timeout: float
    max_image_bytes: int
    #: Added to every API request (never to image hosts): the client's `default_headers`, then a
    #: call's `extra_headers`.
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: Added to the query of every API request of a call (`extra_query`).
    query: Mapping[str, Any] = field(default_factory=dict)
    #: Durations of this client's finished tasks, per shape (shared by the calls; see `_durations.py`).
    durations: DurationMemory = field(default_factory=DurationMemory, repr=False, compare=False)
    #: Waits on tasks of one shape with nothing learnt, in flight together (see `_crowds.py`).
    crowds: Crowds = field(default_factory=Crowds, repr=False, compare=False)
    #: Tasks `submit()` made and no `wait()` has taken yet (see `_submissions.py`).
    submissions: Submissions = field(default_factory=Submissions, repr=False, compare=False)
    #: With a webhook receiver: the waits it wakes (see `webhooks.py`).
    wakeups: Wakeups | None = field(default=None, repr=False, compare=False)
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = _utc_now
    rng: Callable[[], float] = field(default=random.random, repr=False)


class Deadline:
    """One bound for a whole call, on the settings' clock."""

    def __init__(self, clock: Callable[[], float], timeout: float) -> None:
        self.clock = clock
        self.timeout = timeout
        self.at = clock() + timeout

    def remaining(self) -> float:
        return self.at - self.clock()


@dataclass
class Tracker:
    """What a call knows so far, for the errors it may have to raise."""

    task_id: str | None = None
    last_status: str | None = None
    #: The POST that creates the task is under way: an interruption may leave a task behind.
    submitting: bool = False
    #: What the call does, for a timeout before any task is known.
    operation: str = "submitting the task"

    def created(self, task_id: str) -> None:
        """The POST's answer named the task it created: the call's errors name it from now on."""
        self.task_id, self.last_status, self.submitting = task_id, "submitted", False


class Expired(Exception):
    """The deadline passed inside a flow, or will have passed before anything more can be done (`why`
    says so then); `guarded` turns it into `WaitTimeoutError`."""

    def __init__(self, why: str | None = None) -> None:
        super().__init__(why)
        self.why = why


def _failure_text(cause: BaseException | None, task_id: str) -> str | None:
    """What a look at task `task_id` that failed as the deadline came ran into, in words (None: it did
    not fail), without naming the task again."""
    if cause is None:
        return None
    text = str(cause) if isinstance(cause, PPIOError) else f"{type(cause).__name__}: {cause}"
    return text.removesuffix(f" (task {task_id})")


def guarded(flow: Flow[T], deadline: Deadline, tracker: Tracker) -> Flow[T]:
    """Run a public flow: a passed deadline becomes `WaitTimeoutError` with the task id and last status;
    Ctrl-C or cancellation gets the task id attached (`exc.task_id` and a note) before it propagates."""
    try:
        return (yield from flow)
    except ClientClosed:
        raise ClientClosedError(tracker.task_id) from None
    except Expired as exc:
        cause = exc.__cause__
        # Timed out while the POST awaited its answer (not while connecting): a task may exist.
        unknown = (
            tracker.task_id is None
            and tracker.submitting
            and cause is not None
            and classify_exception(cause) is not Failure.NOT_SENT
        )
        raise WaitTimeoutError(
            tracker.task_id,
            tracker.last_status,
            deadline.timeout,
            outcome_unknown=unknown,
            operation=tracker.operation,
            last_failure=None if tracker.task_id is None else _failure_text(cause, tracker.task_id),
            early=exc.why,
        ) from cause
    except BaseException as exc:
        if not isinstance(exc, Exception):  # KeyboardInterrupt, asyncio/trio cancellation
            if tracker.task_id is not None:
                exc.task_id = tracker.task_id  # type: ignore[attr-defined]
                state = (  # interrupted while its images were downloading, or before it was done
                    "has succeeded; its images were downloading"
                    if tracker.last_status == TaskStatus.SUCCEED
                    else "was submitted and may still be running"
                )
                exc.add_note(
                    f"ppio_txt2img: task {tracker.task_id} {state}; "
                    f"resume with client.wait({tracker.task_id!r}) or `ppio wait {tracker.task_id}`"
                )
            elif tracker.submitting:
                exc.add_note("ppio_txt2img: interrupted while submitting; a task may have been created")
        raise
