"""Helpers of the Ray engine's tests: requests, and what the sandbox recorded."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ppio_txt2img.sandbox import Sandbox

API_KEY = "sk-ray-test"
SMALL: dict[str, Any] = {"width": 128, "height": 128, "steps": 1}


def requests(count: int, tag: str, **extra: Any) -> list[dict[str, Any]]:
    """`count` requests, each with a prompt of its own."""
    return [{"prompt": f"{tag} #{i}", **SMALL, **extra} for i in range(1, count + 1)]


def created_per_prompt(sandbox: Sandbox) -> Counter[str]:
    """Tasks the sandbox created (paid for), by prompt."""
    return Counter(str(info.request["request"]["prompt"]) for info in sandbox.tasks.values())


def read_manifest(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def most_images_in_a_window(sandbox: Sandbox, window: float) -> int:
    """The most images the sandbox accepted (created tasks for) within any `window` seconds."""
    stamps = sorted(
        (info.created_at, int(info.request["request"]["image_num"])) for info in sandbox.tasks.values()
    )
    return max(sum(n for at, n in stamps if start <= at < start + window) for start, _ in stamps)
