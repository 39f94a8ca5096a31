"""`SandboxConfig`: every knob of the emulator, with its default and what it does."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from ._hosts import REDIRECT_STATUSES, REDIRECT_TARGETS, RedirectTarget
from ._overrides import parse_path
from ._wire import CODINGS, Coding

EtaMode = Literal["exact", "noisy", "absent"]

#: The endpoints faults can be injected into (keys of `error_rates`, `drop_rates`, `slow_seconds`).
ENDPOINTS: tuple[str, ...] = ("txt2img", "task_result", "model", "storage")

#: The endpoints that answer JSON (keys of `response_overrides` and `pad_bytes`).
JSON_ENDPOINTS: tuple[str, ...] = ("txt2img", "task_result", "model")

#: `response_overrides` also takes this key: overrides for task results of finished tasks only
#: (TASK_STATUS_SUCCEED or TASK_STATUS_FAILED), applied after those of "task_result".
FINISHED_TASK_RESULT = "task_result_finished"

#: The largest `image_size_override` side, and the largest `pad_bytes`.
MAX_IMAGE_SIDE = 4096
MAX_PAD_BYTES = 256 * 1024 * 1024

#: `drop_rates` also takes this key: the txt2img connection is dropped *after* the task was created,
#: so the task runs (and is billed) although the client never saw its id.
TXT2IMG_AFTER_CREATE = "txt2img_after_create"

ETA_MODES: tuple[str, ...] = ("exact", "noisy", "absent")
ProgressMode = Literal["linear", "absent"]
UnknownFields = Literal["accept", "refuse"]
UNKNOWN_FIELDS: tuple[str, ...] = ("accept", "refuse")
PROGRESS_MODES: tuple[str, ...] = ("linear", "absent")


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

    Gateway and server misbehaviour, all off by default: `compression`, `drip_bytes_per_second`,
    `redirects` (with `redirect_status`), `response_overrides`, `pad_bytes`, `missing_images`,
    `image_size_override` and `endless_model_pages`. An answer goes out as: the JSON payload with its
    overrides, padded, compressed, dripped.
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

    unknown_fields: UnknownFields = "refuse"
    """What txt2img does with request fields the spec does not name: "refuse" (400 INVALID_REQUEST_BODY
    naming the field, as the spec's schemas say) or "accept" (ignored, and kept in the task's `request`,
    as servers that ignore unknown JSON keys do: how a client's `extra_body` shows it arrived)."""

    progress_mode: ProgressMode = "linear"
    """`task.progress_percent` while a task runs: "linear" (rising with the time spent processing) or
    "absent" (always 0: with eta_mode="absent", the server says nothing about how far a task is)."""

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

    compression: Mapping[str, Coding] = field(default_factory=dict)
    """Per endpoint, the content coding ("gzip" or "deflate") of every non-empty body, used when the
    request's `Accept-Encoding` allows it (httpx sends `gzip, deflate`), as API gateways do; the answer
    then says `Content-Encoding` and `Vary: Accept-Encoding`. E.g. `{"task_result": "gzip"}`."""

    drip_bytes_per_second: Mapping[str, float] = field(default_factory=dict)
    """Per endpoint, the rate (bytes per second, > 0) at which a proxy drips the body: the status and
    headers (with the full `Content-Length`) go out at once, the body in small chunks about every 50 ms,
    so a body of B bytes takes B / rate seconds. E.g. `{"storage": 20_000}`."""

    redirects: Mapping[str, RedirectTarget] = field(default_factory=dict)
    """Per endpoint, answer every request with a redirect (`redirect_status`) instead:
    "same_host" to the same path under `/_r` on the same host, served normally there (one hop);
    "other_host" to the same path on a second listener (127.0.0.2, another port, the same app), served
    normally there; "loop" from one host to the other and back, forever. The query string is kept.
    `Sandbox.requests_by_host` and `other_host_requests_with_authorization` show what reached which
    host. The second listener runs only while serving on a socket; in process it is http://127.0.0.2."""

    redirect_status: int = 307
    """The status of every redirect: 301, 302, 303, 307 or 308 (a client re-sends a POST's body only on
    307 and 308; on 301, 302 and 303 browsers and httpx switch a POST to GET)."""

    response_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per JSON endpoint ("txt2img", "task_result", "model"), values that replace fields of every
    successful answer, by dotted path (object keys and list indexes, `*` for every item, `-1` for the
    last): `{"task_result": {"task.eta": "soon", "images.0.image_url": 123}, "txt2img": {"task_id": None}}`.
    A missing last key is added; a path whose parent is missing (e.g. `images.0...` while the task
    runs) leaves that answer alone. The key "task_result_finished" applies only to answers about
    finished tasks, after "task_result". Error answers, webhooks and images are never changed."""

    pad_bytes: Mapping[str, int] = field(default_factory=dict)
    """Per JSON endpoint, the size in bytes a successful answer is padded to with an extra string field
    `"_padding": "xxx..."` (before compression: a padded body compresses very well); an answer already
    that large is unchanged. E.g. `{"task_result": 50_000_000}` to test a client's body size cap."""

    missing_images: int = 0
    """Images left out of the `images` list of a SUCCEED task (of the task result and the webhook): a
    task asking for 4 images with `missing_images=1` lists 3 (at least 0, never a negative count)."""

    image_size_override: tuple[int, int] | None = None
    """`(width, height)` every task's images are drawn at, whatever the request asked (each side from 1
    to 4096), so a client can detect a size mismatch; None draws the requested size."""

    endless_model_pages: bool = False
    """`GET /v3/model` always answers a new `next_cursor`: after the last model the pages start over
    from the first one, so a client that follows cursors without a bound never stops."""

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
        if self.unknown_fields not in UNKNOWN_FIELDS:
            problems.append(
                f"unknown_fields must be one of {', '.join(UNKNOWN_FIELDS)}, got {self.unknown_fields!r}"
            )
        if self.progress_mode not in PROGRESS_MODES:
            problems.append(
                f"progress_mode must be one of {', '.join(PROGRESS_MODES)}, got {self.progress_mode!r}"
            )
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
        problems += _check_misbehaviour(self)
        if problems:
            raise ValueError("invalid SandboxConfig: " + "; ".join(problems))
        object.__setattr__(self, "error_rates", _frozen_rates(self.error_rates))
        for name in ("drop_rates", "slow_seconds", "compression", "drip_bytes_per_second", "redirects"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        object.__setattr__(self, "pad_bytes", MappingProxyType(dict(self.pad_bytes)))
        overrides = {k: MappingProxyType(dict(v)) for k, v in self.response_overrides.items()}
        object.__setattr__(self, "response_overrides", MappingProxyType(overrides))
        if self.image_size_override is not None:
            object.__setattr__(self, "image_size_override", tuple(self.image_size_override))

    @property
    def needs_other_host(self) -> bool:
        """Whether some redirect goes to the second listener ("other_host" or "loop")."""
        return any(target != "same_host" for target in self.redirects.values())

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
    return _check_per_endpoint(
        name,
        values,
        known,
        lambda value: isinstance(value, int | float) and 0 <= value <= upper,
        f"be between 0 and {upper:g}",
    )


def _check_per_endpoint(
    name: str,
    values: object,
    known: tuple[str, ...],
    valid: Callable[[Any], bool],
    expected: str,
) -> list[str]:
    """Problems of a map from endpoint to value: unknown endpoints, values `valid` refuses."""
    if not isinstance(values, Mapping):
        return [f"{name} must be a mapping from endpoint to value, got {values!r}"]
    problems = []
    for endpoint, value in values.items():
        if endpoint not in known:
            problems.append(f"{name}: unknown endpoint {endpoint!r} (known: {', '.join(known)})")
        elif not valid(value):
            problems.append(f"{name}[{endpoint!r}] must {expected}, got {value!r}")
    return problems


def _is_size(value: object, low: int, high: float) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_image_size(value: object) -> bool:
    if not (isinstance(value, tuple | list) and len(value) == 2):
        return False
    return all(_is_size(side, 1, MAX_IMAGE_SIDE) for side in value)


def _check_misbehaviour(config: SandboxConfig) -> list[str]:
    """Problems of the knobs that imitate misbehaving gateways and servers."""
    problems = _check_per_endpoint(
        "compression",
        config.compression,
        ENDPOINTS,
        lambda v: v in CODINGS,
        f"be one of {', '.join(CODINGS)}",
    )
    problems += _check_per_endpoint(
        "drip_bytes_per_second",
        config.drip_bytes_per_second,
        ENDPOINTS,
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < math.inf,
        "be a number of bytes per second > 0",
    )
    problems += _check_per_endpoint(
        "redirects",
        config.redirects,
        ENDPOINTS,
        lambda v: v in REDIRECT_TARGETS,
        f"be one of {', '.join(REDIRECT_TARGETS)}",
    )
    if config.redirect_status not in REDIRECT_STATUSES:
        statuses = ", ".join(map(str, REDIRECT_STATUSES))
        problems.append(f"redirect_status must be one of {statuses}, got {config.redirect_status!r}")
    problems += _check_per_endpoint(
        "pad_bytes",
        config.pad_bytes,
        JSON_ENDPOINTS,
        lambda v: _is_size(v, 0, MAX_PAD_BYTES),
        f"be an integer from 0 to {MAX_PAD_BYTES}",
    )
    problems += _check_per_endpoint(
        "response_overrides",
        config.response_overrides,
        (*JSON_ENDPOINTS, FINISHED_TASK_RESULT),
        lambda v: isinstance(v, Mapping),
        "be a mapping from dotted path to value",
    )
    if isinstance(config.response_overrides, Mapping):
        for endpoint, overrides in config.response_overrides.items():
            if isinstance(overrides, Mapping):
                problems += _check_overrides(f"response_overrides[{endpoint!r}]", overrides)
    if not _is_size(config.missing_images, 0, math.inf):
        problems.append(f"missing_images must be an integer >= 0, got {config.missing_images!r}")
    size = config.image_size_override
    if size is not None and not _is_image_size(size):
        problems.append(
            f"image_size_override must be None or (width, height), each from 1 to {MAX_IMAGE_SIDE}, "
            f"got {size!r}"
        )
    endless: object = config.endless_model_pages
    if not isinstance(endless, bool):
        problems.append(f"endless_model_pages must be True or False, got {endless!r}")
    return problems


def _check_overrides(name: str, overrides: Mapping[str, Any]) -> list[str]:
    problems = []
    for path, value in overrides.items():
        try:
            parse_path(path)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
            continue
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            problems.append(f"{name}[{path!r}]: {value!r} is not a JSON value")
    return problems
