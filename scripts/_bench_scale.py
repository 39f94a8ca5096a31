"""2. Many tasks at once: 200 and 1,000 tasks of 5 s through one `AsyncClient`, against a plain httpx
poller in the same run; with and without eta/progress from the server; webhooks as the wait mode.

Each run gets a fresh server in its own process: the light API server of `_bench_server.py` (a bare
asyncio HTTP server answering the three endpoints with the API's JSON, like the plain Python HTTP server
issue 11 was measured against), so that the figures are the client's rather than the sandbox's; two
reference runs use the sandbox, whose per-task CPU (Starlette, validation, an image drawn per task) is
about the client's own and shares the same cores. Wall time is from the first call to the last image
decoded, against the ideal: the longest task's creation-to-finish time in the sandbox's own records
plus one round trip. Client CPU is `time.process_time()` of this process over the run, the checking of
the images (measured apart: the SDK's own check for the SDK and the floors, a Pillow decode for the plain
poller) subtracted. Detection delay is when the client knew a task had succeeded
(its `on_progress`, or the poller's answer) minus when the sandbox finished it. Polls per task come from
the sandbox's request counts.
"""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from _bench_report import Figure, Section, fine_ms, median, ms, percentile
from _bench_sandbox import SandboxProcess
from _bench_server import LightServerProcess

import ppio_txt2img as ppio
from ppio_txt2img._crowds import SCOUTS
from ppio_txt2img._images import decode as check_image
from ppio_txt2img.webhooks import WebhookReceiver

if TYPE_CHECKING:
    import aiohttp

