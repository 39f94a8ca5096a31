"""Tasks: when each one starts and finishes, and what `GET /v3/async/task-result` says about it.

Nothing runs in the background. On submission the scheduler fixes the task's whole timeline from the
configuration (queue delay, a free processing slot in submission order, the processing time, whether
and when it fails); every poll then reads the status off the clock: `time.monotonic`, or the clock
given to `Sandbox(clock=...)`. Wall-clock times (`time.time`) are derived from it for the debug info,
`finished_at` and the expiry of image URLs.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ._config import SandboxConfig
from ._faults import ILLEGAL_PROMPT_REASON, RANDOM_FAILURE_REASONS, Dice
from ._images import ImageSpec
from ._storage import UrlSigner

UNKNOWN_STATUS = "TASK_STATUS_WARMING_UP"
QUEUED = "TASK_STATUS_QUEUED"
PROCESSING = "TASK_STATUS_PROCESSING"
SUCCEED = "TASK_STATUS_SUCCEED"
FAILED = "TASK_STATUS_FAILED"
TERMINAL = frozenset({SUCCEED, FAILED})
TASK_TYPE = "TXT_TO_IMG"

#: The storage object a webhook test-mode event points at (as the docs' `test_data/image_01.jpeg`).
TEST_IMAGE_PATH = "test_data/image_01.jpeg"
TEST_IMAGE = ImageSpec(prompt="webhook test data", seed=0, index=0, width=512, height=512, image_type="jpeg")


class Clock:
    """Monotonic time for the timeline (`monotonic`, `time.monotonic` by default), mapped onto the wall
    clock for reporting: the clock's value when it was created is `time.time()` then.

    `injected`: the time comes from the caller (a test's fake clock, which may jump), not from the OS."""

    def __init__(self, monotonic: Callable[[], float] | None = None) -> None:
        self._monotonic = monotonic or time.monotonic
        self.injected = monotonic is not None
        self._offset = time.time() - self._monotonic()

    def now(self) -> float:
        return self._monotonic()

    def wall(self, monotonic: float) -> float:
        """The `time.time()` value of a monotonic instant."""
        return monotonic + self._offset


@dataclass(frozen=True)
class Task:
    """A submitted task, its request, and its whole timeline (monotonic seconds)."""

    task_id: str
    body: Mapping[str, Any]
    base_url: str
    seed: int
    created: float
    queued_from: float
    started: float
    planned_finish: float
    finished: float
    failure: str | None

    @property
    def request(self) -> Mapping[str, Any]:
        value: Mapping[str, Any] = self.body["request"]
        return value

    @property
    def extra(self) -> Mapping[str, Any]:
        value: Mapping[str, Any] = self.body.get("extra", {})
        return value

    @property
    def image_type(self) -> str:
        return str(self.extra.get("response_image_type", "png"))

    @property
    def image_num(self) -> int:
        return int(self.request["image_num"])

    @property
    def webhook(self) -> Mapping[str, Any] | None:
        value: Mapping[str, Any] | None = self.extra.get("webhook")
        return value

    def status(self, now: float) -> str:
        if now < self.queued_from:
            return UNKNOWN_STATUS
        if now < self.started:
            return QUEUED
        if now < self.finished:
            return PROCESSING
        return FAILED if self.failure is not None else SUCCEED

    def image_spec(self, index: int) -> ImageSpec:
        # With a hires fix, the images come at its target size (generated small, then upscaled).
        hires = self.request.get("hires_fix") or {}
        return ImageSpec(
            prompt=str(self.request["prompt"]),
            seed=self.seed,
            index=index,
            width=int(hires.get("target_width") or self.request["width"]),
            height=int(hires.get("target_height") or self.request["height"]),
            image_type=self.image_type,
            transparent=bool(self.request.get("enable_transparent_background", False)),
        )

    def object_path(self, index: int) -> str:
        return f"{self.task_id}/{index}.{self.image_type}"


@dataclass(frozen=True)
class TaskInfo:
    """What the sandbox knows about a task, at the moment it was asked (wall-clock times)."""

    task_id: str
    status: str
    reason: str
    request: Mapping[str, Any]
    """A copy of the submitted JSON body (`{"extra": ..., "request": ...}`)."""
    seed: int
    """The seed used: the requested one, or the one drawn for -1."""
    created_at: float
    started_at: float | None
    """When processing started; None while the task has not started."""
    finished_at: float | None
    """When the task became terminal; None while it runs."""


class TaskBook:
    """All tasks of one sandbox, and the scheduler that fixes their timelines."""

    def __init__(self, config: SandboxConfig, clock: Clock, dice: Dice) -> None:
        self._config = config
        self._clock = clock
        self._dice = dice
        self._tasks: dict[str, Task] = {}
        self._slots: list[float] = [0.0] * config.concurrency  # a heap of the times slots free up
        self._lock = threading.Lock()

    def submit(self, body: Mapping[str, Any], base_url: str) -> Task:
        """Create a task for a validated body; its timeline is fixed now."""
        config = self._config
        request = body["request"]
        now = self._clock.now()
        requested_seed = int(request.get("seed", -1))
        seed = self._dice.bits(32) if requested_seed == -1 else requested_seed
        duration = config.processing_seconds(
            steps=int(request["steps"]),
            width=int(request["width"]),
            height=int(request["height"]),
            image_num=int(request["image_num"]),
        )
        prompt = str(request["prompt"])
        failure: str | None = None
        fail_after = duration
        if any(marker and marker in prompt for marker in config.fail_prompts):
            failure = ILLEGAL_PROMPT_REASON
            fail_after = min(duration, 0.1 + duration * 0.05)
        elif self._dice.chance(config.fail_rate):
            failure = self._dice.choice(RANDOM_FAILURE_REASONS).format(model_name=request["model_name"])
            fail_after = duration * self._dice.uniform(0.3, 0.9)
        task_id = self._dice.task_id()
        queued_from = now + config.unknown_status_seconds
        ready = queued_from + config.queue_delay
        with self._lock:
            free_at = heapq.heappop(self._slots)
            started = max(ready, free_at)
            finished = started + fail_after
            heapq.heappush(self._slots, finished)
            task = Task(
                task_id=task_id,
                body=_freeze(body),
                base_url=base_url,
                seed=seed,
                created=now,
                queued_from=queued_from,
                started=started,
                planned_finish=started + duration,
                finished=finished,
                failure=failure,
            )
            self._tasks[task_id] = task
        return task

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)

    def all(self) -> list[Task]:
        with self._lock:
            return list(self._tasks.values())

    def info(self, task: Task) -> TaskInfo:
        now = self._clock.now()
        status = task.status(now)
        wall = self._clock.wall
        return TaskInfo(
            task_id=task.task_id,
            status=status,
            reason=(task.failure or "") if status in TERMINAL else "",
            request=thaw(task.body),
            seed=task.seed,
            created_at=wall(task.created),
            started_at=wall(task.started) if now >= task.started else None,
            finished_at=wall(task.finished) if now >= task.finished else None,
        )


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def thaw(value: Mapping[str, Any]) -> dict[str, Any]:
    """A plain, JSON-serialisable copy of a frozen body."""
    result: dict[str, Any] = _thaw(value)
    return result


