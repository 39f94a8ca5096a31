"""`ppio batch` end to end against a sandbox in this process: resumes after SIGKILL and Ctrl-C without
buying anything twice, notices changed lines, records bad lines, and keeps to the rate limit (given or
learnt). Invariants are counted from the sandbox's own record of the tasks it created."""

from __future__ import annotations

import random
import sqlite3
import subprocess
from collections.abc import Callable
from functools import partial
from pathlib import Path

from ppio_txt2img.sandbox import Sandbox
from tests.batch.batch_helpers import (
    FAST,
    SMALL,
    Child,
    assert_images_decode,
    connection,
    journal_rows,
    manifest,
    start_batch,
    tasks_per_prompt,
    wait_for,
    write_prompts,
)


def test_killed_at_random_moments_then_resumed_every_line_is_done_once(tmp_path: Path) -> None:
    lines, kills = 40, 3
    source = write_prompts(tmp_path / "in.jsonl", lines, "the kill test")
    out, log = tmp_path / "out", tmp_path / "stderr.log"
    sandbox = Sandbox(**FAST)
    rng = random.Random(2024)
    killed = 0
    with sandbox.serve() as url:
        argv = [str(source), "-o", str(out), *SMALL, "--concurrency", "8", *connection(url)]
        for _ in range(kills):
            child = start_batch(log, *argv)
            wait_for(partial(_journal_or_exit, out, child), "the journal")
            try:
                child.wait(timeout=rng.uniform(0.05, 1.5))
            except subprocess.TimeoutExpired:
                child.kill()  # SIGKILL: no clean-up at all
                killed += 1
        final = start_batch(log, *argv)
        assert final.wait(timeout=120) in (0, 1), final.stderr()
        unknown = {e["line"] for e in manifest(out) if e["status"] == "unknown"}
        if unknown:  # killed mid-POST: not resent unless asked; asking may buy those lines twice
            again = start_batch(log, *argv, "--resubmit-unknown")
            assert again.wait(timeout=120) == 0, again.stderr()
        entries = manifest(out)
        created = tasks_per_prompt(sandbox)

    assert [e["line"] for e in entries] == list(range(1, lines + 1))
    assert all(e["status"] == "done" for e in entries)
    assert_images_decode(out, entries)
    for entry in entries:
        limit = 2 if entry["line"] in unknown else 1
        assert 1 <= created[entry["prompt"]] <= limit, entry
        assert sandbox.tasks[entry["task_id"]].request["request"]["prompt"] == entry["prompt"]
    assert killed >= 1  # the runs were cut short, not finished before the kill
    assert len(unknown) <= killed * 8  # at most the POSTs in flight at each kill


def test_ctrl_c_stops_cleanly_and_a_rerun_finishes(tmp_path: Path) -> None:
    source = write_prompts(tmp_path / "in.txt", 30, "the ctrl-c test")
    source = source.rename(tmp_path / "in.jsonl")
    out, log = tmp_path / "out", tmp_path / "stderr.log"
    sandbox = Sandbox(**{**FAST, "speed": 5.0})
    with sandbox.serve() as url:
        argv = [str(source), "-o", str(out), *SMALL, "--concurrency", "6", *connection(url)]
        child = start_batch(log, *argv)

        def some_running() -> bool:
            try:
                return any(e["status"] == "running" for e in manifest(out))
            except (OSError, ValueError):
                return False

        wait_for(some_running, "a running line in the manifest")
        child.interrupt()
        assert child.wait(timeout=60) == 130, child.stderr()
        rows = journal_rows(out)
        assert not any(status == "intent" for _, status, _ in rows)  # POSTs in flight got their answer
        waiting = [task_id for _, status, task_id in rows if status == "submitted"]
        assert all(task_id in sandbox.tasks for task_id in waiting)
        rerun = start_batch(log, *argv)
        assert rerun.wait(timeout=120) == 0, rerun.stderr()
        created = tasks_per_prompt(sandbox)
    entries = manifest(out)
    assert len(entries) == 30
    assert all(e["status"] == "done" for e in entries)
    assert all(created[e["prompt"]] == 1 for e in entries)


