"""2. Scale: 200 tasks at once through one `AsyncClient` (its own default httpx client).

Wall time from the first call to the last image decoded, against the ideal: the longest task's real
duration in the sandbox's own records (creation to finish, queue delay included) plus one round trip
(the median of a few task-result GETs). Client CPU is `time.process_time()` of this process over the
run; the decoding of the images is timed separately and subtracted.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from _bench_report import Figure, Section, median, ms, percentile
from _bench_sandbox import SandboxProcess

import ppio_txt2img as ppio

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
    warm_up: float  # seconds of the untimed first submit + get_task
    warm_up_task: str
    known_at: dict[str, float]  # time.time() when on_progress saw TASK_STATUS_SUCCEED, by task id
    done_at: dict[str, float]  # time.time() when txt2img returned (images downloaded and decoded)


async def _generate(base_url: str) -> ScaleRun:
    async with ppio.AsyncClient(api_key=API_KEY, base_url=base_url) as client:
        # Untimed: the first calls import the generated layer (lazily, to keep `import` light) and
        # open a connection; a long-lived application pays that once, not per batch.
        warm = time.perf_counter()
        warm_task = await client.submit("warm-up", width=SIZE, height=SIZE, steps=1)
        await client.get_task(warm_task)
        warm = time.perf_counter() - warm
        known_at: dict[str, float] = {}
        done_at: dict[str, float] = {}

        def on_progress(task: ppio.Task) -> None:
            if task.status == ppio.TaskStatus.SUCCEED:
                known_at.setdefault(task.id, time.time())

        async def one(i: int) -> ppio.Generation:
            generation = await client.txt2img(
                f"scale {i}", width=SIZE, height=SIZE, steps=STEPS, on_progress=on_progress
            )
            done_at[generation.task_id] = time.time()
            return generation

        started_at, cpu, wall = time.time(), time.process_time(), time.perf_counter()
        results = await asyncio.gather(*(one(i) for i in range(TASKS)), return_exceptions=True)
        wall, cpu, ended_at = time.perf_counter() - wall, time.process_time() - cpu, time.time()
    return ScaleRun(list(results), wall, cpu, started_at, ended_at, warm, warm_task.id, known_at, done_at)


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


async def _plain_submissions(base_url: str) -> tuple[float, float]:
    """The floor for submitting: TASKS concurrent POSTs with a plain httpx.AsyncClient (no validation,
    no parsing); returns (wall seconds, client CPU seconds)."""
    body = {
        "extra": {"response_image_type": "png"},
        "request": {
            "model_name": "sd_xl_base_1.0.safetensors",
            "prompt": "plain",
            "width": SIZE,
            "height": SIZE,
            "image_num": 1,
            "steps": STEPS,
            "guidance_scale": 7.5,
            "sampler_name": "Euler a",
        },
    }
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        (await http.post("/v3/async/txt2img", json=body)).raise_for_status()
        cpu, wall = time.process_time(), time.perf_counter()
        replies = await asyncio.gather(*(http.post("/v3/async/txt2img", json=body) for _ in range(TASKS)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    for reply in replies:
        reply.raise_for_status()
    return wall, cpu


def _sniffio() -> str:
    """Whether sniffio is importable: httpcore 1.x imports it on every lock it creates, and when it is
    missing (anyio 4 no longer requires it) each of those imports searches sys.path and fails."""
    if importlib.util.find_spec("sniffio") is not None:
        return "installed"
    runs = 200
    started = time.perf_counter()
    for _ in range(runs):
        with contextlib.suppress(ImportError):
            importlib.import_module("sniffio")
    cost = (time.perf_counter() - started) / runs
    return (
        f"NOT installed: httpcore's `import sniffio` fails on every lock it creates, "
        f"{cost * 1e6:.0f} µs per failed import here"
    )


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
        "After one untimed submit + get_task (the first call imports the generated layer), "
        f"`asyncio.gather` of {TASKS} `client.txt2img(prompt, width={SIZE}, height={SIZE}, steps={STEPS})` "
        "on one `AsyncClient` with its default httpx client (submit, adaptive wait, download, decode).",
        "Ideal = the longest task's creation-to-finish time in the sandbox's records + one round trip "
        f"(median of {_ROUND_TRIPS} task-result GETs).",
    ]
    processing = KNOBS["base_seconds"] + KNOBS["seconds_per_megapixel_step"] * STEPS * SIZE * SIZE / 1e6
    log(f"  {TASKS} tasks of ~{processing / KNOBS['speed'] + KNOBS['queue_delay']:.1f} s at once ...")
    with SandboxProcess(**KNOBS) as sandbox:
        server_cpu = sandbox.cpu()
        run = asyncio.run(_generate(sandbox.url))
        server_cpu = sandbox.cpu() - server_cpu
        records = sandbox.tasks()
        records.pop(run.warm_up_task, None)
        stats = sandbox.stats()
        results, wall, cpu = run.results, run.wall, run.cpu
        generations = [r for r in results if isinstance(r, ppio.Generation)]
        rtt = asyncio.run(_round_trip(sandbox.url, generations[0].task_id)) if generations else float("nan")
        plain_wall, plain_cpu = asyncio.run(_plain_submissions(sandbox.url))
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
    detection = [
        run.known_at[task_id] - r.finished_at
        for task_id, r in records.items()
        if task_id in run.known_at and r.finished_at is not None
    ]
    fetch = [run.done_at[t] - run.known_at[t] for t in run.done_at if t in run.known_at]
    timeline = (
        f"first task created at +{min(created, default=nan):.2f} s, "
        f"last at +{max(created, default=nan):.2f} s; "
        f"last finished at +{max(finished, default=nan):.2f} s; "
        f"last image decoded at +{run.ended_at - run.started_at:.2f} s"
    )

    section.data["scale"] = [
        {
            "concurrency": TASKS,
            "wall": wall,
            "ideal": ideal,
            "cpu_per_task": cpu_per_task,
            "decode_per_task": decode / TASKS,
            "lost": lost,
        }
    ]
    section.figures += [
        Figure("wall time", f"{wall:.2f} s", f"ideal {ideal:.2f} s (+10 %: {ideal * 1.1:.2f} s)", None),
        Figure(
            "overhead over the ideal",
            f"{overhead * 100:.1f} % (+{wall - ideal:.2f} s)",
            "≤ 10 %",
            overhead <= 0.10,
        ),
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
                [
                    "first submit + get_task before the run (untimed warm-up: lazy imports, connect)",
                    ms(run.warm_up),
                ],
                [
                    "detection delay (client knows - sandbox finish): median / p95 / max",
                    f"{ms(median(detection))} / {ms(percentile(detection, 95))} / "
                    f"{ms(max(detection, default=nan))}",
                ],
                [
                    "download + decode after detection: median / max",
                    f"{ms(median(fetch))} / {ms(max(fetch, default=nan))}",
                ],
                ["round trip (median task-result GET)", ms(rtt)],
                [
                    f"for comparison: {TASKS} concurrent POSTs with a plain httpx.AsyncClient",
                    f"all accepted in {plain_wall:.2f} s, client CPU {plain_cpu / TASKS * 1000:.2f} ms/POST",
                ],
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
                ["sniffio", _sniffio()],
                [
                    "requests the sandbox received per task",
                    f"{(stats.get('txt2img', 0) - 1) / TASKS:.2f} submit, "
                    f"{(stats.get('task_result', 0) - 1) / TASKS:.2f} task-result, "
                    f"{stats.get('storage', 0) / TASKS:.2f} image",
                ],
            ],
        )
    )
    return section
