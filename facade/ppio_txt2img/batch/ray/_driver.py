"""The driver of a Ray batch: reads the input, has the coordinator plan each line, hands lines to the
workers, saves the images they return, and reports (results, progress, manifest) like `Batch`.

    coordinator (1 actor, on this node)        workers (N actors, anywhere)
      journal.sqlite3 in OUT, the pacer   <--   begin / posted / post_failed  (claim, pace, journal)
            ^ plan, ended, manifest                 | images (object store)
            |                                       v
      driver (this process): input -> plan -> dispatch -> save images/<line>-<i>.<ext> -> ended

Synchronous: Ray's own calls block, and a Ctrl-C is a flag (`stop()`) read between two waits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any, Unpack

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from ppio_txt2img import _constants as C
from ppio_txt2img._client import _api_key
from ppio_txt2img._errors import ValidationError
from ppio_txt2img.batch._input import BatchRequest, requests_of
from ppio_txt2img.batch._pacer import MINUTE
from ppio_txt2img.batch._runner import (
    LOCK,
    TICK,
    BatchOptions,
    BatchProgress,
    BatchSummary,
    LineResult,
    _exclusive,
    check_options,
    save_images,
    saved_result,
)
from ppio_txt2img.batch._superseded import IMAGES

from ._coordinator import Coordinator, CoordinatorStats
from ._worker import Outcome, Worker

__all__ = ["RayBatch", "start_coordinator"]

#: Lines planned per call to the coordinator.
PLAN_CHUNK = 64


def init_options(
    address: str | None, environ: Mapping[str, str], cpus: int | None, workers: int
) -> dict[str, Any]:
    """`ray.init`'s cluster keywords. Joining a cluster (`address`, or `RAY_ADDRESS`, which `ray.init`
    reads itself, as on a node of a Ray job) takes none: Ray refuses `num_cpus` there. A local cluster
    gets at least a CPU per worker (a worker reserves one unless told otherwise)."""
    if address or environ.get("RAY_ADDRESS"):
        return {}
    return {"num_cpus": max(cpus or 1, workers)}


class RayBatch:
    """A batch on a Ray cluster, writing into `out_dir` exactly like `Batch` (images, `manifest.jsonl`,
    `journal.sqlite3`; the same journal, so either engine resumes the other's batch).

        summary = RayBatch("out", workers=4, ipm=1000).run(read_lines("prompts.jsonl"))

    `address`: the cluster to join (`ray.init(address=...)`); None starts a local one, unless Ray is
    already initialised in this process (then that cluster is used, and left running). `workers`
    actors run the lines, each with at most `concurrency` lines in flight; `worker_cpus` is the CPUs
    each reserves. The other options (`ipm`, `concurrency`, `resubmit_unknown`, `retry_failed`,
    `defaults`, `total`, `window` and the callbacks) are `Batch`'s. The API key (`api_key` or
    `PPIO_API_KEY` here) reaches the workers as an actor argument, never through an environment variable.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        client_options: Mapping[str, Any] | None = None,
        workers: int = 2,
        address: str | None = None,
        worker_cpus: float = 1.0,
        **options: Unpack[BatchOptions],
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValidationError("workers", workers, "an integer >= 1", "is not valid")
        self.ipm = options.get("ipm")
        self.concurrency = options.get("concurrency", 16)
        self.window = options.get("window", MINUTE)
        check_options(self.ipm, self.concurrency, self.window)
        self.out_dir = Path(out_dir)
        self._connection = (
            _api_key(api_key),
            base_url or os.environ.get(C.ENV_BASE_URL),
            dict(client_options or {}),
        )
        self.workers = workers
        self.address = address
        self.worker_cpus = worker_cpus
        self.resubmit_unknown = options.get("resubmit_unknown", False)
        self.retry_failed = options.get("retry_failed", False)
        self.defaults = dict(options.get("defaults") or {})
        self.total = options.get("total")
        self.on_result = options.get("on_result")
        self.on_progress = options.get("on_progress")
        self.on_manifest = options.get("on_manifest")
        self.summary = BatchSummary()
        #: Lines each worker process ended (by process id; a restarted worker has a new one).
        self.lines_by_worker: Counter[int] = Counter()
        self._coordinator: Any = None
        self._workers: list[Any] = []
        self._pending: dict[Any, tuple[BatchRequest, int]] = {}
        self._load: list[int] = []
        self._stats: CoordinatorStats | None = None
        self._stopping = False
        self._error: BaseException | None = None
        self._dirty = False
        self._started = self._next_tick = self._next_manifest = 0.0
        self._manifest_cost = 0.0

    def __repr__(self) -> str:  # never the key
        return f"RayBatch({str(self.out_dir)!r}, workers={self.workers}, address={self.address!r})"

    # ------------------------------------------------------------------------------------ control
    def stop(self) -> None:
        """End the run cleanly (e.g. from a signal handler): no new POSTs, POSTs in flight get their
        answers, waits are abandoned (their task ids are journalled for the next run)."""
        self._stopping = True
        self.summary.interrupted = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def coordinator_stats(self) -> CoordinatorStats | None:
        """The coordinator's counters as last fetched (at each progress report and at the end)."""
        return self._stats

    def in_flight(self) -> list[int]:
        """Lines in flight at each worker (by the worker's index in `worker_pids()`)."""
        return list(self._load)

    def coordinator_pid(self) -> int:
        """The process id of the coordinator actor (for tests and operators)."""
        return int(ray.get(self._coordinator.pid.remote()))

    def worker_pids(self) -> list[int]:
        """The process ids of the worker actors (for tests and operators)."""
        return [int(pid) for pid in ray.get([worker.pid.remote() for worker in self._workers])]

    def run(self, requests: Iterable[BatchRequest | str | Mapping[str, Any]]) -> BatchSummary:
        """Run the batch over `requests` (read lazily) and return the summary. Raises `BatchBusyError`
        when another batch (of either engine) runs in the same directory, and `ValidationError` for what
        is not many requests (a str, a mapping, a path) or bad defaults."""
        lines = requests_of(requests, self.defaults)  # refused before a cluster starts
        (self.out_dir / IMAGES).mkdir(parents=True, exist_ok=True)
        with _exclusive(self.out_dir / LOCK), self._cluster():
            return self._run(lines)

    @contextlib.contextmanager
    def _cluster(self) -> Iterator[None]:
        started = not ray.is_initialized()
        if started:
            cluster = init_options(self.address, os.environ, os.cpu_count(), self.workers)
            ray.init(address=self.address, include_dashboard=False, logging_level=logging.WARNING, **cluster)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # best effort: the actors are killed anyway
                ray.get([worker.close.remote() for worker in self._workers], timeout=5)
            for actor in [*self._workers, self._coordinator]:
                if actor is not None:
                    ray.kill(actor, no_restart=True)
            self._workers, self._coordinator = [], None
            if started:
                ray.shutdown()

    def _start_actors(self) -> None:
        name, self._coordinator = start_coordinator(self.out_dir, ipm=self.ipm, window=self.window)
        api_key, base_url, options = self._connection
        self._workers = [
            ray.remote(Worker)
            .options(num_cpus=self.worker_cpus, max_restarts=-1, max_task_retries=-1)
            .remote(name, api_key, base_url, options)
            for _ in range(self.workers)
        ]
        self._load = [0] * self.workers

    # ---------------------------------------------------------------------------------------- run
    def _run(self, requests: Iterator[BatchRequest]) -> BatchSummary:
        self._start_actors()
        coordinator = self._coordinator
        ray.get(coordinator.start.remote())
        self._started = time.monotonic()
        last_line: int | None = None
        try:
            last_line = self._feed(requests)
            while self._pending and not self._stopping:
                self._collect()
        except Exception as exc:  # the input could not be read on, or a worker raised: stop, raise after
            self._fail(exc)
        finally:
            if self._stopping:
                self._wind_down()
            self._update_stats()
            running = ray.get(coordinator.finish.remote(None if self._stopping else last_line))
            self.summary.running = running if self.summary.interrupted else 0
            self.summary.elapsed = time.monotonic() - self._started
            self._report_manifest()
            if self.on_progress is not None:
                self.on_progress(self.progress())
        if self._error is not None:
            raise self._error
        return self.summary

    def _feed(self, requests: Iterator[BatchRequest]) -> int | None:
        """Plan and dispatch every line; the input's last line number once it is read to the end."""
        last = 0
        capacity = self.workers * self.concurrency
        while chunk := list(islice(requests, PLAN_CHUNK)):
            plans = ray.get(
                self._coordinator.plan.remote(
                    chunk, resubmit_unknown=self.resubmit_unknown, retry_failed=self.retry_failed
                )
            )
            for request, decision in zip(chunk, plans, strict=True):
                if self._stopping:
                    return None
                last = request.line
                if decision.action == "none":
                    self._ended(decision.result)
                    continue
                while len(self._pending) >= capacity and not self.stopping:
                    self._collect()
                if self.stopping:  # (set while collecting)
                    return None
                index = self._load.index(min(self._load))
                ref = self._workers[index].process.remote(request, decision)
                self._pending[ref] = (request, index)
                self._load[index] += 1
            self._tick()
        return last

    def _collect(self) -> None:
        """Take the lines that have ended (waiting up to one tick for one), then tick."""
        ready, _ = ray.wait(list(self._pending), num_returns=1, timeout=TICK)
        if ready:
            ready, _ = ray.wait(list(self._pending), num_returns=len(self._pending), timeout=0)
        for ref in ready:
            request, index = self._pending.pop(ref)
            self._load[index] -= 1
            try:
                outcome = ray.get(ref)
            except Exception as exc:  # the worker raised (a refused key, a bug): end the run
                self._fail(getattr(exc, "cause", None) or exc)
                continue
            self._outcome(request, outcome)
        self._tick()

    def _outcome(self, request: BatchRequest, outcome: Outcome) -> None:
        self.lines_by_worker[outcome.worker] += 1
        result = outcome.result
        if result is None:  # not started: the batch is stopping
            return
        if outcome.record:
            if result.status == "done":
                paths = save_images(self.out_dir, request.line, outcome.images)
                self.summary.images += len(paths)
                assert result.task_id is not None  # a done line's task
                result = saved_result(request, result.task_id, result.seed, paths)
            self._coordinator.ended.remote(result, request.digest, outcome.retry)
        self._ended(result)

    def _ended(self, result: LineResult | None) -> None:
        assert result is not None
        self.summary.add(result)
        self._dirty = True
        if self.on_result is not None:
            self.on_result(result)

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        self._stopping = True

    def _wind_down(self) -> None:
        """Stopping: no new POSTs; wait for the answers of POSTs in flight (their ids are wanted), then
        abandon the waits (the journal has their task ids)."""
        coordinator = self._coordinator
        ray.get(coordinator.stop.remote())
        while self._pending and ray.get(coordinator.stats.remote()).posting:
            self._collect()
        for worker in self._workers:
            ray.kill(worker, no_restart=True)
        self._workers = []
        self._pending.clear()

    # ---------------------------------------------------------------------------------- reporting
    def _tick(self) -> None:
        now = time.monotonic()
        if now < self._next_tick:
            return
        self._next_tick = now + TICK
        if self._dirty and now >= self._next_manifest:
            self._dirty = False
            ray.get(self._coordinator.manifest.remote())
            self._report_manifest()
            self._next_manifest = time.monotonic() + 10 * self._manifest_cost
        self._report_progress()

    def _report_manifest(self) -> None:
        if self.on_manifest is not None:
            started = time.perf_counter()
            self.on_manifest(self.out_dir)
            self._manifest_cost = time.perf_counter() - started

    def _report_progress(self) -> None:
        if self.on_progress is not None:
            self._update_stats()
            self.on_progress(self.progress())

    def _update_stats(self) -> None:
        stats = self._stats = ray.get(self._coordinator.stats.remote())
        self.summary.submitted, self.summary.rate_limited = stats.submitted, stats.rate_limited

    def progress(self) -> BatchProgress:
        stats = self._stats
        ipm, limit = (stats.accepted_in_window, stats.allowance) if stats else (0, 0)
        elapsed = time.monotonic() - self._started
        return self.summary.progress(len(self._pending), ipm, limit, elapsed, self.total, self.window)


def start_coordinator(out_dir: Path, *, ipm: int | None, window: float) -> tuple[str, Any]:
    """A batch's coordinator actor, on this node (the journal is a file of `out_dir` here); restarted
    after a crash, and its calls retried. Returns its name (how workers find it) and its handle."""
    here = ray.get_runtime_context().get_node_id()
    name = f"ppio-batch-coordinator-{uuid.uuid4().hex}"
    actor = (
        ray.remote(Coordinator)
        .options(
            name=name,
            num_cpus=0,
            max_restarts=-1,
            max_task_retries=-1,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=here, soft=False),
        )
        .remote(str(out_dir.resolve()), ipm=ipm, window=window)
    )
    return name, actor
