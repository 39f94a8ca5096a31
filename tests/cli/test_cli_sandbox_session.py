"""`ppio sandbox` as a session: `--sandbox` on any command, in other processes, uses it, so a task made
by one command is found by the next. Without it, `--sandbox` starts an in-process sandbox, and an
unknown task id says what to do."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ppio_txt2img.cli._commands import IN_PROCESS, RUNNING, interrupted_message, resume_command
from ppio_txt2img.cli._session import find_running, remember, state_path
from tests.cli.cli_helpers import PPIO, ppio_process

pytestmark = pytest.mark.skipif(os.name == "nt", reason="SIGTERM to a child process is POSIX-only here")


def ppio_run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(ppio_process(*argv), capture_output=True, text=True, timeout=120, check=False)


@contextmanager
def running_sandbox(*options: str) -> Iterator[subprocess.Popen[str]]:
    """`ppio sandbox --port 0 OPTIONS` in its own process, once it listens (its state file written)."""
    process = subprocess.Popen(
        ppio_process("sandbox", "--port", "0", "--speed", "20", *options),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        first = process.stdout.readline()  # printed once it accepts connections
        assert "ppio sandbox listening on http://127.0.0.1:" in first, process.stderr.read()
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)


@pytest.fixture
def session(sandbox_state: Path) -> Iterator[subprocess.Popen[str]]:
    with running_sandbox("--queue-delay", "0.05", "--seed", "3") as process:
        yield process


def test_tasks_last_across_commands_with_a_running_sandbox(
    session: subprocess.Popen[str], sandbox_state: Path, tmp_path: Path
) -> None:
    state = json.loads(sandbox_state.read_text())
    assert state["pid"] == session.pid

    made = ppio_run("txt2img", "a lighthouse at dusk", "--sandbox", "--width", "256", "--height", "256",
                    "-n", "2", "-o", str(tmp_path / "first"), "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    task_id = json.loads(made.stdout)["task_id"]

    looked = ppio_run("task", task_id, "--sandbox", "--json")
    assert looked.returncode == 0, looked.stderr
    task = json.loads(looked.stdout)
    assert (task["task_id"], task["status"], task["progress"]) == (task_id, "TASK_STATUS_SUCCEED", 100)

    waited = ppio_run("wait", task_id, "--sandbox", "-o", str(tmp_path / "again"))
    assert waited.returncode == 0, waited.stderr
    saved = [Path(line.split("  ")[0]) for line in waited.stdout.splitlines()]
    assert [p.name for p in saved] == [f"{task_id}-0.png", f"{task_id}-1.png"]
    assert all(p.stat().st_size > 0 for p in saved)


def test_stopping_the_sandbox_removes_its_state_file(
    session: subprocess.Popen[str], sandbox_state: Path
) -> None:
    assert find_running() is not None
    session.send_signal(signal.SIGTERM)
    session.communicate(timeout=30)
    assert session.returncode == 0
    assert not sandbox_state.exists()
    assert find_running() is None


def test_a_second_sandbox_leaves_the_first_one_the_sandbox_option(
    session: subprocess.Popen[str], sandbox_state: Path
) -> None:
    """A second `ppio sandbox` took the state file over and removed it when it stopped: the first,
    still serving, was no longer found by --sandbox, which silently started an in-process one."""
    first = json.loads(sandbox_state.read_text())
    second = subprocess.Popen(
        ppio_process("sandbox", "--port", "0"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert second.stdout is not None
        assert "listening on" in second.stdout.readline()
        assert f"another ppio sandbox (pid {session.pid})" in second.stdout.readline()
        assert json.loads(sandbox_state.read_text()) == first
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=30)
    assert json.loads(sandbox_state.read_text()) == first  # still there, still the first's


def test_without_a_running_sandbox_an_unknown_task_says_how_to_keep_tasks(ppio: PPIO) -> None:
    run = ppio("task", "5b1e0c1e-0000-4000-8000-000000000000", "--sandbox")
    assert run.code == 1
    [line] = run.err.splitlines()
    assert "404" in line
    assert "start `ppio sandbox` in another terminal, then use --sandbox" in line
    waited = ppio("wait", "5b1e0c1e-0000-4000-8000-000000000000", "--sandbox")
    assert waited.code == 1
    assert "start `ppio sandbox` in another terminal" in waited.err


def test_a_stale_state_file_is_ignored(ppio: PPIO, sandbox_state: Path) -> None:
    sandbox_state.parent.mkdir(parents=True, exist_ok=True)
    sandbox_state.write_text(json.dumps({"base_url": "http://127.0.0.1:9", "pid": 2**22 + 12345}))
    assert find_running() is None
    remember("http://127.0.0.1:9")  # this process is alive, but nothing listens there
    assert find_running() is None
    run = ppio("models", "--sandbox", "--limit", "1")  # falls back to an in-process sandbox
    assert run.code == 0, run.err


def test_the_state_file_is_the_variable_else_the_runtime_dir_else_the_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PPIO_SANDBOX_STATE", str(tmp_path / "mine.json"))
    assert state_path() == tmp_path / "mine.json"
    monkeypatch.delenv("PPIO_SANDBOX_STATE")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    assert state_path() == tmp_path / "run" / "ppio" / "sandbox.json"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert state_path() == tmp_path / "home" / ".cache" / "ppio" / "sandbox.json"


def test_resuming_says_sandbox_when_a_running_sandbox_keeps_the_task() -> None:
    assert resume_command("t1", RUNNING) == "ppio wait t1 --sandbox"
    assert resume_command("t1", None) == "ppio wait t1"
    assert resume_command("t1", IN_PROCESS) is None
    assert "resume with: ppio wait t1 --sandbox" in interrupted_message("t1", RUNNING)
    assert "run `ppio sandbox` in another terminal" in interrupted_message("t1", IN_PROCESS)


@pytest.fixture
def keyed_session(sandbox_state: Path) -> Iterator[subprocess.Popen[str]]:
    """A running `ppio sandbox --api-key K`: it refuses any other key."""
    with running_sandbox("--api-key", "sk-session-key") as process:
        yield process


def test_a_keyed_running_sandbox_refusing_the_key_says_to_pass_the_same_api_key(
    keyed_session: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PPIO_API_KEY", "sk-session-key")  # never sent to the sandbox: said so
    refused = ppio_run("task", "some-task", "--sandbox")
    assert refused.returncode == 1
    assert "INVALID_API_KEY" in refused.stderr
    assert "pass the same --api-key" in refused.stderr
    assert "sk-session-key" not in refused.stderr
    taken = ppio_run("task", "some-task", "--sandbox", "--api-key", "sk-session-key")
    assert "INVALID_API_KEY" not in taken.stderr  # the key went through (the task is unknown: 404)
