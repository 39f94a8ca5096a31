"""2. Scale: 200 tasks at once through one `AsyncClient` (its own default httpx client).

Wall time from the first call to the last image decoded, against the ideal: the longest task's real
duration in the sandbox's own records (creation to finish, queue delay included) plus one round trip
(the median of a few task-result GETs). Client CPU is `time.process_time()` of this process over the
run; the decoding of the images is timed separately and subtracted.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import ppio_txt2img as ppio
from _bench_report import Figure, Section, ms
from _bench_sandbox import SandboxProcess

TASKS = 200
SIZE = 128
STEPS = 20
API_KEY = "bench-key"
KNOBS: dict[str, Any] = {
    "speed": 1.0,
    "base_seconds": 3.0,  # 3.0 + 0.2 * 20 steps * 0.016 MP = 3.07 s of processing per task
    "seconds_per_megapixel_step": 0.2,
    "queue_delay": 0.3,
    "concurrency": 256,  # >= TASKS: the sandbox never queues a task for a slot
    "seed": 11,
}
_ROUND_TRIPS = 9


@dataclass(frozen=True)
class ScaleRun:
    results: list[ppio.Generation | BaseException]
    wall: float  # seconds (perf_counter)
    cpu: float  # client process_time over the run
    started_at: float  # time.time() at the start and end of the run
    ended_at: float


async def _generate(base_url: str) -> ScaleRun:
    async with ppio.AsyncClient(api_key=API_KEY, base_url=base_url) as client:
        started_at, cpu, wall = time.time(), time.process_time(), time.perf_counter()
        results = await asyncio.gather(
            *(client.txt2img(f"scale {i}", width=SIZE, height=SIZE, steps=STEPS) for i in range(TASKS)),
            return_exceptions=True,
        )
        wall, cpu, ended_at = time.perf_counter() - wall, time.process_time() - cpu, time.time()
    return ScaleRun(list(results), wall, cpu, started_at, ended_at)


async def _round_trip(base_url: str, task_id: str) -> float:
    """Median seconds of a cheap request (one task-result GET) on a warm connection."""
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        await http.get("/v3/async/task-result", params={"task_id": task_id})
        times = []
        for _ in range(_ROUND_TRIPS):
            started = time.perf_counter()
            (await http.get("/v3/async/task-result", params={"task_id": task_id})).raise_for_status()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def _decode_cpu(generations: list[ppio.Generation]) -> float:
    """CPU seconds to decode every image once more, as the facade does (Pillow, full load)."""
    from io import BytesIO

    from PIL import Image

    started = time.process_time()
    for generation in generations:
        for image in generation.images:
            with Image.open(BytesIO(image.data)) as decoded:
                decoded.load()
    return time.process_time() - started


def run(log: Callable[[str], None]) -> Section:
    section = Section(f"2. Scale: {TASKS} tasks at once through one AsyncClient")
    knobs = ", ".join(f"{k}={v}" for k, v in KNOBS.items())
    section.settings += [
        f"Sandbox in its own process: `Sandbox({knobs})`.",
        f"`asyncio.gather` of {TASKS} `client.txt2img(prompt, width={SIZE}, height={SIZE}, steps={STEPS})` "
        "on one `AsyncClient` with its default httpx client (submit, adaptive wait, download, decode).",
        "Ideal = the longest task's creation-to-finish time in the sandbox's records + one round trip "
        f"(median of {_ROUND_TRIPS} task-result GETs).",
    ]
    log(f"  {TASKS} tasks of ~{3.07 + 0.3:.1f} s at once ...")
    with SandboxProcess(**KNOBS) as sandbox:
        server_cpu = sandbox.cpu()
        run = asyncio.run(_generate(sandbox.url))
        server_cpu = sandbox.cpu() - server_cpu
        records = sandbox.tasks()
        stats = sandbox.stats()
        results, wall, cpu = run.results, run.wall, run.cpu
        generations = [r for r in results if isinstance(r, ppio.Generation)]
        rtt = asyncio.run(_round_trip(sandbox.url, generations[0].task_id)) if generations else float("nan")
    errors = [r for r in results if not isinstance(r, ppio.Generation)]
    complete = [g for g in generations if len(g.images) == 1 and all(i.data for i in g.images)]
    lost = TASKS - len(complete)
    nan = math.nan
    durations = [d for r in records.values() if (d := r.duration) is not None]
    longest = max(durations, default=float("nan"))
    ideal = longest + rtt
    overhead = (wall - ideal) / ideal
    decode = _decode_cpu(complete)
    cpu_per_task = (cpu - decode) / TASKS
    image_bytes = sum(len(i.data) for g in complete for i in g.images)
    created = [r.created_at - run.started_at for r in records.values()]
    finished = [r.finished_at - run.started_at for r in records.values() if r.finished_at is not None]
    timeline = (
        f"first task created at +{min(created, default=nan):.2f} s, "
        f"last at +{max(created, default=nan):.2f} s; "
        f"last finished at +{max(finished, default=nan):.2f} s; "
        f"last image decoded at +{run.ended_at - run.started_at:.2f} s"
    )

    section.figures += [
        Figure("wall time", f"{wall:.2f} s", f"ideal {ideal:.2f} s (+10 %: {ideal * 1.1:.2f} s)", None),
        Figure("overhead over the ideal", f"{overhead * 100:.1f} %", "≤ 10 %", overhead <= 0.10),
        Figure(
            "client CPU per task, decoding excluded",
            f"{cpu_per_task * 1000:.2f} ms",
            "≤ 10 ms",
            cpu_per_task <= 0.010,
        ),
        Figure("tasks lost", str(lost), "0", lost == 0),
    ]
    section.tables.append(
        (
            ["measure", "value"],
            [
                ["tasks completed with their image", f"{len(complete)} / {TASKS}"],
                [
                    "errors",
                    "; ".join(sorted({type(e).__name__ + ": " + str(e) for e in errors}))[:300] or "none",
                ],
                ["longest task in the sandbox (creation to finish)", f"{longest:.3f} s"],
                ["shortest task in the sandbox", f"{min(durations, default=float('nan')):.3f} s"],
                ["timeline (from the first call)", timeline],
                ["round trip (median task-result GET)", ms(rtt)],
                ["ideal", f"{ideal:.3f} s"],
                ["wall time", f"{wall:.3f} s"],
                ["client CPU over the run (process_time)", f"{cpu:.3f} s = {cpu / TASKS * 1000:.2f} ms/task"],
                [
                    "of which decoding (measured apart)",
                    f"{decode:.3f} s = {decode / TASKS * 1000:.2f} ms/task "
                    f"({image_bytes / TASKS:.0f} B/image)",
                ],
                [
                    "sandbox CPU over the run (its own process)",
                    f"{server_cpu:.3f} s = {server_cpu / TASKS * 1000:.2f} ms/task",
                ],
                [
                    "requests the sandbox received per task",
                    f"{stats.get('txt2img', 0) / TASKS:.2f} submit, "
                    f"{stats.get('task_result', 0) / TASKS:.2f} task-result, "
                    f"{stats.get('storage', 0) / TASKS:.2f} image",
                ],
            ],
        )
    )
    return section
