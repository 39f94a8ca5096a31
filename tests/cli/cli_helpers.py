"""Helpers of the CLI tests: what a `ppio` run produced, and a sandbox with its base URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Protocol

from ppio_txt2img.sandbox import Sandbox

API_KEY = "sk-cli-test"
#: Tasks finish in well under a second: fast processing, a short queue.
FAST: dict[str, Any] = {"speed": 50.0, "queue_delay": 0.05, "seed": 7}


@dataclass(frozen=True)
class Served:
    """A running sandbox: `connection()` gives the flags that point `ppio` at it."""

    sandbox: Sandbox
    url: str

    def connection(self) -> list[str]:
        return ["--base-url", self.url, "--api-key", API_KEY]

    def txt2img_requests(self) -> int:
        return self.sandbox.stats["txt2img"].requests


class PPIO(Protocol):
    """The `ppio` fixture: `ppio("txt2img", ...)` runs `main()` in-process."""

    def __call__(self, *argv: str) -> Run: ...


@dataclass(frozen=True)
class Run:
    """The exit status and output of one `ppio` run."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def ppio_process(*argv: str) -> list[str]:
    """The command line of `ppio ARGV` as a separate process."""
    return [sys.executable, "-m", "ppio_txt2img", *argv]


def run_in_terminal(argv: list[str], env: dict[str, str], *, limit: float = 120.0) -> tuple[int, str]:
    """Run `argv` with a pseudo-terminal as stdin, stdout and stderr; its exit status and everything it
    wrote there. `limit` only stops a hung process (the tests assert on counts, never on durations)."""
    import pty
    import select

    master, slave = pty.openpty()
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    stop_at = time.monotonic() + limit
    try:
        while time.monotonic() < stop_at:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the process closed the terminal (it exited)
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
        code = process.wait()
    return code, b"".join(chunks).decode("utf-8", "replace")


def screen(output: str) -> list[str]:
    """What a terminal shows after `output`: `\\r` returns to column 0, `ESC[K` clears to the end of the
    line, `\\n` starts a new line (a pty turns `\\n` into `\\r\\n`)."""
    lines: list[str] = [""]
    column = 0
    i = 0
    while i < len(output):
        if output.startswith("\x1b[K", i):
            lines[-1] = lines[-1][:column]
            i += 3
            continue
        char = output[i]
        if char == "\r":
            column = 0
        elif char == "\n":
            lines.append("")
            column = 0
        else:
            line = lines[-1]
            lines[-1] = line[:column] + char + line[column + 1 :]
            column += 1
        i += 1
    return lines
