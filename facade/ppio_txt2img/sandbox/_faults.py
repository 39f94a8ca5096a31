"""The sandbox's dice: every random choice (ids, seeds, faults, ETA noise) comes from one seeded generator."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Sequence
from typing import TypeVar

from ._config import SandboxConfig

T = TypeVar("T")

#: The `reason` of an injected API error, per status (and endpoint where it matters).
_REASONS = {
    400: "INVALID_REQUEST_BODY",
    401: "MISSING_API_KEY",
    403: "INVALID_API_KEY",
    404: "API_NOT_FOUND",
    429: "RATE_LIMIT_EXCEEDED",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}
_SERVER_ERROR_REASONS = {
    "txt2img": "CREATE_TASK_FAILED",
    "task_result": "GET_RESULT_FAILED",
    "model": "INTERNAL_SERVER_ERROR",
}
_MESSAGES = {
    429: "rate limit exceeded, please try again later",
    500: "internal server error, please try again later",
    503: "the service is overloaded, please try again later",
}

#: The status lines of the HTML pages a gateway (nginx) sends instead of JSON.
_PAGE_TITLES = {
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    502: "Bad Gateway",
    504: "Gateway Time-out",
}
_PAGE = (
    "<html>\r\n<head><title>{status} {text}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {text}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)

ILLEGAL_PROMPT_REASON = "ILLEGAL_PROMPT: the prompt was flagged by content moderation, the task was stopped"
RANDOM_FAILURE_REASONS = (
    "TASK_FAILED: CUDA out of memory. Tried to allocate 2.50 GiB on the inference worker",
    "TASK_FAILED: the inference worker timed out while generating the images",
    "TASK_FAILED: failed to load model {model_name}: worker node lost",
)


def error_reason(status: int, endpoint: str) -> str:
    """The `reason` an injected error of this status carries on this endpoint."""
    if status == 500:
        return _SERVER_ERROR_REASONS.get(endpoint, "INTERNAL_SERVER_ERROR")
    return _REASONS.get(status, "SERVICE_UNAVAILABLE" if status >= 500 else "INVALID_REQUEST_BODY")


def error_message(status: int) -> str:
    """The human-readable `message` of an injected error."""
    return _MESSAGES.get(status, f"request failed with status {status}, please try again later")


def is_gateway_page(status: int) -> bool:
    """Whether an injected error of this status comes as a gateway's HTML page rather than JSON."""
    return status in (502, 504)


def gateway_page(status: int) -> str:
    """The HTML page nginx sends with this status (a redirect, 502 or 504)."""
    return _PAGE.format(status=status, text=_PAGE_TITLES.get(status, "Error"))


class Dice:
    """A seeded random generator, safe to share between the server thread and the test thread."""

    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._random = random.Random(config.seed)
        self._lock = threading.Lock()

    def chance(self, probability: float) -> bool:
        if probability <= 0:
            return False
        with self._lock:
            return self._random.random() < probability

    def uniform(self, low: float, high: float) -> float:
        with self._lock:
            return self._random.uniform(low, high)

    def choice(self, options: Sequence[T]) -> T:
        with self._lock:
            return self._random.choice(options)

    def bits(self, count: int) -> int:
        with self._lock:
            return self._random.getrandbits(count)

    def token(self, size: int) -> bytes:
        with self._lock:
            return self._random.randbytes(size)

    def task_id(self) -> str:
        """A UUID v4, reproducible under a fixed seed."""
        return str(uuid.UUID(int=self.bits(128), version=4))

    def error_status(self, endpoint: str) -> int | None:
        """The error status to answer instead of the real response, if one is drawn."""
        rates = self._config.error_rates.get(endpoint)
        if not rates:
            return None
        with self._lock:
            draw = self._random.random()
        total = 0.0
        for status in sorted(rates):
            total += rates[status]
            if draw < total:
                return status
        return None

    def drop(self, key: str) -> bool:
        """Whether to drop this connection without an answer."""
        return self.chance(self._config.drop_rates.get(key, 0.0))
