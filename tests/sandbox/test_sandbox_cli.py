"""`ppio sandbox`: every knob has a flag, bad values are one line (exit 2), bind errors are one line."""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import selectors
import signal
import socket
import subprocess
import sys

import pytest

from ppio_txt2img import cli
from ppio_txt2img.sandbox import SandboxConfig, add_arguments, config_from_args
from tests.sandbox.sandbox_helpers import AUTH, raw_request


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_no_flags_give_the_default_config() -> None:
    assert config_from_args(parse()) == SandboxConfig()


def test_every_knob_has_a_flag() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    dests = {action.dest for action in parser._actions}
    assert {knob.name for knob in dataclasses.fields(SandboxConfig)} <= dests


def test_fault_and_timing_flags_become_the_config() -> None:
    args = parse(
        "--port", "0", "--api-key", "a", "--api-key", "b", "--seed", "3", "--speed", "4",
        "--eta-mode", "noisy", "--queue-delay", "0.1", "--concurrency", "2", "--image-url-ttl", "60",
        "--base-seconds", "0.2", "--seconds-per-megapixel-step", "0.1",
        "--webhook-retries", "1", "--webhook-timeout", "0.5",
        "--error-rate", "task_result:429=0.2", "--error-rate", "task_result:503=0.1",
        "--error-rate", "storage:500=0.05", "--retry-after", "none",
        "--drop-rate", "txt2img_after_create=0.3", "--drop-rate", "model=0.1",
        "--slow", "storage=0.5", "--truncated-image-rate", "0.25", "--unknown-status-seconds", "1.5",
        "--fail-rate", "0.1", "--fail-prompt", "BAD", "--fail-prompt", "WORSE",
    )  # fmt: skip
    assert config_from_args(args) == SandboxConfig(
        accepted_api_keys=frozenset({"a", "b"}),
        seed=3,
        speed=4,
        eta_mode="noisy",
        queue_delay=0.1,
        concurrency=2,
        image_url_ttl=60,
        base_seconds=0.2,
        seconds_per_megapixel_step=0.1,
        webhook_retries=1,
        webhook_timeout=0.5,
        error_rates={"task_result": {429: 0.2, 503: 0.1}, "storage": {500: 0.05}},
        retry_after=None,
        drop_rates={"txt2img_after_create": 0.3, "model": 0.1},
        slow_seconds={"storage": 0.5},
        truncated_image_rate=0.25,
        unknown_status_seconds=1.5,
        fail_rate=0.1,
        fail_prompts=("BAD", "WORSE"),
    )


