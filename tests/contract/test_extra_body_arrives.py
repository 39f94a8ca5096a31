"""The escape hatches against the sandbox on loopback: a field the SDK does not know arrives in the
task the server created; `extra_headers` reach the API and not the image host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ppio_txt2img as ppio
from ppio_txt2img.cli import main
from ppio_txt2img.sandbox import Sandbox

SMALL: ppio.RequestOptions = {"width": 128, "height": 128, "steps": 2}


def test_extra_body_reaches_the_server_and_the_task_is_made() -> None:
    sandbox = Sandbox(speed=20, queue_delay=0.0, seed=1, unknown_fields="accept")
    extra = {"request": {"new_field": 1}, "extra": {"enterprise_plan": {"enabled": True}}}
    with sandbox.serve() as url, ppio.Client("k", base_url=url) as client:
        generation = client.txt2img("a fox", **SMALL, extra_body=extra, extra_headers={"X-Trace": "t-1"})
    request = sandbox.tasks[generation.task_id].request
    assert request["request"]["new_field"] == 1
    assert request["extra"]["enterprise_plan"] == {"enabled": True}
    assert request["request"]["prompt"] == "a fox"
    assert sandbox.storage_requests_with_authorization == 0


def test_a_strict_sandbox_refuses_the_unknown_field_by_name() -> None:
    sandbox = Sandbox(speed=20, queue_delay=0.0, seed=1)  # the default: strict, as the spec says
    with (
        sandbox.serve() as url,
        ppio.Client("k", base_url=url) as client,
        pytest.raises(ppio.APIStatusError) as info,
    ):
        client.submit("a fox", **SMALL, extra_body={"request": {"new_field": 1}})
    assert info.value.status_code == 400
    assert "request.new_field" in str(info.value)


def test_the_cli_sends_extra_body(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = Sandbox(speed=20, queue_delay=0.0, seed=2, unknown_fields="accept")
    with sandbox.serve() as url:
        code = main(
            [
                "txt2img", "a fox", "--width", "128", "--height", "128", "--steps", "2", "-q", "--json",
                "-o", str(tmp_path), "--base-url", url, "--api-key", "k",
                "--extra-body", '{"request": {"new_field": "from the shell"}}',
            ]
        )  # fmt: skip
    assert code == 0
    task_id = json.loads(capsys.readouterr().out)["task_id"]
    assert sandbox.tasks[task_id].request["request"]["new_field"] == "from the shell"
