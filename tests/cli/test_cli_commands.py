"""`ppio task`, `ppio models`, `ppio sandbox`, and `ppio` as a real process (`python -m`, Ctrl-C)."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import ppio_txt2img as ppio_sdk
from ppio_txt2img.sandbox import Sandbox
from tests.cli.cli_helpers import API_KEY, FAST, PPIO, Served


def finished_task(served: Served, **options: Any) -> str:
    with ppio_sdk.Client(API_KEY, base_url=served.url) as client:
        return client.txt2img("a cat", width=256, height=128, steps=4, **options).task_id


def test_task_shows_one_look_at_a_finished_task(ppio: PPIO, served: Served) -> None:
    task_id = finished_task(served)
    run = ppio("task", task_id, *served.connection())
    assert run.code == 0, run.err
    rows = dict(re.split(r"\s+", line, maxsplit=1) for line in run.out.splitlines())
    assert rows["task"] == task_id
    assert rows["status"] == "done (TASK_STATUS_SUCCEED)"
    assert rows["progress"] == "100%"  # the API reports 0 once a task is done
    assert rows["images"].startswith("1 (URLs expire ")


def test_task_json_reports_status_and_urls_without_signature(ppio: PPIO, served: Served) -> None:
    task_id = finished_task(served, image_num=2)
    run = ppio("task", task_id, *served.connection(), "--json")
    assert run.code == 0, run.err
    task = run.json()
    assert set(task) == {"task_id", "status", "progress", "eta", "reason", "task_type", "seed", "images"}
    assert (task["task_id"], task["status"], task["reason"]) == (task_id, "TASK_STATUS_SUCCEED", None)
    assert task["progress"] == 100  # the API reports 0 once a task is done
    assert all(set(image) == {"url", "image_type", "expires_at"} for image in task["images"])
    assert len(task["images"]) == 2
    assert all("?" not in image["url"] for image in task["images"])


def test_task_of_a_failed_task_shows_the_reason_and_exits_0(ppio: PPIO, served: Served) -> None:
    with ppio_sdk.Client(API_KEY, base_url=served.url) as client:
        task_id = client.submit("FAIL", width=256, height=128, steps=4).id
        with pytest.raises(ppio_sdk.TaskFailedError):
            client.wait(task_id)
    run = ppio("task", task_id, *served.connection())
    assert run.code == 0
    assert "status   failed (TASK_STATUS_FAILED)" in run.out
    assert re.search(r"^reason   ILLEGAL_PROMPT", run.out, re.MULTILINE)


def test_task_unknown_id_exits_1_naming_the_task(ppio: PPIO, served: Served) -> None:
    run = ppio("task", "no-such-task", *served.connection())
    assert run.code == 1
    assert "404" in run.err
    assert run.err.count("no-such-task") == 1  # named, once: the API's message names it already


def test_models_table_lists_the_catalogue_with_filters(ppio: PPIO) -> None:
    run = ppio("models", "--sandbox", "--type", "checkpoint", "--sdxl")
    assert run.code == 0, run.err
    header, *rows = run.out.splitlines()
    assert header.split() == ["SD_NAME", "TYPE", "SDXL", "BASE_MODEL", "NAME"]
    assert rows
    assert all(row.split()[1:3] == ["checkpoint", "yes"] for row in rows)
    assert any(row.startswith("sd_xl_base_1.0.safetensors ") for row in rows)


def test_models_json_and_limit(ppio: PPIO, served: Served) -> None:
    run = ppio("models", *served.connection(), "--type", "lora", "--json")
    assert run.code == 0, run.err
    loras = run.json()
    assert len(loras) >= 2
    assert {m["type"] for m in loras} == {"lora"}
    assert set(loras[0]) == {
        "id", "name", "sd_name", "sd_name_in_api", "type", "is_sdxl", "base_model", "status", "tags"
    }  # fmt: skip

    limited = ppio("models", *served.connection(), "--type", "lora", "--json", "--limit", "1")
    assert limited.json() == loras[:1]
    assert "raise --limit" in limited.err


def test_models_bad_filter_exits_2_naming_it(ppio: PPIO, served: Served) -> None:
    run = ppio("models", *served.connection(), "--visibility", "secret")
    assert run.code == 2
    assert "filter.visibility: 'secret' is not allowed" in run.err
    assert "(option --visibility)" in run.err


def test_sandbox_command_uses_the_sandbox_argument_helpers(ppio: PPIO) -> None:
    run = ppio("sandbox", "--speed", "0")
    assert run.code == 2
    assert "speed must be a positive number" in run.err
    shown = ppio("sandbox", "--help")
    assert shown.code == 0
    assert "usage: ppio sandbox" in shown.out
    assert "--eta-mode" in shown.out


def test_usage_lists_every_command(ppio: PPIO) -> None:
    run = ppio("--help")
    assert run.code == 0
    for command in ("txt2img", "wait", "task", "models", "sandbox"):
        assert re.search(rf"^\s+{command}\s", run.out, re.MULTILINE), command


def cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "ppio_txt2img", *argv]


def with_ctrl_c(command: list[str]) -> list[str]:
    """`python -m ppio_txt2img ...` with Python's own Ctrl-C handler, even when this runner was started
    with SIGINT ignored (as `cmd &` does), which the child would otherwise inherit."""
    bootstrap = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv[0] = 'ppio'; runpy.run_module('ppio_txt2img', run_name='__main__', alter_sys=True)"
    )
    return [command[0], "-c", bootstrap, *command[3:]]


def test_python_m_runs_the_cli_as_a_process(served: Served, tmp_path: Path) -> None:
    run = subprocess.run(
        cli(
            "txt2img", "a fox", *served.connection(), "--width", "320", "--height", "256", "-o", str(tmp_path)
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    [line] = run.stdout.splitlines()
    path = Path(line.split("  ")[0])
    assert path.parent == tmp_path
    with Image.open(path) as image:
        assert image.size == (320, 256)
    assert "done: downloading 1 image" in run.stderr  # plain progress lines: stderr is not a terminal


def ctrl_c_once(url: str, out: Path, prompt: str, until: Callable[[str], bool]) -> tuple[int, str, str, str]:
    """`ppio txt2img PROMPT` against `url` as a process, sent Ctrl-C once a line of its stderr (plain
    progress: not a terminal) passes `until`: its exit status, that line, and the rest of its stdout and
    stderr."""
    command = with_ctrl_c(cli("txt2img", prompt, "--base-url", url, "--api-key", API_KEY, "-o", str(out)))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None  # stderr=PIPE
        seen = next((line for line in process.stderr if until(line)), "")
        process.send_signal(signal.SIGINT)
        out_text, err = process.communicate(timeout=30)
    finally:
        process.kill()
    return process.returncode, seen, out_text, err


@pytest.mark.skipif(os.name == "nt", reason="SIGINT delivery to a child process is POSIX-only here")
def test_ctrl_c_while_waiting_prints_the_task_id_and_how_to_resume_then_exits_130(tmp_path: Path) -> None:
    slow = Sandbox(**{**FAST, "speed": 0.05})  # the task would take minutes
    with slow.serve() as url:
        code, first, out, err = ctrl_c_once(url, tmp_path, "a slow fox", lambda line: True)
        created = re.fullmatch(r"task (\S+)\n", first)  # "task <id>": the task was created
        assert created is not None, first
        task_id = created.group(1)
        assert code == 130
        assert f"task {task_id} may still be running; resume with: ppio wait {task_id}" in err
        assert "Traceback" not in err
        assert out == ""
        assert slow.tasks[task_id].status in ("TASK_STATUS_QUEUED", "TASK_STATUS_PROCESSING")


def test_the_resume_command_after_a_timeout_resumes_where_the_images_were_going(
    ppio: PPIO, tmp_path: Path
) -> None:
    """The command printed after a timeout keeps what decides where the task is and where its images go
    (`-o`, `--sheet`, `--base-url`), names an `--api-key` flag without showing it, and has no Python hint;
    run as printed (with the key), it saves the images there."""
    out = tmp_path / "my images"
    slow = Sandbox(**{**FAST, "speed": 1.0, "queue_delay": 1.5})  # queued past the 1 s timeout
    with slow.serve() as url:
        run = ppio(
            "txt2img",
            "a fox",
            "--base-url",
            url,
            "--api-key",
            API_KEY,
            "-o",
            str(out),
            "--sheet",
            "--width",
            "128",
            "--height",
            "128",
            "--steps",
            "1",
            "--timeout",
            "1",
        )
        assert run.code == 1
        match = re.search(r"resume with: (ppio wait .*) \(and the same --api-key\)$", run.err.strip())
        assert match is not None, run.err
        assert "client.wait(" not in run.err
        assert API_KEY not in run.err
        argv = shlex.split(match.group(1))[1:]
        assert argv[argv.index("-o") + 1] == str(out)
        assert argv[argv.index("--base-url") + 1] == url
        resumed = ppio(*argv, "--api-key", API_KEY)
    assert resumed.code == 0, resumed.err
    saved = sorted(p.name for p in out.iterdir())
    assert len(saved) == 2, saved  # the image and its contact sheet
    assert any(name.endswith("-sheet.png") for name in saved), saved


@pytest.mark.parametrize("command", ["txt2img", "wait", "task", "models", "batch"])
def test_every_commands_help_states_its_exit_statuses(ppio: PPIO, command: str) -> None:
    run = ppio(command, "--help")
    assert run.code == 0
    assert "Exit status: 0 " in run.out
    assert "2 bad" in run.out


@pytest.mark.skipif(os.name == "nt", reason="SIGINT delivery to a child process is POSIX-only here")
def test_ctrl_c_while_downloading_says_the_task_succeeded(tmp_path: Path) -> None:
    """Interrupted once the task was done, during its image's download: the task "has succeeded", it is
    not "still running" (as the message said), and the resume command fetches the images."""
    slow_images = Sandbox(**{**FAST, "slow_seconds": {"storage": 60.0}})
    with slow_images.serve() as url:
        code, _, _, err = ctrl_c_once(
            url, tmp_path, "a fox", lambda line: line.startswith("done: downloading")
        )
    assert code == 130
    assert "has succeeded; its images were downloading; resume with: ppio wait" in err
    assert "may still be running" not in err
    assert "Traceback" not in err
