"""The SDK's exceptions: one tree, rooted at `PPIOError`.

    PPIOError
    ├── ValidationError (ValueError)        bad input, caught before any request is sent
    ├── APIError                            the API or the network failed
    │   ├── APIStatusError                  an HTTP error status: status_code, reason, message
    │   │   ├── AuthenticationError         401 / 403
    │   │   ├── NotFoundError               404 (a missing task: reason TASK_NOT_FOUND)
    │   │   ├── RateLimitError              429
    │   │   └── ServerError                 5xx
    │   ├── APIConnectionError              no response: connect / read errors, per-request timeouts
    │   └── APIResponseValidationError      a 2xx response whose body is not what the spec says
    ├── TaskFailedError                     the task ended TASK_STATUS_FAILED: task_id, reason
    ├── WaitTimeoutError (TimeoutError)     the call's deadline passed: task_id, last_status
    └── ImageError                          an image could not be downloaded or decoded: task_id, index,
                                            and the images that did arrive

Every error that concerns a task carries its `task_id` (None when no task was created yet). An error
raised by the POST that creates a task says in `outcome_unknown` whether a task may exist anyway: such
a request is never resent, so as never to charge twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._results import GeneratedImage

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "AuthenticationError",
    "ImageError",
    "NotFoundError",
    "PPIOError",
    "RateLimitError",
    "ServerError",
    "TaskFailedError",
    "ValidationError",
    "WaitTimeoutError",
]

_OUTCOME_UNKNOWN = (
    " The request may have reached the server, so a task may have been created and billed;"
    " it was not resent. Check your task list before trying again."
)


def _outcome_unknown(message: str) -> str:
    """`message`, ended as a sentence, then what an unknown outcome means."""
    return message + ("" if message.endswith((".", "!", "?")) else ".") + _OUTCOME_UNKNOWN


def _rebuild(cls: type[PPIOError], args: tuple[Any, ...], state: dict[str, Any]) -> PPIOError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class PPIOError(Exception):
    """The root of every error this SDK raises."""

    task_id: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its message and attributes, not by calling __init__ again (whose arguments are
        # keyword-only): errors cross process pools and multiprocessing queues intact.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class ValidationError(PPIOError, ValueError):
    """An argument is outside what the API accepts. Raised before any request is sent.

    `field` is the path in the request body (`request.loras[2].strength`), `value` the bad value and
    `allowed` a description of what is allowed (`0 to 1`, `one of png, webp, jpeg`).
    """

    def __init__(
        self, field: str, value: object, allowed: str, problem: str | None = None, *, show_value: bool = True
    ) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        self.problem = problem or "is not allowed"
        if not show_value or problem == "is required":  # "request.loras has 6 items", "... is required"
            super().__init__(f"{field} {self.problem}; allowed: {allowed}")
            return
        try:
            shown = repr(value)
        except Exception:  # an int too long to print, a broken __repr__
            shown = f"<{type(value).__name__}>"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{field}: {shown} {self.problem}; allowed: {allowed}")


def _names(message: str, task_id: str) -> bool:
    """Whether `message` names the task already, as a word of its own ("task X not found", not the 4 of
    "HTTP 404")."""
    return re.search(rf"(?<![\w-]){re.escape(task_id)}(?![\w-])", message) is not None


class APIError(PPIOError):
    """The API or the network failed."""

    def __init__(self, message: str, *, task_id: str | None = None, outcome_unknown: bool = False) -> None:
        self.task_id = task_id
        self.outcome_unknown = outcome_unknown
        if outcome_unknown:
            message = _outcome_unknown(message)
        if task_id is not None and not _names(message, task_id):
            message = f"{message} (task {task_id})"
        super().__init__(message)


class APIStatusError(APIError):
    """The API answered with an error status. `reason` and `message` come from its error body."""

    def __init__(
        self,
        *,
        status_code: int,
        reason: str | None,
        message: str | None,
        metadata: Mapping[str, str] | None = None,
        body: bytes = b"",
        retry_after: float | None = None,
        task_id: str | None = None,
        outcome_unknown: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.reason = reason
        self.message = message
        self.metadata = dict(metadata or {})
        #: The response's headers (e.g. a gateway's request id), lower-cased names.
        self.headers = dict(headers or {})
        self.body = body
        self.retry_after = retry_after
        text = f"HTTP {status_code}"
        if reason:
            text += f" {reason}"
        if message:
            text += f": {message.strip()}"
        super().__init__(text, task_id=task_id, outcome_unknown=outcome_unknown)


class AuthenticationError(APIStatusError):
    """401 or 403: the API key is missing, wrong, or not allowed to do this."""


class NotFoundError(APIStatusError):
    """404: no such task (reason `TASK_NOT_FOUND`) or no such API."""


class RateLimitError(APIStatusError):
    """429: too many requests. Retried automatically up to `max_retries`; then raised."""


class ServerError(APIStatusError):
    """5xx: the API failed or is overloaded."""


class APIConnectionError(APIError):
    """No response came back: the connection failed or dropped, or a request timed out."""


class APIResponseValidationError(APIError):
    """A successful response whose body does not match the spec. `reason`: the API's reason, when the
    body is the API's error body after all (a gateway answering 200 to an error)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: bytes,
        task_id: str | None = None,
        outcome_unknown: bool = False,
        reason: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.body = body
        self.reason = reason
        super().__init__(message, task_id=task_id, outcome_unknown=outcome_unknown)


