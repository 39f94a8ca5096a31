"""Helpers of the batch tests: `ppio batch` as a subprocess, a sandbox here, and readers of its output."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from ppio_txt2img.sandbox import Sandbox

API_KEY = "sk-batch-test"
#: Tasks finish in a blink: fast processing, a short queue, many slots.
FAST: dict[str, Any] = {"speed": 50.0, "queue_delay": 0.05, "concurrency": 32, "seed": 11}
SMALL = ["--set", "width=128", "--set", "height=128", "--set", "steps=1"]


def write_prompts(path: Path, count: int, tag: str, **extra: Any) -> Path:
    """`count` lines, each with a prompt no other line (or test) has."""
    with path.open("w") as out:
        for i in range(1, count + 1):
            out.write(json.dumps({"prompt": f"line {i} of {tag}", **extra}) + "\n")
    return path


def manifest(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def journal_rows(out: Path) -> list[tuple[int, str, str | None]]:
    with sqlite3.connect(out / "journal.sqlite3") as db:
        return list(db.execute("SELECT line, status, task_id FROM lines ORDER BY line"))


def tasks_per_prompt(sandbox: Sandbox) -> Counter[str]:
    return Counter(str(info.request["request"]["prompt"]) for info in sandbox.tasks.values())


def assert_images_decode(out: Path, entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        assert entry["images"], entry
        for relative in entry["images"]:
            with Image.open(out / relative) as image:
                image.load()
                assert image.size == (128, 128)


def connection(url: str) -> list[str]:
    return ["--base-url", url, "--api-key", API_KEY]


class Child:
    """`ppio batch ...` as a child process (to be killed or interrupted); stderr kept in a file."""

    def __init__(self, argv: tuple[str, ...], log: Path) -> None:
        self.log = log
        command = [sys.executable, "-m", "ppio_txt2img", "batch", *argv, "-q"]
        with log.open("ab") as err:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout=timeout)

    def running(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


def start_batch(log: Path, *argv: str) -> Child:
    return Child(argv, log)


def wait_for(condition: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    """Poll until `condition()` holds (a bound against hanging, not a timing assertion)."""
    end = time.monotonic() + limit
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)
