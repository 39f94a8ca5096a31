"""What a command run with `--json` prints on stdout when it fails: the error as one JSON object, so a
script that reads stdout (`ppio txt2img ... --json | jq`) always gets JSON. The human line still goes
to stderr and the exit status is the same as without `--json`.

    {"error": {"type": "TaskFailedError", "message": "task 1f0c... failed: ILLEGAL_PROMPT",
               "task_id": "1f0c...", "reason": "ILLEGAL_PROMPT"},
     "exit_code": 1}

`type` is the exception's class name: the SDK's (`ValidationError`, `NotFoundError`, `WaitTimeoutError`,
...; see `_errors.py`), the CLI's own `UsageError` (bad arguments, exit status 2) and `CommandError`
(e.g. an image that could not be written), or `KeyboardInterrupt` (exit status 130). `message` is the
line stderr shows; `task_id` is always there (null while no task exists). The other keys are the
error's own attributes, named as in the SDK, every one of its type always present (null when unknown);
the API's own message of an `APIStatusError` is `api_message`. Never an error's raw body or headers,
and never the API key (the SDK's errors hold none). `ppio batch --json` writes the same object as one
more event line: `{"event": "error", "error": {...}, "exit_code": 2}`.

Pure: building the object and its text does no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from ppio_txt2img._errors import (
    APIError,
    APIResponseValidationError,
    APIStatusError,
    ImageError,
    TaskFailedError,
    ValidationError,
    WaitTimeoutError,
)

from ._display import json_text

__all__ = ["error_object", "failure_text"]

#: The attributes an error shows, by class: an error shows those of each class it is an instance of,
#: in this order (a name shown once). `api_message` is an `APIStatusError`'s `message`.
_ATTRIBUTES: tuple[tuple[type[BaseException], tuple[str, ...]], ...] = (
    (ValidationError, ("field", "value", "allowed", "problem")),
    (APIStatusError, ("status_code", "reason", "api_message", "metadata", "retry_after")),
    (APIResponseValidationError, ("status_code", "reason")),
    (APIError, ("outcome_unknown",)),
    (TaskFailedError, ("reason",)),
    (WaitTimeoutError, ("last_status", "timeout", "early", "last_failure", "outcome_unknown")),
    (ImageError, ("index", "status_code", "reason")),
)
_RENAMED = {"api_message": "message"}


def error_object(
    exc: BaseException,
    message: str,
    *,
    task_id: str | None = None,
    **extra: object,
) -> dict[str, Any]:
    """The JSON object that describes `exc`: its type, `message` (what stderr says), `task_id` (the
    error's own, else the one given), its attributes, and `extra` (what the CLI adds: the flag behind a
    field, the command that resumes a wait)."""
    error: dict[str, Any] = {
        "type": type(exc).__name__,
        "message": message,
        "task_id": getattr(exc, "task_id", None) or task_id,
    }
    for cls, names in _ATTRIBUTES:
        if isinstance(exc, cls):
            for name in names:
                error.setdefault(name, getattr(exc, _RENAMED.get(name, name), None))
    if isinstance(exc, ImageError):  # those that did arrive (the CLI saves them: `saved`, their paths)
        error["images"] = [image.to_dict() for image in exc.images]
    error.update(extra)
    return {key: _json_value(value) for key, value in error.items()}


def failure_text(error: dict[str, Any], exit_code: int, *, event: bool) -> str:
    """What stdout gets: `{"error": ..., "exit_code": ...}` as indented JSON, like a command's result,
    or (`event`: `ppio batch`'s stream of events) as one more event line."""
    if event:
        return json_text({"event": "error", "error": error, "exit_code": exit_code}, allow_nan=False)
    return json_text({"error": error, "exit_code": exit_code}, indent=2, allow_nan=False)


def _json_value(value: object) -> object:
    """`value` when JSON holds it as it is (strict JSON: no NaN or infinity), else its `repr` (`-inf`,
    an object), or its type's name when even that fails (an int too long to print)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        pass
    else:
        return value
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__name__}>"
