"""The progress display: a live one-line bar on a terminal, plain lines elsewhere. No terminal needed:
what the bar shows is a pure function of the answers and the time, and the clock is a fake one."""

from __future__ import annotations

import io

from ppio_txt2img import Task
from ppio_txt2img._polling import estimate_finish
from ppio_txt2img._results import ImageRef
from ppio_txt2img.cli._display import Frame, TaskView, bar_line, format_elapsed, frame_at
from ppio_txt2img.cli._progress import Progress, format_eta, status_label

TASK_ID = "5b1e0c1e-0000-4000-8000-000000000000"
QUEUED = Task(TASK_ID, "TASK_STATUS_QUEUED", progress=0, eta=4)
PROCESSING = Task(TASK_ID, "TASK_STATUS_PROCESSING", progress=40, eta=3)
REF = ImageRef(url="https://images.test.invalid/0.png?signature=x", image_type="png", expires_at=None)
SUCCEEDED = Task(TASK_ID, "TASK_STATUS_SUCCEED", progress=0, eta=0, images=(REF, REF))


def processing(progress: float, eta: float) -> Task:
    return Task(TASK_ID, "TASK_STATUS_PROCESSING", progress=progress, eta=eta)


def shown_percent(frame: Frame) -> float:
    """The frame's percent, which a processing task with an estimate always shows."""
    assert frame.percent is not None
    return frame.percent


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------------------ frame_at: pure logic
#: Two answers a second apart: 20 % then 40 %, so 20 %/s and an expected finish 3 s after the second.
VIEW = TaskView().seen(processing(20, 4), at=0.0).seen(processing(40, 3), at=1.0)


def test_between_answers_the_percent_advances_and_the_eta_counts_down() -> None:
    at_answer = frame_at(VIEW, now=1.0, started=0.0)
    later = frame_at(VIEW, now=2.0, started=0.0)
    assert at_answer.percent == 40
    assert later.percent is not None
    assert 40 < later.percent < 99
    assert later.eta is not None
    assert at_answer.eta is not None
    assert later.eta == at_answer.eta - 1.0  # counted down from the wait's own estimate
    assert later.elapsed == 2.0
    assert later.estimated


def test_the_eta_is_the_poll_schedules_estimate_of_the_finish() -> None:
    estimate = estimate_finish(VIEW.observations)
    assert estimate is not None
    assert frame_at(VIEW, now=1.5, started=0.0).eta == estimate.finish - 1.5


def test_the_bar_moves_only_forward_between_answers_and_never_past_the_estimate() -> None:
    estimate = estimate_finish(VIEW.observations)
    assert estimate is not None
    late_end = estimate.finish + estimate.error
    frames = [frame_at(VIEW, now=1.0 + i / 10, started=0.0) for i in range(100)]
    percents = [shown_percent(f) for f in frames]
    assert percents == sorted(percents)
    for i, frame in enumerate(frames):
        allowed = 40 + 60 * min(1.0, (i / 10) / (late_end - 1.0))  # the straight line to the late end
        assert shown_percent(frame) <= allowed + 1e-9
    assert percents[-1] == 99  # overdue: stops short of 100 until the server says succeeded
    assert frames[-1].eta is None  # overdue: no eta rather than a negative one


def test_a_new_answer_below_the_extrapolation_is_a_correction_to_what_the_server_said() -> None:
    ahead = frame_at(VIEW, now=2.5, started=0.0).percent
    assert ahead is not None
    slower = VIEW.seen(processing(50, 3), at=2.5)  # the server is behind what the bar showed
    corrected = frame_at(slower, now=2.5, started=0.0)
    assert ahead > 50
    assert corrected.percent == 50  # back to the server's word, no further


def test_queued_shows_no_percent_but_counts_the_eta_down() -> None:
    view = TaskView().seen(QUEUED, at=0.0)
    first, later = frame_at(view, now=0.0, started=0.0), frame_at(view, now=1.0, started=0.0)
    assert (first.label, first.percent, later.percent) == ("queued", None, None)
    assert first.eta is not None
    assert later.eta == first.eta - 1.0


