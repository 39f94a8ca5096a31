"""A batch's output directory as `ppio batch` leaves it (MANIFEST-FORMAT.md), made with Pillow."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

COLOURS = ((220, 40, 40), (40, 180, 60), (40, 80, 220), (230, 200, 40), (150, 60, 200), (20, 160, 170))


@dataclass
class BatchOut:
    """OUT with its manifest lines; `images` counts the image files the done lines list."""

    path: Path
    lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def images(self) -> int:
        return sum(len(line["images"]) for line in self.lines)

    def count(self, status: str) -> int:
        return sum(1 for line in self.lines if line["status"] == status)

    def write_manifest(self, tail: str = "") -> None:
        """The manifest, one object per line; `tail` is appended as is (e.g. half a line)."""
        text = "".join(json.dumps(line) + "\n" for line in self.lines)
        (self.path / "manifest.jsonl").write_text(text + tail, encoding="utf-8")


def line(number: int, status: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "line": number,
        "status": status,
        "prompt": f"prompt of line {number}",
        "task_id": None,
        "seed": None,
        "images": [],
        "error": None,
        "error_field": None,
    }
    return {**base, **fields}


def write_image(
    out: Path, name: str, colour: tuple[int, int, int], size: tuple[int, int] = (512, 384)
) -> str:
    (out / "images").mkdir(parents=True, exist_ok=True)
    rel = f"images/{name}"
    Image.new("RGB", size, colour).save(out / rel)
    return rel


def make_batch_out(out: Path) -> BatchOut:
    """Done lines (one with two images, one JPEG), a failed line with its field, an unknown line, a line
    that did not parse, a running line, and half a last line (a manifest caught mid-write)."""
    batch = BatchOut(out)
    out.mkdir(parents=True, exist_ok=True)
    done = {1: 1, 2: 2, 4: 1, 7: 1}
    for number, count in done.items():
        ext = "jpg" if number == 4 else "png"
        images = [write_image(out, f"{number}-{i}.{ext}", COLOURS[(number + i) % 6]) for i in range(count)]
        batch.lines.append(line(number, "done", task_id=f"task-{number}", seed=1000 + number, images=images))
    batch.lines += [
        line(
            3,
            "failed",
            prompt='a <script>alert("x")</script> & co',
            error="request.width: 5000 is out of range; allowed: an integer from 128 to 2048",
            error_field="request.width",
        ),
        line(5, "unknown", error="the POST may have created a task but no id came back"),
        line(6, "failed", prompt=None, error="line 6 is not valid JSON: Expecting value"),
        line(8, "running", task_id="task-8"),
    ]
    batch.lines.sort(key=lambda entry: entry["line"])
    batch.write_manifest(tail='{"line": 9, "status": "do')
    return batch
