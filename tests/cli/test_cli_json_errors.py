"""`--json` on failure: stdout holds one JSON object describing the error (its type, the message stderr
shows, the task id and the error's own fields), the human line still goes to stderr, the exit status is
the one without `--json`, and the API key appears nowhere. Run against sandboxes on loopback."""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import ppio_txt2img.cli as cli
from ppio_txt2img.cli._progress import Progress
from ppio_txt2img.sandbox import Sandbox
from tests.cli.cli_helpers import FAST, PPIO, Run, Served, ppio_process

#: The key every test passes: it must never reach stdout or stderr.
SECRET = "sk-json-errors-never-shown-5c1e9a"
KEY = ["--api-key", SECRET]
SMALL = ["--width", "256", "--height", "128", "--steps", "4"]
#: Every error object has these keys, whatever its type.
COMMON = {"type", "message", "task_id"}
API_STATUS = COMMON | {"status_code", "reason", "api_message", "metadata", "retry_after", "outcome_unknown"}


def strict_json(text: str) -> Any:
    """`text` parsed as strict JSON: one document, and no NaN or Infinity (which `jq` refuses)."""

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def failed(run: Run, code: int, error_type: str) -> dict[str, Any]:
    """The error object of a `--json` run that failed with `code`: stdout is exactly one JSON object,
    stderr ends with the same message as its human line, and the key is in neither."""
    assert run.code == code, (run.out, run.err)
    assert SECRET not in run.out
    assert SECRET not in run.err
    document = strict_json(run.out)
    assert set(document) == {"error", "exit_code"}
    assert document["exit_code"] == code
    error: dict[str, Any] = document["error"]
    assert error["type"] == error_type, error
    assert set(error) >= COMMON
    assert run.err.splitlines()[-1].endswith(f": {error['message']}")  # "ppio: error: ...", argparse's
    return error


@contextmanager
def sandbox_url(**config: Any) -> Iterator[str]:
    with Sandbox(**{**FAST, **config}).serve() as url:
        yield url


# ---------------------------------------------------------------------------------- the task itself
def test_a_failed_task_is_its_type_task_id_and_reason(ppio: PPIO, served: Served, tmp_path: Path) -> None:
    run = ppio("txt2img", "FAIL", "--base-url", served.url, *KEY, *SMALL, "-o", str(tmp_path), "--json")
    error = failed(run, 1, "TaskFailedError")
    assert set(error) == COMMON | {"reason"}
    assert error["task_id"] in served.sandbox.tasks
    assert error["reason"].startswith("ILLEGAL_PROMPT")


def test_a_timeout_gives_the_last_status_and_a_runnable_resume_command(ppio: PPIO, tmp_path: Path) -> None:
    with sandbox_url(speed=1.0, queue_delay=5.0) as url:  # queued past the 1 s timeout
        run = ppio(
            "txt2img", "a fox", "--base-url", url, *KEY, *SMALL, "-o", str(tmp_path),
            "--timeout", "1", "--json",
        )  # fmt: skip
    error = failed(run, 1, "WaitTimeoutError")
    assert set(error) == COMMON | {
        "last_status", "timeout", "early", "last_failure", "outcome_unknown", "resume_command"
    }  # fmt: skip
    assert error["last_status"] == "TASK_STATUS_QUEUED"
    assert (error["timeout"], error["early"], error["outcome_unknown"]) == (1, None, False)
    task_id = error["task_id"]
    assert error["resume_command"] == f"ppio wait {task_id} -o {tmp_path} --base-url {url}"
    assert "(and the same --api-key)" in error["message"]  # for the person; not in the command


def test_a_wait_that_cannot_reach_the_api_times_out_naming_the_last_failure(
    ppio: PPIO, unused_port_url: str, tmp_path: Path
) -> None:
    run = ppio(
        "wait", "some-task", "--base-url", unused_port_url, *KEY, "-o", str(tmp_path),
        "--timeout", "0.5", "--max-retries", "0", "--json",
    )  # fmt: skip
    error = failed(run, 1, "WaitTimeoutError")
    assert error["task_id"] == "some-task"
    assert "Connect" in error["last_failure"]


# ----------------------------------------------------------------------------------- the API refuses
OTHER_KEY: dict[str, Any] = {"accepted_api_keys": frozenset({"another-key"})}


def create_answers(status: int) -> dict[str, Any]:
    return {"error_rates": {"txt2img": {status: 1.0}}, "retry_after": 0}