SIZE = 128
STEPS = 20
API_KEY = "bench-key"
#: 4.63 + 0.2 * 20 steps * 0.016 MP = 4.70 s of processing, 0.3 s queued: tasks of 5.0 s.
KNOBS: dict[str, Any] = {
    "speed": 1.0,
    "base_seconds": 4.63,
    "seconds_per_megapixel_step": 0.2,
    "queue_delay": 0.3,
    "concurrency": 2000,  # the sandbox never queues a task for a slot
    "seed": 11,
}
SANDBOX_RUN = "against the sandbox: "
FLOOR_200 = "floor: raw aiohttp told each finish, one poll"
FLOOR_1000 = "floor: raw aiohttp told each finish, one poll, 1,000 tasks"
FLOOR_HOOKS = "floor: webhooks, a bare asyncio receiver and raw aiohttp"
HOOKS = "SDK, webhooks as the wait mode"
FLOOR_HOOKS_SPREAD = "floor: webhooks, a bare asyncio receiver and raw aiohttp, finishes over 2 s"
HOOKS_SPREAD = "SDK, webhooks as the wait mode, finishes over 2 s"
FLOOR_HOOKS_1000 = "floor: webhooks, a bare asyncio receiver and raw aiohttp, 1,000 tasks"
HOOKS_1000 = "SDK, webhooks as the wait mode, 1,000 tasks"
SDK_200 = "SDK, eta + progress (aiohttp transport)"
SDK_1000 = "SDK, 1,000 tasks (aiohttp transport)"
BLIND = "SDK, no eta/progress, nothing learnt"
LEARNT = "SDK, no eta/progress, 3 tasks of the shape seen"
#: The light server's knobs: the same tasks of 5 s (0.3 s queued, then 4.7 s processing).
LIGHT: dict[str, Any] = {"queue_delay": 0.3, "processing": 4.7}
LIGHT_SILENT = {"eta": False, "progress": False}
#: Tasks whose processing times spread over 2 s (3.7-5.7 s, seeded), as real tasks' vary: their webhooks
#: come one after another rather than all in the same few milliseconds.
LIGHT_SPREAD = {"spread": 2.0}
_ROUND_TRIPS = 9
_BODY = {
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


@dataclass
class Run:
    """One run: what the client saw, with the sandbox's records added after it."""

    name: str
    tasks: int
    wall: float = math.nan
    cpu: float = math.nan
    decode: float = 0.0
    complete: int = 0
    errors: list[str] = field(default_factory=list)
    known_at: dict[str, float] = field(default_factory=dict)  # time.time(), by task id
    records: dict[str, Any] = field(default_factory=dict)
    polls_before: int = 0  # task-result requests the sandbox had answered when the timed part began
    polls: float = math.nan
    rtt: float = math.nan
    #: One round trip at the pace the run's webhooks came (`_round_trip` with a pause between), where
    #: they came one after another ('finishes over 2 s'); otherwise `rtt`.
    paced_rtt: float = math.nan
    server_cpu: float = math.nan  # CPU seconds of the server process over the run

    @property
    def ideal(self) -> float:
        durations = [d for r in self.records.values() if (d := r.duration) is not None]
        return max(durations, default=math.nan) + self.rtt

    @property
    def overhead(self) -> float:
        return (self.wall - self.ideal) / self.ideal

    @property
    def cpu_per_task(self) -> float:
        return (self.cpu - self.decode) / self.tasks

    @property
    def after_webhook(self) -> list[float]:
        """Seconds from the server sending a task's webhook to the client knowing it succeeded."""
        return [
            self.known_at[task_id] - record.webhook_sent_at
            for task_id, record in self.records.items()
            if task_id in self.known_at and record.webhook_sent_at is not None
        ]

    @property
    def detection(self) -> list[float]:
        return [
            self.known_at[task_id] - record.finished_at
            for task_id, record in self.records.items()
            if task_id in self.known_at and record.finished_at is not None
        ]


#: Runs of each row with a target, the median one shown (see `_median_run`).
REPEATS = 3


def _overhead(run: Run) -> float:
    return run.overhead


def _detection(run: Run) -> float:
    return median(run.detection)


def _after_webhook(run: Run) -> float:
    return median(run.after_webhook)


#: The rows run `REPEATS` times, and the figure that picks their median run.
MEDIAN_OF: dict[str, Callable[[Run], float]] = {
    SDK_200: _overhead,
    SDK_1000: _overhead,
    FLOOR_200: _overhead,
    FLOOR_1000: _overhead,
    BLIND: _detection,
    LEARNT: _detection,
    HOOKS: _after_webhook,
    FLOOR_HOOKS: _after_webhook,
    HOOKS_SPREAD: _after_webhook,
    FLOOR_HOOKS_SPREAD: _after_webhook,
}


def _shown(run: Run, figure: Callable[[Run], float]) -> str:
    if figure is _overhead:
        return f"{figure(run) * 100:+.1f} %"
    value = figure(run)
    return fine_ms(value) if value < 0.01 else ms(value)


def _decode(data: bytes) -> None:
    """A Pillow decode: how an app written by hand checks an image (the plain poller)."""
    from io import BytesIO

    from PIL import Image

    with Image.open(BytesIO(data)) as image:
        image.load()


def _check_whole(data: bytes) -> None:
    """The SDK's own check that an image arrived whole (`_images.decode`: its PNGs' checksums and rows,
    `_png.py`), which the floors make too: no less, and no more, than the SDK does."""
    check_image(data, max_pixels=SIZE * SIZE)


def _decode_cpu(images: list[bytes], decode: Callable[[bytes], None]) -> float:
    """CPU seconds of `decode` on every image: what a run spent checking its images, subtracted from its
    CPU (the client's figure is its cost beyond checking what it downloaded)."""
    started = time.process_time()
    for data in images:
        decode(data)
    return time.process_time() - started


Stats = Callable[[], dict[str, int]]


async def _sdk(run: Run, base_url: str, stats: Stats, *, warm: int, client_options: dict[str, Any]) -> None:
    """`run.tasks` concurrent `client.txt2img` on one AsyncClient, after `warm` untimed tasks of the same
    shape one after the other (imports, a connection, and what the client learns of their duration)."""
    async with ppio.AsyncClient(api_key=API_KEY, base_url=base_url, **client_options) as client:
        if warm == 0:  # a connection and the lazy imports, but nothing learnt of this shape's duration
            await client.get_task((await client.submit("warm", width=SIZE, height=SIZE, steps=STEPS)).id)
        for i in range(warm):
            await client.txt2img(f"warm {i}", width=SIZE, height=SIZE, steps=STEPS)
        images: list[bytes] = []

        def on_progress(task: ppio.Task) -> None:
            if task.status == ppio.TaskStatus.SUCCEED:
                run.known_at.setdefault(task.id, time.time())

        async def one(i: int) -> None:
            try:
                generation = await client.txt2img(
                    f"scale {i}", width=SIZE, height=SIZE, steps=STEPS, on_progress=on_progress
                )
            except ppio.PPIOError as exc:
                run.errors.append(f"{type(exc).__name__}: {exc}")
                return
            images.extend(image.data for image in generation.images)
            run.complete += len(generation.images) == 1

        run.polls_before = stats().get("task_result", 0)
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(run.tasks)))
        run.wall, run.cpu = time.perf_counter() - wall, time.process_time() - cpu
    run.decode = _decode_cpu(images, _check_whole)


