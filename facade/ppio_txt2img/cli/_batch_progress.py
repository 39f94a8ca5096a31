"""How `ppio batch` reports: a live status line on a terminal, plain lines otherwise, JSON events with
`--json`.

    [ 412/1000] 405 done · 3 failed · 4 unknown · 16 in flight · 19 img/min (limit 20) · eta 29m40s

Plain (not a terminal): that line every 10 s, and one line per failed or unknown input line.
`--json`: one object per line on stdout: `{"event": "line", ...}` as each line ends (the manifest's
keys), `{"event": "progress", ...}` about every 0.5 s, `{"event": "summary", ...}` at the end.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, TextIO

from ppio_txt2img.batch import BatchProgress, BatchSummary, LineResult

from ._display import json_text
from ._progress import format_eta, terminal_columns, wants_live_bar

__all__ = ["BatchDisplay", "summary_lines"]

_CLEAR_TO_END = "\x1b[K"
#: Seconds between status lines when not on a terminal.
PLAIN_EVERY = 10.0


def status_line(p: BatchProgress) -> str:
    finished = p.done + p.failed + p.unknown
    head = f"[{finished:>{len(str(p.total))}}/{p.total}]" if p.total is not None else f"[{finished}]"
    parts = [
        f"{head} {p.done} done",
        f"{p.failed} failed",
        f"{p.unknown} unknown",
        f"{p.in_flight} in flight",
    ]
    parts.append(f"{p.ipm} img/min (limit {p.limit})")
    if p.rate_limited:
        parts.append(f"{p.rate_limited}x 429")
    eta = format_eta(p.eta)
    if eta:
        parts.append(f"eta {eta}")
    return " · ".join(parts)


def _created(s: BatchSummary) -> str:
    """The tasks the run created: those whose POST's answer came, and the lines its POSTs left unknown
    (each may have created one: billed, though no id came back; an earlier run's are not counted)."""
    created = f"{s.submitted} {'task' if s.submitted == 1 else 'tasks'} created"
    more = s.unknown_posted
    return created + (f" (and up to {more} more: the unknown lines')" if more else "")


def summary_lines(summary: BatchSummary, out_dir: Path, *, in_process: bool = False) -> list[str]:
    """The end-of-run report, in words. `in_process`: the run's tasks were an emulator's in this
    process (`--sandbox` with no `ppio sandbox` running), which ended with it."""
    s = summary
    minutes, seconds = divmod(round(s.elapsed), 60)
    lines = [
        f"batch: {s.done} done, {s.failed} failed, {s.unknown} unknown"
        + (f", {s.running} still running" if s.running else "")
        + f" in {minutes}m{seconds:02d}s ({s.resumed} done by an earlier run); "
        f"{_created(s)}, {s.rate_limited} POSTs answered 429",
        f"images in {out_dir / 'images'}, results in {out_dir / 'manifest.jsonl'}",
    ]
    for reason, count in sorted(s.unknown_reasons.items(), key=lambda kv: -kv[1]):
        lines.append(f"{count} line(s) unknown: {reason}")
    if s.unknown:
        lines.append(
            "unknown lines are not resubmitted (a task may exist and be billed); "
            "rerun with --resubmit-unknown to send them again"
        )
    if s.interrupted and in_process:
        lines.append(
            "interrupted: its tasks were the in-process sandbox's, which has stopped with this command, so a "
            "rerun cannot wait for them (they fail as not found); rerun with --retry-failed "
            "--resubmit-unknown to send those lines again, and start `ppio sandbox` in another terminal "
            "for batches that outlive a command"
        )
    elif s.interrupted:
        lines.append("interrupted: tasks in flight are in the journal; rerun the same command to resume")
    elif s.failed:
        lines.append(
            "failed lines: see the manifest; a rerun retries those that created nothing "
            "(--retry-failed: failed tasks too); fix bad lines in the input"
        )
    return lines


class BatchDisplay:
    """`on_result` and `on_progress` of a `Batch`, writing to `stream` (stderr) or JSON to `json_out`."""

    def __init__(
        self,
        stream: TextIO,
        *,
        json_out: TextIO | None = None,
        live: bool | None = None,
        quiet: bool = False,
        clock: Any = time.monotonic,
    ) -> None:
        self.stream = stream
        self.json_out = json_out
        self.live = wants_live_bar(stream) if live is None else live
        self.quiet = quiet
        self.clock = clock
        self._drawn = False
        self._last_plain = -PLAIN_EVERY

    def _emit(self, event: str, fields: dict[str, Any]) -> None:
        assert self.json_out is not None
        self.json_out.write(json_text({"event": event, **fields}) + "\n")
        self.json_out.flush()

    def result(self, result: LineResult) -> None:
        if self.json_out is not None:
            fields = dataclasses.asdict(result)
            fields["images"] = list(result.images)
            self._emit("line", fields)
            return
        if result.status != "done" and not (self.quiet or result.resumed):
            self.note(f"line {result.line} {result.status}: {result.error}")

    def progress(self, progress: BatchProgress) -> None:
        if self.json_out is not None:
            self._emit("progress", dataclasses.asdict(progress))
            return
        if self.quiet:
            return
        line = status_line(progress)
        if self.live:
            columns = terminal_columns(self.stream)  # the terminal it writes to, not stdout's
            self.stream.write("\r" + line[: max(columns - 1, 10)] + _CLEAR_TO_END)
            self.stream.flush()
            self._drawn = True
        elif self.clock() - self._last_plain >= PLAIN_EVERY:
            self._last_plain = self.clock()
            self.stream.write(line + "\n")
            self.stream.flush()

    def note(self, text: str) -> None:
        self.finish()
        self.stream.write(text + "\n")
        self.stream.flush()

    def warning(self, text: str) -> None:
        """A warning of the batch's: a `warning` event with `--json`, else a line of its own on stderr
        (shown with `-q` too)."""
        if self.json_out is not None:
            self._emit("warning", {"message": text})
        else:
            self.note(f"ppio: warning: {text}")

    def summary(self, summary: BatchSummary, out_dir: Path, *, in_process: bool = False) -> None:
        if self.json_out is not None:
            fields = dataclasses.asdict(summary)
            self._emit("summary", {**fields, "exit_code": summary.exit_code, "output": str(out_dir)})
        self.finish()
        if not self.quiet or summary.exit_code:
            for line in summary_lines(summary, out_dir, in_process=in_process):
                self.stream.write(line + "\n")
            self.stream.flush()

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
