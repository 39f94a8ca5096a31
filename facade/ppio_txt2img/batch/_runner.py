"""Running a batch: lines in (lazily), paced POSTs, waits, images saved, the journal and the manifest
kept up to date; results out as they finish.

An app on the public `AsyncClient` (like the CLI), with the decisions in small pure parts: the pacer
(`_pacer.py`), what a rerun does with a journalled line (`plan`), and what a POST's error proves
(`after_post_error`). The only I/O here is the client's calls, the journal and the image files.

Crash safety rests on the order of the writes: the intent is committed before a POST, the task id
right after it; a rerun waits for known ids and never resends a POST whose outcome is unknown.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

import anyio
import anyio.abc
import anyio.lowlevel
import anyio.to_thread

from ppio_txt2img import _constants as C
from ppio_txt2img._client import AsyncClient
from ppio_txt2img._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    ImageError,
    NotFoundError,
    PPIOError,
    RateLimitError,
    ServerError,
    TaskFailedError,
    ValidationError,
    WaitTimeoutError,
)
from ppio_txt2img._results import GeneratedImage
from ppio_txt2img._retry import backoff_delay

from ._input import BatchRequest, requests_of
from ._journal import Journal, Row
from ._manifest import write_manifest
from ._pacer import MINUTE, AdaptivePacer, Pacer, Ticket, WindowPacer
from ._superseded import IMAGES, supersede_after, take_over

__all__ = [
    "Batch",
    "BatchBusyError",
    "BatchOptions",
    "BatchProgress",
    "BatchSummary",
    "LineResult",
    "PostFailure",
    "WaitFailure",
    "Arrived",
    "after_post_error",
    "post_line",
    "saved_result",
    "check_options",
    "plan",
    "record_post_error",
    "save_images",
    "wait_for_task",
]

JOURNAL = "journal.sqlite3"
LOCK = "journal.lock"
#: A wait that fails this many times in a row gives the line up as failed for this run (`_constants`).
WAIT_ATTEMPTS = C.BATCH_WAIT_ATTEMPTS
#: Seconds between manifest rewrites and progress reports while running (at least).
TICK = 0.5

Status = Literal["done", "failed", "unknown"]


@dataclass(frozen=True)
class LineResult:
    """How one line ended in this run (or an earlier one: `resumed`)."""

    line: int
    status: Status
    prompt: str | None
    task_id: str | None = None
    seed: int | None = None
    images: tuple[str, ...] = ()
    error: str | None = None
    error_field: str | None = None
    resumed: bool = False


@dataclass(frozen=True)
class BatchProgress:
    """A snapshot for progress displays."""

    done: int
    failed: int
    unknown: int
    in_flight: int
    #: Images accepted by the API within the last rate-limit window (its "images per minute" now).
    ipm: int
    #: The pacer's current allowance per window (learnt, or --ipm).
    limit: int
    rate_limited: int
    elapsed: float
    #: Seconds left at the current rate, when the number of lines is known and a rate is measured.
    eta: float | None
    total: int | None


@dataclass
class BatchSummary:
    """The whole batch after this run (earlier runs' lines included)."""

    done: int = 0
    failed: int = 0
    unknown: int = 0
    #: Lines left in flight (a task id is journalled) when the run was interrupted.
    running: int = 0
    #: Lines found done by an earlier run (skipped now).
    resumed: int = 0
    #: POSTs that created a task in this run, and POSTs answered 429.
    submitted: int = 0
    rate_limited: int = 0
    images: int = 0
    elapsed: float = 0.0
    interrupted: bool = False
    #: Why lines are unknown: reason -> number of lines.
    unknown_reasons: dict[str, int] = field(default_factory=dict)
    #: Of `unknown`, the lines whose POST was this run's (each may have created a task, billed).
    unknown_posted: int = 0

    def progress(
        self, in_flight: int, ipm: int, limit: int, elapsed: float, total: int | None, window: float
    ) -> BatchProgress:
        """A snapshot, with the ETA at `ipm` (images accepted in the last `window` seconds)."""
        finished = self.done + self.failed + self.unknown
        eta = None
        if total is not None and ipm > 0:
            eta = max(0, total - finished) / ipm * window
        return BatchProgress(
            done=self.done,
            failed=self.failed,
            unknown=self.unknown,
            in_flight=in_flight,
            ipm=ipm,
            limit=limit,
            rate_limited=self.rate_limited,
            elapsed=elapsed,
            eta=eta,
            total=total,
        )

    def add(self, result: LineResult) -> None:
        """Count a line that ended."""
        if result.status == "done":
            self.done += 1
            self.resumed += result.resumed
        elif result.status == "failed":
            self.failed += 1
        else:
            self.unknown += 1
            self.unknown_posted += not result.resumed
            reason = result.error or "unknown"
            self.unknown_reasons[reason] = self.unknown_reasons.get(reason, 0) + 1

    @property
    def exit_code(self) -> int:
        """0 every line done, 1 any failed or unknown (or left running), 130 interrupted."""
        if self.interrupted:
            return 130
        return 0 if not (self.failed or self.unknown or self.running) else 1


# ------------------------------------------------------------------------------------ pure decisions
@dataclass(frozen=True)
class Plan:
    """What to do with a line: `submit`, `wait` (for `task_id`), or nothing (`result` says how it ended)."""

    action: Literal["submit", "wait", "none"]
    task_id: str | None = None
    result: LineResult | None = None


def plan(request: BatchRequest, row: Row | None, *, resubmit_unknown: bool, retry_failed: bool) -> Plan:
    """What a run does with a line, given its journal row (None: never seen, or superseded)."""
    if request.error is not None:
        return Plan("none", result=_failed(request, request.error, request.error_field))
    if row is None:
        return Plan("submit")
    if row.status == "done":
        return Plan("none", result=_result(row, "done", resumed=True))
    if row.status == "submitted" and row.task_id:
        return Plan("wait", row.task_id)
    if row.status in ("intent", "unknown"):
        if resubmit_unknown:
            return Plan("submit")
        return Plan("none", result=_result(row, "unknown", resumed=True))
    # failed
    if row.retry == "wait" and row.task_id:
        return Plan("wait", row.task_id)
    if row.retry == "submit" or retry_failed:
        return Plan("submit")
    return Plan("none", result=_result(row, "failed", resumed=True))


PostOutcome = Literal["retry", "unknown", "failed", "abort"]

_log = logging.getLogger("ppio_txt2img.batch")


async def post_line(client: AsyncClient, request: BatchRequest) -> str:
    """POST a line; the id of the task it created. A create answer the SDK refuses but that names the
    task it created (the API's old V2 envelope: see `_tasks.create_task`) is that task, paid for, once
    one look finds it: then the line waits for it, as the error asks, and is never sent again (it ended
    `unknown`, its images lost). A task the look does not find (or a look that fails) leaves the error
    as it was: the line is `unknown`, never `failed`, so `--retry-failed` cannot send it again."""
    assert request.prompt is not None
    try:
        return (await client.submit(request.prompt, **request.options)).id
    except APIResponseValidationError as exc:
        if exc.task_id is None:
            raise
        try:
            await client.get_task(exc.task_id)
        except PPIOError:
            raise exc from None
        _log.warning(
            "line %d: the create answer named task %s in the API's old V2 envelope ({code, msg, data}), "
            "not in the V3 answer the spec describes; the task exists: the line waits for it and is not "
            "sent again",
            request.line,
            exc.task_id,
        )
        return exc.task_id


def after_post_error(exc: BaseException) -> PostOutcome:
    """What a failed POST proves. `retry`: nothing was created and trying again may work (429, the
    connection was never made); `unknown`: a task may exist; `failed`: nothing was created, retrying
    will not help; `abort`: no line can succeed (the key is refused)."""
    if getattr(exc, "outcome_unknown", False):
        return "unknown"
    if isinstance(exc, AuthenticationError):
        return "abort"
    if isinstance(exc, RateLimitError | APIConnectionError | WaitTimeoutError):
        return "retry"  # (a deadline while connecting: nothing was sent)
    if isinstance(exc, ValidationError | APIStatusError):
        return "failed"
    return "unknown"  # anything else: we cannot prove that no task exists


@dataclass(frozen=True)
class WaitFailure:
    """A wait that ended without images: the line's result, and what a rerun does (`retry`: 'wait'
    when the task id is worth waiting for again, None when the task failed)."""

    result: LineResult
    retry: str | None = None

    def record(self, journal: Journal, request: BatchRequest) -> None:
        error = self.result.error or "failed"
        task_id = self.result.task_id
        journal.failed(request.line, request.digest, request.prompt, error, task_id=task_id, retry=self.retry)


@dataclass(frozen=True)
class Arrived:
    """The images of a line's task that arrived, and its seed (None: not known): all those the line
    asked for, or fewer (the task listed no more: `saved_result` makes the line failed)."""

    seed: int | None
    images: tuple[GeneratedImage, ...]


async def wait_for_task(client: AsyncClient, request: BatchRequest, task_id: str) -> Arrived | WaitFailure:
    """Wait for a line's task and download its images, up to `WAIT_ATTEMPTS` tries of `client.wait`."""
    failures = 0
    while True:
        error: Exception
        try:
            generation = await client.wait(task_id)
            return Arrived(generation.seed, generation.images)
        except ImageError as exc:
            if exc.reason == ImageError.FEWER_IMAGES:  # fewer listed than asked: no retry brings more
                return Arrived(None, exc.images)
            error = exc
        except (TaskFailedError, NotFoundError) as exc:
            return WaitFailure(LineResult(request.line, "failed", request.prompt, task_id, error=str(exc)))
        except (WaitTimeoutError, APIError) as exc:
            error = exc
        failures += 1
        if failures >= WAIT_ATTEMPTS:
            return _gave_up(request, task_id, error)
        await anyio.sleep(backoff_delay(failures))


def _gave_up(request: BatchRequest, task_id: str, exc: Exception) -> WaitFailure:
    """A line whose waits kept failing: failed for this run, its task id kept for the next."""
    error = f"{exc} (the task id is kept: a rerun waits for it again)"
    return WaitFailure(LineResult(request.line, "failed", request.prompt, task_id, error=error), "wait")


def saved_result(request: BatchRequest, task_id: str, seed: int | None, paths: Sequence[str]) -> LineResult:
    """A line whose task succeeded, its images saved at `paths`: done, or failed when fewer came than
    the line asked for (the API listed no more). Those that came stay saved, as the line's images (kept
    with it as a done line's are); `--retry-failed` buys the line again. (A wait that did not know
    `image_num`, after a rerun, took such a task for whole: done, the missing images dropped.)"""
    if len(paths) >= request.image_num:
        return LineResult(request.line, "done", request.prompt, task_id, seed, tuple(paths))
    error = (
        f"the task succeeded with {len(paths)} of {request.image_num} images: the API listed no more "
        "(those that came are saved, as the line's images; --retry-failed buys the line again)"
    )
    return LineResult(request.line, "failed", request.prompt, task_id, seed, tuple(paths), error)


def remember_recent_sends(pacer: Pacer, journal: Journal, now: float) -> None:
    """Tell a new run's pacer what the journal says was sent in the last window (on `now`'s clock): a
    rerun right after a stop would otherwise send a whole window's worth beside the run before's, twice
    the limit in the server's window."""
    wall = time.time()
    for at, cost in journal.sent_since(wall - pacer.window):
        pacer.already_sent(now - (wall - at), cost)


def record_post_error(
    pacer: Pacer, journal: Journal, ticket: Ticket, line: int, failure: PostFailure, now: float
) -> None:
    """What a failed POST changes in the pacer and the journal (the caller commits, except for unknown
    lines, whose row is left for the next flush)."""
    if failure.rate_limited:
        pacer.rejected(ticket, now, failure.retry_after)
    elif failure.outcome == "unknown":
        pacer.cancelled(ticket, now)
    else:
        pacer.released(ticket)
    if failure.outage:
        pacer.outage(now, failure.retry_after)
    if failure.outcome == "unknown":
        journal.unknown(line, failure.error)
    else:
        journal.nothing_created(line)


@dataclass(frozen=True)
class PostFailure:
    """A failed POST, as the pacer and the journal need it (picklable: it may cross processes)."""

    outcome: PostOutcome
    error: str
    rate_limited: bool = False
    retry_after: float | None = None
    #: Failed as an API that is down fails (a 5xx, a dropped or refused connection, no answer in time):
    #: every send pauses (`Pacer.outage`).
    outage: bool = False

    @classmethod
    def of(cls, exc: BaseException) -> PostFailure:
        limited = isinstance(exc, RateLimitError)
        retry_after = exc.retry_after if isinstance(exc, RateLimitError | ServerError) else None
        outage = isinstance(exc, ServerError | APIConnectionError | WaitTimeoutError)
        return cls(after_post_error(exc), str(exc), limited, retry_after, outage)


def _failed(request: BatchRequest, error: str, field: str | None = None) -> LineResult:
    return LineResult(request.line, "failed", request.prompt, error=error, error_field=field)


def _result(row: Row, status: Status, *, resumed: bool = False) -> LineResult:
    return LineResult(
        row.line,
        status,
        row.prompt,
        row.task_id,
        row.seed,
        row.images,
        row.error,
        row.error_field,
        resumed,
    )


class BatchOptions(TypedDict, total=False):
    """`Batch`'s options besides the client and the directory (the Ray engine takes them too)."""

    ipm: int | None
    concurrency: int
    resubmit_unknown: bool
    retry_failed: bool
    defaults: Mapping[str, Any] | None
    total: int | None
    on_result: Callable[[LineResult], object] | None
    on_progress: Callable[[BatchProgress], object] | None
    on_manifest: Callable[[Path], object] | None
    window: float


def check_options(ipm: object, concurrency: object, window: object) -> None:
    """Raise `ValidationError` for an `ipm`, `concurrency` or `window` a batch cannot run with."""
    if ipm is not None and (isinstance(ipm, bool) or not isinstance(ipm, int) or ipm < 1):
        raise ValidationError("ipm", ipm, "an integer >= 1", "is not valid")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError("concurrency", concurrency, "an integer >= 1", "is not valid")
    if not (isinstance(window, int | float) and window > 0):
        raise ValidationError("window", window, "a number of seconds > 0", "is not valid")


def _submission_client(client: AsyncClient) -> AsyncClient:
    """The same client (same connections), but its POSTs are not retried on 429: the pacer sees each."""
    return client.with_options(max_retries=0)


class BatchBusyError(PPIOError):
    """Another batch is running in the same output directory."""


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (released by the OS if the process dies, even by SIGKILL)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BatchBusyError(
                f"another batch is running in {path.parent} (it holds {path.name}); "
                "two runs at once could submit the same line twice"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _extension(image_format: str) -> str:
    return "jpg" if image_format == "jpeg" else image_format


#: An image to save: its index in the task, its format (`png`, `jpeg`, ...) and its bytes.
ImageData = tuple[int, str, bytes]


def save_images(out_dir: Path, line: int, images: Iterable[ImageData]) -> list[str]:
    """Write a line's images as images/<line>-<i>.<ext> (each atomically); their paths relative to OUT."""
    paths = []
    for index, image_format, data in images:
        relative = f"{IMAGES}/{line}-{index}.{_extension(image_format)}"
        target = out_dir / relative
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        paths.append(relative)
    return paths


# ---------------------------------------------------------------------------------------------- run
class Batch:
    """A batch writing into `out_dir` (created): images, `manifest.jsonl`, `journal.sqlite3`.

        async with AsyncClient() as client:
            summary = await Batch(client, "out", ipm=20).run(["a fox", {"prompt": "a cat", "width": 512}])

    `ipm`: the account's limit in images per minute, if known (never exceeded); else it is learnt from
    429s. `concurrency` caps lines in flight (submitting or waiting). `on_result(LineResult)` is called
    as each line ends, `on_progress(BatchProgress)` about every 0.5 s, and `on_manifest(out_dir)` after
    each manifest rewrite (on a worker thread while running, on the caller's at the end). `window` is
    the rate limit's minute in seconds (60; tests shrink it).
    Call `stop()` (e.g. on Ctrl-C) to end cleanly: no new POSTs, POSTs in flight get their answer,
    waits are abandoned (their ids are journalled for the next run).
    """

    def __init__(
        self,
        client: AsyncClient,
        out_dir: str | os.PathLike[str],
        *,
        ipm: int | None = None,
        concurrency: int = 16,
        resubmit_unknown: bool = False,
        retry_failed: bool = False,
        defaults: Mapping[str, Any] | None = None,
        total: int | None = None,
        on_result: Callable[[LineResult], object] | None = None,
        on_progress: Callable[[BatchProgress], object] | None = None,
        on_manifest: Callable[[Path], object] | None = None,
        window: float = MINUTE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_options(ipm, concurrency, window)
        self.client = client
        self._submit_client = _submission_client(client)
        self.out_dir = Path(out_dir)
        self.concurrency = concurrency
        self.resubmit_unknown = resubmit_unknown
        self.retry_failed = retry_failed
        self.defaults = dict(defaults or {})
        self.total = total
        self.on_result = on_result
        self.on_progress = on_progress
        self.on_manifest = on_manifest
        self.clock = clock
        self.pacer: Pacer = WindowPacer(ipm, window=window) if ipm else AdaptivePacer(window=window)
        self.summary = BatchSummary()
        self._posting: set[int] = set()
        self._in_flight = 0
        self._stopping = False
        self._lines_scope: anyio.CancelScope | None = None
        self._error: BaseException | None = None
        self._journal: Journal | None = None
        self._started = clock()
        self._next_manifest = 0.0
        self._manifest_cost = 0.0

    # ------------------------------------------------------------------------------------ control
    def stop(self) -> None:
        """End the run cleanly (safe to call from a signal handler running in the event loop)."""
        self._stopping = True
        self.summary.interrupted = True
        if self._lines_scope is not None:
            self._lines_scope.cancel()

    async def run(self, requests: Iterable[BatchRequest | str | Mapping[str, Any]]) -> BatchSummary:
        """Run the batch over `requests` (read lazily) and return the summary. Raises `BatchBusyError`
        when another batch runs in the same directory (two runs could buy the same line twice), and
        `ValidationError` for what is not many requests (a str, a mapping, a path) or bad defaults."""
        lines = requests_of(requests, self.defaults)  # refused before anything is written or sent
        (self.out_dir / IMAGES).mkdir(parents=True, exist_ok=True)
        with _exclusive(self.out_dir / LOCK):
            return await self._run(lines)

    async def _run(self, lines: Iterator[BatchRequest]) -> BatchSummary:
        journal = self._journal = Journal(self.out_dir / JOURNAL)
        journal.recover()
        remember_recent_sends(self.pacer, journal, self.clock())
        self._started = self.clock()
        try:
            async with anyio.create_task_group() as ticker:
                ticker.start_soon(self._tick_forever)
                try:
                    await self._run_lines(lines)
                finally:
                    ticker.cancel_scope.cancel()
        finally:
            self.summary.elapsed = self.clock() - self._started
            self._finish_manifest()
            journal.close()
        if self._error is not None:
            raise self._error
        return self.summary

    async def _run_lines(self, requests: Iterable[BatchRequest]) -> None:
        journal = self._journal
        assert journal is not None
        slots = anyio.Semaphore(self.concurrency)
        self._last_line = 0
        complete = False
        with anyio.CancelScope() as scope:
            self._lines_scope = scope
            if self._stopping:
                scope.cancel()
            async with anyio.create_task_group() as lines:
                try:
                    complete = await self._feed(requests, lines, slots)
                except Exception as exc:  # the input could not be read on: stop, report it after
                    self._fail(exc)
        if complete and not self._stopping and self._error is None:
            supersede_after(journal, self._last_line)

    def _fail(self, exc: BaseException) -> None:
        """An error that ends the run (a refused key, an unreadable input): stop, raise it at the end."""
        if self._error is None:
            self._error = exc
        self._stopping = True
        if self._lines_scope is not None:
            self._lines_scope.cancel()

    async def _feed(
        self, requests: Iterable[BatchRequest], lines: anyio.abc.TaskGroup, slots: anyio.Semaphore
    ) -> bool:
        """Start each line that needs work (at most `concurrency` at once); True at the input's end."""
        journal = self._journal
        assert journal is not None
        for count, request in enumerate(requests):
            if self._stopping:
                return False
            if count % 64 == 0:
                await anyio.lowlevel.checkpoint()
            self._last_line = request.line
            row = take_over(journal, request)
            decision = plan(
                request, row, resubmit_unknown=self.resubmit_unknown, retry_failed=self.retry_failed
            )
            if decision.action == "none":
                assert decision.result is not None
                if request.error is not None:
                    journal.failed(
                        request.line,
                        request.digest,
                        request.prompt,
                        request.error,
                        error_field=request.error_field,
                    )
                self._ended(decision.result)
                continue
            await slots.acquire()
            self._in_flight += 1
            lines.start_soon(self._line, request, decision, slots)
        return True

    async def _line(self, request: BatchRequest, decision: Plan, slots: anyio.Semaphore) -> None:
        try:
            task_id = decision.task_id
            if decision.action == "submit":
                task_id = await self._submit(request)
            if task_id is not None:
                await self._wait(request, task_id)
        except Exception as exc:  # a refused key (or a bug): end the run, raise it from run()
            self._fail(exc)
        finally:
            self._in_flight -= 1
            slots.release()

    # ------------------------------------------------------------------------------------- submit
    async def _gate(self, cost: int) -> None:
        while (delay := self.pacer.delay(cost, self.clock())) > 0:  # noqa: ASYNC110 - a clock, not an event
            await anyio.sleep(min(delay, 1.0))

    async def _submit(self, request: BatchRequest) -> str | None:
        """POST the line, paced; its task id, or None when the line ended (failed or unknown)."""
        journal, pacer = self._journal, self.pacer
        assert journal is not None
        assert request.prompt is not None
        client = self._submit_client
        while True:
            await self._gate(request.image_num)
            ticket = pacer.sent(request.image_num, self.clock())
            self._posting.add(request.line)
            try:
                with anyio.CancelScope(shield=True):  # Ctrl-C waits for the answer: its id is wanted
                    journal.intent(request.line, request.digest, request.prompt, request.image_num)
                    await journal.commit()  # on disk before the POST leaves
                    task_id = await post_line(client, request)
                    journal.submitted(request.line, task_id)
                    await journal.commit()  # the id, on disk at once
            except (APIError, ValidationError, WaitTimeoutError) as exc:
                failure = PostFailure.of(exc)
                outcome = failure.outcome
                record_post_error(pacer, journal, ticket, request.line, failure, self.clock())
                self.summary.rate_limited += failure.rate_limited
                self._posting.discard(request.line)
                if outcome == "unknown":
                    self._ended(LineResult(request.line, "unknown", request.prompt, error=str(exc)))
                    return None
                await journal.commit()
                if outcome == "abort":
                    raise
                if outcome == "failed":
                    journal.failed(request.line, request.digest, request.prompt, str(exc), retry="submit")
                    self._ended(_failed(request, str(exc)))
                    return None
                continue  # not sent (a 429, a refused connection): again, once the pacer's pause is over
            except BaseException:
                self._posting.discard(request.line)
                raise  # the intent stays: the next run calls the line unknown
            pacer.accepted(ticket, self.clock())
            self._posting.discard(request.line)
            self.summary.submitted += 1
            return task_id

    # --------------------------------------------------------------------------------------- wait
    async def _wait(self, request: BatchRequest, task_id: str) -> None:
        journal = self._journal
        assert journal is not None
        generation = await wait_for_task(self.client, request, task_id)
        if isinstance(generation, WaitFailure):
            generation.record(journal, request)
            self._ended(generation.result)
            return
        paths = await anyio.to_thread.run_sync(self._save, request.line, generation)
        self.summary.images += len(paths)
        result = saved_result(request, task_id, generation.seed, paths)
        if result.status == "done":
            journal.done(request.line, generation.seed, paths)
        else:
            error = result.error or ""
            journal.failed(request.line, request.digest, request.prompt, error, task_id=task_id, images=paths)
        self._ended(result)

    def _save(self, line: int, generation: Arrived) -> list[str]:
        return save_images(self.out_dir, line, [(i.index, i.format, i.data) for i in generation.images])

    # ---------------------------------------------------------------------------------- reporting
    def _ended(self, result: LineResult) -> None:
        self.summary.add(result)
        if self._journal is not None:
            self._journal.dirty = True
        if self.on_result is not None:
            self.on_result(result)

    def progress(self) -> BatchProgress:
        now, pacer = self.clock(), self.pacer
        ipm = pacer.accepted_in_window(now)
        return self.summary.progress(
            self._in_flight, ipm, pacer.allowance(), now - self._started, self.total, pacer.window
        )

    async def _tick_forever(self) -> None:
        try:
            await self._tick_loop()
        except Exception as exc:  # the manifest could not be written, or a hook failed: end the run
            self._fail(exc)

    async def _tick_loop(self) -> None:
        journal = self._journal
        assert journal is not None
        while True:
            await anyio.sleep(TICK)
            if journal.dirty and self.clock() >= self._next_manifest:
                journal.dirty = False
                await journal.commit()
                posting = frozenset(self._posting)
                await anyio.to_thread.run_sync(self._rewrite_manifest, posting)
                # A long manifest is rewritten less often: at most ~10 % of the time goes to it.
                self._next_manifest = self.clock() + 10 * self._manifest_cost
            if self.on_progress is not None:
                self.on_progress(self.progress())

    def _rewrite_manifest(self, posting: frozenset[int] = frozenset()) -> None:
        journal = self._journal
        assert journal is not None
        started = time.perf_counter()
        write_manifest(self.out_dir, journal, posting)
        self._manifest_cost = time.perf_counter() - started
        if self.on_manifest is not None:
            self.on_manifest(self.out_dir)

    def _finish_manifest(self) -> None:
        journal = self._journal
        assert journal is not None
        journal.flush()
        self._posting.clear()
        self._rewrite_manifest()
        summary = self.summary
        if summary.interrupted:
            summary.running = sum(1 for row in journal.rows() if row.status == "submitted")
        if self.on_progress is not None:
            self.on_progress(self.progress())