class TaskFailedError(PPIOError):
    """The task ended with `TASK_STATUS_FAILED`; `reason` is the API's explanation."""

    def __init__(self, task_id: str, reason: str) -> None:
        self.task_id = task_id
        self.reason = reason
        super().__init__(f"task {task_id} failed: {reason or '(the API gave no reason)'}")


class ClientClosedError(PPIOError):
    """The client was closed (`close()`, `aclose()`, or its `with` block ended) while this call still
    needed it. `task_id` is set when the task had been created: it may still be running; resume with
    another client's `wait(task_id)`. No request was started on the closed client."""

    def __init__(self, task_id: str | None) -> None:
        self.task_id = task_id
        resume = (
            f"; task {task_id} may still be running: resume with another client's wait({task_id!r})"
            if task_id
            else ""
        )
        super().__init__(f"the client was closed (before this call, or while it ran){resume}")


class WaitTimeoutError(PPIOError, TimeoutError):
    """The call's deadline passed. The task may still finish: resume with `client.wait(task_id)`.

    `outcome_unknown` is True when the deadline passed while the POST that creates the task was awaiting
    its answer: a task may exist although no id came back. `early`: why the call ended before its
    deadline, when nothing more could be done within it (a `Retry-After` reaching past it).
    """

    def __init__(
        self,
        task_id: str | None,
        last_status: str | None,
        timeout: float,
        *,
        outcome_unknown: bool = False,
        operation: str = "submitting the task",
        last_failure: str | None = None,
        early: str | None = None,
    ) -> None:
        self.task_id = task_id
        self.last_status = last_status
        self.timeout = timeout
        self.early = early
        self.outcome_unknown = outcome_unknown
        #: What the last look at the task ran into, when looking failed up to the deadline (the error is
        #: also the `__cause__`): a wrong base URL or a server that is down shows here, not only as a wait.
        self.last_failure = last_failure
        where = f"task {task_id}" if task_id else operation
        failing = f"; its last look failed: {last_failure}" if last_failure else ""
        given_up = (
            f"gave up before its {timeout:g} s were up: {early}" if early else f"gave up after {timeout:g} s"
        )
        message = f"{where}: {given_up} (last status: {last_status or 'none yet'}{failing})"
        if task_id:
            message += f"; resume with client.wait({task_id!r})"
        super().__init__(_outcome_unknown(message) if outcome_unknown else message)


class ImageError(PPIOError):
    """An image could not be downloaded, was too large, of the wrong format, or would not decode, or
    the task listed fewer images than were asked for.

    `index` is the image that failed (or the first missing one); `images` holds those that did arrive,
    decoded, in order (each knows its `index`): nothing that was paid for is thrown away. `reason` is
    `FEWER_IMAGES` when the task listed fewer images than were asked for (no download failed).
    """

    #: The `reason` of a task that listed fewer images than were asked for.
    FEWER_IMAGES = "FEWER_IMAGES"

    def __init__(
        self,
        message: str,
        *,
        task_id: str,
        index: int,
        status_code: int | None = None,
        reason: str | None = None,
        images: tuple[GeneratedImage, ...] = (),
    ) -> None:
        self.task_id = task_id
        self.index = index
        self.status_code = status_code
        self.reason = reason
        self.images = images
        super().__init__(f"task {task_id}, image {index}: {message}")

    def with_images(self, images: tuple[GeneratedImage, ...]) -> ImageError:
        """This error, carrying the images that did arrive."""
        self.images = images
        if images:
            self.add_note(f"ppio_txt2img: {len(images)} other image(s) arrived: see the error's .images")
        return self
