"""The SDK's operations, composed from the flows of `_tasks.py` and `_downloads.py`: submit -> wait ->
download and decode every image, and the model list; driven by the sync or async client (`_io.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._adapter import models_request, parse_models_page
from ._call import Deadline, Expired, Settings, Tracker
from ._downloads import download_flow
from ._durations import shape_of
from ._errors import ImageError
from ._http import api_call
from ._inputs import ProgressCallback
from ._io import Flow, Gather
from ._request_body import body_option
from ._results import GeneratedImage, Generation, Model
from ._submissions import Submitted
from ._tasks import submit_flow, wait_flow


@dataclass(frozen=True)
class Expected:
    """What the request asked for, to check the result against (None: not known, as in `wait()`)."""

    image_num: int | None = None
    size: tuple[int, int] | None = None


def generation_flow(
    settings: Settings,
    deadline: Deadline,
    tracker: Tracker,
    task_id: str,
    on_progress: ProgressCallback | None = None,
    submitted: Submitted | None = None,
    expected: Expected = Expected(),
) -> Flow[Generation]:
    """Wait for the task, then download and decode all its images concurrently, in the API's order.

    Every image asked for arrives, or `ImageError` says which did not and carries those that did.
    """
    task = yield from wait_flow(settings, deadline, tracker, task_id, on_progress, submitted)
    # Loops, not comprehensions: a comprehension over this flow's arguments would hold them in cells, a
    # few more objects for the collector to visit in each of a thousand waits at once.
    downloads = []
    for i, ref in enumerate(task.images):
        downloads.append(download_flow(settings, deadline, task_id, i, ref, expected.size))
    outcomes: list[Any] = yield Gather(downloads)
    images = tuple(filter(_is_image, outcomes))
    for outcome in outcomes:
        if isinstance(outcome, Expired):
            raise outcome
    for outcome in outcomes:
        if isinstance(outcome, ImageError):
            raise outcome.with_images(images)
        if isinstance(outcome, BaseException):
            raise outcome
    wanted = expected.image_num or 1
    if len(images) < wanted:
        asked = f"{expected.image_num}" if expected.image_num else "at least 1"
        raise ImageError(
            f"the task succeeded with {len(images)} of {asked} images",
            task_id=task_id,
            index=len(images),
            reason=ImageError.FEWER_IMAGES,
            images=images,
        )
    return Generation(task_id=task_id, seed=task.seed, images=images, task=task)


def _is_image(outcome: object) -> bool:
    return isinstance(outcome, GeneratedImage)


def submitted_flow(
    settings: Settings,
    deadline: Deadline,
    tracker: Tracker,
    body: Mapping[str, Any],
    extra_body: Mapping[str, Any] | None = None,
    receiver_url: str | None = None,
) -> Flow[tuple[str, Submitted]]:
    """Submit the task: its id, and what its wait learns from (`Submitted`). `receiver_url`: the URL of
    the client's webhook receiver, if it has one."""
    sent = settings.clock()
    task_id = yield from submit_flow(settings, deadline, tracker, body, extra_body)
    # The task was created between the POST and its answer: dated at the middle, as its finish is. With
    # many POSTs at once, the answer can be read well after the task was created (a busy event loop);
    # dated at the answer, the next task of the shape would be polled that much too late.
    answered = settings.clock()
    hooked = body_option(body, "webhook_url")
    webhook_url = hooked if hooked == receiver_url else None
    if webhook_url is not None and settings.wakeups is not None:
        settings.wakeups.expect(task_id)
    return task_id, Submitted((sent + answered) / 2, shape_of(body), webhook_url, answered)


def txt2img_flow(
    settings: Settings,
    deadline: Deadline,
    tracker: Tracker,
    body: Mapping[str, Any],
    on_progress: ProgressCallback | None = None,
    expected: Expected = Expected(),
    extra_body: Mapping[str, Any] | None = None,
    receiver_url: str | None = None,
) -> Flow[Generation]:
    submission = submitted_flow(settings, deadline, tracker, body, extra_body, receiver_url)
    task_id, submitted = yield from submission
    return (
        yield from generation_flow(settings, deadline, tracker, task_id, on_progress, submitted, expected)
    )


def models_page_flow(
    settings: Settings, deadline: Deadline, query: Mapping[str, Any], cursor: str | None
) -> Flow[tuple[list[Model], str | None]]:
    """One page of `GET /v3/model` (query already validated): the models and the next cursor, if any."""
    return (
        yield from api_call(
            settings,
            deadline,
            models_request(query, cursor),
            lambda reply: parse_models_page(reply.content),
            idempotent=True,
        )
    )
