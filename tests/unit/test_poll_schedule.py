"""The adaptive poll schedule (`_polling.py`), pure and through a scripted 10 s task."""

from __future__ import annotations

import io
import json

import httpx
import pytest

import ppio_txt2img as ppio
from ppio_txt2img._constants import POLL_BLIND_CAP, POLL_BLIND_FIRST, POLL_BLIND_STEADY, POLL_CAP, POLL_FLOOR
from ppio_txt2img._polling import (
    Estimate,
    Observation,
    estimate_finish,
    next_poll_delay,
    prior_step,
)

QUEUED, PROCESSING = "TASK_STATUS_QUEUED", "TASK_STATUS_PROCESSING"


def test_an_eta_puts_the_next_poll_just_before_the_expected_finish() -> None:
    history = [Observation(at=0.0, status=PROCESSING, eta=4.2)]
    delay = next_poll_delay(history, now=0.0)
    assert 2.5 < delay < 4.2  # sleeps through most of the wait, never past the finish


def test_an_eta_in_whole_seconds_is_read_as_rounded_up() -> None:
    # eta 4 means the task finishes within (3, 4] seconds: the poll must come before 3 s.
    history = [Observation(at=0.0, status=PROCESSING, eta=4)]
    delay = next_poll_delay(history, now=0.0)
    assert 2.0 < delay < 3.0


def test_a_single_progress_reading_dates_the_start_between_the_last_two_polls() -> None:
    history = [
        Observation(at=0.0, status=QUEUED),
        Observation(at=2.0, status=PROCESSING, progress=50.0),  # started at about 1.0
    ]
    estimate = estimate_finish(history)
    assert estimate is not None
    assert estimate.finish == pytest.approx(3.0)
    assert estimate.error >= 1.0  # the start could be anywhere in (0, 2)


def test_near_the_finish_the_schedule_is_dense_but_not_below_the_floor() -> None:
    history = [Observation(at=0.0, status=PROCESSING, eta=0.05)]
    assert next_poll_delay(history, now=0.0) == POLL_FLOOR


def test_long_etas_are_capped() -> None:
    history = [Observation(at=0.0, status=QUEUED, eta=600.0)]
    assert next_poll_delay(history, now=0.0) == POLL_CAP


def test_progress_gives_a_finish_estimate_without_eta() -> None:
    history = [
        Observation(at=1.0, status=PROCESSING, progress=10.0),
        Observation(at=2.0, status=PROCESSING, progress=20.0),
    ]
    estimate = estimate_finish(history)
    assert estimate is not None
    assert estimate.finish == pytest.approx(10.0)


def test_consistent_estimates_shrink_the_uncertainty() -> None:
    first = [Observation(at=0.0, status=PROCESSING, eta=10.0)]
    consistent = [*first, Observation(at=5.0, status=PROCESSING, eta=5.0)]
    noisy = [*first, Observation(at=5.0, status=PROCESSING, eta=7.0)]
    e_consistent, e_noisy = estimate_finish(consistent), estimate_finish(noisy)
    assert e_consistent is not None
    assert e_noisy is not None
    assert e_consistent.error < e_noisy.error


def test_an_overdue_task_is_polled_less_and_less_often() -> None:
    history = [Observation(at=0.0, status=PROCESSING, eta=1.0)]
    soon = next_poll_delay(history, now=1.5)
    later = next_poll_delay(history, now=10.0)
    assert POLL_FLOOR <= soon < later <= POLL_CAP


def test_without_eta_progress_or_prior_it_keeps_a_half_second_pace_then_grows_to_the_cap() -> None:
    delays = []
    history: list[Observation] = []
    now = 0.0
    while now < 120:
        delay = next_poll_delay(history, now=now, jitter=0.5)  # the symmetric jitter's middle
        delays.append((now, delay))
        history.append(Observation(at=now, status=QUEUED))
        now += delay
    early = [d for t, d in delays if t <= POLL_BLIND_STEADY]
    assert early == [POLL_BLIND_FIRST] * len(early)  # a fixed 0.5 s poller's pace: never slower
    late = [d for t, d in delays if t > POLL_BLIND_STEADY]
    assert late == sorted(late)
    assert late[-1] == POLL_BLIND_CAP


def test_blind_jitter_averages_out_so_it_adds_no_polls() -> None:
    history = [Observation(at=0.0, status=QUEUED)]
    shortest = next_poll_delay(history, now=0.0, jitter=0.0)
    longest = next_poll_delay(history, now=0.0, jitter=0.9999)
    assert shortest < POLL_BLIND_FIRST < longest
    assert shortest + longest == pytest.approx(2 * POLL_BLIND_FIRST, abs=1e-3)


def test_a_learnt_prior_sends_the_poll_to_the_start_of_the_expected_finish_window() -> None:
    prior = Estimate(finish=10.0, error=0.1)
    history = [Observation(at=0.5, status=QUEUED)]
    # The window 9.9-10.1 starts one floor before the finish: the first poll goes at 10.0.
    assert next_poll_delay(history, now=0.5, prior=prior) == pytest.approx(10.0 - 0.5)
    assert next_poll_delay(history, now=9.95, prior=prior) == pytest.approx(POLL_FLOOR)  # inside the window


