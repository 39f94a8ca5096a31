"""The coordinator as a real Ray actor: a line is claimed (its intent on disk) before any POST, and a
Ray retry of a claimed line never POSTs again; the pacer is one for every worker."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import ray

from ppio_txt2img.batch import to_request
from ppio_txt2img.batch._runner import Plan, PostFailure
from ppio_txt2img.batch.ray._coordinator import WORKER_DIED, Coordinator

SMALL = {"width": 128, "height": 128, "steps": 1}


@pytest.fixture
def coordinator(cluster: None, tmp_path: Path) -> Any:
    """A coordinator actor over a fresh journal, allowing 2 images per (long) window."""
    remote: Any = ray.remote(Coordinator)
    actor = remote.remote(str(tmp_path), ipm=2, window=600.0)
    ray.get(actor.start.remote())
    yield actor
    ray.kill(actor)


def status(out: Path, line: int) -> tuple[str, str | None]:
    with sqlite3.connect(out / "journal.sqlite3") as db:
        return db.execute("SELECT status, task_id FROM lines WHERE line = ?", (line,)).fetchone()  # type: ignore[no-any-return]


def test_a_retry_of_a_line_claimed_mid_post_is_unknown_not_posted_again(
    coordinator: Any, tmp_path: Path
) -> None:
    request = to_request(1, {"prompt": "claimed", **SMALL})
    [decision] = ray.get(coordinator.plan.remote([request], resubmit_unknown=False, retry_failed=False))
    assert decision == Plan("submit")
    first = ray.get(coordinator.begin.remote(request))
    assert first.action == "post"
    assert status(tmp_path, 1) == ("intent", None)  # committed before the worker may POST
    retry = ray.get(coordinator.begin.remote(request))  # the worker died mid-POST; Ray runs it again
    assert retry.action == "none"
    assert retry.result.status == "unknown"
    assert retry.result.error == WORKER_DIED
    assert status(tmp_path, 1)[0] == "unknown"


def test_a_retry_of_a_line_with_a_task_waits_for_that_task(coordinator: Any, tmp_path: Path) -> None:
    request = to_request(2, {"prompt": "posted", **SMALL})
    assert ray.get(coordinator.begin.remote(request)).action == "post"
    ray.get(coordinator.posted.remote(2, "task-2"))
    assert status(tmp_path, 2) == ("submitted", "task-2")
    retry = ray.get(coordinator.begin.remote(request))
    assert (retry.action, retry.task_id) == ("wait", "task-2")


def test_a_line_whose_post_created_nothing_may_be_posted_again(coordinator: Any, tmp_path: Path) -> None:
    request = to_request(3, {"prompt": "refused", **SMALL})
    assert ray.get(coordinator.begin.remote(request)).action == "post"
    ray.get(
        coordinator.post_failed.remote(
            request, PostFailure("retry", "429", rate_limited=True, retry_after=0.0)
        )
    )
    assert status(tmp_path, 3) is None  # the intent is withdrawn: nothing was created
    assert ray.get(coordinator.begin.remote(request)).action == "post"


def test_one_pacer_for_every_caller(coordinator: Any) -> None:
    """Two images per window for the account: the third claim waits, whoever asks."""
    claims = [
        ray.get(coordinator.begin.remote(to_request(n, {"prompt": f"paced {n}", **SMALL}))) for n in (4, 5, 6)
    ]
    assert [c.action for c in claims] == ["post", "post", "later"]
    assert claims[2].delay > 0
