"""The tasks a client submitted and has not waited for yet: when, of what shape, and whether a webhook for
the client's receiver was asked for.

`txt2img()` waits for the task it submitted and knows all this. `submit()` and then `wait(task_id)` (how
apps and the batch runner handle many tasks) would know none of it, so the wait would neither learn the
task's duration nor use the durations learnt (`_durations.py`), nor poll with its crowd (`_crowds.py`),
nor tell a webhook that never came (`webhooks.py`). `submit()` notes each task here and `wait()` takes it
back. Bounded (a client that submits and never waits keeps the newest `KEPT`); a task submitted by
another client or process is not here, and its wait goes on as before. Pure but for a lock: no I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass

from ._constants import POLL_FIRST_AFTER_SUBMIT

__all__ = ["Submissions", "Submitted"]

#: Submitted tasks remembered per client, the newest kept.
KEPT = 10_000


@dataclass(frozen=True)
class Submitted:
    """A task this client submitted: when (client clock, the middle of its POST and answer) and its shape,
    to learn and use its duration; and the URL of the client's receiver when the API was told to send the
    task's webhook there (None: no webhook, or one sent elsewhere)."""

    at: float
    shape: Hashable
    webhook_url: str | None = None
    #: When the POST's answer was read (None: at `at`); the first poll is counted from it.
    answered: float | None = None
    #: Whether the wait polls with its crowd (`_crowds.py`): `txt2img()`'s waits, which all start at their
    #: submission. Not a `wait()` after `submit()`, which may start at any time: its crowd would take its
    #: task's age, however late it first looked, for a finish (a finish age is what the crowd shares).
    crowd: bool = True

    @property
    def first_poll_at(self) -> float:
        """When the first poll is due (client clock): a task just created is only queued."""
        return (self.at if self.answered is None else self.answered) + POLL_FIRST_AFTER_SUBMIT


#: What a request asked for: how many images and their size (None: not known, e.g. set by `extra_body`).
Asked = tuple[int | None, tuple[int, int] | None]


class Submissions:
    """Tasks submitted by `submit()`, until a `wait()` takes them; shared by a client's calls and threads.
    What each asked for stays (`asked`) for every wait on it, not only the first: a second wait, after a
    timeout or from another thread, checks the images as the first did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Submitted] = {}
        self._asked: dict[str, Asked] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, task_id: str, submitted: Submitted, asked: Asked = (None, None)) -> None:
        with self._lock:
            self._by_id[task_id] = submitted
            self._asked[task_id] = asked
            for memory in (self._by_id, self._asked):
                while len(memory) > KEPT:
                    del memory[next(iter(memory))]  # the oldest first

    def asked(self, task_id: str) -> Asked:
        """What `submit()` asked of the task, for every wait on it ((None, None): not known)."""
        with self._lock:
            return self._asked.get(task_id, (None, None))

    def take(self, task_id: str) -> Submitted | None:
        """What `submit()` noted of the task, once: the first wait on it learns from it."""
        with self._lock:
            return self._by_id.pop(task_id, None)
