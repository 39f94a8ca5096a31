"""Plots of the benchmarks, drawn with matplotlib from the results `bench.py` saves.

    python scripts/_bench_plots.py [build/bench-results.json] [docs/bench]     (make bench-plots)

- `waiting.png`: detection delay against polls per task, for the adaptive wait and the fixed 0.1 s and
  0.5 s pollers, one panel per eta mode, both axes logarithmic (each task a small dot; the big marker
  is the median delay at the mean poll count, its bar reaching up to the p95; the figures in the
  corner);
- `scale.png`: the scale run's wall time (against the ideal) and client CPU per task, by concurrency:
  one group per level that `_bench_scale.py` measured (one level today; more appear as it grows).

The data are the `Section.data` of `_bench_polling.py` and `_bench_scale.py`, saved by bench.py in
build/bench-results.json: {"polling": {"date": ..., "data": [{"mode", "poller", "delays", "polls",
"lost"}, ...]}, "scale": {"date": ..., "data": [{"concurrency", "wall", "ideal", "cpu_per_task",
"decode_per_task", "lost"}, ...]}}.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from _bench_report import median, percentile

#: Each poller's colour and marker; the adaptive wait first (the benchmark's subject).
STYLE = {
    "facade (adaptive)": ("#1565c0", "o"),
    "fixed 0.5 s (novita-client)": ("#c62828", "s"),
    "fixed 0.1 s (fal)": ("#ef6c00", "^"),
}
DPI = 110


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display; set before pyplot is imported
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def plot_waiting(results: Sequence[Mapping[str, Any]], path: Path, *, date: str = "") -> Path:
    """Detection delay (ms) against polls per task, per poller, one panel per eta mode."""
    plt = _pyplot()
    modes = list(dict.fromkeys(r["mode"] for r in results))
    fig, axes = plt.subplots(1, len(modes), figsize=(3.6 * len(modes), 3.6), sharey=True, squeeze=False)
    for ax, mode in zip(axes[0], modes, strict=True):
        summary = []
        for r in (r for r in results if r["mode"] == mode):
            colour, marker = STYLE.get(r["poller"], ("#555555", "D"))
            delays = [max(d * 1000, 1.0) for d in r["delays"]]  # log axis: clamp at 1 ms
            polls = r["polls"]
            if not delays:
                continue
            ax.scatter(polls, delays, s=12, color=colour, alpha=0.35, marker=marker, linewidths=0)
            mean_polls = sum(polls) / len(polls)
            mid, p95 = median(delays), percentile(delays, 95)
            ax.plot([mean_polls, mean_polls], [mid, p95], color=colour, linewidth=1.5)
            ax.scatter([mean_polls], [mid], s=70, color=colour, marker=marker, edgecolors="white", zorder=3)
            summary.append((f"{mid:.0f} ms (p95 {p95:.0f}), {mean_polls:.1f} polls", colour))
        for line, (text, colour) in enumerate(summary):
            ax.text(
                0.98,
                0.97 - 0.075 * line,
                text,
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=7.5,
                color=colour,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"eta {mode}")
        ax.set_xlabel("polls per task (log scale)")
        ax.grid(True, which="both", alpha=0.25)
    every = [max(d * 1000, 1.0) for r in results for d in r["delays"]] or [1.0]
    pollers = len({r["poller"] for r in results})
    # headroom above the dots for the figures in the corner (shared y axis: set once)
    axes[0][0].set_ylim(min(every) / 1.5, max(every) * 10 ** (0.22 * pollers + 0.1))
    axes[0][0].set_ylabel("detection delay (ms, log scale)")
    handles = [
        plt.Line2D([], [], color=c, marker=m, linestyle="", markersize=7, label=name)
        for name, (c, m) in STYLE.items()
        if any(r["poller"] == name for r in results)
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.suptitle(
        "Waiting for a task: how late it is noticed vs how many polls it costs"
        + (f"\n{date}" if date else ""),
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _save(fig, plt, path)


def plot_scale(
    levels: Sequence[Mapping[str, Any]], path: Path, *, date: str = "", cpu_target_ms: float = 5.0
) -> Path:
    """Wall time (against the ideal) and client CPU per task, by concurrency, one bar group per level."""
    plt = _pyplot()
    levels = sorted(levels, key=lambda level: level["concurrency"])
    labels = [str(level["concurrency"]) for level in levels]
    x = list(range(len(levels)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.6))
    width = 0.38
    ideal = [level["ideal"] for level in levels]
    wall = [level["wall"] for level in levels]
    left.bar(
        [i - width / 2 for i in x], ideal, width, color="#9e9e9e", label="ideal (longest task + 1 round trip)"
    )
    bars = left.bar([i + width / 2 for i in x], wall, width, color="#1565c0", label="wall time")
    for bar, w, i in zip(bars, wall, ideal, strict=True):
        left.annotate(
            f"{w:.2f} s (+{(w - i) / i * 100:.0f} %)",
            (bar.get_x() + bar.get_width() / 2, w),
            textcoords="offset points",
            xytext=(0, 3),
            ha="center",
            fontsize=8,
        )
    left.set_ylabel("seconds")
    left.set_title("wall time of the run")
    cpu = [level["cpu_per_task"] * 1000 for level in levels]
    decode = [level.get("decode_per_task", 0.0) * 1000 for level in levels]
    right.bar(x, cpu, width * 1.4, color="#1565c0", label="client CPU per task, decoding excluded")
    right.bar(x, decode, width * 1.4, bottom=cpu, color="#90caf9", label="decoding")
    right.axhline(
        cpu_target_ms, color="#c62828", linestyle="--", linewidth=1, label=f"target {cpu_target_ms:g} ms"
    )
    for i, (c, d) in enumerate(zip(cpu, decode, strict=True)):
        right.annotate(
            f"{c:.1f} ms", (i, c + d), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8
        )
    right.set_ylabel("ms per task")
    right.set_title("client CPU per task")
    for ax in (left, right):
        ax.set_xticks(x, labels)
        ax.set_xlabel("tasks at once (concurrency)")
        ax.set_xlim(-0.8, len(levels) - 0.2)
        ax.legend(loc="upper left", frameon=False, fontsize=7.5)
        ax.grid(True, axis="y", alpha=0.25)
    left.set_ylim(0, max(wall + ideal) * 1.45)  # room for the legend and the labels above the bars
    right.set_ylim(0, max([c + d for c, d in zip(cpu, decode, strict=True)] + [cpu_target_ms]) * 1.45)
    fig.suptitle("Scale: tasks at once through one AsyncClient" + (f"\n{date}" if date else ""), fontsize=10)
    fig.tight_layout()
    return _save(fig, plt, path)


def _save(fig: Any, plt: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # No timestamps or software versions in the file: the same results give the same bytes.
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return path


#: What each plot shows, the benchmark it belongs to and how it is drawn.
PLOTS: dict[str, tuple[str, str, Callable[..., Path]]] = {
    "polling": (
        "waiting.png",
        "Detection delay against polls per task, per poller and eta mode",
        plot_waiting,
    ),
    "scale": (
        "scale.png",
        "Scale run: wall time against the ideal and client CPU per task, by concurrency",
        plot_scale,
    ),
}


def draw(results: Mapping[str, Any], directory: Path) -> dict[str, tuple[str, Path]]:
    """Every plot whose data are in `results` (as saved by bench.py): benchmark -> (alt text, path)."""
    drawn = {}
    for name, (file, alt, plot) in PLOTS.items():
        if name in results and results[name].get("data"):
            saved = results[name]
            when = "; ".join(filter(None, (saved.get("date"), saved.get("load"))))
            drawn[name] = (alt, plot(saved["data"], directory / file, date=when))
    return drawn


def main(argv: Sequence[str]) -> int:
    source = Path(argv[0]) if argv else Path("build/bench-results.json")
    directory = Path(argv[1]) if len(argv) > 1 else Path("docs/bench")
    try:
        results = json.loads(source.read_text())
    except FileNotFoundError:
        print(f"{source}: no saved results; run `make bench` first", file=sys.stderr)
        return 1
    for _, path in draw(results, directory).values():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
