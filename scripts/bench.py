"""Benchmarks of the SDK against the offline sandbox on loopback; `make bench` runs them all.

    python scripts/bench.py [--write BENCHMARKS.md] [--only polling|scale|images|imports|batch|gallery ...]

1. detection delay and polls per task: the facade's adaptive wait vs fixed 0.5 s and 0.1 s pollers,
   with the sandbox's eta exact, noisy and absent (`_bench_polling.py`);
2. scale: 200 and 1,000 tasks of 5 s at once: the SDK (aiohttp and httpx transports, with and without
   eta/progress, webhooks) against a plain httpx poller, on a light API server (`_bench_server.py`),
   with two reference runs against the sandbox (`_bench_scale.py`);
3. images: download and decode of 8 PNGs of 2048x2048 (`_bench_images.py`);
4. import time against httpx (`_bench_imports.py`);
5. batches: 1,000 lines at a rate limit, known and learnt; memory over a 1,000,000-line input
   (`_bench_batch.py`).
6. gallery: `write_gallery` on a 5,000-line batch output directory (`_bench_gallery.py`).

Each sandbox runs in its own process (`_bench_sandbox.py`) so the client's timing is its own. Figures
are measured and reported with their targets, never asserted: the exit status is 0 whether or not a
target is met (it is non-zero only when a benchmark could not run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import _bench_batch
import _bench_gallery
import _bench_images
import _bench_imports
import _bench_plots
import _bench_polling
import _bench_scale
from _bench_report import FIGURE_HEADER, Figure, Section, figure_rows, markdown_table, text_table

BENCHMARKS: dict[str, Callable[[Callable[[str], None]], Section]] = {
    "polling": _bench_polling.run,
    "scale": _bench_scale.run,
    "images": _bench_images.run,
    "imports": _bench_imports.run,
    "batch": _bench_batch.run,
    "gallery": _bench_gallery.run,
}

HOW_TO_READ = """\
Each figure is measured once per run and printed beside its target; nothing is asserted: a missed
target shows **NO** under *Met* and `make bench` still succeeds. Everything runs on 127.0.0.1 against
the sandbox, except section 2's main runs, which use a light API server (`scripts/_bench_server.py`: a
bare asyncio HTTP server with the API's JSON and one pre-encoded PNG) because the sandbox costs about as
much CPU per task as the client. Each server runs in its own process, so the client's timings and CPU
are its own, but client, server and anything else on the machine share its cores (see the table under
*Machine*).
Detection delay = the moment the client knew a task had finished minus the moment the sandbox finished
it (both `time.time()` on this machine); polls = GETs of /v3/async/task-result per task. Loopback has
no network latency: against the real API add its round trip. A p95 over 36 tasks is decided by the
worst two of them and can move by a hundred milliseconds from one run to the next; medians and poll
counts move by tens of milliseconds and tenths of a poll, which is why section 1 pools three rounds and
each target of section 2 is the median of three runs."""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@dataclass(frozen=True)
class CpuSnapshot:
    """Machine-wide busy and stolen CPU seconds (/proc/stat), and ours (this process and its children)."""

    at: float
    busy: float
    steal: float
    ours: float

    @classmethod
    def take(cls) -> CpuSnapshot:
        busy = steal = math.nan
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
            tick = os.sysconf("SC_CLK_TCK")
            # user nice system idle iowait irq softirq steal ...
            busy = (fields[0] + fields[1] + fields[2] + fields[5] + fields[6]) / tick
            steal = fields[7] / tick if len(fields) > 7 else 0.0
        except (OSError, ValueError, IndexError):
            pass
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        ours = time.process_time() + children.ru_utime + children.ru_stime
        return cls(time.monotonic(), busy, steal, ours)


def contention(name: str, before: CpuSnapshot, after: CpuSnapshot) -> list[str]:
    """One row: how much CPU the benchmark used, and how much other processes took meanwhile."""
    wall = after.at - before.at
    ours = after.ours - before.ours
    others = max(0.0, (after.busy - before.busy) - ours)
    capacity = wall * (os.cpu_count() or 1)
    return [
        name,
        f"{wall:.1f} s",
        f"{ours:.1f} s",
        f"{others:.1f} s ({others / capacity * 100:.0f} % of the machine)",
        f"{after.steal - before.steal:.1f} s",
    ]


CONTENTION_HEADER = ["benchmark", "wall", "CPU: ours (client + sandboxes)", "CPU: other processes", "stolen"]


def machine() -> list[list[str]]:
    return [
        ["CPU", cpu_model()],
        ["cores", str(os.cpu_count())],
        ["Python", f"{platform.python_implementation()} {platform.python_version()}"],
        ["OS", platform.platform()],
    ]


def command_line() -> str:
    python = os.path.relpath(sys.executable) if not sys.executable.startswith("/usr") else sys.executable
    return shlex.join([python, *sys.argv])


def render_text(sections: Sequence[Section]) -> str:
    out = []
    for section in sections:
        out += ["", section.title, "=" * len(section.title)]
        for header, rows in section.tables:
            out += [text_table(header, rows), ""]
    summary = [figure_rows([f])[0] for s in sections for f in s.figures]
    out += ["", "Targets", "=======", text_table(FIGURE_HEADER, summary)]
    return "\n".join(out)


def render_markdown(
    sections: Sequence[Section],
    *,
    date: str,
    command: str,
    elapsed: float,
    load: Sequence[Sequence[str]],
) -> str:
    figures: list[Figure] = [f for s in sections for f in s.figures]
    targeted = [f for f in figures if f.met is not None]
    met = sum(1 for f in targeted if f.met)
    parts = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {date}; the whole run took {elapsed:.0f} s. Do not edit by hand: "
        "run `make bench` again.",
        "",
        f"Command: `{command}`",
        "",
        "## How to read this",
        "",
        HOW_TO_READ,
        "",
        "## Machine",
        "",
        markdown_table(["", ""], machine()),
        "",
        "What else ran on the machine meanwhile (from /proc/stat; other processes compete with the client "
        "and the sandbox for the same cores, which inflates delays and wall times):",
        "",
        markdown_table(CONTENTION_HEADER, load),
        "",
        f"## Targets ({met} of {len(targeted)} met)",
        "",
        markdown_table(
            ["Benchmark", *FIGURE_HEADER],
            [
                [s.title.split(":")[0].split(". ", 1)[-1], *row]
                for s in sections
                for row in figure_rows(s.figures)
            ],
        ),
    ]
    for section in sections:
        parts += ["", f"## {section.title}", ""]
        parts += [f"- {line}" for line in section.settings]
        for header, rows in section.tables:
            parts += ["", markdown_table(header, rows)]
        for alt, path in section.images:
            parts += ["", f"![{alt}]({path})"]
        for note in section.notes:
            parts += ["", note]
    return "\n".join(parts) + "\n"


def save_results(path: Path, results: dict[str, dict[str, object]]) -> None:
    """Merge this run's raw results into `path` (JSON, by benchmark: date, load, data), so a partial
    run (`--only`) keeps the others' and `make bench-plots` can redraw without running anything."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = {}
    saved.update(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(saved, indent=1) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", metavar="PATH", type=Path, help="also write the results as Markdown")
    parser.add_argument(
        "--only", action="append", choices=list(BENCHMARKS), help="run only these benchmarks (repeatable)"
    )
    parser.add_argument(
        "--results",
        metavar="PATH",
        type=Path,
        default=Path("build/bench-results.json"),
        help="save the raw results here, merged by benchmark (default: build/bench-results.json)",
    )
    parser.add_argument(
        "--plots",
        metavar="DIR",
        type=Path,
        help="draw the plots here (default with --write: docs/bench beside the Markdown file)",
    )
    args = parser.parse_args(argv)
    chosen = args.only or list(BENCHMARKS)
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = command_line()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log(f"benchmarks on {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    started = time.monotonic()
    sections: list[Section] = []
    load: list[list[str]] = []
    failed = 0
    for name in chosen:
        log(f"{name} ...")
        before = CpuSnapshot.take()
        try:
            sections.append(BENCHMARKS[name](log))
        except Exception as exc:  # report it, run the other benchmarks, exit non-zero at the end
            failed += 1
            log("".join(traceback.format_exception(exc)))
            sections.append(
                Section(
                    f"{name}: could not run",
                    figures=[Figure(f"{name}: error", f"{type(exc).__name__}: {exc}"[:200], "runs", False)],
                )
            )
        load.append(contention(name, before, CpuSnapshot.take()))
        log(f"  other processes: {load[-1][3]}")
    elapsed = time.monotonic() - started
    others = {row[0]: row[3] for row in load}  # how busy the machine was, by benchmark
    results = {
        key: {"date": date, "load": f"other processes: {others.get(key, '?')}", "data": value}
        for s in sections
        for key, value in s.data.items()
    }
    save_results(args.results, results)
    plots = args.plots or (args.write.parent / "docs" / "bench" if args.write is not None else None)
    if plots is not None and results:
        by_key = {key: s for s in sections for key in s.data}
        drawn = _bench_plots.draw(results, plots)
        for key, (alt, path) in drawn.items():
            base = args.write.parent if args.write is not None else Path()
            by_key[key].images.append((alt, os.path.relpath(path, base)))
            log(f"drew {path}")
    print(render_text(sections))
    print("\n" + text_table(CONTENTION_HEADER, load))
    print(f"\n{len(sections)} benchmark(s) in {elapsed:.0f} s")
    if args.write is not None:
        args.write.write_text(
            render_markdown(sections, date=date, command=command, elapsed=elapsed, load=load)
        )
        print(f"wrote {args.write}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
