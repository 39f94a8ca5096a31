"""A sandbox in its own process, so that the server's work does not skew the client's timing.

The parent starts `python scripts/_bench_sandbox.py '<knobs as JSON>'`; the child builds
`Sandbox(**knobs)`, serves it on 127.0.0.1 (a free port) and prints one JSON line with the base URL.
Then it answers one JSON line per command read from stdin:

    tasks   {task_id: {"created_at", "started_at", "finished_at", "status"}} from `Sandbox.tasks`
    stats   {endpoint: requests received} from `Sandbox.stats`
    responses  {endpoint: {status: responses sent}} from `Sandbox.stats`
    cpu     {"cpu": seconds}, the sandbox process's `time.process_time()` so far
    quit    (or end of input) stops the server and exits

All times are the sandbox's `time.time()` values, comparable with the client's on the same machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any, Self

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class TaskRecord:
    """One task as the sandbox recorded it (wall-clock seconds)."""

    created_at: float
    started_at: float | None
    finished_at: float | None
    status: str
    webhook_sent_at: float | None = None  # when its webhook was sent (the light server records it)

    @property
    def duration(self) -> float | None:
        """Seconds from creation to the terminal status (queue delay included)."""
        return None if self.finished_at is None else self.finished_at - self.created_at


class SandboxProcess:
    """`with SandboxProcess(speed=10) as sandbox:` runs a sandbox in a child process; `sandbox.url`."""

    #: The child's script (`_bench_server.py` serves the same commands with a lighter server).
    script = __file__

    def __init__(self, **knobs: Any) -> None:
        self.knobs = dict(knobs)
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Self:
        self._process = subprocess.Popen(
            [sys.executable, self.script, json.dumps(self.knobs)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        hello = self._ask(None)
        self.url = str(hello["base_url"])
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.write("quit\n")
                process.stdin.close()
            process.wait(_STOP_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        finally:
            if process.stdout is not None:
                process.stdout.close()

    def _ask(self, command: str | None) -> dict[str, Any]:
        process = self._process
        if process is None or process.stdin is None or process.stdout is None:
            raise RuntimeError("the sandbox process is not running")
        if command is not None:
            process.stdin.write(command + "\n")
            process.stdin.flush()
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the sandbox process exited (code {process.poll()}) instead of answering")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def tasks(self) -> dict[str, TaskRecord]:
        """Every task the sandbox has seen, as it stands now."""
        return {task_id: TaskRecord(**fields) for task_id, fields in self._ask("tasks").items()}

    def stats(self) -> dict[str, int]:
        """Requests received per endpoint ("txt2img", "task_result", "storage", ...)."""
        return {name: int(count) for name, count in self._ask("stats").items()}

    def responses(self) -> dict[str, dict[int, int]]:
        """Responses sent per endpoint and status (e.g. the txt2img 429s)."""
        answer = self._ask("responses")
        return {name: {int(k): int(v) for k, v in counts.items()} for name, counts in answer.items()}

    def cpu(self) -> float:
        """CPU seconds the sandbox process has used so far (all its threads)."""
        return float(self._ask("cpu")["cpu"])


# ------------------------------------------------------------------------------- the child process
def reply(out: IO[str], value: Mapping[str, Any]) -> None:
    out.write(json.dumps(value) + "\n")
    out.flush()


def _cpu() -> dict[str, float]:
    return {"cpu": time.process_time()}


def answer_commands(answers: Mapping[str, Callable[[], Mapping[str, Any]]]) -> None:
    """The child's side of the protocol: one JSON line on stdout per command read from stdin
    (`tasks`, `stats`, `responses`, plus `cpu`), until `quit` or the end of stdin."""
    commands: dict[str, Callable[[], Mapping[str, Any]]] = {**answers, "cpu": _cpu}
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        answer = commands.get(command)
        reply(sys.stdout, answer() if answer else {"error": f"unknown command {command!r}"})


def serve(knobs: Mapping[str, Any]) -> None:
    """Serve `Sandbox(**knobs)` until stdin says quit (or closes)."""
    from ppio_txt2img.sandbox import Sandbox

    sandbox = Sandbox(**knobs)

    def tasks() -> dict[str, Any]:
        return {
            info.task_id: {
                "created_at": info.created_at,
                "started_at": info.started_at,
                "finished_at": info.finished_at,
                "status": info.status,
            }
            for info in sandbox.tasks.values()
        }

    with sandbox.serve() as base_url:
        reply(sys.stdout, {"base_url": base_url})
        answer_commands(
            {
                "tasks": tasks,
                "stats": lambda: {name: s.requests for name, s in sandbox.stats.items()},
                "responses": lambda: {name: dict(s.responses) for name, s in sandbox.stats.items()},
            }
        )


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