def test_a_changed_line_is_a_new_request(tmp_path: Path, ppio_batch: Callable[..., int]) -> None:
    source = write_prompts(tmp_path / "in.jsonl", 3, "the change test")
    out = tmp_path / "out"
    sandbox = Sandbox(**FAST)
    with sandbox.serve() as url:
        argv = [str(source), "-o", str(out), *SMALL, *connection(url)]
        assert ppio_batch(*argv) == 0
        before = {e["line"]: e for e in manifest(out)}
        text = source.read_text().replace("line 2 of", "line two of")
        source.write_text(text)
        assert ppio_batch(*argv) == 0
        assert ppio_batch(*argv) == 0  # and a third run changes nothing
        after = {e["line"]: e for e in manifest(out)}
        created = tasks_per_prompt(sandbox)
    assert len(created) == 4
    assert after[2]["prompt"] == "line two of the change test"
    assert after[2]["task_id"] != before[2]["task_id"]
    assert (after[1], after[3]) == (before[1], before[3])


def _texts(out: Path) -> dict[str, bytes]:
    """Each done line's prompt and the bytes of its first image."""
    return {e["prompt"]: (out / e["images"][0]).read_bytes() for e in manifest(out) if e["status"] == "done"}


def test_an_edited_input_buys_only_its_new_requests_and_keeps_every_paid_image(
    tmp_path: Path, ppio_batch: Callable[..., int]
) -> None:
    """Lines are journalled by number; a request that moves (a prompt added at the top, lines swapped,
    the file cut short then restored) is taken over where it lands, with its task and images. Each of
    these bought every moved line again, and deleted the images already paid for (/tmp/attack24/batch,
    finding 1)."""
    source = tmp_path / "in.txt"
    prompts = [f"prompt {i} of the edit test" for i in range(1, 6)]
    source.write_text("".join(f"{p}\n" for p in prompts))
    out = tmp_path / "out"
    sandbox = Sandbox(**FAST)
    with sandbox.serve() as url:
        argv = [str(source), "-o", str(out), *SMALL, *connection(url)]
        assert ppio_batch(*argv) == 0
        paid = _texts(out)
        new = "a new prompt at the top"
        for lines in (
            [new, *prompts],  # one line added at the top: every other line moves down one
            [prompts[2], prompts[0]],  # cut short, and reordered
            [new, *prompts],  # back again
            [*reversed(prompts), new],  # everything moved
        ):
            source.write_text("".join(f"{p}\n" for p in lines))
            assert ppio_batch(*argv) == 0
            entries = manifest(out)
            assert [(e["line"], e["prompt"], e["status"]) for e in entries] == [
                (i, p, "done") for i, p in enumerate(lines, start=1)
            ]
            texts = _texts(out)
            assert all(texts[p] == paid[p] for p in prompts if p in texts)  # the same images
        created = tasks_per_prompt(sandbox)
    assert sorted(created.values()) == [1] * 6  # the 5 prompts once, the new one once
    assert not any((out / "superseded").iterdir())  # every held image was taken back


def test_a_request_that_comes_back_takes_over_its_task_and_an_unknown_one_stays_unknown(
    tmp_path: Path, ppio_batch: Callable[..., int]
) -> None:
    """A line edited then edited back buys nothing the second time, its old images kept meanwhile in
    superseded/; a duplicate line is a request of its own; an unknown line moved is still not sent."""
    source = tmp_path / "in.jsonl"
    out = tmp_path / "out"
    sandbox = Sandbox(**FAST)
    with sandbox.serve() as url:
        argv = [str(source), "-o", str(out), *SMALL, *connection(url)]
        source.write_text('{"prompt": "first"}\n{"prompt": "second"}\n')
        assert ppio_batch(*argv) == 0
        paid = _texts(out)
        source.write_text('{"prompt": "first, edited"}\n{"prompt": "second"}\n')
        assert ppio_batch(*argv) == 0
        assert len(list((out / "superseded").rglob("*.png"))) == 1  # first's image, held
        source.write_text('{"prompt": "first"}\n{"prompt": "second"}\n{"prompt": "second"}\n')
        assert ppio_batch(*argv) == 0
        assert _texts(out)["first"] == paid["first"]
        created = tasks_per_prompt(sandbox)
        assert created == {"first": 1, "first, edited": 1, "second": 2}  # the duplicate is its own
        with sqlite3.connect(out / "journal.sqlite3") as db:  # line 3's POST may have created a task
            db.execute("UPDATE lines SET status = 'unknown', task_id = NULL WHERE line = 3")
        source.write_text('{"prompt": "second"}\n{"prompt": "first"}\n')
        assert ppio_batch(*argv) == 0  # line 1 takes over second's done task, line 2 first's
        source.write_text('{"prompt": "first"}\n{"prompt": "second"}\n{"prompt": "second"}\n')
        assert ppio_batch(*argv) == 1
        assert [e["status"] for e in manifest(out)] == ["done", "done", "unknown"]
        assert tasks_per_prompt(sandbox) == created  # nothing bought, the unknown line not resent


