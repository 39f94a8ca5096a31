"""Answers real servers send that the docs do not promise: odd types, short image lists, images of the
wrong size, endless model pages."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image

from ppio_txt2img.sandbox import Sandbox
from tests.loopback import TLS
from tests.sandbox.sandbox_helpers import AUTH, TERMINAL, make_body, poll_until_done, submit

FAST: dict[str, Any] = {"speed": 50, "queue_delay": 0.0}


def _poll_raw(client: httpx.Client, task_id: str, sandbox: Sandbox) -> list[Any]:
    """Every task-result payload until the sandbox says the task is finished (no spec check: the
    answers are odd on purpose)."""
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        seen.append(client.get("/v3/async/task-result", params={"task_id": task_id}).json())
        if sandbox.tasks[task_id].status in TERMINAL:
            seen.append(client.get("/v3/async/task-result", params={"task_id": task_id}).json())
            return seen
        time.sleep(0.03)
    raise AssertionError("the task did not finish")


def test_response_overrides_replace_fields_by_dotted_path_on_every_answer() -> None:
    now = [1000.0]  # the sandbox's clock: the task runs only when the test moves it
    sandbox = Sandbox(
        response_overrides={
            "task_result": {"task.eta": "soon", "images.0.image_url": 123, "images.*.image_url_ttl": 60},
            "txt2img": {"task_id": None},
            "model": {"models.-1.id": "last", "pagination.new_key": [1, 2]},
        },
        clock=lambda: now[0],
        **FAST,
    )
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        created = client.post("/v3/async/txt2img", json=make_body(image_num=2))
        (task_id,) = sandbox.tasks
        answers = [client.get("/v3/async/task-result", params={"task_id": task_id}).json()]
        now[0] += 3600
        answers += _poll_raw(client, task_id, sandbox)
        models = client.get("/v3/model", params={"pagination.limit": 3}).json()
    assert created.json() == {"task_id": None}
    assert all(a["task"]["eta"] == "soon" for a in answers)
    running = [a for a in answers if not a["images"]]
    assert running  # an override whose parent is missing leaves those answers alone
    images = answers[-1]["images"]
    assert images[0]["image_url"] == 123
    assert isinstance(images[1]["image_url"], str)
    assert [i["image_url_ttl"] for i in images] == [60, 60]
    assert [m["id"] for m in models["models"]][2] == "last"
    assert models["pagination"]["new_key"] == [1, 2]
    assert isinstance(models["models"][0]["id"], int)


def test_finished_task_overrides_change_only_answers_about_finished_tasks() -> None:
    sandbox = Sandbox(
        response_overrides={"task_result_finished": {"task.status": "TASK_STATUS_DONE", "extra.seed": 7.5}},
        queue_delay=0.3,
        speed=20,
    )
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        answers = _poll_raw(client, submit(client), sandbox)
    before, after = answers[0], answers[-1]
    assert before["task"]["status"] == "TASK_STATUS_QUEUED"
    assert isinstance(before["extra"]["seed"], str)
    assert after["task"]["status"] == "TASK_STATUS_DONE"
    assert after["extra"]["seed"] == 7.5
    assert len(after["images"]) == 2


@pytest.mark.parametrize(("missing", "listed"), [(1, 2), (5, 0)])
def test_a_succeeded_task_lists_fewer_images_than_asked(missing: int, listed: int) -> None:
    sandbox = Sandbox(missing_images=missing, **FAST)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        final = poll_until_done(client, submit(client, make_body(image_num=3)))[-1]
    assert final["task"]["status"] == "TASK_STATUS_SUCCEED"
    assert len(final["images"]) == listed
    assert [i["image_url"].split("/")[-1].split("?")[0] for i in final["images"]] == [
        f"{n}.png" for n in range(listed)
    ]


def test_images_are_drawn_at_the_override_size_not_the_asked_one() -> None:
    sandbox = Sandbox(image_size_override=(320, 200), **FAST)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        body = make_body(width=256, height=192, extra={"response_image_type": "jpeg"})
        (image, _) = poll_until_done(client, submit(client, body))[-1]["images"]
        data = httpx.get(image["image_url"], verify=TLS).content
    with Image.open(io.BytesIO(data)) as picture:
        assert (picture.format, picture.size) == ("JPEG", (320, 200))


def test_endless_model_pages_always_give_a_new_cursor_and_models() -> None:
    with (
        Sandbox(endless_model_pages=True).serve() as url,
        httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client,
    ):
        cursors, ids = [], []
        cursor = ""
        for _ in range(8):  # the catalogue has fewer than 40 models
            page = client.get("/v3/model", params={"pagination.limit": 5, "pagination.cursor": cursor}).json()
            cursor = page["pagination"]["next_cursor"]
            cursors.append(cursor)
            ids += [m["id"] for m in page["models"]]
            assert len(page["models"]) == 5
    assert all(cursors)
    assert len(set(cursors)) == len(cursors)
    assert len(ids) == 40
    assert len(set(ids)) < 40  # the pages went round the catalogue again


def test_without_endless_pages_the_last_page_has_no_cursor() -> None:
    with Sandbox().serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        page = client.get("/v3/model", params={"pagination.limit": 100}).json()
    assert page["pagination"]["next_cursor"] == ""


def test_invalid_misbehaviour_knobs_are_refused_naming_them() -> None:
    with pytest.raises(ValueError, match=r"compression\['model'\] must be one of gzip, deflate"):
        Sandbox(compression={"model": "br"})
    with pytest.raises(ValueError, match=r"drip_bytes_per_second\['storage'\] must be"):
        Sandbox(drip_bytes_per_second={"storage": 0})
    with pytest.raises(ValueError, match="redirect_status must be one of"):
        Sandbox(redirect_status=300)
    with pytest.raises(ValueError, match=r"redirects\['model'\] must be one of same_host"):
        Sandbox(redirects={"model": "away"})
    with pytest.raises(ValueError, match="pad_bytes: unknown endpoint 'storage'"):
        Sandbox(pad_bytes={"storage": 10})
    with pytest.raises(ValueError, match="is not a dotted path"):
        Sandbox(response_overrides={"task_result": {"task..eta": 1}})
    with pytest.raises(ValueError, match="is not a JSON value"):
        Sandbox(response_overrides={"model": {"x": object()}})
    with pytest.raises(ValueError, match="missing_images"):
        Sandbox(missing_images=-1)
    with pytest.raises(ValueError, match="image_size_override"):
        Sandbox(image_size_override=(0, 100))
