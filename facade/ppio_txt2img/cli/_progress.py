"""How `ppio` shows a task's progress on stderr: a live one-line bar on a terminal, plain lines otherwise.

    task 5b1e0c1e-...                                           (plain: one line per change)
    queued eta 3s
    processing 40% eta 2s
    done: downloading 2 images

    [##########--------------]  40%  processing  eta 2s     0:04  task 5b1e0c1e   (terminal: one line)

Plain lines follow the SDK's `on_progress` callback alone (it fires on each poll that saw a change).
The live bar is redrawn by a ticker thread about 8 times a second between those answers: what it shows
is `_display.frame_at`, a pure function of the answers so far and the time, so it moves on from the
wait's own estimate of the finish without a single extra poll. Once the wait is over the line is
cleared, leaving the terminal as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from typing import TextIO

from ppio_txt2img._results import Task, TaskStatus

from ._display import TaskView, bar_line, format_eta, frame_at, reported_percent, status_label

__all__ = ["TICK", "Progress", "format_eta", "status_label", "terminal_columns", "wants_live_bar"]

#: Seconds between redraws of the live bar.
TICK = 0.125
_CLEAR_LINE = "\r\x1b[K"


def wants_live_bar(stream: TextIO) -> bool:
    """A live bar only on a real terminal that understands `\\r` redraws (not `TERM=dumb`)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty()) and os.environ.get("TERM") != "dumb"


class Progress:
    """An `on_progress` callback that reports to `stream`.

    Call `start()` when the wait begins (the elapsed time counts from then, and on a terminal the bar
    starts ticking), `done()` once the images are in, or `finish()` on any other way out.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        live: bool | None = None,
        quiet: bool = False,
        clock: Callable[[], float] = time.monotonic,
        tick: float = TICK,
    ) -> None:
        self.stream = stream
        self.live = wants_live_bar(stream) if live is None else live
        self.quiet = quiet
        self.task_id: str | None = None
        #: The task was seen succeeded (what follows is its images' download).
        self.succeeded = False
        #: Where the images that did arrive were saved, when the others did not (`ImageError`).
        self.saved: list[str] = []
        self._clock = clock
        self._tick = tick
        self._lock = threading.RLock()
        self._view = TaskView()
        self._started: float | None = None
        self._line: str | None = None  # the text on the live line now; None when there is none
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # ------------------------------------------------------------------------------ the SDK's callback
    def __call__(self, task: Task) -> None:
        with self._lock:
            first = self.task_id is None
            self.task_id = task.id
            self.succeeded = task.status == TaskStatus.SUCCEED
            now = self._clock()
            self._view = self._view.seen(task, at=now)
            if self._started is None:
                self._started = now
            if self.quiet:
                return
            if self.live:
                self.redraw()
                return
            if first:
                self._print(f"task {task.id}")
            self._print(_plain_line(task))

    # ----------------------------------------------------------------------------------- the live bar
    def start(self) -> None:
        """The wait begins: count the elapsed time from now and, on a terminal, start redrawing."""
        with self._lock:
            self._started = self._clock()
            if not self.live or self.quiet or self._ticker is not None:
                return
            self.redraw()
            self._stop.clear()
            self._ticker = threading.Thread(target=self._tick_loop, name="ppio-progress", daemon=True)
            self._ticker.start()

    def _tick_loop(self) -> None:
        while not self._stop.wait(self._tick):
            try:
                self.redraw()
            except (OSError, ValueError):  # the terminal went away (closed, hung up): stop drawing
                return

    def redraw(self) -> None:
        """Draw the bar as it stands now (nothing is written when the text would not change)."""
        with self._lock:
            started = self._clock() if self._started is None else self._started
            line = bar_line(frame_at(self._view, now=self._clock(), started=started), self.task_id)
            line = line[: max(terminal_columns(self.stream) - 1, 10)]
            if line != self._line:
                self.stream.write("\r" + line + "\x1b[K")
                self.stream.flush()
                self._line = line

    def _stop_ticker(self) -> None:
        ticker = self._ticker
        if ticker is not None:
            self._stop.set()
            if ticker is not threading.current_thread():
                ticker.join()
            self._ticker = None

    # -------------------------------------------------------------------------------------- the end
    def done(self) -> None:
        """The images are in: the wait is over."""
        self.finish()

    def finish(self) -> None:
        """Stop redrawing and clear the live line (if one was drawn): what follows starts on a clean
        line and no bar is left behind."""
        self._stop_ticker()
        with self._lock:
            if self._line is not None:
                self.stream.write(_CLEAR_LINE)
                self.stream.flush()
                self._line = None

    def note(self, text: str) -> None:
        """A message on its own line (after clearing a live bar), unless quiet."""
        self.finish()
        if not self.quiet:
            self._print(text)

    def _print(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


def terminal_columns(stream: TextIO) -> int:
    """The width of the terminal `stream` writes to ($COLUMNS first, as `shutil` does)."""
    with contextlib.suppress(KeyError, ValueError):
        if (columns := int(os.environ["COLUMNS"])) > 0:
            return columns
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, OSError, ValueError):
        return shutil.get_terminal_size((80, 24)).columns


def _plain_line(task: Task) -> str:
    parts = [status_label(task.status)]
    percent = reported_percent(task)
    if percent is not None and task.status == TaskStatus.PROCESSING:
        parts.append(f"{percent}%")
    eta = format_eta(task.eta) if not task.done else None
    if eta:
        parts.append(f"eta {eta}")
    line = " ".join(parts)
    if task.succeeded and task.images:
        line += f": downloading {_images(len(task.images))}"
    return line


def _images(count: int) -> str:
    return f"{count} image" + ("" if count == 1 else "s")
