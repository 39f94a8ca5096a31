"""A deterministic simulation of the Ray engine from 1 to 100 workers at 20 / 1,000 / 100,000 IPM.

    .venv/bin/python scripts/simulate_scale.py [--concurrency 16] [--workers-write] [--rpc-ms 0.5]
                                               [--driver-ms 2]

An event simulation of one batch: the real `WindowPacer` (the account's limit, as in the coordinator),
and four kinds of server, each first come first served:

- the coordinator: one process; every RPC (a claim, a claim that must wait, a "posted") costs
  `RPC` seconds of its time (measured by `make bench-ray` on this machine, claims with commits);
- the API: a POST answers after `POST` seconds; a task takes `TASK` seconds (queue and processing);
- each worker: downloads each image (`IMAGE_MB` at `WORKER_MBPS`) plus `WORKER_CPU` seconds of CPU;
  at most `concurrency` lines in flight, and one line at a time asking for a ticket (as `LineWorker`);
- the driver: receives and writes each image (`IMAGE_MB` at `DRIVER_MBPS`) plus `DRIVER_CPU`.

Every line has one image. It runs `SECONDS` simulated seconds and reports the images per minute over
the last minute (after the pacer's first window), which server was busiest, and the lines a worker's
death would cut mid-POST (its POSTs in flight, on average: those become unknown, never bought twice).
No randomness: the same arguments give the same table.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from ppio_txt2img.batch._pacer import WindowPacer

#: Seconds of coordinator time per RPC: `make bench-ray` measured ~1,000 lines/s claimed and posted
#: (2 RPCs and 2 grouped commits each) on this 2-CPU machine under load, i.e. ~0.5 ms per RPC.
RPC = 0.0005
POST = 0.4  # seconds from a POST to its answer
TASK = 8.0  # seconds from a task's creation to its images being ready (1024x1024, 20 steps)
IMAGE_MB = 1.5  # a 1024x1024 PNG
WORKER_MBPS = 100.0  # one worker's download bandwidth, MB/s
WORKER_CPU = 0.01  # seconds of a worker's CPU per image (HTTP, polling, moving the bytes)
DRIVER_MBPS = 400.0  # the driver's receive + write bandwidth (object store to disk), MB/s
DRIVER_CPU = 0.002  # seconds of the driver's CPU per line (bookkeeping, results, the manifest)
MINUTE = 60.0
SECONDS = 2 * MINUTE
WORKERS = (1, 2, 5, 10, 20, 50, 100)
IPMS = (20, 1_000, 100_000)


@dataclass
class Server:
    """A first-come-first-served server: `take(now, cost)` is when a job arriving now is done."""

    name: str
    free_at: float = 0.0
    busy: float = 0.0

    def take(self, now: float, cost: float) -> float:
        start = max(now, self.free_at)
        self.free_at = start + cost
        self.busy += cost
        return self.free_at


@dataclass
class Simulation:
    workers: int
    ipm: int
    concurrency: int
    rpc: float = RPC
    #: The driver's cost per image: receiving and writing it, or (workers writing to shared storage)
    #: only its bookkeeping.
    driver_cost: float = DRIVER_CPU + IMAGE_MB / DRIVER_MBPS
    events: list[tuple[float, int, Callable[[float], None]]] = field(default_factory=list)
    done: list[float] = field(default_factory=list)
    posting: int = 0
    posting_area: float = 0.0
    last_change: float = 0.0

    def __post_init__(self) -> None:
        self.pacer = WindowPacer(self.ipm)
        self.coordinator = Server("coordinator")
        self.driver = Server("driver")
        self.cpus = [Server(f"worker {i}") for i in range(self.workers)]
        self.gates = [Server(f"gate {i}") for i in range(self.workers)]
        self._seq = itertools.count()

    def at(self, when: float, action: Callable[[float], None]) -> None:
        heapq.heappush(self.events, (when, next(self._seq), action))

    def run(self) -> None:
        for worker in range(self.workers):
            for _ in range(self.concurrency):
                self.at(0.0, partial(self.claim, worker))
        while self.events:
            when, _, action = heapq.heappop(self.events)
            if when > SECONDS:
                break
            action(when)

    def _posting(self, now: float, change: int) -> None:
        self.posting_area += self.posting * (now - self.last_change)
        self.posting, self.last_change = self.posting + change, now

    # a line's life: claim (at the gate, one per worker) -> POST -> posted -> task -> download -> driver
    def claim(self, worker: int, now: float) -> None:
        gate = self.gates[worker]
        if gate.free_at > now:  # another line of this worker is asking: queue behind it
            self.at(gate.free_at, lambda t: self.claim(worker, t))
            return
        answered = self.coordinator.take(now, self.rpc)
        delay = self.pacer.delay(1, answered)
        if delay > 0:
            gate.take(now, answered - now + min(delay, 2.0))
            self.at(gate.free_at, lambda t: self.claim(worker, t))
            return
        ticket = self.pacer.sent(1, answered)
        gate.take(now, answered - now)
        self._posting(answered, +1)

        def posted(t: float) -> None:
            self._posting(t, -1)
            self.pacer.accepted(ticket, self.coordinator.take(t, self.rpc))
            self.at(t + TASK, lambda t2: self.download(worker, t2))

        self.at(answered + POST, posted)

    def download(self, worker: int, now: float) -> None:
        ready = self.cpus[worker].take(now, WORKER_CPU + IMAGE_MB / WORKER_MBPS)
        saved = self.driver.take(ready, self.driver_cost)

        def finished(t: float) -> None:
            self.done.append(t)
            self.claim(worker, t)  # the slot takes the next line

        self.at(saved, finished)

    # ------------------------------------------------------------------------------------- results
    def ipm_achieved(self) -> float:
        return float(sum(1 for t in self.done if SECONDS - MINUTE < t <= SECONDS))

    def busiest(self) -> tuple[str, float]:
        servers = [self.coordinator, self.driver, max(self.cpus, key=lambda s: s.busy)]
        top = max(servers, key=lambda s: s.busy)
        name = "workers" if top.name.startswith("worker") else top.name
        return name, min(1.0, top.busy / SECONDS)

    def bottleneck(self, achieved: float) -> str:
        name, load = self.busiest()
        if achieved >= 0.97 * self.ipm:
            return "API limit"
        if load > 0.9:
            return f"{name} ({load:.0%} busy)" if load < 1 else f"{name} (saturated)"
        # No server is saturated: lines in flight are what holds it back (Little's law).
        return f"lines in flight ({self.workers} x {self.concurrency})"


def simulate(
    workers: int, ipm: int, concurrency: int, rpc: float, driver_cost: float
) -> tuple[float, str, float]:
    sim = Simulation(workers, ipm, concurrency, rpc, driver_cost)
    sim.run()
    sim._posting(SECONDS, 0)
    achieved = sim.ipm_achieved()
    return achieved, sim.bottleneck(achieved), sim.posting_area / SECONDS / workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16, help="lines in flight per worker")
    parser.add_argument("--rpc-ms", type=float, default=RPC * 1000, help="coordinator time per RPC")
    parser.add_argument(
        "--workers-write",
        action="store_true",
        help="workers write the images (shared storage), not the driver",
    )
    parser.add_argument("--driver-ms", type=float, default=DRIVER_CPU * 1000, help="driver CPU per line")
    args = parser.parse_args()
    rpc, driver_cpu = args.rpc_ms / 1000, args.driver_ms / 1000
    driver_cost = driver_cpu if args.workers_write else driver_cpu + IMAGE_MB / DRIVER_MBPS
    where = "workers write the images" if args.workers_write else "the driver writes the images"
    print(
        f"concurrency {args.concurrency} per worker; task {TASK:g} s; POST {POST:g} s; "
        f"coordinator {args.rpc_ms:g} ms per RPC; driver {args.driver_ms:g} ms per line; {where}\n"
    )
    print(
        "| workers | "
        + " | ".join(f"{ipm:,} IPM: achieved, bottleneck" for ipm in IPMS)
        + " | unknown per worker death |"
    )
    print("|---|" + "---|" * len(IPMS) + "---|")
    for workers in WORKERS:
        cells, cut = [], 0.0
        for ipm in IPMS:
            if ipm < workers:  # fewer images per minute than workers: pointless, skip
                cells.append("-")
                continue
            achieved, bottleneck, posting = simulate(workers, ipm, args.concurrency, rpc, driver_cost)
            cells.append(f"{achieved:,.0f} ({achieved / ipm:.0%}), {bottleneck}")
            cut = max(cut, posting)
        print(f"| {workers} | " + " | ".join(cells) + f" | ≤ {math.ceil(cut * 10) / 10:g} |")


if __name__ == "__main__":
    main()
