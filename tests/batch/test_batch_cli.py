"""`ppio batch`'s arguments, exit statuses, `--json` events and status line; `ppio sandbox --ipm`; one
batch per directory at a time."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ppio_txt2img.batch import BatchProgress, run_batch_sync
from ppio_txt2img.cli import main
from ppio_txt2img.cli._batch_progress import BatchDisplay, status_line
from ppio_txt2img.sandbox import Sandbox, add_arguments, config_from_args
from tests.batch.batch_helpers import (
    API_KEY,
    FAST,
    SMALL,
    connection,
    manifest,
    start_batch,
    tasks_per_prompt,
    wait_for,
    write_prompts,
)
from tests.faults.raw_server import Fault, FaultKit


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


@pytest.mark.parametrize("json_out", [False, True])
def test_the_batch_s_warnings_are_shown_by_its_display(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], json_out: bool
) -> None:
    """A create answer in the API's old V2 envelope: its warning is a `ppio: warning:` line of its own
    on stderr, or a `warning` event with --json (it was a bare log line, breaking the live progress line,
    and --json had nothing of it: /tmp/attack28, F3)."""
    source = write_prompts(tmp_path / "in.jsonl", 1, "the warning test")
    with FaultKit() as kit:
        created = kit.create_task()
        envelope = json.dumps({"code": 0, "msg": "", "data": {"task_id": created}}).encode()
        kit.on("submit", Fault(body=envelope))
        argv = ["batch", str(source), "-o", str(tmp_path / "out"), *SMALL, *connection(kit.url)]
        code = main([*argv, "--json"] if json_out else argv)
    assert code == 0
    captured = capsys.readouterr()
    said = f"line 1: the create answer named task {created} in the API's old V2 envelope"
    if json_out:
        events = [json.loads(line) for line in captured.out.splitlines()]
        warnings = [e["message"] for e in events if e["event"] == "warning"]
        assert len(warnings) == 1
        assert warnings[0].startswith(said)
        assert said not in captured.err
    else:
        shown = [line for line in captured.err.splitlines() if said in line]
        assert len(shown) == 1
        assert shown[0].startswith(f"ppio: warning: {said}")


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


#: A batch's progress a third of the way through, as the status line tests show it.
PROGRESS = BatchProgress(
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


def test_the_status_line_and_plain_reports() -> None:
    progress = PROGRESS
    assert status_line(progress) == (
        "[ 412/1000] 405 done · 3 failed · 4 unknown · 16 in flight · 19 img/min (limit 20) · 2x 429 · "
        "eta 29m40s"
    )
    stream = io.StringIO()
    display = BatchDisplay(stream, live=False, clock=lambda: 0.0)
    display.progress(progress)
    display.progress(progress)  # plain: at most one status line per 10 s
    assert stream.getvalue().count("\n") == 1


def test_the_live_status_line_fits_the_terminal_it_is_written_to(monkeypatch: pytest.MonkeyPatch) -> None:
    """Written to a 50-column terminal (stderr) while stdout is not one: the frames are cut to 49
    characters (they took the width from stdout, 100 by default, and wrapped on every redraw)."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    monkeypatch.delenv("COLUMNS", raising=False)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 50, 0, 0))
    progress = PROGRESS
    with open(slave, "w", encoding="utf-8", closefd=True) as terminal:
        BatchDisplay(terminal, live=True).progress(progress)
        written = os.read(master, 4096).decode()
    os.close(master)
    frame = written.replace("\x1b[K", "").lstrip("\r")
    assert frame == status_line(progress)[:49]


def test_the_sandbox_command_takes_an_ipm_and_a_minute() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = config_from_args(parser.parse_args(["--ipm", "20", "--minute", "6"]))
    assert (config.ipm, config.minute) == (20, 6.0)
    assert config_from_args(parser.parse_args([])).ipm is None


@pytest.mark.parametrize("suffix", [".txt", ".jsonl"])
def test_a_line_that_is_not_utf8_fails_alone_and_the_batch_goes_on_and_resumes(
    tmp_path: Path, ppio_batch: Callable[..., int], suffix: str
) -> None:
    """A Latin-1 "café" (one byte, 0xe9) in the input: that line is failed, naming the byte; the lines
    around it are done; a rerun finds nothing left to do (it stopped the whole batch for good, before)."""
    lines = [b"good one", "caf\xe9 au lait".encode("latin-1"), b"good three"]
    if suffix == ".jsonl":
        lines = [b'{"prompt": "' + line + b'"}' for line in lines]
    source = tmp_path / f"in{suffix}"
    source.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out"
    with Sandbox(**FAST).serve() as url:
        assert ppio_batch(str(source), "-o", str(out), *SMALL, *connection(url)) == 1
        entries = manifest(out)
        assert [(e["line"], e["status"]) for e in entries] == [(1, "done"), (2, "failed"), (3, "done")]
        assert entries[1]["error_field"] == "line"
        assert "not UTF-8 (0xe9)" in entries[1]["error"]
        assert ppio_batch(str(source), "-o", str(out), *SMALL, *connection(url)) == 1  # nothing to send
    assert manifest(out) == entries


