"""`ppio batch`'s arguments, exit statuses, `--json` events and status line; `ppio sandbox --ipm`; one
batch per directory at a time."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ppio_txt2img.batch import BatchProgress
from ppio_txt2img.cli import main
from ppio_txt2img.cli._batch_progress import BatchDisplay, status_line
from ppio_txt2img.sandbox import Sandbox, add_arguments, config_from_args
from tests.batch.batch_helpers import FAST, SMALL, connection, start_batch, wait_for, write_prompts


def test_json_emits_one_event_per_line_then_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_prompts(tmp_path / "in.jsonl", 3, "the json test")
    with Sandbox(**FAST).serve() as url:
        code = main(["batch", str(source), "-o", str(tmp_path / "out"), *SMALL, "--json", *connection(url)])
    assert code == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    lines = [e for e in events if e["event"] == "line"]
    assert sorted(e["line"] for e in lines) == [1, 2, 3]
    assert all(e["status"] == "done" and e["images"] for e in lines)
    assert events[-1]["event"] == "summary"
    assert (events[-1]["done"], events[-1]["exit_code"]) == (3, 0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.jsonl"], "cannot read the input"),
        (["{input}", "--set", "width"], "KEY=VALUE"),
        (["{input}", "--set", "width=5000"], "request.width"),
        (["{input}", "--ipm", "0"], "--ipm"),
        (["{input}", "--concurrency", "0"], "--concurrency"),
    ],
)
def test_bad_arguments_exit_2_before_anything_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    source = write_prompts(tmp_path / "in.jsonl", 1, "the usage test")
    argv = [a.replace("{input}", str(source)) for a in argv]
    code = main(
        ["batch", *argv, "-o", str(tmp_path / "out"), "--base-url", "http://127.0.0.1:9", "--api-key", "k"]
    )
    assert code == 2
    assert message in capsys.readouterr().err


def test_a_second_batch_in_the_same_directory_is_refused(
    tmp_path: Path, ppio_batch: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_prompts(tmp_path / "in.jsonl", 4, "the lock test")
    out = tmp_path / "out"
    with Sandbox(**{**FAST, "speed": 0.5}).serve() as url:  # slow tasks: the first run is still going
        argv = [str(source), "-o", str(out), *SMALL, *connection(url)]
        first = start_batch(tmp_path / "first.log", *argv)
        try:
            wait_for(lambda: (out / "manifest.jsonl").exists(), "the first run's manifest")
            assert ppio_batch(*argv) == 2
        finally:
            first.interrupt()
            first.wait(timeout=60)
    assert "another batch is running" in capsys.readouterr().err


def test_the_status_line_and_plain_reports() -> None:
    progress = BatchProgress(
        done=405,
        failed=3,
        unknown=4,
        in_flight=16,
        ipm=19,
        limit=20,
        rate_limited=2,
        elapsed=60.0,
        eta=1780.0,
        total=1000,
    )
    assert status_line(progress) == (
        "[ 412/1000] 405 done · 3 failed · 4 unknown · 16 in flight · 19 img/min (limit 20) · 2x 429 · "
        "eta 29m40s"
    )
    stream = io.StringIO()
    display = BatchDisplay(stream, live=False, clock=lambda: 0.0)
    display.progress(progress)
    display.progress(progress)  # plain: at most one status line per 10 s
    assert stream.getvalue().count("\n") == 1


def test_the_sandbox_command_takes_an_ipm_and_a_minute() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = config_from_args(parser.parse_args(["--ipm", "20", "--minute", "6"]))
    assert (config.ipm, config.minute) == (20, 6.0)
    assert config_from_args(parser.parse_args([])).ipm is None
