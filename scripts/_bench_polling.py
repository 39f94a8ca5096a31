"""1. Detection delay and poll count: the facade's adaptive wait against fixed-interval pollers.

For each eta mode of the sandbox ("exact", "noisy", "absent"; one sandbox process per mode, one after
the other), the same set of task durations (2 to 30 s) is run concurrently by three pollers:

- the facade: `AsyncClient.submit` then `AsyncClient.wait(task, on_progress=...)`; the client knows the
  task is done when `on_progress` sees TASK_STATUS_SUCCEED (time.time() recorded there);
- a fixed 0.5 s poller, the official novita-client's schedule (poll, then sleep 0.5 s, until terminal);
- a fixed 0.1 s poller (fal's schedule).

Detection delay = the moment the client knows minus the sandbox's recorded finish (`finished_at`), both
wall clock on this machine. Polls = GETs of /v3/async/task-result per task, counted on the client.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx
from _bench_report import Figure, Section, median, ms, percentile
from _bench_sandbox import SandboxProcess, TaskRecord

import ppio_txt2img as ppio

MODES = ("exact", "noisy", "absent")
#: Rounds per mode, pooled (see `_pooled`).
ROUNDS = 3
API_KEY = "bench-key"
TXT2IMG = "/v3/async/txt2img"
TASK_RESULT = "/v3/async/task-result"
TERMINAL = frozenset({"TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED"})

SIZE = 128
#: Twelve tasks with steps 1, 10, ..., 100, which the knobs below map linearly onto 2 ... 30 s.
STEPS = tuple(1 + 9 * k for k in range(12))
SHORTEST, LONGEST = 2.0, 30.0
_PER_STEP = (LONGEST - SHORTEST) / (max(STEPS) - min(STEPS))
KNOBS: dict[str, Any] = {
    "speed": 1.0,
    "base_seconds": SHORTEST - _PER_STEP * min(STEPS),
    "seconds_per_megapixel_step": _PER_STEP / (SIZE * SIZE / 1e6),
    "queue_delay": 0.3,
    "concurrency": 64,  # 3 pollers x 12 tasks: nothing waits for a slot beyond queue_delay
    "seed": 7,
}
#: A poller that has not seen a terminal status by then gives up (no unbounded loop).
_GIVE_UP = 120.0

FACADE = "facade (adaptive)"
FIXED_05 = "fixed 0.5 s (novita-client)"
FIXED_01 = "fixed 0.1 s (fal)"
POLLERS = (FACADE, FIXED_05, FIXED_01)


@dataclass(frozen=True)
class Observed:
    """One task as a poller saw it: when it knew the task was done, and how many polls it took."""

    task_id: str
    steps: int
    known_at: float | None
    polls: int


@dataclass(frozen=True)
class PollerResult:
    mode: str
    poller: str
    delays: list[float]  # seconds, in the order of STEPS (round after round, pooled)
    polls: list[int]
    lost: int

    @property
    def median(self) -> float:
        return median(self.delays)

    @property
    def p95(self) -> float:
        return percentile(self.delays, 95)

    @property
    def mean_polls(self) -> float:
        return sum(self.polls) / len(self.polls) if self.polls else float("nan")


def planned_seconds(steps: int) -> float:
    """Processing time of a task with `steps` under KNOBS (queue delay not included)."""
    work = steps * SIZE * SIZE / 1e6
    return float((KNOBS["base_seconds"] + KNOBS["seconds_per_megapixel_step"] * work) / KNOBS["speed"])


def _body(steps: int, prompt: str) -> dict[str, Any]:
    return {
        "extra": {"response_image_type": "png"},
        "request": {
            "model_name": "sd_xl_base_1.0.safetensors",
            "prompt": prompt,
            "width": SIZE,
            "height": SIZE,
            "image_num": 1,
            "steps": steps,
            "guidance_scale": 7.5,
            "sampler_name": "Euler a",
            "seed": -1,
        },
    }


async def facade_poller(base_url: str) -> list[Observed]:
    """The SDK as a user would run it; task-result GETs counted by an httpx request hook."""
    counts: Counter[str] = Counter()

    async def count(request: httpx.Request) -> None:
        if request.url.path == TASK_RESULT:
            counts[request.url.params.get("task_id", "")] += 1

    async with httpx.AsyncClient(event_hooks={"request": [count]}) as http:
        client = ppio.AsyncClient(api_key=API_KEY, base_url=base_url, http_client=http, timeout=_GIVE_UP)

        async def one(steps: int) -> Observed:
            task = await client.submit(f"facade {steps}", width=SIZE, height=SIZE, steps=steps)
            known: list[float] = []

            def on_progress(seen: ppio.Task) -> None:
                if seen.status == ppio.TaskStatus.SUCCEED and not known:
                    known.append(time.time())

            await client.wait(task, on_progress=on_progress)
            return Observed(task.id, steps, known[0] if known else None, 0)

        results = await asyncio.gather(*(one(steps) for steps in STEPS))
    return [replace(r, polls=counts[r.task_id]) for r in results]


def fixed_poller(interval: float) -> Callable[[str], Awaitable[list[Observed]]]:
    """A fixed-interval poller: GET task-result, and if not terminal sleep `interval` and repeat."""

    async def run(base_url: str) -> list[Observed]:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers) as http:

            async def one(steps: int) -> Observed:
                created = await http.post(TXT2IMG, json=_body(steps, f"fixed {interval} {steps}"))
                created.raise_for_status()
                task_id = str(created.json()["task_id"])
                polls, give_up = 0, time.monotonic() + _GIVE_UP
                while time.monotonic() < give_up:
                    reply = await http.get(TASK_RESULT, params={"task_id": task_id})
                    polls += 1
                    reply.raise_for_status()
                    if reply.json()["task"]["status"] in TERMINAL:
                        return Observed(task_id, steps, time.time(), polls)
                    await asyncio.sleep(interval)
                return Observed(task_id, steps, None, polls)

            return list(await asyncio.gather(*(one(steps) for steps in STEPS)))

    return run


async def _all_pollers(base_url: str) -> dict[str, list[Observed]]:
    runs = {FACADE: facade_poller, FIXED_05: fixed_poller(0.5), FIXED_01: fixed_poller(0.1)}
    results = await asyncio.gather(*(run(base_url) for run in runs.values()))
    return dict(zip(runs, results, strict=True))


def _summarise(
    mode: str, poller: str, seen: Sequence[Observed], records: dict[str, TaskRecord]
) -> PollerResult:
    delays, polls, lost = [], [], 0
    for obs in seen:
        record = records.get(obs.task_id)
        if obs.known_at is None or record is None or record.finished_at is None:
            lost += 1
            continue
        delays.append(obs.known_at - record.finished_at)
        polls.append(obs.polls)
    return PollerResult(mode, poller, delays, polls, lost)


def run_mode(mode: str) -> tuple[list[PollerResult], dict[str, float]]:
    """One sandbox process with `eta_mode=mode`; all three pollers at once. Also the real durations."""
    with SandboxProcess(**KNOBS, eta_mode=mode) as sandbox:
        seen = asyncio.run(_all_pollers(sandbox.url))
        records = sandbox.tasks()
    durations = {
        task_id: r.finished_at - r.started_at
        for task_id, r in records.items()
        if r.finished_at is not None and r.started_at is not None
    }
    return [_summarise(mode, poller, seen[poller], records) for poller in POLLERS], durations


def _pooled(rounds: Sequence[PollerResult]) -> PollerResult:
    """One poller's rounds of one mode as one result: every task's delay and polls, round after round."""
    first = rounds[0]
    return PollerResult(
        first.mode,
        first.poller,
        [d for r in rounds for d in r.delays],
        [p for r in rounds for p in r.polls],
        sum(r.lost for r in rounds),
    )


def run(log: Callable[[str], None]) -> Section:
    section = Section("1. Detection delay and polls per task")
    durations = ", ".join(f"{planned_seconds(s):.1f}" for s in STEPS)
    knobs = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in KNOBS.items())
    section.settings += [
        f"Sandbox (one process per eta mode, run one after the other): `Sandbox({knobs}, eta_mode=...)`.",
        f"Each poller runs the same {len(STEPS)} tasks at once ({SIZE}x{SIZE}, 1 image, steps "
        f"{min(STEPS)}..{max(STEPS)}), processing for {durations} s (plus the 0.3 s queue delay); "
        f"all {len(POLLERS) * len(STEPS)} tasks of a mode run concurrently in one asyncio loop; "
        f"{ROUNDS} rounds per mode, each with a fresh sandbox: medians, p95s and polls are over the "
        f"{ROUNDS * len(STEPS)} tasks of a poller (a median of 12 moves by tens of milliseconds from one "
        "round to the next).",
        "Delay = time.time() when the client knows (facade: in `on_progress` on TASK_STATUS_SUCCEED; "
        "fixed pollers: once the terminal reply is parsed) minus the sandbox's `finished_at`.",
    ]
    results: list[PollerResult] = []
    per_task: dict[str, list[tuple[float, float, int]]] = {}
    for mode in MODES:
        rounds: list[list[PollerResult]] = []
        for turn in range(ROUNDS):
            log(f"  eta {mode}, round {turn + 1}: {len(POLLERS)} pollers x {len(STEPS)} tasks of 2-30 s ...")
            started = time.monotonic()
            rounds.append(run_mode(mode)[0])
            log(f"    done in {time.monotonic() - started:.1f} s")
        results += [_pooled(each) for each in zip(*rounds, strict=True)]
        facade = rounds[0][0]
        per_task[mode] = [
            (planned_seconds(s), d, p) for s, d, p in zip(STEPS, facade.delays, facade.polls, strict=False)
        ]

    rows = []
    for r in results:
        rows.append(
            [
                r.mode,
                r.poller,
                ms(r.median),
                ms(r.p95),
                ms(max(r.delays, default=float("nan"))),
                f"{r.mean_polls:.1f}",
                str(r.lost),
            ]
        )
    section.tables.append(
        (["eta", "poller", "median delay", "p95 delay", "max delay", "polls/task", "lost"], rows)
    )
    if all(len(v) == len(STEPS) for v in per_task.values()):
        detail = []
        for i, steps in enumerate(STEPS):
            row = [f"{planned_seconds(steps):.1f} s"]
            for mode in MODES:
                _, delay, polls = per_task[mode][i]
                row.append(f"{delay * 1000:.0f} ms / {polls}")
            detail.append(row)
        header = ["facade: task (first round)", *(f"eta {m}: delay / polls" for m in MODES)]
        section.tables.append((header, detail))

    by = {(r.mode, r.poller): r for r in results}
    for mode in ("exact", "noisy"):
        facade, slow = by[(mode, FACADE)], by[(mode, FIXED_05)]
        section.figures += [
            Figure(f"eta {mode}: facade median delay", ms(facade.median), "≤ 100 ms", facade.median <= 0.100),
            Figure(f"eta {mode}: facade p95 delay", ms(facade.p95), "≤ 300 ms", facade.p95 <= 0.300),
            Figure(
                f"eta {mode}: facade polls/task",
                f"{facade.mean_polls:.1f} (0.5 s poller: {slow.mean_polls:.1f})",
                f"≤ {slow.mean_polls / 2:.1f} (half the 0.5 s poller's)",
                facade.mean_polls <= slow.mean_polls / 2,
            ),
        ]
    facade, slow = by[("absent", FACADE)], by[("absent", FIXED_05)]
    section.figures += [
        Figure(
            "eta absent: facade polls/task",
            f"{facade.mean_polls:.1f} (0.5 s poller: {slow.mean_polls:.1f})",
            f"< {slow.mean_polls:.1f} (the 0.5 s poller's)",
            facade.mean_polls < slow.mean_polls,
        ),
        Figure(
            "eta absent: facade median delay",
            f"{ms(facade.median)} (0.5 s poller: {ms(slow.median)})",
            f"≤ {ms(slow.median)} (the 0.5 s poller's)",
            facade.median <= slow.median,
        ),
    ]
    section.data["polling"] = [
        {"mode": r.mode, "poller": r.poller, "delays": r.delays, "polls": r.polls, "lost": r.lost}
        for r in results
    ]
    lost = sum(r.lost for r in results)
    section.figures.append(
        Figure("tasks not seen finishing (all pollers, all modes)", str(lost), "0", lost == 0)
    )
    return section
