"""A sandbox session: `ppio sandbox` says where it listens, so `--sandbox` on any command can use it.

    ppio sandbox                                  # terminal 1: serves until Ctrl-C
    ppio txt2img "a fox" --sandbox                # terminal 2: the tasks live in terminal 1's sandbox,
    ppio task TASK_ID --sandbox                   #   so later commands still find them

While it serves, `ppio sandbox` keeps a small JSON file (`{"base_url": ..., "pid": ...}`) at
`$PPIO_SANDBOX_STATE`, else `$XDG_RUNTIME_DIR/ppio/sandbox.json`, else `~/.cache/ppio/sandbox.json`,
and removes it when it stops. `--sandbox` uses the sandbox the file names when that one is alive (its
process exists and its port accepts a connection); otherwise it starts one in-process, whose tasks end
with the command. A stale file (a sandbox that was killed) is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["ENV_SANDBOX_STATE", "RunningSandbox", "find_running", "forget", "remember", "state_path"]

ENV_SANDBOX_STATE = "PPIO_SANDBOX_STATE"
_CONNECT_TIMEOUT = 0.5


@dataclass(frozen=True)
class RunningSandbox:
    """A `ppio sandbox` process that serves at `base_url`."""

    base_url: str
    pid: int


def state_path() -> Path:
    """Where `ppio sandbox` writes its address (see the module docstring)."""
    if override := os.environ.get(ENV_SANDBOX_STATE):
        return Path(override)
    if runtime := os.environ.get("XDG_RUNTIME_DIR"):
        return Path(runtime) / "ppio" / "sandbox.json"
    return Path.home() / ".cache" / "ppio" / "sandbox.json"


def remember(base_url: str, path: Path | None = None) -> Path:
    """Write this process's sandbox address to the state file (atomically); returns the file."""
    path = state_path() if path is None else path
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps({"base_url": base_url, "pid": os.getpid()}) + "\n")
    os.replace(temporary, path)
    return path


def forget(path: Path | None = None) -> None:
    """Remove the state file if it is still this process's (another sandbox may have taken it over)."""
    path = state_path() if path is None else path
    found = _read(path)
    if found is not None and found.pid == os.getpid():
        with contextlib.suppress(OSError):
            path.unlink()


def find_running(path: Path | None = None) -> RunningSandbox | None:
    """The sandbox the state file names, if it is alive; else None."""
    found = _read(state_path() if path is None else path)
    if found is None or not _process_exists(found.pid) or not _accepts_connections(found.base_url):
        return None
    return found


def _read(path: Path) -> RunningSandbox | None:
    try:
        data = json.loads(path.read_text())
        base_url, pid = data["base_url"], data["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(base_url, str) or not isinstance(pid, int) or isinstance(pid, bool):
        return None
    return RunningSandbox(base_url, pid)


def _process_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name == "nt":  # there, os.kill(pid, 0) would send Ctrl-C: rely on the port alone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    except OSError:
        return False
    return True


def _accepts_connections(base_url: str) -> bool:
    try:
        parts = urlsplit(base_url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return False
    if not host or port is None:
        return False
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT):
            return True
    except OSError:
        return False