def test_a_byte_order_mark_is_not_part_of_the_first_line(
    tmp_path: Path, ppio_batch: Callable[..., int]
) -> None:
    text, jsonl = tmp_path / "in.txt", tmp_path / "in.jsonl"
    text.write_bytes(b"\xef\xbb\xbfa fox\na cat\n")
    jsonl.write_bytes(b'\xef\xbb\xbf{"prompt": "a fox"}\n{"prompt": "a cat"}\n')
    with Sandbox(**FAST).serve() as url:
        for source in (text, jsonl):
            out = tmp_path / source.suffix[1:]
            assert ppio_batch(str(source), "-o", str(out), *SMALL, *connection(url)) == 0
            assert [e["prompt"] for e in manifest(out)] == ["a fox", "a cat"]


def test_a_prompt_with_a_lone_surrogate_from_python_fails_its_line_and_is_recorded(tmp_path: Path) -> None:
    """A `"\\ud800"` escape in a JSON line, or a lone surrogate in a prompt given from Python, is refused
    by validation; the record keeps the prompt with U+FFFD in its place (SQLite cannot store it)."""
    with Sandbox(**FAST).serve() as url:
        summary = run_batch_sync(["ok", "bad \ud800 one"], tmp_path, api_key=API_KEY, base_url=url)
    assert (summary.done, summary.failed) == (1, 1)
    failed = manifest(tmp_path)[1]
    assert (failed["prompt"], failed["error_field"]) == ("bad \ufffd one", "request.prompt")


def test_a_batch_whose_json_reader_goes_away_says_so_and_a_rerun_finishes_it(
    tmp_path: Path, ppio_batch: Callable[..., int]
) -> None:
    """`ppio batch --json | head -1`: the batch stops at its next event (it said nothing at all), with a
    line on stderr saying how to finish it; the rerun does, creating no task twice."""
    import subprocess
    import sys

    source = write_prompts(tmp_path / "in.jsonl", 6, "the pipe test")
    out = tmp_path / "out"
    sandbox = Sandbox(**{**FAST, "speed": 2.0, "concurrency": 1})  # one task at a time: events apart
    with sandbox.serve() as url:
        argv = [sys.executable, "-m", "ppio_txt2img", "batch", str(source), "-o", str(out), *SMALL, "--json"]
        child = subprocess.Popen([*argv, *connection(url)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert child.stdout is not None  # stdout=PIPE
        assert child.stdout.readline()  # the first event, then the reader goes away
        child.stdout.close()
        _, err = child.communicate(timeout=60)
        assert child.returncode == 1
        assert b"stdout was closed" in err
        assert b"rerun the same command to resume it" in err
        assert b"Traceback" not in err
        assert ppio_batch(str(source), "-o", str(out), *SMALL, *connection(url)) == 0
    assert [e["status"] for e in manifest(out)] == ["done"] * 6
    assert sorted(tasks_per_prompt(sandbox).values()) == [1] * 6  # no line bought twice


def test_json_events_escape_a_lone_surrogate_instead_of_crashing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`{"prompt": "a \\ud800 b"}` is valid JSON; with --json, its line's event could not be written
    (exit 2, the lines after it never run, on every rerun). Other non-ASCII text stays readable."""
    source = tmp_path / "in.jsonl"
    source.write_text('{"prompt": "a \\ud800 b"}\n{"prompt": "un café"}\n', encoding="utf-8")
    with Sandbox(**FAST).serve() as url:
        code = main(["batch", str(source), "-o", str(tmp_path / "out"), *SMALL, "--json", *connection(url)])
    assert code == 1
    out = capsys.readouterr().out
    out.encode("utf-8")  # what a UTF-8 stdout takes
    events = {e["line"]: e for e in map(json.loads, out.splitlines()) if e["event"] == "line"}
    assert (events[1]["status"], events[1]["prompt"]) == ("failed", "a \ud800 b")
    assert events[2]["status"] == "done"
    assert '"prompt": "un café"' in out


def test_an_interrupted_batch_on_the_in_process_sandbox_says_a_rerun_cannot_wait_for_its_tasks(
    tmp_path: Path,
) -> None:
    """Its tasks ended with the command's own sandbox: "rerun to resume" would fail every line as not
    found. A running `ppio sandbox` (or the API) keeps them: there, rerunning resumes."""
    from ppio_txt2img.batch._runner import BatchSummary
    from ppio_txt2img.cli._batch_progress import summary_lines

    stopped = BatchSummary(done=2, running=4, interrupted=True)
    in_process = summary_lines(stopped, tmp_path, in_process=True)[-1]
    assert "in-process sandbox" in in_process
    assert "--retry-failed --resubmit-unknown" in in_process
    assert "ppio sandbox" in in_process
    assert summary_lines(stopped, tmp_path)[-1] == (
        "interrupted: tasks in flight are in the journal; rerun the same command to resume"
    )


def test_the_summary_counts_the_tasks_unknown_lines_may_have_created(tmp_path: Path) -> None:
    """An unknown line's POST may have created a task (billed, no id came back): "21 tasks created"
    read as all that was bought when up to 27 existed (/tmp/newuser28, finding 9); and "1 tasks"."""
    from ppio_txt2img.batch._runner import BatchSummary
    from ppio_txt2img.cli._batch_progress import summary_lines

    first = summary_lines(BatchSummary(done=21, unknown=9, unknown_posted=6, submitted=21), tmp_path)[0]
    assert "21 tasks created (and up to 6 more: the unknown lines')," in first
    rerun = summary_lines(BatchSummary(done=21, unknown=9, submitted=0), tmp_path)[0]  # an earlier run's
    assert "; 0 tasks created, 0 POSTs" in rerun
    assert "; 1 task created, 0 POSTs" in summary_lines(BatchSummary(done=1, submitted=1), tmp_path)[0]
