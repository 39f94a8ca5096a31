"""Learned durations: with neither eta nor progress from the server, a client that has seen tasks of one
shape finish polls the next one just before its expected finish; with nothing learnt, it is never
slower to notice than a fixed 0.5 s poller, with no more polls. All on a fake clock."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

import ppio_txt2img as ppio
from ppio_txt2img._durations import DurationMemory, least_spread, prior_from, shape_of
from ppio_txt2img._polling import Estimate, prior_step

RTT = 0.02


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (128, 128)).save(buffer, format="PNG")
    return buffer.getvalue()


class SilentTasks:
    """Tasks that say nothing about their progress (eta 0, no progress) and take `duration` seconds."""

    def __init__(self, duration: float) -> None:
        self.now = 0.0
        self.duration = duration
        self.submitted_at = 0.0
        self.polls = 0
        self.detected_after: float | None = None
        self.image = _png()

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "images.test":
            return httpx.Response(200, content=self.image)
        self.now += RTT
        if request.method == "POST":
            self.submitted_at, self.polls, self.detected_after = self.now, 0, None
            return httpx.Response(200, json={"task_id": "t1"})
        self.polls += 1
        done = self.now - self.submitted_at >= self.duration
        task = {
            "task_id": "t1",
            "status": "TASK_STATUS_SUCCEED" if done else "TASK_STATUS_PROCESSING",
            "eta": 0,
        }
        if done:
            self.detected_after = self.now - self.submitted_at - self.duration
            image = {"image_url": "https://images.test/0.png", "image_type": "png"}
            return httpx.Response(200, json={"task": task, "images": [image]})
        return httpx.Response(200, json={"task": task, "images": []})

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _run(tasks: SilentTasks, count: int) -> list[tuple[int, float]]:
    """(polls, detection delay) of `count` tasks of one shape, submitted one after the other."""
    http = httpx.Client(transport=httpx.MockTransport(tasks.handler))
    client = ppio.Client(
        "k", base_url="https://api.test", http_client=http, clock=lambda: tasks.now, sleep=tasks.sleep
    )
    results = []
    with http:
        for _ in range(count):
            client.txt2img("a fox", width=128, height=128, steps=4, timeout=120)
            assert tasks.detected_after is not None
            results.append((tasks.polls, tasks.detected_after))
    return results


@pytest.mark.parametrize("duration", [3.0, 5.0, 11.7])
def test_after_a_few_tasks_of_one_shape_a_finish_is_noticed_within_a_tenth_with_a_handful_of_polls(
    duration: float,
) -> None:
    results = _run(SilentTasks(duration), count=8)
    half_second_poller_polls = duration / 0.5
    # Inside a learnt window, polls go every `prior_step` of it: `POLL_FLOOR` (0.1 s), or a little more
    # for a long task, whose duration is never trusted to better than 2 % (11.7 s: every 0.117 s).
    step = prior_step(Estimate(finish=duration, error=least_spread(duration)))
    assert step == pytest.approx(max(0.1, 0.01 * duration))
    for polls, detected_after in results[-3:]:  # the first ones, polled blind, were measured coarsely
        assert detected_after <= step + RTT + 1e-9  # a poll one step after the last (float sums)
        assert polls <= max(3, half_second_poller_polls / 4)
    later = [polls for polls, _ in results[-4:]]
    assert sum(later) / len(later) <= max(2.5, half_second_poller_polls / 4)  # the 1/4


@pytest.mark.parametrize("duration", [3.0, 5.0, 11.7])
def test_with_nothing_learnt_it_is_no_slower_than_a_half_second_poller_with_no_more_polls(
    duration: float,
) -> None:
    ((polls, detected_after),) = _run(SilentTasks(duration), count=1)
    assert detected_after <= 0.5 + RTT
    assert polls <= duration / 0.5 + 1


def test_the_memory_needs_a_few_samples_and_takes_their_median() -> None:
    memory = DurationMemory()
    memory.record("shape", submitted_at=0.0, lower=4.9, upper=5.1)
    assert memory.prior("shape") is None  # one task is not a pattern yet
    memory.record("shape", submitted_at=10.0, lower=15.9, upper=16.1)
    memory.record("shape", submitted_at=20.0, lower=24.9, upper=25.1)
    prior = memory.prior("shape")
    assert prior is not None
    assert prior.duration == pytest.approx(5.0)
    assert prior.spread >= 0.05
    assert memory.prior("other shape") is None


def test_shapes_differ_by_what_changes_a_tasks_duration() -> None:
    def body(**request: object) -> dict[str, object]:
        base = {"model_name": "m", "width": 512, "height": 512, "steps": 20, "image_num": 1, "prompt": "x"}
        return {"request": {**base, **request}}

    assert shape_of(body(prompt="a cat")) == shape_of(body(prompt="a dog"))  # the prompt does not matter
    for change in ({"steps": 30}, {"width": 768}, {"image_num": 2}, {"model_name": "n"}):
        assert shape_of(body(**change)) != shape_of(body())
    assert shape_of(
        body(hires_fix={"target_width": 1024, "target_height": 1024, "strength": 0.5})
    ) != shape_of(body())


def test_a_densely_measured_task_pins_the_duration_down_when_every_measurement_agrees() -> None:
    # Two tasks noticed by polls half a second apart, one by polls a tenth apart: all fit 5.02 s.
    prior = prior_from([(5.1, 0.25), (4.85, 0.25), (5.02, 0.05)])
    assert prior.duration == pytest.approx(5.02)
    assert prior.spread == pytest.approx(0.02 * 5.02)  # 2 % of the duration: as sure as it gets


def test_coarse_measurements_that_barely_overlap_are_trusted_no_more_than_the_best_of_them() -> None:
    prior = prior_from([(5.0, 0.5), (5.9, 0.5)])  # they overlap in 5.4-5.5 only
    assert prior.spread >= 0.5


def test_measurements_that_disagree_give_the_median_and_their_spread() -> None:
    prior = prior_from([(5.0, 0.05), (5.5, 0.05), (6.0, 0.05)])
    assert prior.duration == pytest.approx(5.5)
    assert prior.spread == pytest.approx(0.75)  # 1.5 x the median deviation of 0.5
