"""Fixtures of the CLI tests: a fast sandbox on a real socket, and `ppio` run in-process.

Most tests point `--base-url` at one module-wide sandbox (so they can read its counters); a few use
`--sandbox`, the emulator the CLI starts itself.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ppio_txt2img.cli import main
from ppio_txt2img.cli._session import ENV_SANDBOX_STATE
from ppio_txt2img.sandbox import Sandbox
from tests.cli.cli_helpers import FAST, PPIO, Run, Served


@pytest.fixture(autouse=True)
def sandbox_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test has its own sandbox state file (none exists at first), so a `ppio sandbox` the
    developer runs never answers a test's `--sandbox`; subprocesses inherit the variable."""
    path = tmp_path_factory.mktemp("state") / "sandbox.json"
    monkeypatch.setenv(ENV_SANDBOX_STATE, str(path))
    return path


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    sandbox = Sandbox(**FAST)
    with sandbox.serve() as url:
        yield Served(sandbox, url)


@pytest.fixture(scope="module")
def queued_served() -> Iterator[Served]:
    """A sandbox whose tasks stay queued for a second: long enough for the first poll to see it."""
    sandbox = Sandbox(**{**FAST, "queue_delay": 1.0})
    with sandbox.serve() as url:
        yield Served(sandbox, url)


@pytest.fixture
def ppio(capsys: pytest.CaptureFixture[str]) -> PPIO:
    """`ppio("txt2img", ...)` runs `main()` in-process; returns its exit status, stdout and stderr."""

    def run(*argv: str) -> Run:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def unused_port_url() -> str:
    """A loopback URL nothing listens on: a request there fails at once with a connection error."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
