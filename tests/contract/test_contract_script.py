"""`ppio contract` (also `make contract`, `python -m ppio_txt2img.contract`) passes against the sandbox,
and says what it did.

It runs as a user would run it, in its own process, against `Sandbox().serve()` on loopback: free by
default (GETs only, and the report says nothing could have been billed), and with `--allow-billing` one
cheapest task whose result is then read through the spec's `GetTaskResult` link.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ppio_txt2img.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "contract-script-key"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[Sandbox, str]]:
    sandbox = Sandbox(accepted_api_keys=frozenset({API_KEY}), speed=50, queue_delay=0.0, seed=5)
    with sandbox.serve() as url:
        yield sandbox, url


def contract(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ppio_txt2img", "contract", "--base-url", url, "--rate", "50/s"]
    env = {"PATH": "/usr/bin:/bin", "PPIO_API_KEY": API_KEY}
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, check=False, timeout=300, env=env, cwd=ROOT
    )


def test_free_by_default_every_get_checked_and_nothing_billed(sandbox: tuple[Sandbox, str]) -> None:
    server, url = sandbox
    before = len(server.tasks)

    run = contract(url)

    assert run.returncode == 0, run.stdout + run.stderr
    report = run.stdout
    assert re.search(r"GET /v3/async/task-result +ok", report)
    assert re.search(r"GET /v3/model +ok", report)
    assert "link list_models -> NextPage" in report
    assert re.search(r"POST /v3/async/txt2img +skipped", report)
    assert "Billing: 0 tasks created, nothing could have been billed" in report
    assert "0 of 4 checks failed: passed" in report
    assert len(server.tasks) == before  # no task was created


def test_allow_billing_creates_one_cheapest_task_and_follows_the_link_to_its_result(
    sandbox: tuple[Sandbox, str],
) -> None:
    server, url = sandbox
    before = set(server.tasks)

    run = contract(url, "--allow-billing", "--examples", "3")

    assert run.returncode == 0, run.stdout + run.stderr
    [task_id] = set(server.tasks) - before
    request = server.tasks[task_id].request["request"]  # the whole body as submitted
    assert (request["width"], request["height"], request["image_num"], request["steps"]) == (128, 128, 1, 1)
    assert f"one task created: {task_id}" in run.stdout
    assert "link create_txt2img_task -> GetTaskResult" in run.stdout
    assert "last status TASK_STATUS_SUCCEED" in run.stdout
    assert "Billing: 1 task(s) created" in run.stdout


def test_the_billed_post_reaches_a_server_once_even_one_that_takes_any_key() -> None:
    """schemathesis's `ignored_auth` check sends the POST again without a key and with a wrong one: on a
    server that takes any key, `--allow-billing` created three tasks and reported one."""
    lax = Sandbox(speed=50, queue_delay=0.0, seed=7)  # takes any key
    with lax.serve() as url:
        run = contract(url, "--allow-billing", "--examples", "1")
    assert len(lax.tasks) == 1, run.stdout
    assert lax.stats["txt2img"].requests == 1
    assert "Billing: 1 task(s) created" in run.stdout


@pytest.mark.parametrize(
    ("knobs", "line", "failure"),
    [
        ({"fail_rate": 1.0}, "link GetTaskResult", "The task did not succeed"),
        ({"missing_images": 1}, "link GetTaskResult", "The result does not hold"),
        ({"truncated_image_rate": 1.0}, "link GetTaskResult", "The result does not hold"),
        (
            {"response_overrides": {"task_result": {"task.task_id": "another-task"}}},
            "link GetTaskResult",
            "The result does not hold",
        ),
        ({"error_rates": {"txt2img": {400: 1.0}}}, "POST /v3/async/txt2img", "A valid request was refused"),
    ],
)
def test_a_billed_task_that_does_not_end_in_usable_images_fails_the_contract(
    knobs: dict[str, Any], line: str, failure: str
) -> None:
    """The cheapest task must end TASK_STATUS_SUCCEED with its own id and one whole image of the size
    asked for: a server whose tasks fail, or whose results name another task, list no image or serve a
    truncated one, or that refuses the valid request, passed the schema checks alone."""
    broken = Sandbox(accepted_api_keys=frozenset({API_KEY}), speed=50, queue_delay=0.0, seed=8, **knobs)
    with broken.serve() as url:
        run = contract(url, "--allow-billing", "--examples", "1", "--wait", "20")
    assert run.returncode == 1, run.stdout
    assert re.search(rf"{re.escape(line)} +1 FAILED", run.stdout), run.stdout
    assert f"- {failure}" in run.stdout


def test_a_server_that_breaks_the_contract_fails_it_naming_the_check(sandbox: tuple[Sandbox, str]) -> None:
    broken = Sandbox(accepted_api_keys=frozenset({API_KEY}), error_rates={"model": {500: 1.0}}, seed=6)
    with broken.serve() as url:
        run = contract(url, "--examples", "3")

    assert run.returncode == 1
    assert re.search(r"GET /v3/model +1 FAILED", run.stdout)
    assert "Server error" in run.stdout
    assert "FAILED" in run.stdout.splitlines()[-1]


HELP_THEN_MODULES = """
import sys
from ppio_txt2img.cli import main
try:
    main(["contract", "--help"])
except SystemExit as exit:
    print("exit", exit.code)
print("schemathesis imported:", "schemathesis" in sys.modules)
"""


def test_its_help_is_read_without_importing_schemathesis() -> None:
    # schemathesis takes seconds to import: `--help`, and a usage error, must not wait for it.
    done = subprocess.run(
        [sys.executable, "-c", HELP_THEN_MODULES], capture_output=True, text=True, check=True
    )
    assert "--base-url" in done.stdout
    assert "exit 0" in done.stdout
    assert "schemathesis imported: False" in done.stdout


@pytest.mark.parametrize(
    ("status", "body", "problem"),
    [
        (
            403,
            b'{"code": 403, "reason": "INVALID_API_KEY", "message": "invalid api-key", "metadata": {}}',
            None,
        ),
        (200, b'{"task_id": "t"}', None),
        (502, b"<html>bad gateway</html>", None),  # no JSON: a gateway's page, not the API's body
        (400, b'{"code": 0, "msg": "bad", "data": null}', "whose code is 0"),  # the V2 envelope
        (401, b'{"error": {"message": "no key", "type": "auth"}}', "whose code is None"),  # OpenAI's shape
        (404, b'{"code": 404, "message": "not found"}', "without a reason"),
    ],
)
def test_an_error_body_is_held_to_the_documented_shape(status: int, body: bytes, problem: str | None) -> None:
    """The spec reads any error body (every key optional); the contract holds a server to REFERENCE §3:
    `code` is the status, and there is a `reason`."""
    from ppio_txt2img._contract_checks import error_body_problem

    found = error_body_problem(status, body)
    assert found is None if problem is None else (found is not None and problem in found), found
