"""How `ppio` shows a task's progress on stderr: a live one-line bar on a terminal, plain lines otherwise.

    task 5b1e0c1e-...                                           (plain: one line per change)
    queued eta 3s
    processing 40% eta 2s
    done: downloading 2 images

    [##########--------------]  40%  processing  eta 2s  task 5b1e0c1e   (terminal: one line, redrawn)

Driven by the SDK's `on_progress` callback alone (it fires on each poll that saw a change). Pure
formatting plus writes to one stream; no I/O besides that.
"""

from __future__ import annotations

import os
import shutil
from typing import TextIO

from ppio_txt2img._results import Task, TaskStatus

__all__ = ["Progress", "format_eta", "status_label", "wants_live_bar"]

_LABELS = {
    TaskStatus.QUEUED: "queued",
    TaskStatus.PROCESSING: "processing",
    TaskStatus.SUCCEED: "done",
    TaskStatus.FAILED: "failed",
}
_BAR_WIDTH = 24
_CLEAR_TO_END = "\x1b[K"


def status_label(status: str) -> str:
    """`TASK_STATUS_PROCESSING` -> `processing`; an undocumented status keeps its own name, shortened."""
    if status in _LABELS:
        return _LABELS[TaskStatus(status)]
    return status.removeprefix("TASK_STATUS_").lower() or "unknown"


def format_eta(eta: float | None) -> str | None:
    """`3s`, `1m05s`; None when the API gave no estimate (it sends 0 for "unknown")."""
    if eta is None or not eta > 0:
        return None
    seconds = round(eta)
    if seconds < 60:
        return f"{max(seconds, 1)}s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}m{seconds:02d}s"


def _percent(task: Task) -> int | None:
    if task.status == TaskStatus.SUCCEED:
        return 100  # the API reports progress 0 once a task is terminal
    if task.status == TaskStatus.PROCESSING:
        return max(0, min(100, round(task.progress or 0)))
    return None


def wants_live_bar(stream: TextIO) -> bool:
    """A live bar only on a real terminal that understands `\\r` redraws (not `TERM=dumb`)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty()) and os.environ.get("TERM") != "dumb"


class Progress:
    """An `on_progress` callback that reports to `stream`; call `finish()` once the wait is over."""

    def __init__(self, stream: TextIO, *, live: bool | None = None, quiet: bool = False) -> None:
        self.stream = stream
        self.live = wants_live_bar(stream) if live is None else live
        self.quiet = quiet
        self.task_id: str | None = None
        self._drawn = False
        self._last: Task | None = None

    def __call__(self, task: Task) -> None:
        first = self.task_id is None
        self.task_id = task.id
        self._last = task
        if self.quiet:
            return
        if self.live:
            self._draw(self._bar_line(task))
            return
        if first:
            self._print(f"task {task.id}")
        self._print(self._plain_line(task))

    def _plain_line(self, task: Task) -> str:
        parts = [status_label(task.status)]
        percent = _percent(task)
        if percent is not None and task.status == TaskStatus.PROCESSING:
            parts.append(f"{percent}%")
        eta = format_eta(task.eta) if not task.done else None
        if eta:
            parts.append(f"eta {eta}")
        line = " ".join(parts)
        if task.succeeded and task.images:
            line += f": downloading {_images(len(task.images))}"
        return line

    def _bar_line(self, task: Task, label: str | None = None) -> str:
        percent = _percent(task)
        filled = round(_BAR_WIDTH * (percent or 0) / 100)
        bar = "[" + "#" * filled + "-" * (_BAR_WIDTH - filled) + "]"
        shown = f"{percent:3d}%" if percent is not None else "   -"
        label = label or ("downloading" if task.succeeded else status_label(task.status))
        eta = format_eta(task.eta) if not task.done else None
        line = f"{bar} {shown}  {label:<11}"
        if eta:
            line += f"  eta {eta}"
        return f"{line}  task {task.id[:8]}"

    def _draw(self, line: str) -> None:
        columns = shutil.get_terminal_size((80, 24)).columns
        self.stream.write("\r" + line[: max(columns - 1, 10)] + _CLEAR_TO_END)
        self.stream.flush()
        self._drawn = True

    def _print(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        """The images are in: the live bar says so, then ends its line."""
        if self._drawn and self._last is not None:
            self._draw(self._bar_line(self._last, "done"))
        self.finish()

    def finish(self) -> None:
        """End the live line (if one was drawn) so what follows starts on a fresh line."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def note(self, text: str) -> None:
        """A message of its own line (after ending a live bar), unless quiet."""
        self.finish()
        if not self.quiet:
            self._print(text)


def _images(count: int) -> str:
    return f"{count} image" + ("" if count == 1 else "s")