def test_bad_lines_are_failed_with_their_field_and_the_rest_is_done(
    tmp_path: Path, ppio_batch: Callable[..., int]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"prompt": "fine one"}\n{"prompt": "too wide", "width": 5000}\n{"width": 256}\n'
        'not json\n{"prompt": "fine two", "image_num": 2}\n{"prompt": "odd", "colour": "red"}\n'
    )
    out = tmp_path / "out"
    sandbox = Sandbox(**FAST)
    with sandbox.serve() as url:
        assert ppio_batch(str(source), "-o", str(out), *SMALL, *connection(url)) == 1
    entries = {e["line"]: e for e in manifest(out)}
    assert {line: e["status"] for line, e in entries.items()} == {
        1: "done",
        2: "failed",
        3: "failed",
        4: "failed",
        5: "done",
        6: "failed",
    }
    assert entries[2]["error_field"] == "request.width"
    assert "5000" in entries[2]["error"]
    assert entries[3]["error_field"] == "request.prompt"
    assert entries[4]["error_field"] == "line"
    assert entries[6]["error_field"] == "colour"
    assert len(entries[5]["images"]) == 2
    assert len(sandbox.tasks) == 2  # no request for a bad line


def test_without_ipm_the_limit_is_learnt_from_429s(tmp_path: Path, ppio_batch: Callable[..., int]) -> None:
    source = write_prompts(tmp_path / "in.jsonl", 32, "the learning test")
    out = tmp_path / "out"
    sandbox = Sandbox(**FAST, ipm=8, minute=1.0)
    with sandbox.serve() as url:
        argv = [str(source), "-o", str(out), *SMALL, "--ipm-window", "1", *connection(url)]
        assert ppio_batch(*argv, "--concurrency", "16") == 0
    stats = sandbox.stats["txt2img"]
    assert len(sandbox.tasks) == 32
    assert stats.count(429) <= 12  # learnt, not hammered: a few per window's worth at most
    assert stats.count(429) >= 1  # it did have to learn


def test_with_ipm_no_window_holds_more_images_than_allowed(
    tmp_path: Path, ppio_batch: Callable[..., int]
) -> None:
    source = write_prompts(tmp_path / "in.jsonl", 24, "the ipm test")
    with source.open("a") as more:
        more.write('{"prompt": "two at once", "image_num": 2}\n' * 4)
    out = tmp_path / "out"
    sandbox = Sandbox(**FAST)  # no limit of its own: only the batch's pacing holds it back
    with sandbox.serve() as url:
        argv = [str(source), "-o", str(out), *SMALL, "--ipm", "6", "--ipm-window", "0.5", *connection(url)]
        assert ppio_batch(*argv, "--concurrency", "16") == 0
    accepted = sorted(
        (info.created_at, int(info.request["request"]["image_num"])) for info in sandbox.tasks.values()
    )
    assert len(accepted) == 28
    for start, _ in accepted:
        assert sum(n for at, n in accepted if start <= at < start + 0.5) <= 6


def _journal_or_exit(out: Path, child: Child) -> bool:
    return (out / "journal.sqlite3").exists() or not child.running()