async def _plain_poller(run: Run, base_url: str, stats: Stats, *, interval: float = 0.5) -> None:
    """What an app writes with plain httpx: POST, poll every `interval` s, GET the image, decode it."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=60) as http:
        (await http.post("/v3/async/txt2img", json=_BODY)).raise_for_status()  # warm: a connection
        images: list[bytes] = []

        async def one() -> None:
            task_id = (await http.post("/v3/async/txt2img", json=_BODY)).json()["task_id"]
            while True:
                await asyncio.sleep(interval)
                answer = (await http.get("/v3/async/task-result", params={"task_id": task_id})).json()
                if answer["task"]["status"] == "TASK_STATUS_SUCCEED":
                    run.known_at[task_id] = time.time()
                    data = (await http.get(answer["images"][0]["image_url"])).content  # same pool
                    _decode(data)
                    images.append(data)
                    run.complete += 1
                    return

        run.polls_before = stats().get("task_result", 0)
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one() for _ in range(run.tasks)))
        run.wall, run.cpu = time.perf_counter() - wall, time.process_time() - cpu
    run.decode = _decode_cpu(images, _decode)


async def _floor(run: Run, base_url: str, stats: Stats) -> None:
    """The floor no client here can beat: raw aiohttp, told when each task finishes (it sleeps exactly the
    light server's 5.0 s from its POST's answer), so it polls once per task, then GETs the image and
    checks it whole as the SDK does (`_check_whole`), with none of the SDK's other checks. What is left
    is each request's own cost on one event loop: a floor under every wall and detection figure of this
    section."""
    import aiohttp

    finish = LIGHT["queue_delay"] + LIGHT["processing"]
    headers = {"Authorization": f"Bearer {API_KEY}"}
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(base_url, headers=headers, connector=connector) as http:
        async with http.post("/v3/async/txt2img", json=_BODY) as warm:  # a connection
            await warm.read()
        images: list[bytes] = []

        async def one() -> None:
            async with http.post("/v3/async/txt2img", json=_BODY) as answer:
                task_id = (await answer.json())["task_id"]
            await asyncio.sleep(finish + 0.001)
            while True:
                async with http.get("/v3/async/task-result", params={"task_id": task_id}) as answer:
                    result = await answer.json()
                if result["task"]["status"] == "TASK_STATUS_SUCCEED":
                    break
                await asyncio.sleep(0.01)  # the timer fired early: not a poll the schedule chose
            await _known_then_image(run, http, task_id, result, images)

        await _timed(run, stats, one)
    run.decode = _decode_cpu(images, _check_whole)


async def _known_then_image(
    run: Run, http: aiohttp.ClientSession, task_id: str, result: dict[str, Any], images: list[bytes]
) -> None:
    """A floor's task is known done: note when, then GET its image and check it whole."""
    run.known_at[task_id] = time.time()
    async with http.get(result["images"][0]["image_url"]) as image:
        data = await image.read()
    _check_whole(data)
    images.append(data)
    run.complete += 1


async def _timed(run: Run, stats: Stats, one: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """`run.tasks` of `one()` at once: their wall and CPU time, and the polls counted from here."""
    run.polls_before = stats().get("task_result", 0)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(run.tasks)))
    run.wall, run.cpu = time.perf_counter() - wall, time.process_time() - cpu


