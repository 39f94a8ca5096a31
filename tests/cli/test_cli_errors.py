"""Errors point the way: a command's usage error shows that command's usage, and input Python cannot
encode or a port that cannot be had give one line and exit status 2, never a traceback."""

from __future__ import annotations

import argparse
import socket
import subprocess

import pytest

import ppio_txt2img.cli as cli
from ppio_txt2img.cli._progress import Progress
from tests.cli.cli_helpers import PPIO, ppio_process


def test_an_unknown_option_of_a_command_shows_that_commands_usage(ppio: PPIO) -> None:
    run = ppio("task", "some-id", "--bogus")
    assert run.code == 2
    assert run.err.startswith("usage: ppio task ")
    assert "ppio task: error: unrecognized arguments: --bogus" in run.err
    models = ppio("models", "--sandbox", "extra")
    assert models.code == 2
    assert models.err.startswith("usage: ppio models ")


def test_sandbox_is_an_option_of_every_command(ppio: PPIO) -> None:
    for command in (["txt2img", "x"], ["wait", "x"], ["task", "x"], ["models"]):
        shown = ppio(*command[:1], "--help")
        assert shown.code == 0
        assert "--sandbox" in shown.out, command


def test_a_non_utf8_argument_is_one_line_and_exit_2(ppio: PPIO) -> None:
    run = ppio("txt2img", "caf\udce9", "--sandbox")  # how Python passes the bytes b"caf\xe9"
    assert run.code == 2
    assert run.err.splitlines() == [
        "ppio: error: argument b'caf\\xe9' is not valid UTF-8 text; ppio takes UTF-8 arguments "
        "(check the locale)"
    ]


def test_a_non_utf8_argument_in_a_real_process_gives_no_traceback() -> None:
    command = [arg.encode() for arg in ppio_process("task", "x", "--sandbox")]
    run = subprocess.run([*command[:-2], b"caf\xe9", b"--sandbox"], capture_output=True, timeout=60)
    assert run.returncode == 2
    assert b"Traceback" not in run.stderr
    assert run.stderr.count(b"\n") == 1
    assert b"not valid UTF-8" in run.stderr


def test_an_impossible_port_is_one_line_and_exit_2(ppio: PPIO) -> None:
    run = ppio("sandbox", "--port", "99999")
    assert run.code == 2
    assert run.err.splitlines() == ["ppio: error: --port '99999': expected a port from 0 to 65535"]


def test_a_port_in_use_is_one_line_and_exit_1(ppio: PPIO) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = ppio("sandbox", "--port", str(port))
    assert run.code == 1  # not bad input: the port is busy
    [line] = run.err.splitlines()
    assert line == f"ppio: error: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_an_unexpected_error_is_still_one_line(ppio: PPIO, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: argparse.Namespace, progress: Progress) -> int:
        raise RuntimeError("something ppio did not foresee")

    monkeypatch.setitem(cli._COMMANDS, "models", broken)
    run = ppio("models", "--sandbox")
    assert run.code == 1
    assert run.err.splitlines() == [
        "ppio: error: unexpected RuntimeError: something ppio did not foresee (please report this)"
    ]


@pytest.mark.parametrize("limit", ["0", "-1", "50001", "99999999999999999999"])
def test_a_models_limit_out_of_range_is_exit_2_naming_the_range(ppio: PPIO, limit: str) -> None:
    """A huge --limit ("all of them") was 'unexpected ValueError ... (please report this)', exit 1."""
    run = ppio("models", "--sandbox", "--limit", limit)
    assert run.code == 2
    assert f"--limit: {limit} is not allowed; allowed: an integer from 1 to 50000" in run.err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--guidance-scale", "-inf"],
            "request.guidance_scale: -inf is not a number; allowed: a number from 1",
        ),
        (
            ["--guidance-scale", "-nan"],
            "request.guidance_scale: nan is not a number; allowed: a number from 1",
        ),
        (["--guidance-scale", "-1e-3"], "request.guidance_scale: -0.001 is out of range; allowed: a number"),
        (["--lora", "detail:0.5", "--steps", "-1e3"], "argument --steps: invalid int value: '-1e3'"),
        (["--timeout", "-inf"], "timeout: -inf is not "),
        (["-n", "-1e9"], "argument -n/--image-num: invalid int value: '-1e9'"),
    ],
)
def test_a_negative_number_is_a_flags_value_not_a_flag(ppio: PPIO, flags: list[str], message: str) -> None:
    """argparse takes `-inf` or `-1e-3` for a flag ("expected one argument"): the value reaches the
    range check, which names the field and the flag, before anything is sent."""
    run = ppio("txt2img", "a cat", "--sandbox", *flags)
    assert run.code == 2
    assert "expected one argument" not in run.err
    assert message in run.err


def test_after_a_double_dash_a_negative_number_is_the_prompt(ppio: PPIO) -> None:
    run = ppio("txt2img", "--sandbox", "--width", "99999", "--", "-inf")
    assert run.code == 2  # the prompt was read ("-inf"), the width was checked
    assert "request.width: 99999 is out of range" in run.err