@pytest.mark.parametrize(
    ("config", "argv", "error_type", "status_code", "outcome_unknown"),
    [
        (OTHER_KEY, ["models"], "AuthenticationError", 403, False),
        (OTHER_KEY, ["txt2img", "x"], "AuthenticationError", 403, False),
        (create_answers(429), ["txt2img", "x"], "RateLimitError", 429, False),
        (create_answers(503), ["txt2img", "x"], "ServerError", 503, True),  # a task may exist
        ({"error_rates": {"model": {500: 1.0}}}, ["models"], "ServerError", 500, False),
        ({}, ["task", "no-such-task"], "NotFoundError", 404, False),
    ],
)
def test_an_error_status_gives_status_reason_and_the_apis_message(
    ppio: PPIO,
    tmp_path: Path,
    config: dict[str, Any],
    argv: list[str],
    error_type: str,
    status_code: int,
    outcome_unknown: bool,
) -> None:
    with sandbox_url(**config) as url:
        out = ["-o", str(tmp_path)] if argv[0] == "txt2img" else []
        run = ppio(*argv, "--base-url", url, *KEY, "--max-retries", "0", *out, "--json")
    error = failed(run, 1, error_type)
    assert set(error) == API_STATUS
    assert error["status_code"] == status_code
    assert error["outcome_unknown"] is outcome_unknown
    assert error["reason"]
    assert error["api_message"]
    if status_code == 404:
        assert error["task_id"] == "no-such-task"
    if status_code == 429:
        assert error["retry_after"] == 0


def test_an_answer_that_breaks_the_spec_is_a_response_validation_error(ppio: PPIO, tmp_path: Path) -> None:
    with sandbox_url(response_overrides={"task_result": {"task.eta": "soon"}}) as url:
        run = ppio("txt2img", "a fox", "--base-url", url, *KEY, *SMALL, "-o", str(tmp_path), "--json")
    error = failed(run, 1, "APIResponseValidationError")
    assert set(error) == COMMON | {"status_code", "reason", "outcome_unknown"}
    assert error["status_code"] == 200
    assert error["task_id"]


# -------------------------------------------------------------------------------------- bad input
def test_an_out_of_range_option_gives_field_value_allowed_and_flag(ppio: PPIO, served: Served) -> None:
    before = served.txt2img_requests()
    run = ppio("txt2img", "a cat", "--base-url", served.url, *KEY, "--width", "99999", "--json")
    error = failed(run, 2, "ValidationError")
    assert error == {
        "type": "ValidationError",
        "message": error["message"],
        "task_id": None,
        "field": "request.width",
        "value": 99999,
        "allowed": "an integer from 128 to 2048",
        "problem": "is out of range",
        "option": "--width",
    }
    assert served.txt2img_requests() == before


def test_a_value_json_cannot_hold_is_shown_as_text(ppio: PPIO, served: Served) -> None:
    """`-inf` would be `-Infinity`, which is not JSON: stdout stays strict JSON."""
    run = ppio("txt2img", "a cat", "--base-url", served.url, *KEY, "--guidance-scale", "-inf", "--json")
    error = failed(run, 2, "ValidationError")
    assert (error["field"], error["value"]) == ("request.guidance_scale", "-inf")


def test_a_bad_api_key_is_refused_without_showing_it(ppio: PPIO, served: Served) -> None:
    run = ppio("task", "t1", "--base-url", served.url, "--api-key", f"{SECRET}\r\nX-Injected: 1", "--json")
    error = failed(run, 2, "ValidationError")
    assert (error["field"], error["value"]) == ("api_key", "<redacted>")


