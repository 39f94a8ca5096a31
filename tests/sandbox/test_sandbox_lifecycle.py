"""Task lifecycle: statuses in order, progress and eta, seeds, failures, concurrency, observation."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from ppio_txt2img.sandbox import Sandbox
from tests.loopback import TLS
from tests.sandbox.sandbox_helpers import AUTH, FakeClock, make_body, poll_until_done, submit


def test_task_goes_queued_processing_succeed_with_rising_progress_and_falling_eta() -> None:
    clock = FakeClock()
    sandbox = Sandbox(queue_delay=0.2, speed=1.0, clock=clock)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        task_id = submit(client)
        seen = poll_until_done(client, task_id, clock=clock)

    statuses = [p["task"]["status"] for p in seen]
    order = ["TASK_STATUS_QUEUED", "TASK_STATUS_PROCESSING", "TASK_STATUS_SUCCEED"]
    assert [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s] == order
    processing = [p["task"] for p in seen if p["task"]["status"] == "TASK_STATUS_PROCESSING"]
    assert len(processing) >= 5
    progress = [t["progress_percent"] for t in processing]
    etas = [t["eta"] for t in [p["task"] for p in seen] if t["status"] != "TASK_STATUS_SUCCEED"]
    assert progress == sorted(progress)
    assert progress[-1] > progress[0]
    assert all(0 <= v < 100 for v in progress)
    assert etas == sorted(etas, reverse=True)
    assert etas[0] >= 1
    assert all(isinstance(e, int) for e in etas)
    final = seen[-1]
    assert final["task"] == {
        "task_id": task_id,
        "task_type": "TXT_TO_IMG",
        "status": "TASK_STATUS_SUCCEED",
        "reason": "",
        "eta": 0,
        "progress_percent": 0,
    }
    assert all(p["images"] == [] for p in seen[:-1])
    assert len(final["images"]) == 2
    assert final["images"][0]["image_url_ttl"] == "3600"
    assert final["images"][0]["nsfw_detection_result"] is None
    assert final["videos"] == []
    assert final["audios"] == []
    info = final["extra"]["debug_info"]
    assert int(info["submit_time_ms"]) <= int(info["execute_time_ms"]) <= int(info["complete_time_ms"])


def test_speed_divides_the_processing_time_and_queue_delay_is_spent_queued() -> None:
    def timeline(**knobs: Any) -> tuple[float, float]:
        clock = FakeClock()
        sandbox = Sandbox(clock=clock, **knobs)
        with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
            task_id = submit(client)
            poll_until_done(client, task_id, interval=0.01, clock=clock)
            info = sandbox.tasks[task_id]
        assert info.started_at is not None
        assert info.finished_at is not None
        return info.started_at - info.created_at, info.finished_at - info.started_at

    queued, slow = timeline(speed=8, queue_delay=0.25)
    _, fast = timeline(speed=32, queue_delay=0.0)
    # 256x192, 2 images, 20 steps: (0.5 + 0.2 * 20 * 0.049 * 2) / speed seconds of processing.
    assert queued == pytest.approx(0.25, abs=0.01)
    assert slow == pytest.approx(0.889 / 8, rel=0.05)
    assert fast == pytest.approx(slow / 4, rel=0.05)


def test_unknown_status_is_reported_before_queued() -> None:
    clock = FakeClock()
    sandbox = Sandbox(unknown_status_seconds=0.3, queue_delay=0.1, speed=20, clock=clock)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        seen = poll_until_done(client, submit(client), clock=clock)
    statuses = [p["task"]["status"] for p in seen]
    assert statuses[0] == "TASK_STATUS_WARMING_UP"
    assert statuses.index("TASK_STATUS_QUEUED") > statuses.index("TASK_STATUS_WARMING_UP")
    assert statuses[-1] == "TASK_STATUS_SUCCEED"


def test_tasks_beyond_concurrency_stay_queued_until_a_slot_frees() -> None:
    clock = FakeClock()
    sandbox = Sandbox(concurrency=1, queue_delay=0.0, speed=2, clock=clock)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        first, second = submit(client), submit(client)
        clock.advance(0.1)
        tasks = sandbox.tasks
        assert tasks[first].status == "TASK_STATUS_PROCESSING"
        assert tasks[second].status == "TASK_STATUS_QUEUED"
        poll_until_done(client, second, clock=clock)
        first_done, second_started = sandbox.finished_at(first), sandbox.tasks[second].started_at
        assert first_done is not None
        assert second_started is not None
        assert second_started >= first_done - 0.01


def test_eta_absent_mode_always_reports_zero() -> None:
    clock = FakeClock()
    sandbox = Sandbox(eta_mode="absent", speed=4, queue_delay=0.1, clock=clock)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        seen = poll_until_done(client, submit(client), clock=clock)
    assert {p["task"]["eta"] for p in seen} == {0}


def test_eta_noisy_mode_stays_within_twenty_percent_of_the_truth() -> None:
    sandbox = Sandbox(eta_mode="noisy", speed=0.1, queue_delay=0.0, seed=3, clock=FakeClock())
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        task_id = submit(client)
        etas = []
        for _ in range(10):
            etas.append(
                client.get("/v3/async/task-result", params={"task_id": task_id}).json()["task"]["eta"]
            )
    # About 8.9 s of processing, and time stands still: an exact eta would be 9 throughout; noise
    # moves it by up to 20 %.
    assert set(etas) <= {8, 9, 10, 11}
    assert len(set(etas)) > 1


def test_seed_minus_one_draws_a_seed_and_reports_it_as_a_string() -> None:
    clock = FakeClock()
    sandbox = Sandbox(speed=20, queue_delay=0.0, clock=clock)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        random_id = submit(client, make_body(seed=-1))
        default_id = submit(client, make_body(seed=None))
        given_id = submit(client, make_body(seed=1234))
        seeds = {
            task_id: poll_until_done(client, task_id, clock=clock)[-1]["extra"]["seed"]
            for task_id in (random_id, default_id, given_id)
        }
    assert seeds[given_id] == "1234"
    for task_id in (random_id, default_id):
        assert seeds[task_id].isdigit()
        assert 0 <= int(seeds[task_id]) < 2**32
        assert sandbox.tasks[task_id].seed == int(seeds[task_id])


def test_prompt_containing_a_fail_marker_fails_with_an_illegal_prompt_reason() -> None:
    clock = FakeClock()
    sandbox = Sandbox(speed=4, queue_delay=0.0, clock=clock)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        final = poll_until_done(client, submit(client, make_body(prompt="please FAIL now")), clock=clock)[-1]
    assert final["task"]["status"] == "TASK_STATUS_FAILED"
    assert final["task"]["reason"].startswith("ILLEGAL_PROMPT:")
    assert final["images"] == []


def test_fail_rate_one_fails_every_task_with_a_non_empty_reason() -> None:
    clock = FakeClock()
    sandbox = Sandbox(fail_rate=1.0, speed=4, queue_delay=0.0, seed=1, clock=clock)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        finals = [poll_until_done(client, submit(client), clock=clock)[-1] for _ in range(3)]
    for final in finals:
        assert final["task"]["status"] == "TASK_STATUS_FAILED"
        assert final["task"]["reason"].startswith("TASK_FAILED:")
    assert all(info.reason for info in sandbox.tasks.values())


def test_finished_at_is_the_wall_clock_time_the_task_became_terminal() -> None:
    sandbox = Sandbox(speed=4, queue_delay=0.1)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        before = time.time()
        task_id = submit(client)
        assert sandbox.finished_at(task_id) is None
        poll_until_done(client, task_id, interval=0.01)
        seen_done = time.time()
    finished = sandbox.finished_at(task_id)
    assert finished is not None
    assert before < finished <= seen_done
    assert sandbox.finished_at("no-such-task") is None
    info = sandbox.tasks[task_id]
    assert info.status == "TASK_STATUS_SUCCEED"
    assert info.finished_at == finished
    assert info.started_at is not None
    assert info.created_at <= info.started_at <= finished
    assert info.request["request"]["prompt"] == "a cute dog on a red sofa"


def test_unknown_task_id_is_404_task_not_found_with_the_id_in_metadata() -> None:
    sandbox = Sandbox()
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        response = client.get("/v3/async/task-result", params={"task_id": "nope"})
    assert response.status_code == 404
    assert response.json() == {
        "code": 404,
        "reason": "TASK_NOT_FOUND",
        "message": "task nope not found",
        "metadata": {"task_id": "nope"},
    }