def test_without_eta_or_progress_the_display_shows_the_answer_and_the_elapsed_time() -> None:
    blind = TaskView().seen(Task(TASK_ID, "TASK_STATUS_PROCESSING", progress=0, eta=0), at=0.0)
    frame = frame_at(blind, now=5.0, started=0.0)
    assert (frame.percent, frame.eta, frame.elapsed, frame.estimated) == (0, None, 5.0, False)


def test_before_any_answer_it_says_waiting_and_after_success_100() -> None:
    assert frame_at(TaskView(), now=3.0, started=1.0) == Frame("waiting", None, None, 2.0)
    done = frame_at(VIEW.seen(SUCCEEDED, at=2.0), now=9.0, started=0.0)
    assert (done.label, done.percent, done.eta) == ("downloading", 100, None)


def test_bar_line_shows_bar_percent_label_eta_elapsed_and_task() -> None:
    line = bar_line(Frame("processing", 40.6, 3.2, 65.0), TASK_ID)
    assert line.startswith("[##########--------------]  40%  processing")
    assert "eta 3s" in line
    assert "1:05" in line
    assert line.endswith("task 5b1e0c1e")
    assert [format_elapsed(s) for s in (0, 7.9, 65, 3723)] == ["0:00", "0:07", "1:05", "1:02:03"]


# ------------------------------------------------------------------------------ Progress: the writer
def test_plain_lines_name_the_task_then_one_line_per_change() -> None:
    stream = io.StringIO()
    progress = Progress(stream, live=False)
    progress.start()
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


def test_live_bar_redraws_between_answers_then_clears_its_line() -> None:
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress(stream, live=True, clock=clock)
    progress(processing(20, 4))
    clock.now += 1
    progress(PROCESSING)
    answers = stream.getvalue().count("\r")
    for _ in range(10):  # what the ticker thread does, ~8 times a second
        clock.now += 0.125
        progress.redraw()
    assert "\n" not in stream.getvalue()
    assert stream.getvalue().count("\r") == answers + 10  # every tick moved the bar or the clock
    last = stream.getvalue().rsplit("\r", 1)[1]
    assert "processing" in last
    assert "task 5b1e0c1e" in last
    progress(SUCCEEDED)
    assert "100%  downloading" in stream.getvalue().rsplit("\r", 1)[1]
    progress.done()
    assert stream.getvalue().endswith("\r\x1b[K")  # nothing left on the line
    assert "\n" not in stream.getvalue()


def test_live_bar_ticks_from_a_thread_until_finished() -> None:
    stream = io.StringIO()
    progress = Progress(stream, live=True, tick=0.001)
    progress.start()
    progress(PROCESSING)
    progress.finish()
    written = stream.getvalue()
    assert written.endswith("\r\x1b[K")
    assert progress._ticker is None  # joined: nothing more arrives


def test_the_ticker_stops_quietly_when_the_terminal_goes_away() -> None:
    class HungUp(io.StringIO):
        def write(self, text: str) -> int:
            if self.getvalue():
                raise OSError(5, "Input/output error")
            return super().write(text)

    progress = Progress(HungUp(), live=True, tick=0.001)
    progress.start()  # draws once, then every write fails
    ticker = progress._ticker
    assert ticker is not None
    ticker.join(timeout=30)
    assert not ticker.is_alive()  # ended without raising (an exception would be printed by threading)


def test_unchanged_text_is_not_redrawn() -> None:
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress(stream, live=True, clock=clock)
    progress(Task(TASK_ID, "TASK_STATUS_PROCESSING", progress=0, eta=0))  # nothing to estimate from
    progress.redraw()
    progress.redraw()
    assert stream.getvalue().count("\r") == 1


def test_a_stringio_is_not_a_terminal_so_no_live_bar() -> None:
    assert Progress(io.StringIO()).live is False


def test_quiet_writes_nothing_but_remembers_the_task() -> None:
    stream = io.StringIO()
    progress = Progress(stream, live=True, quiet=True)
    progress.start()
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
    # Hours, and a server's absurd eta kept to a few characters (it was 35 digits of minutes).
    assert [format_eta(e) for e in (3599.4, 7500, 359_999, 360_000, 1e30, float("inf"))] == [
        "59m59s",
        "2h05m",
        "99h59m",
        ">99h",
        ">99h",
        ">99h",
    ]
