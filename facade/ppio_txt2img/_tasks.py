"""Tasks as flows: submit (never resent unless no task can exist), one look, and the adaptive wait."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ._call import Deadline, Expired, Settings, Tracker
from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    RateLimitError,
    ServerError,
    TaskFailedError,
)
from ._http import api_call, value_or_none
from ._images import expires_at, parse_int
from ._inputs import ProgressCallback
from ._io import Flow, Notify, Sleep
from ._polling import Observation, next_poll_delay
from ._results import ImageRef, NsfwResult, Task, TaskStatus
from ._retry import backoff_delay

if TYPE_CHECKING:  # the generated layer is imported on first use: `import ppio_txt2img` stays light
    from ppio_api.models import TaskResultResponse

#: Seconds kept in hand for a last poll when the deadline is near.
_LAST_LOOK = 0.25


def submit_flow(
    settings: Settings, deadline: Deadline, tracker: Tracker, body: Mapping[str, Any]
) -> Flow[str]:
    """Create the task (the POST is resent only when no task can have been created)."""
    from ppio_api.api.txt2img import create_txt2img_task
    from ppio_api.models import CreateTaskResponse, Txt2ImgBody

    tracker.last_status, tracker.submitting = "submitting", True
    created: CreateTaskResponse = yield from api_call(
        settings,
        deadline,
        create_txt2img_task.build_request(body=Txt2ImgBody.from_dict(body)),
        create_txt2img_task.parse_response,
        idempotent=False,
    )
    tracker.task_id, tracker.last_status, tracker.submitting = created.task_id, "submitted", False
    return created.task_id


def task_from_result(result: TaskResultResponse, received_at: datetime) -> Task:
    """The facade's `Task` from the generated model (every documented variant handled)."""
    images = []
    for image in value_or_none(result.images) or []:
        nsfw_raw = value_or_none(image.nsfw_detection_result)
        nsfw = (
            None
            if nsfw_raw is None
            else NsfwResult(
                valid=value_or_none(nsfw_raw.valid), confidence=value_or_none(nsfw_raw.confidence)
            )
        )
        image_type = value_or_none(image.image_type)
        images.append(
            ImageRef(
                url=image.image_url,
                image_type=None if image_type is None else str(image_type),
                expires_at=expires_at(value_or_none(image.image_url_ttl), received_at),
                nsfw=nsfw,
            )
        )
    task = result.task
    extra = value_or_none(result.extra)
    task_type = value_or_none(task.task_type)
    return Task(
        id=task.task_id,
        status=str(task.status),
        progress=value_or_none(task.progress_percent),
        eta=value_or_none(task.eta),
        reason=value_or_none(task.reason) or None,
        task_type=None if task_type is None else str(task_type),
        seed=None if extra is None else parse_int(value_or_none(extra.seed)),
        images=tuple(images),
    )


def get_task_flow(settings: Settings, deadline: Deadline, task_id: str) -> Flow[Task]:
    """One look at the task."""
    from ppio_api.api.tasks import get_task_result

    result: TaskResultResponse = yield from api_call(
        settings,
        deadline,
        get_task_result.build_request(task_id=task_id),
        get_task_result.parse_response,
        idempotent=True,
        task_id=task_id,
    )
    return task_from_result(result, settings.now())


_TRANSIENT = (APIConnectionError, RateLimitError, ServerError, APIResponseValidationError)


def wait_flow(
    settings: Settings,
    deadline: Deadline,
    tracker: Tracker,
    task_id: str,
    on_progress: ProgressCallback | None = None,
    first_poll_after: float = 0.0,
) -> Flow[Task]:
    """Poll until the task succeeds (returned) or fails (`TaskFailedError`), on the adaptive schedule.

    `first_poll_after`: a task submitted a moment ago is only queued; its first poll can wait.
    """
    tracker.task_id = task_id
    history: list[Observation] = []
    last_seen: tuple[object, ...] | None = None
    failures = 0
    if first_poll_after > 0:
        yield Sleep(min(first_poll_after, max(0.0, deadline.remaining() - _LAST_LOOK)))
    while True:
        try:
            task = yield from get_task_flow(settings, deadline, task_id)
        except _TRANSIENT as exc:
            # A poll that failed even after its retries does not end the wait; the deadline does.
            failures += 1
            delay = backoff_delay(min(failures, 4), settings.rng)
            if delay >= deadline.remaining():
                raise Expired from exc
            yield Sleep(delay)
            continue
        failures = 0
        tracker.last_status = task.status
        seen = (task.status, task.progress, task.eta)
        if on_progress is not None and seen != last_seen:
            yield Notify(on_progress, task)
        last_seen = seen
        if task.status == TaskStatus.SUCCEED:
            return task
        if task.status == TaskStatus.FAILED:
            raise TaskFailedError(task_id, task.reason or "")
        now = settings.clock()
        history.append(
            Observation(at=now, status=task.status, eta=task.eta or None, progress=task.progress or None)
        )
        delay = next_poll_delay(history, now=now, jitter=settings.rng())
        remaining = deadline.remaining()
        if delay >= remaining - _LAST_LOOK:
            if remaining <= _LAST_LOOK:
                raise Expired
            delay = remaining - _LAST_LOOK  # one last look just before the deadline
        yield Sleep(delay)
