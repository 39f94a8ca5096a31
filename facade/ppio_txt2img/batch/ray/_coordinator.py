"""The coordinator: the one owner of a Ray batch's journal and of the account's pacer.

A plain class (no Ray import): the driver runs it as one Ray actor pinned to its own node, so the
journal is the same `OUT/journal.sqlite3` file a one-machine batch writes (WAL, `synchronous=FULL`),
on the disk of the machine that holds the output. Every worker reaches it by RPC; it is async, so its
fsyncs run on a thread and concurrent commits share a transaction (the journal's group commit).

Exactly once. A worker *claims* a line (`begin`) before its POST: the coordinator takes a pacer
ticket and commits the line's intent in the same call, and only then answers "post". The task id is
committed as soon as the worker reports it (`posted`). A Ray retry of the line (its worker died) calls
`begin` again and finds the claim: a task id is waited for, an intent without one becomes unknown
(the dead worker may have sent the POST), and nothing is ever POSTed twice. Only a line with no row
(nothing was ever claimed, so nothing was sent) or one whose earlier POST provably created nothing is
posted; lines that this run's plan chose to send again (`--resubmit-unknown`, `--retry-failed`) are
remembered in memory, so a restarted coordinator forgets them: the safe way round.

The coordinator restarts after its own crash (the actor's `max_restarts`): it reopens the journal,
whose committed rows are all that counts, and pauses every POST for one rate-limit window (its
pacer's memory of the last window is gone; pausing cannot exceed the limit).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ppio_txt2img.batch._input import BatchRequest
from ppio_txt2img.batch._journal import Journal
from ppio_txt2img.batch._manifest import write_manifest
from ppio_txt2img.batch._pacer import AdaptivePacer, Pacer, Ticket, WindowPacer
from ppio_txt2img.batch._runner import (
    JOURNAL,
    LineResult,
    Plan,
    PostFailure,
    plan,
    record_post_error,
    remember_recent_sends,
)
from ppio_txt2img.batch._superseded import supersede_after, take_over

__all__ = ["WORKER_DIED", "Begin", "Coordinator", "CoordinatorStats"]

WORKER_DIED = (
    "the worker that was submitting this line died before the POST's answer was journalled: a task "
    "may exist; not resubmitted, so as not to pay twice (check your tasks, or rerun with --resubmit-unknown)"
)


@dataclass(frozen=True)
class Begin:
    """The coordinator's answer to a worker about to submit a line.

    `post`: the intent is on disk, POST now (`ticket` goes back with the outcome); `later`: the
    account's limit says wait `delay` seconds and ask again; `wait`: the line already has a task
    (`task_id`, from an earlier attempt), wait for it; `none`: the line has ended (`result`);
    `stopped`: the batch is stopping, leave the line for the next run."""

    action: Literal["post", "later", "wait", "none", "stopped"]
    ticket: int = -1
    delay: float = 0.0
    task_id: str | None = None
    result: LineResult | None = None


@dataclass(frozen=True)
class CoordinatorStats:
    """Counters for progress and benchmarks."""

    submitted: int
    rate_limited: int
    accepted_in_window: int
    allowance: int
    posting: int
    calls: int
    commits: int


class Coordinator:
    """The journal and the pacer of one batch, behind async methods (the actor's RPCs)."""

    def __init__(
        self,
        out_dir: str,
        *,
        ipm: int | None = None,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.clock = clock
        self.journal = Journal(self.out_dir / JOURNAL)
        self.pacer: Pacer = WindowPacer(ipm, window=window) if ipm else AdaptivePacer(window=window)
        # Until the driver calls `start`, or after a restart: nothing goes out for one window.
        self.pacer.pause_until = clock() + window
        self._tickets: dict[int, Ticket] = {}  # line -> its POST's ticket, while it is in flight
        self._fresh: set[int] = set()  # lines this run chose to send again (resubmit / retry)
        self._stopping = False
        self.submitted = self.rate_limited = self.calls = self.commits = 0

    async def _commit(self) -> None:
        self.commits += 1
        await self.journal.commit()

    # ------------------------------------------------------------------------------------ driver
    def start(self) -> int:
        """A new run: lines left mid-POST by an earlier run become unknown; POSTs may go out now."""
        self.pacer.pause_until = -float("inf")
        recovered = self.journal.recover()
        remember_recent_sends(self.pacer, self.journal, self.clock())
        return recovered

    async def plan(
        self, requests: Iterable[BatchRequest], *, resubmit_unknown: bool, retry_failed: bool
    ) -> list[Plan]:
        """What this run does with each line (the one-machine batch's `plan`); a changed line's old
        row is superseded, a request seen before is taken over (`_superseded.py`), a bad line is
        journalled as failed."""
        plans = []
        for request in requests:
            row = self.journal.get(request.line)
            if row is not None and row.status == "intent" and request.line in self._tickets:
                # Claimed in this run by an attempt that died mid-POST (a Ray Data retry plans again).
                plans.append(Plan("none", result=await self._abandon(request)))
                continue
            row = take_over(self.journal, request)
            decision = plan(request, row, resubmit_unknown=resubmit_unknown, retry_failed=retry_failed)
            if decision.action == "none" and request.error is not None:
                self.journal.failed(
                    request.line,
                    request.digest,
                    request.prompt,
                    request.error,
                    error_field=request.error_field,
                )
            if decision.action == "submit" and row is not None:
                self._fresh.add(request.line)
            plans.append(decision)
        return plans

    def pid(self) -> int:
        return os.getpid()

    async def ended(self, result: LineResult, digest: str, retry: str | None = None) -> None:
        """A line ended at the driver: done (its images are saved) or failed while waiting
        (`retry`: the `WaitFailure`'s). Committed before it returns: a call cut by a crash of the
        coordinator is retried by Ray, one that returned is on disk."""
        if result.status == "done":
            self.journal.done(result.line, result.seed, list(result.images))
        else:
            error = result.error or "failed"
            self.journal.failed(
                result.line,
                digest,
                result.prompt,
                error,
                task_id=result.task_id,
                retry=retry,
                images=result.images,
            )
        await self._commit()

    async def manifest(self) -> None:
        """Commit what is queued and rewrite `OUT/manifest.jsonl` (lines being POSTed show as running)."""
        await self._commit()
        await asyncio.to_thread(write_manifest, self.out_dir, self.journal, frozenset(self._tickets))

    def stop(self) -> None:
        """No more POSTs (POSTs in flight still report their answers)."""
        self._stopping = True

    async def finish(self, last_line: int | None) -> int:
        """The run is over: rows after `last_line` (the input's end, when it was read to the end) are
        superseded, everything is committed (after any commit still under way: an `ended` call may be
        mid-commit), the manifest rewritten and the journal closed. Returns the lines still waiting for
        a task (`running`)."""
        if last_line is not None:
            supersede_after(self.journal, last_line)
        await self._commit()
        await asyncio.to_thread(write_manifest, self.out_dir, self.journal, frozenset(self._tickets))
        running = self.journal.count("submitted")
        self.journal.close()
        return running

    def stats(self) -> CoordinatorStats:
        now = self.clock()
        return CoordinatorStats(
            submitted=self.submitted,
            rate_limited=self.rate_limited,
            accepted_in_window=self.pacer.accepted_in_window(now),
            allowance=self.pacer.allowance(),
            posting=len(self._tickets),
            calls=self.calls,
            commits=self.commits,
        )

    # ----------------------------------------------------------------------------------- workers
    async def begin(self, request: BatchRequest) -> Begin:
        """Claim `request`'s line for a POST (see the module's docstring)."""
        self.calls += 1
        line = request.line
        row = self.journal.get(line)
        if line not in self._fresh and row is not None:  # an earlier attempt got this far
            if row.status == "intent":
                return Begin("none", result=await self._abandon(request))
            decision = plan(request, row, resubmit_unknown=False, retry_failed=False)
            if decision.action == "wait":
                return Begin("wait", task_id=decision.task_id)
            if decision.action == "none":
                return Begin("none", result=decision.result)
        if self._stopping:
            return Begin("stopped")
        now = self.clock()
        delay = self.pacer.delay(request.image_num, now)
        if delay > 0:
            return Begin("later", delay=delay)
        ticket = self.pacer.sent(request.image_num, now)
        self._tickets[line] = ticket
        self._fresh.discard(line)
        self.journal.intent(line, request.digest, request.prompt, request.image_num)
        await self._commit()  # on disk before the worker may POST
        return Begin("post", ticket=ticket.id)

    async def _abandon(self, request: BatchRequest) -> LineResult:
        """The line's claim belongs to an attempt that died mid-POST: unknown (its POST counts as sent)."""
        ticket = self._tickets.pop(request.line, None)
        if ticket is not None:
            self.pacer.cancelled(ticket, self.clock())
        self.journal.unknown(request.line, WORKER_DIED)
        await self._commit()
        return LineResult(request.line, "unknown", request.prompt, error=WORKER_DIED)

    async def posted(self, line: int, task_id: str) -> None:
        """The POST created `task_id`: journalled (committed) before this returns."""
        self.calls += 1
        ticket = self._tickets.pop(line, None)
        if ticket is not None:
            self.pacer.accepted(ticket, self.clock())
        self.submitted += 1
        self.journal.submitted(line, task_id)
        await self._commit()

    async def post_failed(self, request: BatchRequest, failure: PostFailure) -> None:
        """The POST failed: the pacer learns from it, the journal says what a rerun may do."""
        self.calls += 1
        ticket = self._tickets.pop(request.line, None) or Ticket(-1, request.image_num)
        record_post_error(self.pacer, self.journal, ticket, request.line, failure, self.clock())
        self.rate_limited += failure.rate_limited
        if failure.outcome == "failed":
            self.journal.failed(request.line, request.digest, request.prompt, failure.error, retry="submit")
        if failure.outcome != "unknown":
            await self._commit()
