"""`ppio batch INPUT -o OUT`: many prompts at the account's rate limit, resumable (see README, Batches)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ppio_txt2img._client import AsyncClient
from ppio_txt2img.batch import (
    Batch,
    BatchBusyError,
    BatchRequest,
    BatchSummary,
    count_lines,
    parse_set,
    read_lines,
    to_request,
)
from ppio_txt2img.gallery import foreign_page, write_gallery

from ._batch_progress import BatchDisplay
from ._commands import IN_PROCESS, UsageError, _output_dir, connection
from ._progress import Progress

if TYPE_CHECKING:
    from ppio_txt2img.batch.ray import RayBatch

__all__ = ["cmd_batch"]


def _defaults(args: argparse.Namespace) -> dict[str, Any]:
    """`--set KEY=VALUE` defaults, checked once as a request would be (a bad default fails every line)."""
    try:
        defaults = parse_set(args.defaults or [])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if "prompt" in defaults:
        raise UsageError("--set prompt=...: the prompt comes from each line")
    probe = to_request(0, "probe", defaults)
    if probe.error is not None:
        raise UsageError(f"--set: {probe.error}")
    return defaults


def cmd_batch(args: argparse.Namespace, progress: Progress) -> int:
    """Run (or resume) the batch; exit 0 all done, 1 any failed or unknown, 130 interrupted."""
    path = Path(args.input)
    try:
        total = count_lines(path)
    except OSError as exc:
        raise UsageError(f"{args.input}: cannot read the input ({exc.strerror or exc})") from None
    if path.suffix.lower() not in (".jsonl", ".ndjson", ".json", ".txt"):
        raise UsageError(f"{args.input}: expected a .jsonl or .txt file")
    defaults = _defaults(args)
    if args.ipm is not None and args.ipm < 1:
        raise UsageError(f"--ipm: {args.ipm} is not allowed; allowed: an integer >= 1")
    if args.concurrency < 1:
        raise UsageError(f"--concurrency: {args.concurrency} is not allowed; allowed: an integer >= 1")
    if not args.ipm_window > 0:
        raise UsageError("--ipm-window: must be a number of seconds > 0")
    if args.engine != "ray" and (args.ray_address is not None or args.workers != 2):
        raise UsageError("--ray-address and --workers need --engine ray")
    if args.workers < 1:
        raise UsageError(f"--workers: {args.workers} is not allowed; allowed: an integer >= 1")
    out_dir = _output_dir(args.output)
    if (foreign := foreign_page(out_dir)) is not None:  # the gallery would have to replace it
        raise UsageError(f"--output {args.output}: {foreign} exists and is not a ppio gallery")
    display = BatchDisplay(sys.stderr, json_out=sys.stdout if args.json else None, quiet=args.quiet)
    options_of_batch: dict[str, Any] = {
        "ipm": args.ipm,
        "concurrency": args.concurrency,
        "resubmit_unknown": args.resubmit_unknown,
        "retry_failed": args.retry_failed,
        "total": total,
        "on_result": display.result,
        "on_progress": display.progress,
        "window": args.ipm_window,
        # The gallery follows the manifest; a few thumbnails per rewrite, the rest at the end.
        "on_manifest": partial(write_gallery, thumbnail_budget=_GALLERY_BUDGET),
    }

    with contextlib.ExitStack() as stack:
        api_key, base_url, options = connection(args, stack)
        stack.enter_context(_warnings_shown_by(display))

        async def main() -> BatchSummary:
            async with AsyncClient(api_key, base_url=base_url, **options) as client:
                batch = Batch(client, out_dir, **options_of_batch)
                error: Exception | None = None
                async with anyio.create_task_group() as group:
                    group.start_soon(_stop_on_signals, batch, display)
                    try:
                        summary = await batch.run(read_lines(path, defaults))
                    except Exception as exc:  # raised below as itself, not in an ExceptionGroup
                        error = exc
                    group.cancel_scope.cancel()
                if error is not None:
                    raise error
                return summary

        try:
            if args.engine == "ray":
                ray_batch = _ray_batch(args, out_dir, api_key, base_url, options, options_of_batch)
                summary = _run_on_ray(ray_batch, read_lines(path, defaults), display)
            else:
                summary = anyio.run(main)
        except BatchBusyError as exc:
            raise UsageError(str(exc)) from None
    gallery = write_gallery(out_dir, thumbnail_budget=None)  # every thumbnail, once the batch is over
    display.summary(summary, out_dir, in_process=args.sandbox_session == IN_PROCESS)
    display.note(f"gallery: {gallery}")
    return summary.exit_code


class _ToDisplay(logging.Handler):
    """Warnings of the batch (its logger's, `ppio_txt2img.batch`), shown by the display: a bare line on
    stderr would break the live progress line, and `--json` would not have them."""

    def __init__(self, display: BatchDisplay) -> None:
        super().__init__(logging.WARNING)
        self.display = display

    def emit(self, record: logging.LogRecord) -> None:
        self.display.warning(record.getMessage())


@contextlib.contextmanager
def _warnings_shown_by(display: BatchDisplay) -> Iterator[None]:
    """Within the block, the batch's warnings go to `display` alone (not also to the root logger)."""
    logger = logging.getLogger("ppio_txt2img.batch")
    handler, propagate = _ToDisplay(display), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


#: Seconds of thumbnail drawing per manifest rewrite while the batch runs (it waits for them).
_GALLERY_BUDGET = 0.3


async def _stop_on_signals(batch: Batch, display: BatchDisplay) -> None:
    """Ctrl-C (or SIGTERM): stop cleanly; a second one leaves at once (the journal is consistent)."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            if batch.summary.interrupted:
                display.note("ppio: interrupted again; leaving now (rerun the same command to resume)")
                os._exit(130)
            display.note("ppio: stopping: no new tasks; waiting for the answers of POSTs in flight ...")
            batch.stop()


def _ray_batch(
    args: argparse.Namespace,
    out_dir: Path,
    api_key: str | None,
    base_url: str | None,
    client_options: dict[str, Any],
    options: dict[str, Any],
) -> RayBatch:
    try:
        from ppio_txt2img.batch.ray import RayBatch
    except ImportError as exc:
        raise UsageError(f"--engine ray needs Ray: pip install 'ppio-txt2img[ray]' ({exc})") from None
    return RayBatch(
        out_dir,
        api_key=api_key,
        base_url=base_url,
        client_options=client_options,
        workers=args.workers,
        address=args.ray_address,
        **options,
    )


def _run_on_ray(batch: RayBatch, requests: Iterable[BatchRequest], display: BatchDisplay) -> BatchSummary:
    """The Ray engine's driver is synchronous: Ctrl-C (or SIGTERM) sets its stop flag, read between
    two waits; a second one leaves at once."""

    def on_signal(signum: int, frame: object) -> None:
        if batch.summary.interrupted:
            display.note("ppio: interrupted again; leaving now (rerun the same command to resume)")
            os._exit(130)
        display.note("ppio: stopping: no new tasks; waiting for the answers of POSTs in flight ...")
        batch.stop()

    if threading.current_thread() is not threading.main_thread():  # (signals go to the main thread)
        return batch.run(requests)
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return batch.run(requests)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
