"""Helpers of the CLI tests: what a `ppio` run produced, and a sandbox with its base URL."""

from __future__ import annotations

import json
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
