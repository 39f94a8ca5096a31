"""The Python API: `Batch` with an `AsyncClient`, results out as they finish, the manifest hook; and
`run_batch_sync` for scripts."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import anyio
import pytest

import ppio_txt2img as ppio
from ppio_txt2img.batch import Batch, LineResult, read_lines, run_batch_sync
from ppio_txt2img.sandbox import Sandbox
from tests.batch.batch_helpers import API_KEY, FAST, journal_rows, manifest
from tests.faults.raw_server import Fault, FaultKit, task_id_for

SMALL = {"width": 128, "height": 128, "steps": 1}


def test_results_come_out_as_lines_finish_and_the_hook_sees_each_manifest(tmp_path: Path) -> None:
    results: list[LineResult] = []
    manifests: list[list[str]] = []

    def on_manifest(out_dir: Path) -> None:  # the gallery writer's place
        manifests.append((out_dir / "manifest.jsonl").read_text().splitlines())

    requests: list[str | dict[str, Any]] = [
        "api one",
        {"prompt": "api two", "image_num": 2},
        {"prompt": "api bad", "steps": 0},
    ]
    with Sandbox(**FAST).serve() as url:

        async def main() -> None:
            async with ppio.AsyncClient(API_KEY, base_url=url) as client:
                batch = Batch(
                    client, tmp_path, defaults=SMALL, on_result=results.append, on_manifest=on_manifest
                )
                summary = await batch.run(requests)
                assert (summary.done, summary.failed, summary.images, summary.exit_code) == (2, 1, 3, 1)

        anyio.run(main)
    assert sorted((r.line, r.status) for r in results) == [(1, "done"), (2, "done"), (3, "failed")]
    assert next(r for r in results if r.line == 3).error_field == "request.steps"
    assert manifests  # called after each rewrite, the last one at the end
    assert [json.loads(line)["status"] for line in manifests[-1]] == ["done", "done", "failed"]


class _Table:
    """What a pandas DataFrame is to a batch: iterating it gives its column names (it bought a task with
    the prompt "prompt": /tmp/attack29, finding 7)."""

    def __iter__(self) -> Any:
        return iter(["prompt", "width"])

    def iterrows(self) -> Any:
        return iter([(0, {"prompt": "a fox", "width": 512})])


@pytest.mark.parametrize(
    ("requests", "says"),
    [
        ("prompts.jsonl", "is a str: one prompt (or a file's name), not many"),
        (b"a red fox", "is a bytes: one prompt"),
        ({"prompt": "a red fox", "width": 512}, "is a dict: one request, not many: pass [request]"),
        (Path("prompts.jsonl"), "a file's name: pass read_lines(path)"),
        (_Table(), "a table iterates its column names, not its rows: pass df.to_dict('records')"),
    ],
)
def test_one_request_or_a_file_name_is_refused_before_anything_is_bought(
    tmp_path: Path, requests: Any, says: str
) -> None:
    """A str given as the requests was iterated: a task bought for each character (13 for
    'prompts.jsonl'; /tmp/newuser28, finding 1), and a mapping, one for each key."""
    sandbox = Sandbox(**FAST)
    with sandbox.serve() as url, pytest.raises(ppio.ValidationError) as caught:
        run_batch_sync(requests, tmp_path / "out", api_key=API_KEY, base_url=url)
    assert caught.value.field == "requests"
    assert says in str(caught.value)
    assert sandbox.stats["txt2img"].requests == 0
    assert not (tmp_path / "out").exists()


def test_read_lines_refuses_a_suffix_it_does_not_know_and_defaults_that_fail_every_line(
    tmp_path: Path,
) -> None:
    """As `ppio batch` does: a misspelt `.jsonl` was read as text, each JSON object bought as a prompt
    (/tmp/newuser28, finding 3); a misspelt default failed every line one by one (finding 11)."""
    misspelt = tmp_path / "prompts.jsnol"
    misspelt.write_text('{"prompt": "a fox", "width": 512}\n')
    with pytest.raises(ppio.ValidationError) as caught:
        read_lines(misspelt)
    assert (caught.value.field, caught.value.value) == ("path", str(misspelt))
    good = tmp_path / "prompts.jsonl"
    good.write_text('{"prompt": "a fox"}\n')
    cases: list[tuple[dict[str, Any], str]] = [
        ({"widht": 512}, "defaults.widht"),
        ({"width": 5000}, "defaults.request.width"),
        ({"prompt": "x"}, "defaults.prompt"),
    ]
    for defaults, field in cases:
        with pytest.raises(ppio.ValidationError) as caught:
            read_lines(good, defaults)
        assert caught.value.field == field
        with pytest.raises(ppio.ValidationError) as caught:
            run_batch_sync(["a fox"], tmp_path / "out", api_key=API_KEY, defaults=defaults)
        assert caught.value.field == field
    assert [r.prompt for r in read_lines(good, {"width": 512})] == ["a fox"]


def test_a_task_with_fewer_images_than_its_line_asked_fails_the_line_and_keeps_those_that_came(
    tmp_path: Path,
) -> None:
    """The API lists one image fewer than asked: the line was `done` (exit 0) with 1 of 2 images, the
    other dropped without a word (/tmp/newuser28, finding 2). Now it is failed, names what came (saved)
    and how to buy it again; a rerun (a new client, which knows nothing of the request but the line)
    leaves it so, and buys nothing."""
    sandbox = Sandbox(**FAST, missing_images=1)
    requests: list[str | dict[str, Any]] = [{"prompt": "two foxes", "image_num": 2}, "one owl"]
    with sandbox.serve() as url:
        options: dict[str, Any] = {"api_key": API_KEY, "base_url": url, "defaults": SMALL}
        first = run_batch_sync(requests, tmp_path, **options)
        again = run_batch_sync(requests, tmp_path, **options)
        posts = sandbox.stats["txt2img"].requests
    assert (first.done, first.failed, first.images, first.exit_code) == (0, 2, 1, 1)
    assert (again.failed, again.submitted, again.exit_code) == (2, 0, 1)
    assert posts == 2
    two, one = manifest(tmp_path)
    assert (two["status"], one["status"]) == ("failed", "failed")  # "one owl" asked 1 and got 0
    assert two["error"].startswith("the task succeeded with 1 of 2 images: the API listed no more")
    assert "those that came are saved, as the line's images" in two["error"]
    assert two["images"] == ["images/1-0.png"]  # kept with the line, as a done line's are
    kept = (tmp_path / "images" / "1-0.png").read_bytes()
    # A prompt added at the top moves the line to line 2: its image moves with it, and the new line 1's
    # image does not overwrite it (the journal forgot it: /tmp/attack29, finding 1).
    with sandbox.serve() as url:
        options = {"api_key": API_KEY, "base_url": url, "defaults": SMALL}
        run_batch_sync([{"prompt": "a new first", "image_num": 2}, *requests], tmp_path, **options)
    moved = manifest(tmp_path)[1]
    assert (moved["prompt"], moved["status"], moved["images"]) == ("two foxes", "failed", ["images/2-0.png"])
    assert (tmp_path / "images" / "2-0.png").read_bytes() == kept


def test_run_batch_sync_makes_its_own_client(tmp_path: Path) -> None:
    with Sandbox(**FAST).serve() as url:
        summary = run_batch_sync(
            [{"prompt": "sync one", **SMALL}], tmp_path, api_key=API_KEY, base_url=url, ipm=10
        )
    assert (summary.done, summary.exit_code) == (1, 0)
    assert (tmp_path / "images" / "1-0.png").exists()


def test_a_task_named_by_a_refused_create_answer_is_waited_for_not_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A raw server answers the first POST in the API's old V2 envelope (`{code: 0, msg, data:
    {task_id}}`). The SDK refuses that answer, but its error names the task it created: the batch waits
    for that task, as the error asks, and never sends the line again (it ended the line `unknown`, the
    paid-for images lost)."""
    with FaultKit() as kit, caplog.at_level(logging.WARNING, logger="ppio_txt2img.batch"):
        created = kit.create_task()  # what the first POST created (a scripted body creates none)
        envelope = json.dumps({"code": 0, "msg": "", "data": {"task_id": created}}).encode()
        kit.on("submit", Fault(body=envelope), Fault())
        requests = ["envelope one", "envelope two"]
        options: dict[str, Any] = {"api_key": API_KEY, "base_url": kit.url, "defaults": SMALL}
        summary = run_batch_sync(requests, tmp_path, concurrency=1, **options)
        posts = len(kit.seen("submit"))
    assert (summary.done, summary.unknown, summary.exit_code) == (2, 0, 0)
    assert posts == 2
    assert journal_rows(tmp_path) == [(1, "done", task_id_for(1)), (2, "done", task_id_for(2))]
    assert [entry["images"] for entry in manifest(tmp_path)] == [["images/1-0.png"], ["images/2-0.png"]]
    assert (
        f"line 1: the create answer named task {task_id_for(1)} in the API's old V2 envelope" in caplog.text
    )
    assert "the task exists: the line waits for it and is not sent again" in caplog.text