def test_the_first_poll_of_the_window_goes_one_floor_after_its_start() -> None:
    # Finish expected at 10 +/- 1: a task done at 9.0 is noticed by 9.1, and no poll is spent before.
    history = [Observation(at=0.5, status=QUEUED)]
    assert next_poll_delay(history, now=5.0, prior=Estimate(finish=10.0, error=1.0)) == pytest.approx(4.1)
    # A window narrower than the floor: the first poll goes at the expected finish.
    assert next_poll_delay(history, now=5.0, prior=Estimate(finish=10.0, error=0.05)) == pytest.approx(5.0)


def test_a_learnt_prior_is_slept_on_in_one_go_but_a_servers_eta_is_looked_at_again() -> None:
    history = [Observation(at=0.5, status=QUEUED)]
    # A silent server has nothing to say before the window: no poll in between.
    assert next_poll_delay(history, now=0.5, prior=Estimate(finish=30.0, error=0.5)) == pytest.approx(29.1)
    # The server's eta is refreshed by polls, which may correct it: capped.
    assert next_poll_delay([Observation(at=0.5, status=QUEUED, eta=30.0)], now=0.5) == POLL_CAP


def test_the_jitter_of_a_long_sleep_is_at_most_one_floor() -> None:
    history = [Observation(at=0.0, status=PROCESSING, eta=4.0)]
    plain = next_poll_delay(history, now=0.0, jitter=0.0)
    jittered = next_poll_delay(history, now=0.0, jitter=0.99)
    assert plain - POLL_FLOOR <= jittered < plain  # 10 % of the sleep would be a third of a second


def test_a_crowds_wait_sleeps_up_to_the_servers_window_without_jitter_but_not_up_to_a_learnt_one() -> None:
    history = [Observation(at=0.0, status=PROCESSING, eta=4.0)]
    plain = next_poll_delay(history, now=0.0, jitter=0.0)
    assert next_poll_delay(history, now=0.0, jitter=0.99, crowd=200) == plain  # no early poll at the finish
    assert next_poll_delay(history, now=0.0, jitter=0.99, crowd=1) < plain  # a lone wait is spread
    quiet = [Observation(at=0.5, status=QUEUED)]
    prior = Estimate(finish=10.0, error=1.0)
    learnt = next_poll_delay(quiet, now=0.5, jitter=0.0, prior=prior, crowd=200)
    assert next_poll_delay(quiet, now=0.5, jitter=0.99, prior=prior, crowd=200) < learnt  # scouts spread


def test_inside_a_wide_learnt_window_it_polls_about_four_times_not_every_floor() -> None:
    # Durations that varied (or were measured coarsely) make a wide window: polled every POLL_FLOOR across
    # +/- 1.2 s, one task took 21 polls. About four across it now, and never less often than a 0.5 s
    # poller; a narrow window is still polled every POLL_FLOOR.
    history = [Observation(at=0.5, status="TASK_STATUS_PROCESSING")]
    assert next_poll_delay(history, now=2.0, prior=Estimate(finish=2.0, error=0.4)) == pytest.approx(0.2)
    assert next_poll_delay(history, now=2.0, prior=Estimate(finish=2.0, error=1.2)) == POLL_BLIND_FIRST
    assert next_poll_delay(history, now=2.0, prior=Estimate(finish=2.0, error=0.1)) == POLL_FLOOR
    assert [prior_step(Estimate(finish=5.0, error=e)) for e in (0.05, 0.2, 0.6, 1.0, 5.0)] == pytest.approx(
        [POLL_FLOOR, POLL_FLOOR, 0.3, POLL_BLIND_FIRST, POLL_BLIND_FIRST]
    )
    # The server's own estimate keeps its dense polls, however wide.
    eta = [Observation(at=1.0, status="TASK_STATUS_PROCESSING", eta=1.0)]
    assert next_poll_delay(eta, now=1.4, prior=Estimate(finish=1.5, error=1.2)) == POLL_FLOOR


def test_a_task_well_past_its_learnt_window_is_polled_blind_not_ever_more_sparsely() -> None:
    prior = Estimate(finish=10.0, error=0.1)
    history = [Observation(at=0.5, status=QUEUED)]
    assert next_poll_delay(history, now=20.0, prior=prior, jitter=0.5) == POLL_BLIND_FIRST


def test_the_servers_own_estimate_wins_over_the_prior() -> None:
    prior = Estimate(finish=100.0, error=1.0)
    history = [Observation(at=0.0, status=PROCESSING, eta=4.0)]
    assert next_poll_delay(history, now=0.0, prior=prior) < 4.0


def test_jitter_only_shortens_the_delay() -> None:
    history = [Observation(at=0.0, status=PROCESSING, eta=4.0)]
    plain = next_poll_delay(history, now=0.0, jitter=0.0)
    jittered = next_poll_delay(history, now=0.0, jitter=0.99)
    assert POLL_FLOOR <= jittered < plain


