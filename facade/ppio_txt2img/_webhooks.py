"""Reading the `ASYNC_TASK_RESULT` webhook the API POSTs when a task finishes. Pure: no I/O.

The event is not signed (the API documents no signature), so treat it as a hint: to act on it safely,
look the task up with `client.get_task(task.id)` or fetch its images with `client.wait(task.id)`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ._adapter import ResponseMismatch, task_from_payload
from ._errors import ValidationError
from ._results import Task

__all__ = ["WEBHOOK_EVENT_TYPE", "parse_webhook", "webhook_task_id"]

#: The one event type the API documents; others are to be ignored.
WEBHOOK_EVENT_TYPE = "ASYNC_TASK_RESULT"


def _task_result_event(body: bytes | str | Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The decoded event when it is an `ASYNC_TASK_RESULT`, None for another type; `ValidationError` for
    a body that is no webhook event."""
    raw: object = body  # callers without type checking pass anything
    if not isinstance(raw, bytes | str | Mapping):
        allowed = "the request body: bytes, str or a decoded mapping"
        raise ValidationError("body", body, allowed, "is not a body")
    try:
        data = json.loads(body) if isinstance(body, bytes | str) else body
    except (ValueError, RecursionError):
        raise ValidationError("body", body, "a JSON webhook event", "is not JSON") from None
    if not isinstance(data, Mapping) or "event_type" not in data:
        raise ValidationError(
            "event_type", None, "a webhook event with event_type and payload", "is required"
        )
    return data if data["event_type"] == WEBHOOK_EVENT_TYPE else None


def webhook_task_id(body: bytes | str) -> str | None:
    """The id of the task a webhook event reports, read and nothing more (None for another event type):
    what a receiver needs to wake a wait, which then looks the task up itself. Much cheaper than
    `parse_webhook` on a large event. Raises `ValidationError` for a body that is not a webhook event."""
    data = _task_result_event(body)
    if data is None:
        return None
    payload = data.get("payload")
    task = payload.get("task") if isinstance(payload, Mapping) else None
    task_id = task.get("task_id") if isinstance(task, Mapping) else None
    if not (isinstance(task_id, str) and task_id):
        raise ValidationError("payload.task.task_id", task_id, "the id of a task (a non-empty string)")
    return task_id


def parse_webhook(
    body: bytes | str | Mapping[str, Any], *, received_at: datetime | None = None
) -> Task | None:
    """The task a webhook event reports (its images' `expires_at` counted from `received_at`, default now).

    Returns None for an event of another type (the docs say to ignore those); raises `ValidationError`
    for a body that is not a webhook event.
    """
    data = _task_result_event(body)
    if data is None:
        return None
    try:
        return task_from_payload(data.get("payload"), received_at or datetime.now(UTC), "payload")
    except ResponseMismatch as exc:
        raise ValidationError(
            "payload",
            data.get("payload"),
            "a task result with task.task_id and task.status",
            f"is not a task result ({exc})",
        ) from None