def test_a_refused_create_answer_naming_a_task_the_api_does_not_know_leaves_the_line_unknown(
    tmp_path: Path,
) -> None:
    """The envelope names a task the API answers 404 for (/tmp/attack28, F1). A 2xx answer to the POST
    means a task may exist, so the line is `unknown`, as a 2xx answer without an id leaves it: not
    `failed`, which a rerun with `retry_failed` would POST again, paying twice."""
    with FaultKit() as kit:
        envelope = json.dumps({"code": 0, "msg": "", "data": {"task_id": task_id_for(99)}}).encode()
        kit.on("submit", Fault(body=envelope), Fault())
        options: dict[str, Any] = {"api_key": API_KEY, "base_url": kit.url, "defaults": SMALL}
        first = run_batch_sync(["unknown one", "unknown two"], tmp_path, concurrency=1, **options)
        again = run_batch_sync(
            ["unknown one", "unknown two"], tmp_path, concurrency=1, retry_failed=True, **options
        )
        posts = len(kit.seen("submit"))
    assert (first.done, first.unknown, first.failed) == (1, 1, 0)
    assert (again.done, again.unknown, again.submitted) == (1, 1, 0)
    assert posts == 2  # one per line, across both runs
    assert [row[:2] for row in journal_rows(tmp_path)] == [(1, "unknown"), (2, "done")]
    assert "V2 envelope" in manifest(tmp_path)[0]["error"]