def test_misbehaviour_flags_become_the_config() -> None:
    args = parse(
        "--compress", "model=gzip", "--compress", "task_result=deflate",
        "--drip", "storage=20000", "--redirect", "txt2img=other_host", "--redirect", "model=loop",
        "--redirect-status", "308",
        "--override", 'task_result:task.eta="soon"', "--override", "task_result:images.0.image_url=123",
        "--override", "txt2img:task_id=null", "--override", "task_result_finished:task.status=DONE",
        "--pad-bytes", "model=100000", "--missing-images", "1", "--image-size", "640x480",
        "--endless-model-pages",
    )  # fmt: skip
    assert config_from_args(args) == SandboxConfig(
        compression={"model": "gzip", "task_result": "deflate"},
        drip_bytes_per_second={"storage": 20000.0},
        redirects={"txt2img": "other_host", "model": "loop"},
        redirect_status=308,
        response_overrides={
            "task_result": {"task.eta": "soon", "images.0.image_url": 123},
            "txt2img": {"task_id": None},
            "task_result_finished": {"task.status": "DONE"},  # not JSON: taken as a string
        },
        pad_bytes={"model": 100000},
        missing_images=1,
        image_size_override=(640, 480),
        endless_model_pages=True,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "99999"], "--port '99999': expected a port from 0 to 65535"),
        (["--port", "http"], "--port 'http': expected a port"),
        (["--speed", "fast"], "--speed 'fast': expected a number"),
        (["--speed", "0"], "speed must be a positive number"),
        (
            ["--error-rate", "task_result:429"],
            "--error-rate 'task_result:429': expected ENDPOINT:STATUS=RATE",
        ),
        (["--error-rate", "task_result:429=1.5"], "error_rates['task_result'][429] must be between 0 and 1"),
        (["--error-rate", "txt2ing:429=0.1"], "error_rates: unknown endpoint 'txt2ing'"),
        (["--drop-rate", "model"], "--drop-rate 'model': expected ENDPOINT=RATE"),
        (["--retry-after", "soon"], "--retry-after 'soon': expected whole seconds or none"),
        (["--compress", "model=br"], "compression['model'] must be one of gzip, deflate"),
        (["--drip", "storage=0"], "drip_bytes_per_second['storage'] must be"),
        (["--redirect", "model=elsewhere"], "redirects['model'] must be one of same_host"),
        (["--redirect-status", "300"], "redirect_status must be one of 301, 302, 303, 307, 308"),
        (["--override", "task_result:task..eta=1"], "is not a dotted path"),
        (["--pad-bytes", "storage=10"], "pad_bytes: unknown endpoint 'storage'"),
        (["--image-size", "640"], "--image-size '640': expected WIDTHxHEIGHT"),
        (["--eta-mode", "sometimes"], "eta_mode must be one of exact, noisy, absent"),
    ],
)
def test_a_bad_value_is_one_line_naming_it_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["sandbox", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("ppio: error: ")
    assert message in line


def test_standalone_module_with_a_bad_port_exits_2_with_one_line_and_no_traceback() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "ppio_txt2img.sandbox", "--port", "99999"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert run.stderr.splitlines() == ["ppio sandbox: error: --port '99999': expected a port from 0 to 65535"]
    assert "Traceback" not in run.stderr


def test_a_port_in_use_exits_1_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["sandbox", "--port", str(port)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"ppio: error: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_an_unknown_host_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sandbox", "--host", "no-such-host.invalid", "--port", "0"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("ppio: error: cannot listen on no-such-host.invalid:0: unknown host")


def test_help_groups_the_flags_and_lists_every_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sandbox", "--help"]) == 0
    shown = capsys.readouterr().out
    for heading in ("server:", "tasks:", "faults:", "misbehaving gateways and servers:"):
        assert f"\n{heading}\n" in shown
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    for action in parser._actions:
        for flag in action.option_strings:
            assert flag in shown
    assert "(default: 307)" in shown  # defaults come from SandboxConfig


def test_the_command_serves_with_its_flags() -> None:
    """End to end: `python -m ppio_txt2img.sandbox` with misbehaviour flags, then Ctrl-C."""
    command = [
        sys.executable, "-m", "ppio_txt2img.sandbox", "--port", "0",
        "--compress", "model=gzip", "--redirect", "txt2img=other_host",
        "--error-rate", "task_result:503=1", "--retry-after", "none",
    ]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
        try:
            assert process.stdout is not None
            with selectors.DefaultSelector() as selector:
                selector.register(process.stdout, selectors.EVENT_READ)
                assert selector.select(timeout=30), "the sandbox did not start"
            line = process.stdout.readline()
            assert line.startswith("ppio sandbox listening on http://127.0.0.1:"), line
            url, other = line.split("listening on ", 1)[1].split(" (")[0].split(" and ")
            assert other.startswith("http://127.0.0.2:")
            models = raw_request(url + "/v3/model", headers={**AUTH, "Accept-Encoding": "gzip"})
            moved = raw_request(url + "/v3/async/txt2img", method="POST", headers=AUTH, body=b"{}")
            busy = raw_request(url + "/v3/async/task-result?task_id=x", headers=AUTH)
        finally:
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=30)
    assert json.loads(gzip.decompress(models.body))["models"]
    assert (moved.status, moved.headers["location"]) == (307, other + "/v3/async/txt2img")
    assert busy.status == 503
    assert "retry-after" not in busy.headers
    assert code == 0
