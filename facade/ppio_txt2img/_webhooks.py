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

__all__ = ["WEBHOOK_EVENT_TYPE", "parse_webhook"]

#: The one event type the API documents; others are to be ignored.
WEBHOOK_EVENT_TYPE = "ASYNC_TASK_RESULT"


def parse_webhook(
    body: bytes | str | Mapping[str, Any], *, received_at: datetime | None = None
) -> Task | None:
    """The task a webhook event reports (its images' `expires_at` counted from `received_at`, default now).

    Returns None for an event of another type (the docs say to ignore those); raises `ValidationError`
    for a body that is not a webhook event.
    """
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
    if data["event_type"] != WEBHOOK_EVENT_TYPE:
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
