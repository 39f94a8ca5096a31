"""The benchmark plots (scripts/_bench_plots.py) draw from results shaped like bench.py saves them, so
`make bench` does not fail at its very end; and bench.py merges partial runs into its results file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import _bench_plots
import bench

POLLERS = ("facade (adaptive)", "fixed 0.5 s (novita-client)", "fixed 0.1 s (fal)")


def _polling() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for mode in ("exact", "noisy", "absent"):
        for k, poller in enumerate(POLLERS):
            delays = [0.02 + 0.01 * i + 0.1 * k for i in range(12)]
            rows.append(
                {
                    "mode": mode,
                    "poller": poller,
                    "delays": delays,
                    "polls": [8 + i for i in range(12)],
                    "lost": 0,
                }
            )
    return rows


def _scale(levels: int) -> list[dict[str, float]]:
    return [
        {
            "concurrency": 200 * 2**i,
            "wall": 4.5 + i,
            "ideal": 3.4 + i,
            "cpu_per_task": 0.011,
            "decode_per_task": 0.0002,
        }
        for i in range(levels)
    ]


def test_each_plot_is_a_png_and_the_scale_plot_takes_several_concurrency_levels(tmp_path: Path) -> None:
    results = {
        "polling": {
            "date": "today",
            "load": "other processes: 0.1 s (0 % of the machine)",
            "data": _polling(),
        },
        "scale": {"date": "today", "data": _scale(3)},
    }

    drawn = _bench_plots.draw(results, tmp_path)

    assert set(drawn) == {"polling", "scale"}
    for alt, path in drawn.values():
        assert alt
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.width > 600
            assert image.height > 300


def test_plots_are_drawn_only_for_the_benchmarks_that_have_data(tmp_path: Path) -> None:
    assert set(_bench_plots.draw({"scale": {"date": "", "data": _scale(1)}}, tmp_path)) == {"scale"}
    assert [p.name for p in tmp_path.iterdir()] == ["scale.png"]


def test_saved_results_are_merged_by_benchmark(tmp_path: Path) -> None:
    path = tmp_path / "build" / "bench-results.json"
    bench.save_results(path, {"polling": {"date": "day 1", "data": _polling()}})
    bench.save_results(path, {"scale": {"date": "day 1", "data": _scale(3)}})
    bench.save_results(path, {"scale": {"date": "day 2", "data": _scale(1)}})

    saved = json.loads(path.read_text())

    assert {k: v["date"] for k, v in saved.items()} == {"polling": "day 1", "scale": "day 2"}
    assert saved["scale"]["data"] == _scale(1)
