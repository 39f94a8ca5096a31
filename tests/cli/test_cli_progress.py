"""The progress display: a live one-line bar on a terminal, plain lines elsewhere. Pure, no I/O."""

from __future__ import annotations

import io

from ppio_txt2img import Task
from ppio_txt2img._results import ImageRef
from ppio_txt2img.cli._progress import Progress, format_eta, status_label

TASK_ID = "5b1e0c1e-0000-4000-8000-000000000000"
QUEUED = Task(TASK_ID, "TASK_STATUS_QUEUED", progress=0, eta=4)
PROCESSING = Task(TASK_ID, "TASK_STATUS_PROCESSING", progress=40, eta=3)
REF = ImageRef(url="https://images.test.invalid/0.png?signature=x", image_type="png", expires_at=None)
SUCCEEDED = Task(TASK_ID, "TASK_STATUS_SUCCEED", progress=0, eta=0, images=(REF, REF))


def test_plain_lines_name_the_task_then_one_line_per_change() -> None:
    stream = io.StringIO()
    progress = Progress(stream, live=False)
    for task in (QUEUED, PROCESSING, SUCCEEDED):
        progress(task)
    progress.done()
    assert stream.getvalue().splitlines() == [
        f"task {TASK_ID}",
        "queued eta 4s",
        "processing 40% eta 3s",
        "done: downloading 2 images",
    ]
    assert progress.task_id == TASK_ID


def test_live_bar_redraws_one_line_and_ends_it_once_done() -> None:
    stream = io.StringIO()
    progress = Progress(stream, live=True)
    progress(QUEUED)
    progress(PROCESSING)
    assert "\n" not in stream.getvalue()
    assert stream.getvalue().count("\r") == 2
    last = stream.getvalue().rsplit("\r", 1)[1]
    assert "[##########--------------]  40%  processing" in last
    assert "eta 3s" in last
    assert "task 5b1e0c1e" in last
    progress(SUCCEEDED)
    progress.done()
    assert stream.getvalue().endswith("\n")
    assert "100%  done" in stream.getvalue().rsplit("\r", 1)[1]


def test_a_stringio_is_not_a_terminal_so_no_live_bar() -> None:
    assert Progress(io.StringIO()).live is False


def test_quiet_writes_nothing_but_remembers_the_task() -> None:
    stream = io.StringIO()
    progress = Progress(stream, live=True, quiet=True)
    progress(PROCESSING)
    progress.note("saved")
    progress.done()
    assert stream.getvalue() == ""
    assert progress.task_id == TASK_ID


def test_labels_and_etas_read_well() -> None:
    assert status_label("TASK_STATUS_PROCESSING") == "processing"
    assert status_label("TASK_STATUS_SUCCEED") == "done"
    assert status_label("TASK_STATUS_WARMING_UP") == "warming_up"  # undocumented statuses pass through
    assert [format_eta(e) for e in (None, 0, 0.2, 3, 65)] == [None, None, "1s", "3s", "1m05s"]
