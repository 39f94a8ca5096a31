"""5. Gallery: `write_gallery(OUT)` on a batch of 5,000 lines, as `ppio batch` calls it after every
manifest rewrite.

OUT is built in a temporary directory: 4,500 done lines with one 1024x1024 PNG each (the sandbox's
procedural images; 24 distinct files, hard-linked under each line's name, so that the disk holds 24
files while the gallery sees 4,500), 300 failed, 100 unknown and 100 running lines. Timed:

- warm: every thumbnail exists and is up to date: the cost of each call during a batch;
- incremental: 20 more lines finished since the last call: their thumbnails drawn, the page rewritten;
- cold: thumbnails drawn for 100 images with none (per thumbnail), and one call with the default
  1 s budget on the whole batch with no thumbnail (the first call after a resume without thumbs/).
  The other thumbnails are then hard-linked into place rather than drawn (minutes of decoding).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _bench_report import Figure, Section

from ppio_txt2img.gallery import DEFAULT_THUMBNAIL_BUDGET, write_gallery
from ppio_txt2img.sandbox._images import ImageSpec, encode

LINES = 5000
DONE, FAILED, UNKNOWN = 4500, 300, 100  # the rest (100) running
SIZE = 1024
DISTINCT = 24
WARM_RUNS = 7
TARGET = 0.5  # seconds: a call must fit between two manifest rewrites (at most every ~0.5 s)


def _status(line: int) -> str:
    k = line % 50
    if k < 45:
        return "done"
    return "failed" if k < 48 else ("unknown" if k == 48 else "running")


def _build(out: Path, log: Callable[[str], None]) -> dict[int, dict[str, Any]]:
    """OUT with LINES manifest lines; images hard-linked from DISTINCT procedural PNGs."""
    images = out / "images"
    images.mkdir(parents=True)
    originals = []
    for k in range(DISTINCT):
        path = out / f"original-{k}.png"
        path.write_bytes(encode(ImageSpec(f"a lighthouse at dusk {k}", 1000 + k, 0, SIZE, SIZE, "png")))
        originals.append(path)
    log(f"  {DISTINCT} distinct {SIZE}x{SIZE} PNGs, {sum(p.stat().st_size for p in originals) / 1e6:.1f} MB")
    lines: dict[int, dict[str, Any]] = {}
    for line in range(1, LINES + 1):
        status = _status(line)
        entry: dict[str, Any] = {
            "line": line,
            "status": status,
            "prompt": f"a lighthouse at dusk, variation {line}, oil painting, dramatic sky",
            "task_id": None if status in ("failed", "unknown") else f"{line:08x}-7f3e-4d2a-9c1b-5e6f7a8b9c0d",
            "seed": 100_000 + line if status == "done" else None,
            "images": [],
            "error": None,
            "error_field": None,
        }
        if status == "done":
            rel = f"images/{line}-0.png"
            os.link(originals[line % DISTINCT], out / rel)
            entry["images"] = [rel]
        elif status == "failed":
            entry["error"] = "request.width: 5000 is out of range; allowed: an integer from 128 to 2048"
            entry["error_field"] = "request.width"
        elif status == "unknown":
            entry["error"] = "the POST may have created a task but no id came back"
        lines[line] = entry
    return lines


def _write_manifest(out: Path, lines: dict[int, dict[str, Any]]) -> None:
    tmp = out / "manifest.jsonl.tmp"
    tmp.write_text("".join(json.dumps(lines[n]) + "\n" for n in sorted(lines)))
    os.replace(tmp, out / "manifest.jsonl")


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _cpu(call: Callable[[], object]) -> float:
    """CPU seconds of this process during `call` (less sensitive than wall time to a busy machine)."""
    started = time.process_time()
    call()
    return time.process_time() - started


def run(log: Callable[[str], None]) -> Section:
    section = Section(f"5. Gallery: write_gallery on a {LINES:,}-line batch")
    section.settings += [
        f"A batch output directory in a temporary directory: {LINES:,} manifest lines, {DONE:,} done with "
        f"one {SIZE}x{SIZE} PNG each (the sandbox's procedural images: {DISTINCT} distinct files hard-linked "
        f"under each line's name), {FAILED} failed, {UNKNOWN} unknown, {LINES - DONE - FAILED - UNKNOWN} "
        "running.",
        f"Warm = every thumbnail up to date (median of {WARM_RUNS} calls); incremental = 20 more lines "
        "done since the last call; cold = thumbnails drawn where none exist.",
    ]
    with tempfile.TemporaryDirectory(prefix="ppio-bench-gallery-") as tmp:
        out = Path(tmp) / "out"
        lines = _build(out, log)
        running = [n for n, e in lines.items() if e["status"] == "running"][:20]
        for n in running:  # these 20 finish later, in the incremental step
            lines[n] = {**lines[n], "status": "done", "seed": 7, "images": []}
        _write_manifest(out, lines)

        log("  cold: 100 thumbnails ...")
        sample = Path(tmp) / "sample"
        sample.mkdir()
        for n in range(1, 101):
            if lines[n]["images"]:
                os.link(out / lines[n]["images"][0], sample / f"{n}.png")
        from ppio_txt2img._pictures import write_jpeg_thumbnail

        files = sorted(sample.iterdir())
        started = time.perf_counter()
        for f in files:
            write_jpeg_thumbnail(f, f.with_suffix(".jpg"))
        per_thumbnail = (time.perf_counter() - started) / len(files)

        log(f"  first call, default budget ({DEFAULT_THUMBNAIL_BUDGET:g} s), no thumbnail yet ...")
        first = _timed(lambda: write_gallery(out))
        drawn_first = len(list((out / "thumbs").iterdir()))

        # The rest of the thumbnails: one drawn per distinct image, hard-linked under each line's name
        # (drawing all 4,500 would take minutes: per_thumbnail x 4,500, reported as an estimate).
        drawn: dict[int, Path] = {}
        for n, entry in lines.items():
            if entry["images"] and not (thumb := out / "thumbs" / f"{n}-0.jpg").exists():
                k = n % DISTINCT
                if k not in drawn:
                    drawn[k] = Path(tmp) / f"thumb-{k}.jpg"
                    write_jpeg_thumbnail(out / entry["images"][0], drawn[k])
                os.link(drawn[k], thumb)
        thumbs = len(list((out / "thumbs").iterdir()))

        log(f"  warm: {WARM_RUNS} calls ...")
        warm = [_timed(lambda: write_gallery(out)) for _ in range(WARM_RUNS)]
        warm_cpu = statistics.median(_cpu(lambda: write_gallery(out)) for _ in range(3))
        page_bytes = (out / "index.html").stat().st_size

        for k, n in enumerate(running):
            rel = f"images/{n}-0.png"
            shutil.copyfile(out / f"original-{k % DISTINCT}.png", out / rel)
            lines[n] = {**lines[n], "images": [rel]}
        _write_manifest(out, lines)
        incremental = _timed(lambda: write_gallery(out))

    warm_median = statistics.median(warm)
    section.figures += [
        Figure(
            "warm call (every thumbnail up to date)",
            f"{warm_median * 1000:.0f} ms",
            f"≤ {TARGET * 1000:.0f} ms (between two manifest rewrites)",
            warm_median <= TARGET,
        ),
        Figure("call after 20 more lines finished", f"{incremental * 1000:.0f} ms", "—", None),
        Figure("one thumbnail from a 1024x1024 PNG", f"{per_thumbnail * 1000:.1f} ms", "—", None),
    ]
    section.tables.append(
        (
            ["measure", "value"],
            [
                ["warm calls", ", ".join(f"{t * 1000:.0f} ms" for t in warm)],
                ["CPU of a warm call (median of 3)", f"{warm_cpu * 1000:.0f} ms"],
                ["page size (index.html)", f"{page_bytes / 1e6:.2f} MB"],
                [
                    f"first call with no thumbnail (default budget {DEFAULT_THUMBNAIL_BUDGET:g} s)",
                    f"{first:.2f} s, {drawn_first:,} thumbnails drawn, the rest shown from the full images",
                ],
                [
                    "every thumbnail drawn in one call (`ppio gallery OUT` on a batch without thumbs/)",
                    f"about {per_thumbnail * thumbs:.0f} s for {thumbs:,} (estimated: per thumbnail x count)",
                ],
                ["call after 20 more lines finished (20 thumbnails)", f"{incremental * 1000:.0f} ms"],
                [
                    "one thumbnail (decode 1024x1024 PNG, scale to 256, JPEG)",
                    f"{per_thumbnail * 1000:.1f} ms",
                ],
            ],
        )
    )
    return section
