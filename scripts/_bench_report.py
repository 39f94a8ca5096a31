"""What the benchmarks report: figures with their targets, small statistics, and table rendering."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One measured figure; `met` is None when the figure has no target (for information)."""

    name: str
    value: str
    target: str = ""
    met: bool | None = None

    @property
    def verdict(self) -> str:
        return "—" if self.met is None else ("yes" if self.met else "NO")


@dataclass
class Section:
    """One benchmark's results: headline figures, detail tables and notes for BENCHMARKS.md."""

    title: str
    settings: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: list[tuple[list[str], list[list[str]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The raw results behind the tables, JSON-able, by benchmark name: saved to build/bench-results.json
    #: and drawn by `_bench_plots.py`.
    data: dict[str, Any] = field(default_factory=dict)
    #: Plots shown under the tables: (alt text, path relative to BENCHMARKS.md).
    images: list[tuple[str, str]] = field(default_factory=list)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), linear between the closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def fine_ms(seconds: float) -> str:
    """Milliseconds to two decimals: for figures near a loopback round trip."""
    return f"{seconds * 1000:.2f} ms"


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table for the terminal."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows
    ]
    rule = "  ".join("-" * width for width in widths)
    head = "  ".join(h.ljust(width) for h, width in zip(header, widths, strict=True))
    return "\n".join([head, rule, *lines])


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(row) for row in rows)])


FIGURE_HEADER = ["Figure", "Measured", "Target", "Met"]


def figure_rows(figures: Sequence[Figure]) -> list[list[str]]:
    return [[f.name, f.value, f.target or "—", f.verdict] for f in figures]
