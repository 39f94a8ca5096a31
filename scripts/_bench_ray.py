"""The Ray engine on this machine: 1 vs 2 workers, and what the coordinator actor sustains.

    make bench-ray          (or: .venv/bin/python scripts/_bench_ray.py [--lines N])

1. A batch of `LINES` small images through `RayBatch` with 1 and then 2 workers, on a local Ray cluster,
   against a sandbox in its own process with no limit and fast tasks (so the engine, not the API, is
   what is measured): images per minute, and the coordinator's RPCs and journal commits per second
   (runs alternate 1, 2, 1, 2 workers; the best of each is kept).
2. The coordinator alone: `CLAIMS` lines claimed and reported posted (`begin` + `posted`: two RPCs and
   two durable commits each, the per-POST cost of the design), 64 lines at a time, from the driver:
   the most POSTs per second one coordinator allows, i.e. the IPM ceiling of one coordinator.
3. The journal alone (no Ray): committed intents per second, one at a time and grouped.

Prints a Markdown table (docs/scale-out.md quotes it). Figures depend on the machine's load.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import ray
from _bench_sandbox import SandboxProcess

from ppio_txt2img.batch import to_request
from ppio_txt2img.batch._journal import Journal
from ppio_txt2img.batch.ray import RayBatch
from ppio_txt2img.batch.ray._coordinator import Coordinator

LINES = 400
CLAIMS = 2000
KNOBS: dict[str, Any] = {"speed": 200.0, "queue_delay": 0.02, "concurrency": 512, "seed": 3}
SMALL = {"width": 128, "height": 128, "steps": 1}


def bench_workers(url: str, workers: int, lines: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as out:
        batch = RayBatch(out, api_key="bench", base_url=url, workers=workers, concurrency=32)
        requests = [{"prompt": f"bench {workers} workers #{i}", **SMALL} for i in range(lines)]
        started = time.perf_counter()
        summary = batch.run(requests)
        elapsed = time.perf_counter() - started
        stats = batch.coordinator_stats
        assert summary.done == lines, summary
        assert stats is not None
    return {
        "ipm": summary.images / elapsed * 60,
        "rpcs": stats.calls / elapsed,
        "commits": stats.commits / elapsed,
        "elapsed": elapsed,
    }


def bench_coordinator(claims: int) -> float:
    """Lines claimed and posted per second through one coordinator actor (64 lines in flight)."""
    with tempfile.TemporaryDirectory() as out:
        remote: Any = ray.remote(Coordinator)
        actor = remote.remote(out, ipm=10**9)
        ray.get(actor.start.remote())
        requests = [to_request(n, {"prompt": f"claim {n}", **SMALL}) for n in range(1, claims + 1)]
        started = time.perf_counter()
        for first in range(0, claims, 64):  # 64 lines at a time: concurrent claims share commits
            chunk = requests[first : first + 64]
            begins = ray.get([actor.begin.remote(request) for request in chunk])
            assert all(begin.action == "post" for begin in begins), begins
            ray.get([actor.posted.remote(request.line, f"task-{request.line}") for request in chunk])
        elapsed = time.perf_counter() - started
        ray.kill(actor)
    return claims / elapsed


def bench_journal(count: int) -> tuple[float, float]:
    """Intents committed per second: each alone, then 64 at a time (the group commit)."""
    with tempfile.TemporaryDirectory() as out:
        journal = Journal(Path(out) / "journal.sqlite3")
        started = time.perf_counter()
        for n in range(count):
            journal.intent(n, "d", "p")
            journal.flush()
        alone = count / (time.perf_counter() - started)

        async def grouped() -> None:
            async with anyio.create_task_group() as group:
                for n in range(count, 2 * count):
                    journal.intent(n, "d", "p")
                    group.start_soon(journal.commit)

        started = time.perf_counter()
        anyio.run(grouped)
        together = count / (time.perf_counter() - started)
        journal.close()
    return alone, together


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=LINES)
    args = parser.parse_args()
    # A cluster named by RAY_ADDRESS is joined as it is; else a local one with this machine's CPUs.
    local: dict[str, Any] = {} if os.environ.get("RAY_ADDRESS") else {"num_cpus": max(2, os.cpu_count() or 1)}
    ray.init(include_dashboard=False, logging_level=logging.WARNING, **local)
    try:
        with SandboxProcess(**KNOBS) as sandbox:
            bench_workers(sandbox.url, 1, 40)  # warm-up: imports and connections in the workers
            runs: dict[int, dict[str, float]] = {}
            for workers in (1, 2, 1, 2):  # alternated, the best of two each: the machine's load varies
                run = bench_workers(sandbox.url, workers, args.lines)
                if workers not in runs or run["ipm"] > runs[workers]["ipm"]:
                    runs[workers] = run
        claims = bench_coordinator(CLAIMS)
    finally:
        ray.shutdown()
    alone, together = bench_journal(500)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end\n")
    print("| workers | images/min | coordinator RPCs/s | journal commits/s | wall (s) |")
    print("|---|---|---|---|---|")
    for workers, run in runs.items():
        print(
            f"| {workers} | {run['ipm']:,.0f} | {run['rpcs']:,.0f} | {run['commits']:,.0f} "
            f"| {run['elapsed']:.1f} ({args.lines} lines) |"
        )
    print(f"\none coordinator, claim + posted (2 RPCs, 2 commits) per line: {claims:,.0f} lines/s")
    print(f"journal alone: {alone:,.0f} commits/s one at a time, {together:,.0f} intents/s grouped")


if __name__ == "__main__":
    main()
