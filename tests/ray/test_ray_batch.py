"""Batches on a real local Ray cluster against the sandbox: two workers share one account-wide limit,
a worker killed mid-run costs no line twice and loses no image, and the output is a local batch's."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ppio_txt2img.batch import BatchProgress, BatchSummary, run_batch_sync
from ppio_txt2img.batch.ray import RayBatch
from ppio_txt2img.sandbox import Sandbox
from tests.faults.raw_server import Fault, FaultKit
from tests.ray.ray_helpers import (
    API_KEY,
    created_per_prompt,
    most_images_in_a_window,
    read_manifest,
    requests,
)

#: Tasks finish in a blink: fast processing, a short queue, many slots.
FAST: dict[str, Any] = {"speed": 50.0, "queue_delay": 0.05, "concurrency": 32, "seed": 7}


def test_two_workers_together_keep_under_the_account_limit(cluster: None, tmp_path: Path) -> None:
    limit, window = 12, 1.0  # 12 images per (sped-up) minute of 1 s, for the whole account
    lines = [*requests(20, "the shared limit"), *requests(3, "two at once", image_num=2)]
    sandbox = Sandbox(**FAST, ipm=limit, minute=window)  # enforces the same limit, answering 429
    out = tmp_path / "ray"
    with sandbox.serve() as url:
        batch = RayBatch(
            out, api_key=API_KEY, base_url=url, workers=2, concurrency=8, ipm=limit, window=window
        )
        summary = batch.run(lines)
        refused = sandbox.stats["txt2img"].count(429)
        created = created_per_prompt(sandbox)
        busiest = most_images_in_a_window(sandbox, window)
        # The same lines on one machine, for the form of the output.
        local = run_batch_sync(
            lines, tmp_path / "local", api_key=API_KEY, base_url=url, ipm=limit, window=window
        )
        # And the one-machine engine resumes the Ray batch: the same journal, nothing left to do.
        again = run_batch_sync(lines, out, api_key=API_KEY, base_url=url, ipm=limit, window=window)

    assert (summary.done, summary.images, summary.exit_code) == (23, 26, 0)
    assert len([pid for pid in batch.lines_by_worker if pid != os.getpid()]) == 2  # both workers ran lines
    assert refused == 0  # the account-wide pacer, not the server, held the two workers back
    assert busiest <= limit
    assert len(created) == 23
    assert all(count == 1 for count in created.values())
    assert (again.resumed, again.submitted) == (23, 0)
    assert local.done == 23

    entries, local_entries = read_manifest(out), read_manifest(tmp_path / "local")
    assert [e["line"] for e in entries] == list(range(1, 24))

    def form(entry: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in entry.items() if k not in ("task_id", "seed")}

    assert [form(e) for e in entries] == [form(e) for e in local_entries]
    assert all((out / image).stat().st_size > 0 for e in entries for image in e["images"])


def test_a_worker_waits_for_the_task_a_refused_create_answer_names(cluster: None, tmp_path: Path) -> None:
    """A raw server answers the first POST in the API's old V2 envelope: the SDK refuses the answer,
    but its error names the task it created; the worker waits for it as a one-machine batch does, and
    the line is POSTed once."""
    with FaultKit() as kit:
        created = kit.create_task()  # what the first POST created (a scripted body creates none)
        envelope = json.dumps({"code": 0, "msg": "", "data": {"task_id": created}}).encode()
        kit.on("submit", Fault(body=envelope), Fault())
        batch = RayBatch(tmp_path, api_key=API_KEY, base_url=kit.url, workers=1, concurrency=1)
        summary = batch.run(requests(2, "envelope"))
        posts = len(kit.seen("submit"))
    assert (summary.done, summary.unknown, summary.exit_code) == (2, 0, 0)
    assert posts == 2
    first, second = read_manifest(tmp_path)
    assert (first["task_id"], first["status"], second["status"]) == (created, "done", "done")
    assert [first["images"], second["images"]] == [["images/1-0.png"], ["images/2-0.png"]]


def test_a_task_with_fewer_images_than_asked_fails_its_line_on_ray_too(cluster: None, tmp_path: Path) -> None:
    """As on one machine: 1 of 2 images listed is a failed line, the image that came kept as its own."""
    with Sandbox(**FAST, missing_images=1).serve() as url:
        batch = RayBatch(tmp_path, api_key=API_KEY, base_url=url, workers=1, concurrency=2)
        summary = batch.run(requests(1, "fewer", image_num=2))
    assert (summary.done, summary.failed, summary.images, summary.exit_code) == (0, 1, 1, 1)
    (entry,) = read_manifest(tmp_path)
    assert entry["status"] == "failed"
    assert entry["error"].startswith("the task succeeded with 1 of 2 images")
    assert entry["images"] == ["images/1-0.png"]
    assert (tmp_path / "images" / "1-0.png").stat().st_size > 0


def run_and_kill(
    out: Path, count: int, tag: str, victim: Callable[[RayBatch], int], **options: Any
) -> tuple[RayBatch, BatchSummary, Sandbox, list[int]]:
    """A batch of `count` lines whose process `victim(batch)` is SIGKILLed once at least a third of the
    tasks exist (tasks of 1.25 s: lines are waiting). Returns the batch, its summary, the sandbox and
    [the pid killed, the lines in flight at the first worker then]."""
    sandbox = Sandbox(**{**FAST, "speed": 0.4})
    killed: list[int] = []

    def kill_while_tasks_wait(progress: BatchProgress) -> None:
        if not killed and len(sandbox.tasks) >= count // 3:
            killed.extend([victim(batch), batch.in_flight()[0]])
            os.kill(killed[0], signal.SIGKILL)

    with sandbox.serve() as url:
        batch = RayBatch(out, api_key=API_KEY, base_url=url, on_progress=kill_while_tasks_wait, **options)
        summary = batch.run(requests(count, tag))
    assert killed, "the batch ended before the process could be killed"
    return batch, summary, sandbox, killed


def assert_each_line_ended_once_with_its_images(out: Path, count: int, sandbox: Sandbox) -> None:
    """Every line done (its images on disk, its task the sandbox's) or unknown (a POST cut by the
    kill); none left running; the sandbox created at most one task per line."""
    assert all(n == 1 for n in created_per_prompt(sandbox).values())  # no line paid twice
    entries = read_manifest(out)
    assert [e["line"] for e in entries] == list(range(1, count + 1))
    for entry in entries:
        assert entry["status"] in ("done", "unknown"), entry
        if entry["status"] == "done":
            assert entry["images"]
            assert all((out / image).stat().st_size > 0 for image in entry["images"])
            assert sandbox.tasks[entry["task_id"]].request["request"]["prompt"] == entry["prompt"]


def test_a_worker_killed_mid_run_pays_no_line_twice_and_loses_no_image(cluster: None, tmp_path: Path) -> None:
    batch, summary, sandbox, (victim, cut_short) = run_and_kill(
        tmp_path, 20, "the killed worker", lambda batch: batch.worker_pids()[0], workers=2, concurrency=6
    )
    assert cut_short >= 1  # Ray had lines to retry on the worker's successor
    successors = [pid for pid in batch.lines_by_worker if pid not in (victim, os.getpid())]
    assert len(successors) == 2  # the survivor and the killed worker's successor both ended lines
    assert_each_line_ended_once_with_its_images(tmp_path, 20, sandbox)
    assert summary.unknown <= cut_short  # only lines the kill cut mid-POST may be unknown
    assert summary.done + summary.unknown == 20


def test_a_killed_coordinator_restarts_from_its_journal_and_the_batch_completes(
    cluster: None, tmp_path: Path
) -> None:
    _, summary, sandbox, _ = run_and_kill(
        tmp_path,
        12,
        "the killed coordinator",
        RayBatch.coordinator_pid,
        workers=2,
        concurrency=4,
        ipm=600,
        window=1.0,  # a restarted coordinator pauses POSTs for one window: 1 s here
    )
    assert_each_line_ended_once_with_its_images(tmp_path, 12, sandbox)  # none left running
    assert summary.done + summary.unknown == 12
    assert summary.done == sum(1 for e in read_manifest(tmp_path) if e["status"] == "done")