# ----------------------------------------------------------- a scripted 10 s task, injected clock
RTT = 0.03  # every request costs this much (fake) time


def _png(size: tuple[int, int]) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size).save(buffer, format="PNG")
    return buffer.getvalue()


_IMAGE = _png((1024, 1024))


class ScriptedTask:
    """Queued for 1 s, then processing with exact eta and linear progress; done at `finish` seconds."""

    def __init__(self, clock: list[float], finish: float) -> None:
        self.clock = clock
        self.finish = finish
        self.polls = 0
        self.detected_at: float | None = None

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "images.test":  # the finished task's one image
            return httpx.Response(200, content=_IMAGE)
        self.clock[0] += RTT
        now = self.clock[0]
        if request.url.path == "/v3/async/txt2img":
            self.clock[0] = 0.0  # the task's life starts at submission
            return httpx.Response(200, json={"task_id": "t-10s"})
        self.polls += 1
        task: dict[str, object] = {"task_id": "t-10s", "reason": "", "task_type": "TXT_TO_IMG"}
        if now >= self.finish:
            self.detected_at = now
            task.update(status="TASK_STATUS_SUCCEED", eta=0, progress_percent=0)
            image = {"image_url": "https://images.test/0.png", "image_type": "png"}
            return httpx.Response(200, json={"task": task, "images": [image]})
        if now < 1.0:
            task.update(status=QUEUED, eta=round(self.finish - now, 3), progress_percent=0)
        else:
            done = (now - 1.0) / (self.finish - 1.0) * 100
            task.update(status=PROCESSING, eta=round(self.finish - now, 3), progress_percent=round(done, 1))
        return httpx.Response(200, content=json.dumps({"task": task, "images": []}))


def run_adaptive(finish: float) -> ScriptedTask:
    clock = [0.0]
    script = ScriptedTask(clock, finish)

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    http = httpx.Client(transport=httpx.MockTransport(script.handler))
    client = ppio.Client(
        "key", base_url="https://api.test", http_client=http, clock=lambda: clock[0], sleep=sleep
    )
    with http:
        generation = client.txt2img("a fox", timeout=60)
    assert [image.size for image in generation.images] == [(1024, 1024)]
    return script


def run_fixed(finish: float, interval: float = 0.5) -> ScriptedTask:
    """The official SDK's schedule: poll every 0.5 s until done."""
    clock = [0.0]
    script = ScriptedTask(clock, finish)
    script.handler(httpx.Request("POST", "https://api.test/v3/async/txt2img"))
    while script.detected_at is None:
        clock[0] += interval
        script.handler(httpx.Request("GET", "https://api.test/v3/async/task-result"))
    return script


def test_a_10s_task_is_detected_sooner_than_fixed_half_second_polling_with_under_half_the_polls() -> None:
    # Several finish times, so that no single lucky alignment of the fixed 0.5 s grid decides.
    finishes = [10.0 + k * 0.07 for k in range(8)]
    adaptive_delays, fixed_delays = [], []
    for finish in finishes:
        adaptive, fixed = run_adaptive(finish), run_fixed(finish)
        assert adaptive.detected_at is not None
        assert fixed.detected_at is not None
        assert adaptive.polls < fixed.polls / 2, (finish, adaptive.polls, fixed.polls)
        adaptive_delays.append(adaptive.detected_at - finish)
        fixed_delays.append(fixed.detected_at - finish)
    assert max(adaptive_delays) <= POLL_FLOOR + 2 * RTT, adaptive_delays
    assert sum(adaptive_delays) / len(finishes) < sum(fixed_delays) / len(finishes), (
        adaptive_delays,
        fixed_delays,
    )


def test_whole_percent_readings_widen_the_window_by_one_step_over_the_progress_gained() -> None:
    def error(first: float, last: float) -> float:
        history = [
            Observation(at=1.0, status=PROCESSING, progress=first),
            Observation(at=8.0, status=PROCESSING, progress=last),
        ]
        estimate = estimate_finish(history)
        assert estimate is not None
        return estimate.error

    # The same rate (10 % a second), about 2 s left: a reading in whole percents is unsure by a whole
    # step of the 70 gained, one in tenths by a tenth (2 s * 0.9 / 70 = 0.026 s wider).
    assert error(10.0, 80.0) > error(10.5, 80.5) + 0.02


def test_progress_complete_while_still_processing_is_polled_densely_then_backs_off() -> None:
    # Progress reached 100 at 9.0 but the task still says processing (images being finished, uploaded):
    # it is due now, not unknown (a blind 0.5 s poll), and the polls slow down only as it stays overdue.
    history = [
        Observation(at=5.0, status=PROCESSING, progress=50.0, eta=4.0),
        Observation(at=9.0, status=PROCESSING, progress=100.0, eta=0.0),
    ]
    assert next_poll_delay(history, now=9.0) == pytest.approx(POLL_FLOOR, abs=0.02)
    later = [*history, Observation(at=12.0, status=PROCESSING, progress=100.0, eta=0.0)]
    assert POLL_FLOOR < next_poll_delay(later, now=12.0) <= POLL_CAP