def test_an_api_outage_pauses_the_batch_instead_of_spending_its_lines(tmp_path: Path) -> None:
    """Every POST answered 503 (Retry-After 2): each may have created a task, so each line it costs is
    unknown. Sending the next line at once, paced only by --ipm, cost all 300 lines within the 5 s
    (/tmp/attack24/batch, finding 2); paused, the batch spends those in flight and about one more per
    pause."""
    sandbox = Sandbox(**{**FAST, "error_rates": {"txt2img": {503: 1.0}}, "retry_after": 2})
    requests = [f"outage line {i}" for i in range(300)]
    with sandbox.serve() as url:

        async def main() -> Any:
            async with ppio.AsyncClient(API_KEY, base_url=url, max_retries=0) as client:
                batch = Batch(client, tmp_path, defaults=SMALL, concurrency=8, ipm=600)
                async with anyio.create_task_group() as group:

                    async def stop_later() -> None:
                        await anyio.sleep(5)
                        batch.stop()

                    group.start_soon(stop_later)
                    return await batch.run(requests)

        summary = anyio.run(main)
    posts = sandbox.stats["txt2img"].requests
    assert summary.unknown == posts  # each POST answered 503 left its line unknown, none resent
    assert posts <= 8 + 8, posts  # those in flight when the outage began, then about one a pause


def test_a_rerun_counts_what_the_run_before_sent_in_the_last_window(tmp_path: Path) -> None:
    """--ipm 5 over a 3 s window: a run sends 5 lines; a rerun started at once with 5 more waits for
    those to leave the window (it sent 5 at once: 10 in the server's window, twice the limit,
    /tmp/attack24/batch, finding 3). The journal keeps when each POST went out, and its images."""
    sandbox = Sandbox(**FAST)
    first = [f"window line {i}" for i in range(5)]
    with sandbox.serve() as url:
        for requests in (first, [*first, *(f"window line {i}" for i in range(5, 10))]):
            summary = run_batch_sync(requests, tmp_path, api_key=API_KEY, base_url=url, ipm=5, window=3.0)
            assert summary.exit_code == 0
    created = sorted(info.created_at for info in sandbox.tasks.values())
    assert len(created) == 10
    most = max(sum(1 for t in created if start <= t < start + 3.0) for start in created)
    assert most <= 5, created