def test_no_api_key_is_a_usage_error(ppio: PPIO, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PPIO_API_KEY", raising=False)
    error = failed(ppio("models", "--json"), 2, "UsageError")
    assert set(error) == COMMON
    assert "no API key" in error["message"]


@pytest.mark.parametrize("json_flag", ["--json", "--js"])  # argparse takes an abbreviation
def test_an_argparse_usage_error_is_json_too(ppio: PPIO, json_flag: str) -> None:
    run = ppio("txt2img", "a cat", *KEY, "--width", "abc", json_flag)
    error = failed(run, 2, "UsageError")
    assert error["message"] == "argument --width: invalid int value: 'abc'"
    assert run.err.startswith("usage: ppio txt2img ")  # argparse's own report, unchanged


def test_after_a_double_dash_json_is_the_prompt_not_the_flag(ppio: PPIO) -> None:
    run = ppio("txt2img", *KEY, "--width", "abc", "--", "--json")
    assert run.code == 2
    assert run.out == ""


def test_a_non_utf8_argument_is_json_too(ppio: PPIO) -> None:
    run = ppio("task", "caf\udce9", *KEY, "--json")
    error = failed(run, 2, "UsageError")
    assert "not valid UTF-8" in error["message"]


@pytest.mark.parametrize(
    "key_words",
    [["--api-key", f"{SECRET}\udcff"], [f"--api-key={SECRET}\udcff"], ["--api", f"{SECRET}\udce9x"]],
)
def test_an_api_key_that_is_not_utf8_is_never_shown(ppio: PPIO, key_words: list[str]) -> None:
    run = ppio("task", "t1", *key_words, "--json")
    error = failed(run, 2, "UsageError")  # which also holds the key out of stdout and stderr
    assert "--api-key value is not valid UTF-8" in error["message"]


def test_json_with_a_value_is_argparses_json_flag_and_its_error_is_json(ppio: PPIO) -> None:
    run = ppio("txt2img", "a cat", *KEY, "--json=1")
    error = failed(run, 2, "UsageError")
    assert "--json" in error["message"]


# ------------------------------------------------------------------------- the network and images
def test_a_connection_refused_is_a_connection_error(ppio: PPIO, unused_port_url: str, tmp_path: Path) -> None:
    run = ppio(
        "txt2img", "a cat", "--base-url", unused_port_url, *KEY, "--max-retries", "0", "-o", str(tmp_path),
        "--json",
    )  # fmt: skip
    error = failed(run, 1, "APIConnectionError")
    assert error == {**error, "task_id": None, "outcome_unknown": False}
    assert set(error) == COMMON | {"outcome_unknown"}


def test_an_image_that_will_not_download_gives_its_index_status_and_the_images_that_arrived(
    ppio: PPIO, tmp_path: Path
) -> None:
    with sandbox_url(error_rates={"storage": {404: 1.0}}) as url:
        run = ppio("txt2img", "a cat", "--base-url", url, *KEY, *SMALL, "-o", str(tmp_path), "--json")
    error = failed(run, 1, "ImageError")
    assert set(error) == COMMON | {"index", "status_code", "reason", "images", "saved"}
    assert (error["index"], error["status_code"], error["images"], error["saved"]) == (0, 404, [], [])
    assert error["task_id"]


def test_a_missing_image_keeps_the_ones_that_arrived(ppio: PPIO, tmp_path: Path) -> None:
    with sandbox_url(missing_images=1) as url:
        run = ppio(
            "txt2img", "a cat", "--base-url", url, *KEY, *SMALL, "-n", "2", "-o", str(tmp_path), "--json"
        )
    error = failed(run, 1, "ImageError")
    assert error["index"] == 1
    [arrived] = error["images"]
    assert (arrived["index"], arrived["width"], arrived["height"]) == (0, 256, 128)
    assert "?" not in arrived["url"]  # the signed query is left out, as in a success
    [saved] = error["saved"]  # the image that arrived is paid for: it is saved, and the error says where
    assert Path(saved).parent == tmp_path
    assert Path(saved).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == [Path(saved).name]
    assert saved in error["message"]


def test_a_file_that_cannot_be_written_is_a_command_error_with_the_task_id(
    ppio: PPIO, served: Served, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = ppio(
        "txt2img", "a cat", "--base-url", served.url, *KEY, *SMALL, "-o", str(tmp_path),
        "--sheet", str(blocker / "sheet.png"), "--json",
    )  # fmt: skip
    error = failed(run, 1, "CommandError")
    assert error["task_id"] in served.sandbox.tasks
    saved = [tmp_path / f"{error['task_id']}-0.png"]  # the images were saved before the sheet failed
    assert error["saved"] == [str(path) for path in saved]
    assert error["message"].endswith(f"; the images were saved: {saved[0]}")
    assert saved[0].read_bytes()[:4] == b"\x89PNG"


def test_an_image_that_cannot_be_saved_says_how_to_fetch_it_again(
    ppio: PPIO, served: Served, tmp_path: Path
) -> None:
    (tmp_path / "out").mkdir()
    run = ppio(
        "txt2img", "a cat", "--base-url", served.url, *KEY, *SMALL, "-o", str(tmp_path / "out"), "--json"
    )
    assert run.code == 0, run.err  # (the directory takes files: the failure below is a later one's)
    task_id = strict_json(run.out)["task_id"]
    (tmp_path / "out" / f"{task_id}-0.png").unlink()
    (tmp_path / "out" / f"{task_id}-0.png").mkdir()  # in the way of the image's file
    again = ppio("wait", task_id, "--base-url", served.url, *KEY, "-o", str(tmp_path / "out"), "--json")
    error = failed(again, 1, "CommandError")
    assert error["message"].endswith(
        f"; the task is done: `ppio wait {task_id} -o DIR` fetches its images again"
    )


# ------------------------------------------------------------------------------- the rest of the CLI
def test_batch_reports_an_error_as_one_more_event_line(ppio: PPIO, tmp_path: Path) -> None:
    run = ppio("batch", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "out"), *KEY, "--json")
    assert run.code == 2
    [line] = run.out.splitlines()
    event = strict_json(line)
    assert set(event) == {"event", "error", "exit_code"}
    assert (event["event"], event["exit_code"], event["error"]["type"]) == ("error", 2, "UsageError")
    assert f"ppio: error: {event['error']['message']}" in run.err
    usage = ppio("batch", "in.jsonl", "-o", str(tmp_path / "out"), "--ipm", "x", "--json")
    assert strict_json(usage.out)["event"] == "error"


def test_an_unexpected_error_is_json_with_its_type(ppio: PPIO, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: argparse.Namespace, progress: Progress) -> int:
        raise RuntimeError("something ppio did not foresee")

    monkeypatch.setitem(cli._COMMANDS, "models", broken)
    error = failed(ppio("models", "--sandbox", "--json"), 1, "RuntimeError")
    assert error["message"].endswith("(please report this)")


def test_an_interruption_is_json_with_exit_status_130(ppio: PPIO, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(args: argparse.Namespace, progress: Progress) -> int:
        raise KeyboardInterrupt

    monkeypatch.setitem(cli._COMMANDS, "task", interrupted)
    error = failed(ppio("task", "t1", "--sandbox", "--json"), 130, "KeyboardInterrupt")
    assert error["resume_command"] is None  # no task id was received


def test_without_json_a_failure_prints_nothing_on_stdout(ppio: PPIO, served: Served, tmp_path: Path) -> None:
    run = ppio("txt2img", "FAIL", "--base-url", served.url, *KEY, *SMALL, "-o", str(tmp_path))
    assert (run.code, run.out) == (1, "")
    assert "failed: ILLEGAL_PROMPT" in run.err


def test_a_real_process_piped_gets_json_on_failure_and_never_the_key(served: Served, tmp_path: Path) -> None:
    """As a script runs it: `PPIO_API_KEY=... ppio txt2img ... --json | jq`."""
    command = ppio_process("txt2img", "FAIL", "--base-url", served.url, *SMALL, "-o", str(tmp_path), "--json")
    env = {**os.environ, "PPIO_API_KEY": SECRET}
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert run.returncode == 1
    assert SECRET not in run.stdout + run.stderr
    assert strict_json(run.stdout)["error"]["type"] == "TaskFailedError"
    assert "Traceback" not in run.stderr


def test_without_json_the_images_that_arrived_are_saved_and_named_on_stderr(
    ppio: PPIO, tmp_path: Path
) -> None:
    with sandbox_url(missing_images=1) as url:
        run = ppio("txt2img", "a cat", "--base-url", url, *KEY, *SMALL, "-n", "2", "-o", str(tmp_path))
    assert run.code == 1
    assert run.out == ""
    [saved] = tmp_path.iterdir()
    assert saved.name.endswith("-0.png")
    assert run.err.splitlines()[-1].endswith(f"; saved the 1 that arrived: {saved}")


def test_an_output_directory_that_takes_no_file_is_refused_before_anything_is_sent(
    ppio: PPIO, served: Served
) -> None:
    before = len(served.sandbox.tasks)
    run = ppio("txt2img", "a cat", "--base-url", served.url, *KEY, *SMALL, "-o", "/proc", "--json")
    error = failed(run, 2, "UsageError")
    assert error["message"].startswith("--output /proc: cannot write in the directory")
    assert len(served.sandbox.tasks) == before  # nothing bought


@pytest.mark.parametrize(
    "raised",
    [
        OSError(28, "No space left on device", "out/images/1-0.png"),
        sqlite3.OperationalError("database or disk is full"),
    ],
)
def test_a_full_disk_is_the_machines_error_not_a_bug_to_report(
    ppio: PPIO, monkeypatch: pytest.MonkeyPatch, raised: Exception
) -> None:
    def full(args: argparse.Namespace, progress: Progress) -> int:
        raise raised

    monkeypatch.setitem(cli._COMMANDS, "models", full)
    run = ppio("models", *KEY, "--json")
    error = failed(run, 1, type(raised).__name__)
    assert error["message"] == f"could not read or write a file: {raised}"
    assert "please report" not in run.err


def test_an_option_before_the_command_is_said_to_go_after_it(ppio: PPIO) -> None:
    run = ppio("--json", "txt2img", "a cat", *KEY)
    error = failed(run, 2, "UsageError")
    assert error["message"] == (
        "unrecognized arguments: --json (options go after the command: ppio txt2img ... --json)"
    )


def test_a_base_url_from_the_environment_is_blamed_on_the_environment(
    ppio: PPIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PPIO_BASE_URL", "ftp://example.test")
    error = failed(ppio("task", "t1", *KEY, "--json"), 2, "ValidationError")
    assert error["message"].endswith("(environment variable PPIO_BASE_URL)")
    assert error["option"] is None
    error = failed(
        ppio("task", "t1", *KEY, "--base-url", "ftp://example.test", "--json"), 2, "ValidationError"
    )
    assert (error["message"].endswith("(option --base-url)"), error["option"]) == (True, "--base-url")
