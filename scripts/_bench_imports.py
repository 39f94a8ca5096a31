"""4. Import time: `import ppio_txt2img` against `import httpx`, each in fresh interpreters.

`python -X importtime -c "import X"`; the cumulative microseconds of the last line (the top module),
best of 7, the two alternating so that drift on the machine hits both alike.

Both are measured from bytecode caches, as after any install: the subprocesses get their own cache
directory (`PYTHONPYCACHEPREFIX=build/pycache`, filled by one untimed import each) and never see
`PYTHONDONTWRITEBYTECODE`, which would otherwise make every run recompile the editable facade from source
while httpx loads the .pyc files pip wrote.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _bench_report import Figure, Section

RUNS = 7
MODULES = ("ppio_txt2img", "httpx")
#: Modules of httpx's optional command line (`httpx[cli]`), imported by `httpx/__init__` when present.
CLI_MODULES = ("click", "rich", "pygments")
PYCACHE = Path(__file__).resolve().parent.parent / "build" / "pycache"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


@dataclass(frozen=True)
class ImportTrace:
    """One `-X importtime` run: cumulative microseconds per module."""

    cumulative: dict[str, int]
    top: str

    @property
    def total(self) -> int:
        return self.cumulative[self.top]


def trace(module: str, *, cached: bool = True) -> ImportTrace:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
        env=_env() if cached else None,
    )
    cumulative: dict[str, int] = {}
    top = ""
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, _, fields = line.partition(":")
        _self, total, name = (part.strip() for part in fields.split("|"))
        cumulative[name] = int(total)
        top = name
    if top != module:
        raise RuntimeError(f"unexpected -X importtime output for {module}: last module {top!r}")
    return ImportTrace(cumulative, top)


def run(log: Callable[[str], None]) -> Section:
    section = Section("4. Import time")
    section.settings.append(
        f'`{sys.executable.rsplit("/", 3)[-3]}/bin/python -X importtime -c "import X"` in a fresh process, '
        f"best of {RUNS} (alternating), cumulative µs of the top module; bytecode cached in "
        "`build/pycache` (`PYTHONPYCACHEPREFIX`) for both."
    )
    log(f"  best of {RUNS} fresh imports each ...")
    for module in MODULES:  # compile any missing .pyc first, untimed
        trace(module)
    traces: dict[str, list[ImportTrace]] = {m: [] for m in MODULES}
    for _ in range(RUNS):
        for module in MODULES:
            traces[module].append(trace(module))
    best = {m: min(traces[m], key=lambda t: t.total) for m in MODULES}
    ours, httpx_ = best["ppio_txt2img"].total, best["httpx"].total
    ratio = ours / httpx_
    cli = [name for name in best["httpx"].cumulative if name.split(".")[0] in CLI_MODULES]
    cli_top = best["httpx"].cumulative.get("httpx._main", 0)
    ours_cli = best["ppio_txt2img"].cumulative.get("httpx._main", 0)
    core_ratio = (ours - ours_cli) / max(1, httpx_ - cli_top)
    section.figures += [
        Figure("import ppio_txt2img", f"{ours / 1000:.1f} ms", "", None),
        Figure("import httpx", f"{httpx_ / 1000:.1f} ms", "", None),
        Figure("ratio ppio_txt2img / httpx", f"{ratio:.2f}x", "≤ 1.5x", ratio <= 1.5),
    ]
    roots = sorted({name.split(".")[0] for name in cli})
    as_is = min(trace("ppio_txt2img", cached=False).total for _ in range(3))
    section.tables.append(
        (
            ["measure", "value"],
            [
                [
                    f"runs ({RUNS} each), ppio_txt2img",
                    ", ".join(f"{t.total / 1000:.0f}" for t in traces["ppio_txt2img"]) + " ms",
                ],
                [
                    f"runs ({RUNS} each), httpx",
                    ", ".join(f"{t.total / 1000:.0f}" for t in traces["httpx"]) + " ms",
                ],
                [
                    "import ppio_txt2img with this shell's environment, best of 3 (information)",
                    f"{as_is / 1000:.1f} ms"
                    + (
                        " (PYTHONDONTWRITEBYTECODE is set: the facade compiles on every import)"
                        if os.environ.get("PYTHONDONTWRITEBYTECODE")
                        else ""
                    ),
                ],
                [
                    "httpx imports its optional CLI here",
                    (
                        f"yes: {', '.join(roots)} via httpx._main, {cli_top / 1000:.1f} ms of httpx's "
                        f"{httpx_ / 1000:.1f} ms (without it: {(httpx_ - cli_top) / 1000:.1f} ms; "
                        f"ratio with the CLI left out of both: {core_ratio:.2f}x)"
                    )
                    if cli
                    else "no (click/rich not installed): httpx's time is its core alone",
                ],
            ],
        )
    )
    return section