class ResultRenderer:
    """Builds the task-result payload (also the webhook's `payload`) for a task at a given moment."""

    def __init__(self, config: SandboxConfig, clock: Clock, dice: Dice, signer: UrlSigner) -> None:
        self._config = config
        self._clock = clock
        self._dice = dice
        self._signer = signer

    def eta(self, task: Task, now: float) -> int:
        remaining = task.planned_finish - now
        if self._config.eta_mode == "absent" or remaining <= 0:
            return 0
        if self._config.eta_mode == "noisy":
            remaining *= 1 + self._dice.uniform(-0.2, 0.2)
        return max(0, math.ceil(remaining))

    def progress(self, task: Task, now: float) -> int:
        if self._config.progress_mode == "absent" or not task.started <= now < task.finished:
            return 0  # queued, or terminal (the docs' terminal examples say 0 too)
        span = task.planned_finish - task.started
        done = (now - task.started) / span if span > 0 else 1.0
        return max(0, min(99, math.floor(done * 100)))

    def images(self, task: Task, base_url: str, now: float) -> list[dict[str, Any]]:
        expires = math.ceil(self._clock.wall(now)) + self._config.image_url_ttl
        nsfw = bool(task.extra.get("enable_nsfw_detection", False))
        images = []
        for index in range(max(0, task.image_num - self._config.missing_images)):
            detection: dict[str, Any] | None = None
            if nsfw:
                digest = _stable_fraction(task.task_id, index)
                detection = {"valid": True, "confidence": round(80 + 19.9 * digest, 2)}
            images.append(
                {
                    "image_url": self._signer.url(base_url, task.object_path(index), expires),
                    "image_url_ttl": str(self._config.image_url_ttl),
                    "image_type": task.image_type,
                    "nsfw_detection_result": detection,
                }
            )
        return images

    def _images_for(
        self, task: Task, base_url: str, now: float, status: str, *, forced: bool
    ) -> list[dict[str, Any]]:
        if status != SUCCEED:
            return []
        if not forced:
            return self.images(task, base_url, now)
        expires = math.ceil(self._clock.wall(now)) + self._config.image_url_ttl
        return [
            {
                "image_url": self._signer.url(base_url, TEST_IMAGE_PATH, expires),
                "image_url_ttl": str(self._config.image_url_ttl),
                "image_type": TEST_IMAGE.image_type,
                "nsfw_detection_result": None,
            }
        ]

    def debug_info(self, task: Task, status: str) -> dict[str, str]:
        request = task.request
        backend = {
            "model": request["model_name"],
            "prompts": [request["prompt"]],
            "negative_prompts": [request.get("negative_prompt", "")],
            "seeds": [task.seed + i for i in range(task.image_num)],
            "height": request["height"],
            "width": request["width"],
            "guidance_scale": request["guidance_scale"],
            "num_images_per_prompt": request["image_num"],
            "num_inference_steps": request["steps"],
            "sampler_name": request["sampler_name"],
            "clip_skip": request.get("clip_skip", 1),
        }
        wall = self._clock.wall
        started = status in (PROCESSING, *TERMINAL)
        return {
            "request_info": json.dumps(backend, separators=(",", ":")),
            "submit_time_ms": str(round(wall(task.created) * 1000)),
            "execute_time_ms": str(round(wall(task.started) * 1000)) if started else "",
            "complete_time_ms": str(round(wall(task.finished) * 1000)) if status in TERMINAL else "",
        }

    def render(
        self,
        task: Task,
        base_url: str,
        now: float,
        *,
        status: str | None = None,
        echo_webhook: bool = False,
    ) -> dict[str, Any]:
        """The payload at `now`; `status` forces a status (webhook test mode)."""
        actual = status or task.status(now)
        terminal = actual in TERMINAL
        reason = ""
        if actual == FAILED:
            reason = task.failure or "TASK_FAILED: webhook test mode"
        extra: dict[str, Any] = {
            "seed": str(task.seed),
            "enable_nsfw_detection": bool(task.extra.get("enable_nsfw_detection", False)),
            "debug_info": self.debug_info(task, actual),
        }
        if echo_webhook and task.webhook is not None:
            extra["webhook"] = thaw(task.webhook)
        return {
            "extra": extra,
            "task": {
                "task_id": task.task_id,
                "task_type": TASK_TYPE,
                "status": actual,
                "reason": reason,
                "eta": 0 if terminal else self.eta(task, now),
                "progress_percent": 0 if terminal else self.progress(task, now),
            },
            "images": self._images_for(task, base_url, now, actual, forced=status is not None),
            "videos": [],
            "audios": [],
        }


def _stable_fraction(*parts: object) -> float:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32
