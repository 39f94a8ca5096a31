"""`SandboxConfig`: every knob of the emulator, with its default and what it does."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

EtaMode = Literal["exact", "noisy", "absent"]

#: The endpoints faults can be injected into (keys of `error_rates`, `drop_rates`, `slow_seconds`).
ENDPOINTS: tuple[str, ...] = ("txt2img", "task_result", "model", "storage")

#: `drop_rates` also takes this key: the txt2img connection is dropped *after* the task was created,
#: so the task runs (and is billed) although the client never saw its id.
TXT2IMG_AFTER_CREATE = "txt2img_after_create"

ETA_MODES: tuple[str, ...] = ("exact", "noisy", "absent")


def _frozen_rates(value: Mapping[str, Mapping[int, float]]) -> Mapping[str, Mapping[int, float]]:
    return MappingProxyType({k: MappingProxyType(dict(v)) for k, v in value.items()})


@dataclass(frozen=True)
class SandboxConfig:
    """The knobs of the sandbox. Every default gives a well-behaved, fast server.

    Timing: a task is (optionally) in an unknown status for `unknown_status_seconds`, then queued for
    `queue_delay` seconds (longer while `concurrency` tasks are already processing), then processing for

        (base_seconds + seconds_per_megapixel_step * steps * width * height / 1e6 * image_num) / speed

    seconds (2 images of 512x512 with 20 steps: about 2.6 s at speed 1), then SUCCEED or FAILED.

    Faults are drawn from one random generator seeded with `seed`, so a run is reproducible when the
    requests arrive in the same order. Fault maps are keyed by endpoint: "txt2img", "task_result",
    "model" and "storage" (the image downloads); `drop_rates` also takes "txt2img_after_create".
    """

    accepted_api_keys: frozenset[str] | None = None
    """Keys accepted in `Authorization: Bearer <key>` (or a bare `<key>`); None accepts any non-empty
    key. A missing key is always refused with 401 MISSING_API_KEY, any other key with 403 INVALID_API_KEY."""

    speed: float = 1.0
    """Divides the processing time of every task: 10.0 runs ten times faster than real time."""

    base_seconds: float = 0.5
    """Fixed part of the processing time of a task (before dividing by `speed`)."""

    seconds_per_megapixel_step: float = 0.2
    """Processing seconds per step per megapixel per image (before dividing by `speed`)."""

    queue_delay: float = 0.3
    """Seconds every task stays TASK_STATUS_QUEUED before it may start processing."""

    concurrency: int = 4
    """Tasks processed at once; further tasks stay QUEUED until a slot frees (submission order)."""

    eta_mode: EtaMode = "exact"
    """`task.eta` while a task runs: "exact" (whole seconds left, rounded up), "noisy" (the exact value
    off by up to ±20 %, drawn on each poll) or "absent" (always 0, as in the docs' examples)."""

    image_url_ttl: int = 3600
    """Seconds a signed image URL stays valid after the response that carried it; then storage says 403."""

    fail_rate: float = 0.0
    """Fraction of tasks that end TASK_STATUS_FAILED with a realistic `reason`."""

    fail_prompts: tuple[str, ...] = ("FAIL",)
    """Prompt substrings (case-sensitive) that make the task fail with an `ILLEGAL_PROMPT: ...` reason."""

    error_rates: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    """Per endpoint, the probability of each error status instead of the real answer, e.g.
    `{"txt2img": {429: 0.1, 500: 0.05, 503: 0.05}}`. No task is created when txt2img answers an error.
    429 and 503 carry `Retry-After: <retry_after>`; 502 and 504 come as a gateway's HTML page."""

    retry_after: int | None = 1
    """Whole seconds sent in `Retry-After` on 429 and 503 (the spec types it as an integer); None omits it."""

    drop_rates: Mapping[str, float] = field(default_factory=dict)
    """Per endpoint, the probability that the connection is closed without any response (the client sees
    a transport error such as `httpx.RemoteProtocolError`). "txt2img" drops before the task is created,
    "txt2img_after_create" after it was created."""

    slow_seconds: Mapping[str, float] = field(default_factory=dict)
    """Per endpoint, extra latency in seconds added to every request."""

    truncated_image_rate: float = 0.0
    """Fraction of image downloads cut short: status 200, a consistent Content-Length, a truncated file."""

    unknown_status_seconds: float = 0.0
    """Seconds a new task reports the undocumented status "TASK_STATUS_WARMING_UP" before QUEUED."""

    seed: int | None = None
    """Seeds the sandbox's own random choices (task ids, random seeds, faults, ETA noise); None: random."""

    webhook_retries: int = 5
    """Retries of a webhook delivery after a non-2xx answer or a timeout (so at most 1 + this attempts)."""

    webhook_timeout: float = 5.0
    """Seconds a webhook endpoint may take to answer before the attempt counts as failed."""

    ipm: int | None = None
    """The account's rate limit in images per minute (a request for `image_num` images costs that many),
    over a sliding window; past it txt2img answers 429 RATE_LIMIT_EXCEEDED with `Retry-After` and creates
    no task. None: no limit."""

    minute: float = 60.0
    """Seconds in the rate limit's minute: 6.0 runs the `ipm` window ten times faster (for benchmarks)."""

    def __post_init__(self) -> None:
        problems: list[str] = []
        keys: object = self.accepted_api_keys
        if isinstance(keys, str):  # one key given as a string, not its characters
            keys = frozenset({keys})
        if keys is not None:
            object.__setattr__(self, "accepted_api_keys", frozenset(keys))  # type: ignore[call-overload]
        object.__setattr__(self, "fail_prompts", tuple(self.fail_prompts))
        if self.ipm is not None and not (isinstance(self.ipm, int) and self.ipm >= 1):
            problems.append(f"ipm must be an integer >= 1 or None, got {self.ipm!r}")
        for name in ("speed", "minute"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                problems.append(f"{name} must be a positive number, got {value!r}")
        for name in (
            "base_seconds",
            "seconds_per_megapixel_step",
            "queue_delay",
            "unknown_status_seconds",
            "webhook_timeout",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                problems.append(f"{name} must be a number >= 0, got {value!r}")
        for name in ("fail_rate", "truncated_image_rate"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 <= value <= 1):
                problems.append(f"{name} must be between 0 and 1, got {value!r}")
        if not (isinstance(self.concurrency, int) and self.concurrency >= 1):
            problems.append(f"concurrency must be an integer >= 1, got {self.concurrency!r}")
        if self.eta_mode not in ETA_MODES:
            problems.append(f"eta_mode must be one of {', '.join(ETA_MODES)}, got {self.eta_mode!r}")
        if not (isinstance(self.image_url_ttl, int) and self.image_url_ttl >= 1):
            problems.append(f"image_url_ttl must be an integer >= 1, got {self.image_url_ttl!r}")
        if self.retry_after is not None and not (isinstance(self.retry_after, int) and self.retry_after >= 0):
            problems.append(f"retry_after must be an integer >= 0 or None, got {self.retry_after!r}")
        if not (isinstance(self.webhook_retries, int) and self.webhook_retries >= 0):
            problems.append(f"webhook_retries must be an integer >= 0, got {self.webhook_retries!r}")
        problems += _check_error_rates(self.error_rates)
        problems += _check_endpoint_map(
            "drop_rates", self.drop_rates, (*ENDPOINTS, TXT2IMG_AFTER_CREATE), 1.0
        )
        problems += _check_endpoint_map("slow_seconds", self.slow_seconds, ENDPOINTS, math.inf)
        if problems:
            raise ValueError("invalid SandboxConfig: " + "; ".join(problems))
        object.__setattr__(self, "error_rates", _frozen_rates(self.error_rates))
        object.__setattr__(self, "drop_rates", MappingProxyType(dict(self.drop_rates)))
        object.__setattr__(self, "slow_seconds", MappingProxyType(dict(self.slow_seconds)))

    def replace(self, **knobs: Any) -> SandboxConfig:
        """A copy with some knobs changed."""
        return dataclasses.replace(self, **knobs)

    def processing_seconds(self, *, steps: int, width: int, height: int, image_num: int) -> float:
        """How long a task with these parameters processes."""
        work = steps * width * height / 1e6 * image_num
        return (self.base_seconds + self.seconds_per_megapixel_step * work) / self.speed


def _check_error_rates(rates: Mapping[str, Mapping[int, float]]) -> list[str]:
    problems = []
    for endpoint, by_status in rates.items():
        if endpoint not in ENDPOINTS:
            problems.append(f"error_rates: unknown endpoint {endpoint!r} (known: {', '.join(ENDPOINTS)})")
            continue
        total = 0.0
        for status, rate in by_status.items():
            if not (isinstance(status, int) and 400 <= status <= 599):
                problems.append(f"error_rates[{endpoint!r}]: {status!r} is not a 4xx or 5xx status")
            if not (isinstance(rate, int | float) and 0 <= rate <= 1):
                problems.append(f"error_rates[{endpoint!r}][{status!r}] must be between 0 and 1")
            else:
                total += rate
        if total > 1 + 1e-9:
            problems.append(f"error_rates[{endpoint!r}]: the rates add up to {total:g} > 1")
    return problems


def _check_endpoint_map(
    name: str, values: Mapping[str, float], known: tuple[str, ...], upper: float
) -> list[str]:
    problems = []
    for endpoint, value in values.items():
        if endpoint not in known:
            problems.append(f"{name}: unknown endpoint {endpoint!r} (known: {', '.join(known)})")
        elif not (isinstance(value, int | float) and 0 <= value <= upper):
            problems.append(f"{name}[{endpoint!r}] must be between 0 and {upper:g}, got {value!r}")
    return problems