class _FloorHooks(asyncio.Protocol):
    """The webhook floor's receiver: a bare asyncio protocol that reads one request, answers 200 and
    closes, and resolves the future of the task it names."""

    def __init__(self, waiting: dict[str, asyncio.Future[None]]) -> None:
        self.waiting = waiting
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head, _, body = self.buffer.partition(b"\r\n\r\n")
        length = next(
            (int(line[15:]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")), 0
        )
        if not _ or len(body) < length:
            return
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        self.transport.close()
        waiting = self.waiting.get(json.loads(body)["payload"]["task"]["task_id"])
        if waiting is not None and not waiting.done():
            waiting.set_result(None)


async def _floor_webhooks(run: Run, base_url: str, stats: Stats) -> None:
    """The floor under the webhook figure: a bare asyncio receiver and raw aiohttp. Each task waits for
    its webhook, confirms it with one poll, then GETs the image and checks it whole."""
    import aiohttp

    loop = asyncio.get_running_loop()
    waiting: dict[str, asyncio.Future[None]] = {}
    receiver = await loop.create_server(lambda: _FloorHooks(waiting), "127.0.0.1", 0)
    hook = {"url": f"http://127.0.0.1:{_port(receiver)}/"}
    body = {**_BODY, "extra": {"response_image_type": "png", "webhook": hook}}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    connector = aiohttp.TCPConnector(limit=100)
    async with receiver, aiohttp.ClientSession(base_url, headers=headers, connector=connector) as http:
        images: list[bytes] = []

        async def one() -> None:
            async with http.post("/v3/async/txt2img", json=body) as answer:
                task_id = (await answer.json())["task_id"]
            arrived = waiting[task_id] = waiting.get(task_id) or loop.create_future()
            await arrived
            async with http.get("/v3/async/task-result", params={"task_id": task_id}) as answer:
                result = await answer.json()
            await _known_then_image(run, http, task_id, result, images)

        await _timed(run, stats, one)
    run.decode = _decode_cpu(images, _check_whole)


def _port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


async def _round_trip(base_url: str, task_id: str, pause: float = 0.0) -> float:
    """One round trip to the server on an idle connection: a task-result GET with raw aiohttp (the
    leanest client here), the median of `_ROUND_TRIPS`. With `pause`, each GET comes that many seconds
    after the last, as webhooks one after another do: both processes have gone idle by then, and on this
    machine (a virtual one) waking them costs more than the round trip itself (see the notes)."""
    import aiohttp

    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with aiohttp.ClientSession(base_url, headers=headers) as http:
        times = []
        for i in range(_ROUND_TRIPS + 1):
            if pause:
                await asyncio.sleep(pause)
            started = time.perf_counter()
            async with http.get("/v3/async/task-result", params={"task_id": task_id}) as answer:
                answer.raise_for_status()
                await answer.read()
            if i:  # the first opened the connection
                times.append(time.perf_counter() - started)
    return statistics.median(times)


Body = Callable[[Run, str, Stats], Coroutine[Any, Any, None]]


def _measure(name: str, tasks: int, body: Body, *, sandbox: bool = False, **knobs: Any) -> Run:
    """One run against a fresh light server (`sandbox=True`: a sandbox with `KNOBS`)."""
    run = Run(name, tasks)
    process = SandboxProcess(**{**KNOBS, **knobs}) if sandbox else LightServerProcess(**{**LIGHT, **knobs})
    with process as server:
        cpu = server.cpu()
        asyncio.run(body(run, server.url, server.stats))
        run.server_cpu = server.cpu() - cpu
        run.records = {k: r for k, r in server.tasks().items() if k in run.known_at}
        run.polls = (server.stats().get("task_result", 0) - run.polls_before) / tasks
        if run.records:
            some_task = next(iter(run.records))
            run.rtt = run.paced_rtt = asyncio.run(_round_trip(server.url, some_task))
            if knobs.get("spread"):  # the webhooks' mean pause: the spread over the tasks
                run.paced_rtt = asyncio.run(_round_trip(server.url, some_task, knobs["spread"] / tasks))
    return run


def _median_run(runs: list[Run], name: str) -> Run:
    """The run whose target figure is the median of the runs' (`MEDIAN_OF`): one whole run, as measured."""
    key = MEDIAN_OF[name]
    return sorted(runs, key=key)[len(runs) // 2]


def _scenarios(log: Callable[[str], None]) -> dict[str, list[Run]]:
    def sdk(warm: int = 1, **options: Any) -> Body:
        return lambda run, url, stats: _sdk(run, url, stats, warm=warm, client_options=options)

    def httpx_transport() -> dict[str, Any]:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        return {"http_client": httpx.AsyncClient(limits=limits, follow_redirects=False)}

    plan: list[tuple[str, int, Body, dict[str, Any]]] = [
        (SDK_200, 200, sdk(), {}),
        ("SDK, eta + progress, httpx's own transport", 200, sdk(**httpx_transport()), {}),
        ("plain httpx poller, 0.5 s", 200, _plain_poller, {}),
        (SDK_1000, 1000, sdk(), {}),
        (FLOOR_200, 200, _floor, {}),
        (FLOOR_1000, 1000, _floor, {}),
        (BLIND, 200, sdk(warm=0), LIGHT_SILENT),
        (LEARNT, 200, sdk(warm=3), LIGHT_SILENT),
        ("plain httpx poller, 0.5 s, no eta/progress", 200, _plain_poller, LIGHT_SILENT),
        (f"{SANDBOX_RUN}SDK, eta + progress (aiohttp transport)", 200, sdk(), {"sandbox": True}),
        (f"{SANDBOX_RUN}plain httpx poller, 0.5 s", 200, _plain_poller, {"sandbox": True}),
    ]
    plan += [
        (HOOKS, 200, _with_webhooks(sdk), {}),
        (FLOOR_HOOKS, 200, _floor_webhooks, {}),
        (HOOKS_SPREAD, 200, _with_webhooks(sdk), LIGHT_SPREAD),
        (FLOOR_HOOKS_SPREAD, 200, _floor_webhooks, LIGHT_SPREAD),
        (HOOKS_1000, 1000, _with_webhooks(sdk), {}),
        (FLOOR_HOOKS_1000, 1000, _floor_webhooks, {}),
    ]
    runs: dict[str, list[Run]] = {}
    for turn in range(REPEATS):  # in turns, so that a machine slowing down weighs on every row alike
        for name, tasks, body, knobs in plan:
            if turn == 0 or name in MEDIAN_OF:
                log(f"  {name}: {tasks} tasks of 5 s (run {turn + 1}) ...")
                runs.setdefault(name, []).append(_measure(name, tasks, body, **knobs))
    return runs


def _with_webhooks(sdk: Callable[..., Body]) -> Body:
    """The SDK's run with a `WebhookReceiver` served on the run's own event loop (`serve_async`)."""
    receiver = WebhookReceiver(fallback_poll=30)
    body = sdk(webhooks=receiver)

    async def run_with_receiver(run: Run, url: str, stats: Stats) -> None:
        async with receiver.serve_async():
            await body(run, url, stats)

    return run_with_receiver


def _reference_loop() -> float:
    """CPU seconds of a fixed pure-Python loop: how fast the machine is running right now."""
    started = time.process_time()
    total = 0
    for i in range(3_000_000):
        total += i
    return time.process_time() - started


def _spread(run: Run) -> float:
    """Milliseconds between the first and the last of a run's tasks to finish, in the server's records."""
    finished = [f for r in run.records.values() if (f := r.finished_at) is not None]
    return (max(finished) - min(finished)) * 1000 if finished else math.nan


def _sleep_wake_cost(count: int = 1000) -> float:
    """Seconds of CPU per sleep-and-wake of one coroutine among `count` asleep at once: the most a single
    shared timer for all waits could save per poll."""

    async def main() -> float:
        async def one(delay: float) -> None:
            await asyncio.sleep(delay)

        cpu = time.process_time()
        await asyncio.gather(*(one(0.05 + i * 1e-5) for i in range(count)))
        return (time.process_time() - cpu) / count

    return asyncio.run(main())


def run(log: Callable[[str], None]) -> Section:
    section = Section("2. Many tasks at once: 200 and 1,000 tasks of 5 s through one AsyncClient")
    knobs = ", ".join(f"{k}={v}" for k, v in KNOBS.items())
    section.settings += [
        "Each run: a fresh server in its own process. The server is the light API server of "
        "`scripts/_bench_server.py` (one asyncio event loop with a bare HTTP/1.1 protocol: POST txt2img, "
        "GET task-result with the API's JSON, one PNG of 128x128 encoded once at start-up, webhooks "
        f"POSTed at the finish, 16 at most at once), tasks of {LIGHT['queue_delay']} s queued + "
        f"{LIGHT['processing']} s processing, with eta and progress_percent or, for 'no eta/progress', "
        "neither: a plain server like the one issue 11 was measured against, so that the CPU and wall "
        "figures are the client's. Its own CPU per task is in the table.",
        f"Rows 'against the sandbox' (for reference, not for the targets): `Sandbox({knobs})`, the full "
        "emulation (Starlette on uvicorn, request validation, signed URLs, an image drawn per task), "
        "which spends about as much CPU per task as the client, on the same cores.",
        f"SDK runs: `asyncio.gather` of N `client.txt2img(prompt, width={SIZE}, height={SIZE}, "
        f"steps={STEPS})` on one `AsyncClient` (submit, wait, download, check), after untimed warm-up "
        "tasks of the same shape one after the other (1, or 3 where said; none for 'nothing learnt').",
        "Plain httpx poller: one `httpx.AsyncClient`, POST, then a task-result GET every 0.5 s, then the "
        "image GET and a Pillow decode: what an app writes by hand (the official SDK's 0.5 s schedule).",
        "Ideal = the longest task's creation-to-finish time in the server's records + one round trip "
        "(the spread of the 200 submissions is part of the wall time, not of the ideal). One round trip: a "
        "task-result GET on an idle connection with raw aiohttp, the median of 9, one right after another. "
        "'At the webhooks' pace': the same GETs with a pause between them, the mean pause between the "
        "webhooks of 'finishes over 2 s' (2 s / 200 = 10 ms). After such a pause both processes have gone "
        "idle, and on this machine (a virtual one) waking them costs more than the exchange itself: a "
        "round trip after 10 ms of quiet takes about 0.9 ms where one right after another takes 0.1-0.3 ms "
        "(measured with each run). A webhook that finds the client idle is confirmed at that pace, so the "
        "target of that row counts that round trip.",
        "Webhook rows: the client serves a `WebhookReceiver` on its own event loop (`serve_async`; the "
        "floor, a bare asyncio protocol), and each task's webhook is confirmed with one poll. 'Finishes "
        "over 2 s': the server's processing times spread uniformly over 3.7-5.7 s (seeded), so webhooks "
        "come one after another; otherwise every task takes 5 s and the 200 webhooks come at once.",
    ]
    speed_before = _reference_loop()
    every = _scenarios(log)
    speed_after = _reference_loop()
    by_name = {
        name: _median_run(runs, name) if name in MEDIAN_OF else runs[0] for name, runs in every.items()
    }
    runs = list(by_name.values())
    plain, sdk200, sdk1000 = by_name["plain httpx poller, 0.5 s"], by_name[SDK_200], by_name[SDK_1000]
    learnt, blind = by_name[LEARNT], by_name[BLIND]
    plain_silent = by_name["plain httpx poller, 0.5 s, no eta/progress"]
    hooks, hooks_spread = by_name[HOOKS], by_name[HOOKS_SPREAD]
    floor200, floor1000, floor_hooks = by_name[FLOOR_200], by_name[FLOOR_1000], by_name[FLOOR_HOOKS]
    floor_spread = by_name[FLOOR_HOOKS_SPREAD]
    hooks1000, floor_hooks1000 = by_name[HOOKS_1000], by_name[FLOOR_HOOKS_1000]
    spread_after, floor_spread_after = median(hooks_spread.after_webhook), median(floor_spread.after_webhook)
    section.data["scale"] = [
        {
            "concurrency": r.tasks,
            "wall": r.wall,
            "ideal": r.ideal,
            "cpu_per_task": r.cpu_per_task,
            "decode_per_task": r.decode / r.tasks,
            "lost": r.tasks - r.complete,
        }
        for r in (sdk200, sdk1000)
    ]
    section.figures += [
        Figure(
            "200 tasks: wall over the ideal",
            f"{sdk200.overhead * 100:.1f} % (floor {floor200.overhead * 100:.1f} %)",
            "≤ 10 %",
            sdk200.overhead <= 0.10,
        ),
        Figure(
            "200 tasks: client CPU per task",
            f"{sdk200.cpu_per_task * 1000:.2f} ms (plain poller {plain.cpu_per_task * 1000:.2f} ms)",
            "≤ 5 ms and below the plain poller's",
            sdk200.cpu_per_task <= 0.005 and sdk200.cpu_per_task < plain.cpu_per_task,
        ),
        Figure(
            "1,000 tasks: wall over the ideal",
            f"{sdk1000.overhead * 100:.1f} % (floor {floor1000.overhead * 100:.1f} %)",
            "≤ 15 %",
            sdk1000.overhead <= 0.15,
        ),
        Figure(
            "no eta/progress, shape seen: median detection, polls per task",
            f"{ms(median(learnt.detection))}, {learnt.polls:.2f} (0.5 s poller: {plain_silent.polls:.2f}; "
            f"floor: {ms(median(floor200.detection))}, {floor200.polls:.2f})",
            "≤ 100 ms with ≤ ¼ of the 0.5 s poller's polls",
            median(learnt.detection) <= 0.100 and learnt.polls <= plain_silent.polls / 4,
        ),
        Figure(
            "no eta/progress, nothing learnt: median detection, polls per task",
            f"{ms(median(blind.detection))}, {blind.polls:.2f} "
            f"(0.5 s poller: {ms(median(plain_silent.detection))}, {plain_silent.polls:.2f})",
            "≤ the 0.5 s poller's median with no more polls",
            median(blind.detection) <= median(plain_silent.detection) and blind.polls <= plain_silent.polls,
        ),
        Figure(
            "webhooks (received with `serve_async`), 200 tasks finishing over 2 s: median time from the "
            "server sending a task's webhook to the client knowing, polls per task",
            f"{fine_ms(spread_after)} (p95 {fine_ms(percentile(hooks_spread.after_webhook, 95))}), "
            f"{hooks_spread.polls:.2f} (round trip at the webhooks' pace {fine_ms(hooks_spread.paced_rtt)}, "
            f"back to back {fine_ms(hooks_spread.rtt)}; floor {fine_ms(floor_spread_after)})",
            "≤ one round trip at the webhooks' pace (+1 ms to read the webhook and wake) after delivery, ≤ 1 "
            "poll per task",
            spread_after <= hooks_spread.paced_rtt + 0.001 and hooks_spread.polls <= 1.0 + 1e-9,
        ),
        Figure(
            "webhooks, all 200 tasks finishing within a few ms (a burst: 200 webhooks at once): the same "
            "figure, polls per task",
            f"{ms(median(hooks.after_webhook))}, {hooks.polls:.2f} (round trip {fine_ms(hooks.rtt)}; floor "
            f"{ms(median(floor_hooks.after_webhook))}; 16 x client CPU per task: "
            f"{16 * hooks.cpu_per_task * 1000:.0f} ms, floor {16 * floor_hooks.cpu_per_task * 1000:.0f} ms)",
            "≤ one round trip (+10 ms to wake) after delivery, ≤ 1 poll per task",
            median(hooks.after_webhook) <= hooks.rtt + 0.010 and hooks.polls <= 1.0 + 1e-9,
        ),
        Figure(
            "webhooks, 1,000 tasks at once (one run): the same figure, polls per task, wall over the ideal",
            f"{ms(median(hooks1000.after_webhook))}, {hooks1000.polls:.2f}, {hooks1000.overhead * 100:.1f} % "
            f"(floor {ms(median(floor_hooks1000.after_webhook))}, {floor_hooks1000.overhead * 100:.1f} %)",
        ),
    ]
    rows = []
    for r in runs:
        detection = r.detection
        rows.append(
            [
                r.name,
                f"{r.complete} / {r.tasks}" + (f" ({len(r.errors)} errors)" if r.errors else ""),
                f"{r.wall:.2f} s",
                f"{r.overhead * 100:+.1f} %",
                f"{r.cpu_per_task * 1000:.2f} ms",
                f"{r.server_cpu / r.tasks * 1000:.2f} ms",
                f"{r.polls:.2f}",
                f"{ms(median(detection))} / {ms(percentile(detection, 95))}",
            ]
        )
    section.tables.append(
        (
            [
                "run",
                "tasks done",
                "wall",
                "over ideal",
                "client CPU / task",
                "server CPU / task",
                "polls / task",
                "detection median / p95",
            ],
            rows,
        )
    )
    section.notes.append(
        f"Each row with a target (and its floor) is the median of {REPEATS} runs by the figure the target "
        "is on, the whole of that one run shown; each run has a fresh server, and the rows take turns, so "
        "that the machine slowing down under sustained load weighs on all of them alike. The runs: "
        + "; ".join(
            f"{name}: " + ", ".join(_shown(r, figure) for r in every[name])
            for name, figure in MEDIAN_OF.items()
        )
        + "."
    )
    wake = _sleep_wake_cost()
    section.notes.append(
        "One scheduler for all waits (a shared timer instead of one sleeping coroutine per wait): measured "
        f"first, not built. Putting 1,000 coroutines to sleep and waking them costs {wake * 1e6:.0f} µs of "
        f"CPU per wake here, so at {sdk200.polls:.1f} polls per task a shared timer could save at most "
        f"{wake * sdk200.polls * 1e3:.3f} ms of the {sdk200.cpu_per_task * 1e3:.2f} ms a task costs. What "
        "the waits of a client do share is what they learn: tasks of one shape with nothing learnt poll "
        "as a crowd (`_crowds.py`), which is what the 'nothing learnt' row measures; with a learnt "
        f"duration, only the crowd's first {SCOUTS} waits poll inside the window and the rest are woken"
        " by the first of them to see its task done (the 'shape seen' row). Polls sent together "
        "cost less CPU than the same polls spread out (fewer wake-ups of the event loop and the kernel): "
        "a crowd's waits poll together once, then spread."
    )
    floor_note = (
        "The floor rows: raw aiohttp told when each task finishes, so it polls once per task at the "
        "finish, then GETs the image and checks it whole as the SDK does, with none of its other checks "
        "(`_floor`). No schedule can do better on this machine: its tasks end within {s200:.0f} ms (200) "
        "and {s1000:.0f} ms (1,000) of each other, and each needs a poll, a download and a check on one "
        "event loop. It took {o200:.1f} % and {o1000:.1f} % over the ideal, knew a task was done a median "
        "{d200} (200) after its finish (with webhooks, {hook} after the server sent its webhook, on a "
        "bare asyncio receiver), and spent {cpu:.2f} ms of CPU per task: a goal below the floor is beyond "
        "any client of one event loop here."
    )
    section.notes.append(
        floor_note.format(
            s200=_spread(floor200),
            s1000=_spread(floor1000),
            o200=floor200.overhead * 100,
            o1000=floor1000.overhead * 100,
            d200=ms(median(floor200.detection)),
            hook=ms(median(floor_hooks.after_webhook)),
            cpu=floor200.cpu_per_task * 1000,
        )
    )
    section.notes.append(
        "The machine's speed: a fixed pure-Python loop (`_reference_loop`) took "
        f"{speed_before * 1000:.0f} ms of CPU before the first run and {speed_after * 1000:.0f} ms after "
        "the last. This machine slows down under sustained load (the same loop takes about a quarter "
        "longer after two minutes of both cores busy), so CPU and wall figures of runs late in a long "
        "`make bench` are higher than those of the same code on a rested machine; the floor rows, "
        "measured in the same run, are the comparison that does not move with it."
    )
    queued = [
        r.webhook_sent_at - r.finished_at
        for r in hooks.records.values()
        if r.webhook_sent_at is not None and r.finished_at is not None
    ]
    if queued:
        section.notes.append(
            "Webhooks, received on the client's own event loop (`serve_async`): the server sends at most "
            f"16 at once, each on a connection of its own (as the sandbox does), so with {hooks.tasks} "
            f"tasks ending together a webhook waits a median {ms(median(queued))} at the server before it "
            f"is sent; from its send to the client knowing takes {ms(median(hooks.after_webhook))}: the "
            "confirming poll waits behind the other tasks' webhooks, polls and image downloads on the same "
            "event loop. With 16 webhooks always in flight, the server sends the next one only when the "
            "client has answered one, so a webhook waits for about the work of the 16 sent before it: 16 x "
            f"the client's CPU per task is {16 * hooks.cpu_per_task * 1000:.0f} ms for the SDK and "
            f"{16 * floor_hooks.cpu_per_task * 1000:.0f} ms for the floor (measured from send to knowing: "
            f"{ms(median(hooks.after_webhook))} and {ms(median(floor_hooks.after_webhook))}). Past a few "
            "webhooks at once, this figure is the client's CPU per task, not its wake-up: the floor too, "
            "with none of the SDK's work, knows a task many round trips after its webhook is sent, and the "
            "SDK, at about twice the floor's CPU per task, twice as late. Its wake-up is measured where a "
            "webhook finds the client with time to read it: tasks whose durations vary (by 2 s here, "
            "3.7-5.7 s of processing), as real tasks' do. There the SDK knew a task a median "
            f"{fine_ms(spread_after)} after the server sent its webhook (the floor: "
            f"{fine_ms(floor_spread_after)}; one round trip at that pace: {fine_ms(hooks_spread.paced_rtt)}, "
            f"right after another: {fine_ms(hooks_spread.rtt)}). In the burst, what an app waits for is "
            f"the time from a task's finish to knowing it: {ms(median(hooks.detection))} for the SDK, "
            f"{ms(median(floor_hooks.detection))} for the floor. The send-to-knowing figure also moves with "
            "how soon the client answers each webhook: a receiver that read and answered a webhook in the "
            "turn its connection was accepted (three turns of the loop sooner) let the server send the "
            "next ones sooner, so they waited at the client rather than at the server; in a trial of 4 runs "
            "each, send to knowing went from 10 to 18 ms and finish to knowing stayed where it was (80 and "
            "78 ms). So it was not kept: it moved where webhooks wait, not when a task is known."
        )
    errors = sorted({e for r in runs for e in r.errors})
    if errors:
        section.notes.append("Errors: " + "; ".join(errors)[:500])
    return section
