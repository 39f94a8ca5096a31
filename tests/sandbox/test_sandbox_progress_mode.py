"""`progress_mode="absent"` with `eta_mode="absent"`: a server that says nothing about how far a task is."""

from __future__ import annotations

import httpx

from ppio_txt2img.sandbox import Sandbox
from tests.loopback import TLS
from tests.sandbox.sandbox_helpers import AUTH, submit


def _answers(**knobs: object) -> list[dict[str, object]]:
    """The task's answers at 0 %, 25 %, 50 % and 75 % of its processing, and after it (a moved clock)."""
    now = [1000.0]
    sandbox = Sandbox(queue_delay=0.0, base_seconds=10.0, clock=lambda: now[0], seed=5, **knobs)  # type: ignore[arg-type]
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        task_id = submit(client)
        answers = []
        for _ in range(5):
            answers.append(client.get("/v3/async/task-result", params={"task_id": task_id}).json()["task"])
            now[0] += 3.0
        now[0] += 3600
        answers.append(client.get("/v3/async/task-result", params={"task_id": task_id}).json()["task"])
    return answers


def test_a_silent_server_reports_neither_eta_nor_progress_while_a_task_runs() -> None:
    answers = _answers(eta_mode="absent", progress_mode="absent")
    running = [a for a in answers if a["status"] == "TASK_STATUS_PROCESSING"]
    assert len(running) >= 3
    assert {(a["eta"], a["progress_percent"]) for a in running} == {(0, 0)}
    assert answers[-1]["status"] == "TASK_STATUS_SUCCEED"


def test_by_default_progress_rises_and_eta_falls() -> None:
    running = [a for a in _answers() if a["status"] == "TASK_STATUS_PROCESSING"]
    assert len(running) >= 3
    assert [a["progress_percent"] for a in running] == sorted(a["progress_percent"] for a in running)  # type: ignore[type-var]
    assert running[-1]["progress_percent"] > 0  # type: ignore[operator]
