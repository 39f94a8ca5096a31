"""What a task's progress line shows at a given moment: pure functions of what the polls said and the time.

The SDK reports a task only when a poll answers, and the adaptive wait polls rarely (that is its job),
so a bar drawn from the answers alone stands still for seconds. Between answers the display moves on
from the same estimate of the finish the poll schedule uses (`_polling.estimate_finish`): the percent
advances towards 100 along the estimate's late end (so the next answer rarely has to pull it back), the
eta counts down to the expected finish, and the elapsed time ticks.

    view = TaskView().seen(task, at=clock())       # on every answer (the SDK's on_progress)
    frame = frame_at(view, now=clock(), started=t0)  # as often as the screen is redrawn
    bar_line(frame, task_id)                        # one terminal line

Nothing here writes or sleeps, so the display is tested without a terminal; a display of several
tasks (`ppio batch`) keeps one `TaskView` per task and draws one `bar_line` each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ppio_txt2img._polling import Observation, estimate_finish
from ppio_txt2img._results import Task, TaskStatus

__all__ = [
    "Frame",
    "TaskView",
    "bar_line",
    "format_elapsed",
    "format_eta",
    "frame_at",
    "json_text",
    "status_label",
]


def json_text(value: Any, **options: Any) -> str:
    """`value` as JSON, non-ASCII text as itself (readable), except text that holds a lone surrogate
    (a prompt's `"\\ud800"`, say), escaped so that stdout can encode it: such a prompt crashed
    `ppio batch --json`."""
    text = json.dumps(value, ensure_ascii=False, **options)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, **options)
    return text


_LABELS = {
    TaskStatus.QUEUED: "queued",
    TaskStatus.PROCESSING: "processing",
    TaskStatus.SUCCEED: "done",
    TaskStatus.FAILED: "failed",
}
BAR_WIDTH = 24
#: Until the server says the task succeeded, an estimated bar stops short of 100 %.
_ESTIMATED_CAP = 99.0


def status_label(status: str) -> str:
    """`TASK_STATUS_PROCESSING` -> `processing`; an undocumented status keeps its own name, shortened."""
    if status in _LABELS:
        return _LABELS[TaskStatus(status)]
    return status.removeprefix("TASK_STATUS_").lower() or "unknown"


def format_eta(eta: float | None) -> str | None:
    """`3s`, `1m05s`, `2h05m`, and `>99h` past that (a server's absurd eta: 1e30 s was 35 digits of
    minutes, wider than the terminal); None when there is no estimate (the API sends 0 for "unknown")."""
    if eta is None or not eta > 0:
        return None
    if eta >= _MAX_ETA_SHOWN:
        return ">99h"
    seconds = round(eta)
    if seconds < 60:
        return f"{max(seconds, 1)}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


#: Etas this long or longer are shown as `>99h`.
_MAX_ETA_SHOWN = 100 * 3600


def format_elapsed(seconds: float) -> str:
    """`0:07`, `1:05`, `1:02:03`: whole seconds, like a stopwatch."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def reported_percent(task: Task) -> int | None:
    """The percent the server's answer stands for: 100 once succeeded (as `Task.progress` says; the API
    itself sends 0), the progress while processing, None otherwise (queued, failed: no meaningful
    percent)."""
    if task.status == TaskStatus.SUCCEED:
        return 100
    if task.status == TaskStatus.PROCESSING:
        return max(0, min(100, round(task.progress or 0)))
    return None


@dataclass(frozen=True)
class TaskView:
    """What the polls said about one task so far: the latest answer and the observations behind the
    estimate, each stamped with the display's clock when it arrived."""

    task: Task | None = None
    observations: tuple[Observation, ...] = ()

    def seen(self, task: Task, *, at: float) -> TaskView:
        """This view, after an answer that arrived at `at`. Observations are built as the wait builds
        them (`0` eta or progress means "none"), so the estimate is the wait's own."""
        observation = Observation(
            at=at, status=task.status, eta=task.eta or None, progress=task.progress or None
        )
        return TaskView(task, (*self.observations, observation))


@dataclass(frozen=True)
class Frame:
    """One moment of the display: what to draw, already estimated."""

    label: str  # "waiting" (no answer yet), "queued", "processing", "downloading", ...
    percent: float | None  # 0-100, None when there is no meaningful percent (queued, waiting)
    eta: float | None  # seconds left, None when unknown or overdue
    elapsed: float  # seconds since the display started
    estimated: bool = False  # percent or eta were moved on from the last answer


def frame_at(view: TaskView, *, now: float, started: float) -> Frame:
    """The display at `now`: the last answer, moved on along the estimate of the finish.

    The percent never passes what the estimate allows by `now` (progress along a straight line from
    the last answer to the estimate's late end, `finish + error`) and stops at 99 % until the server
    says the task succeeded; between answers it only moves forward. A new answer replaces the
    extrapolation, so the bar steps back only by the estimate's own error (a correction), if at all.
    """
    elapsed = max(0.0, now - started)
    task = view.task
    if task is None:
        return Frame("waiting", None, None, elapsed)
    label = "downloading" if task.succeeded and task.images else status_label(task.status)
    percent: float | None = reported_percent(task)
    if task.done:
        return Frame(label, percent, None, elapsed)
    estimate = estimate_finish(view.observations)
    if estimate is None or not view.observations:
        return Frame(label, percent, task.eta or None, elapsed)
    last = view.observations[-1]
    eta = estimate.finish - now
    if percent is not None:
        moved = min(_ESTIMATED_CAP, _along(percent, last.at, estimate.finish + estimate.error, now))
        percent = max(float(percent), moved)
    return Frame(label, percent, eta if eta > 0 else None, elapsed, estimated=True)


def _along(start: float, since: float, end: float, now: float) -> float:
    """Progress from `start` % at `since` to 100 % at `end`, at `now` (a straight line)."""
    if end <= since:
        return start
    fraction = min(1.0, max(0.0, (now - since) / (end - since)))
    return start + (100.0 - start) * fraction


def bar_line(frame: Frame, task_id: str | None, *, width: int = BAR_WIDTH) -> str:
    """`[##########--------------]  40%  processing   eta 3s     0:04  task 5b1e0c1e` (the columns stay
    put when the eta comes and goes)."""
    filled = round(width * (frame.percent or 0) / 100)
    bar = "[" + "#" * filled + "-" * (width - filled) + "]"
    shown = f"{int(frame.percent):3d}%" if frame.percent is not None else "   -"
    eta = format_eta(frame.eta)
    eta_text = f"eta {eta}" if eta else ""
    line = f"{bar} {shown}  {frame.label:<11}  {eta_text:<9}  {format_elapsed(frame.elapsed)}"
    return f"{line}  task {task_id[:8]}" if task_id else line
