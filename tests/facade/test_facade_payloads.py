"""Every documented form of the task-result payload goes through the client (REFERENCE.md sections 1 and 7),
and a task that fails or does not exist surfaces as a typed error carrying the task id."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

import ppio_txt2img as ppio
from tests.facade.facade_helpers import (
    IMAGE_HOST,
    JPEG,
    PNG,
    TASK_ID,
    ClientFactory,
    FakeClock,
    ScriptedAPI,
    error_response,
    image_entry,
    task_payload,
)

URL = f"{IMAGE_HOST}/{TASK_ID}/0.png?X-Amz-Expires=3600"


def finish(api: ScriptedAPI, clock: FakeClock, payload: dict[str, Any], data: bytes = PNG) -> list[datetime]:
    """Serve `payload` as the succeeded result (after one processing poll); return when each was served."""
    served: list[datetime] = []

    def final(request: httpx.Request) -> dict[str, Any]:
        served.append(clock.datetime())
        return payload

    api.results = [task_payload("PROCESSING", progress=40, eta=1), final]
    api.images = {image["image_url"]: [data] for image in payload.get("images", [])}
    return served


@pytest.mark.parametrize("seed", ["392212448", 392212448], ids=["string", "integer"])
def test_seed_is_read_as_a_string_or_an_integer(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory, seed: Any
) -> None:
    finish(api, clock, task_payload("SUCCEED", images=[image_entry(URL)], extra={"seed": seed}))

    generation = make_client().txt2img("a cat")

    assert generation.seed == 392212448
    assert generation.task.seed == 392212448


@pytest.mark.parametrize(
    ("ttl", "seconds"),
    [("3600", 3600), (3600, 3600), ("0", None), (0, None)],
    ids=["str", "int", "str0", "int0"],
)
def test_image_url_ttl_as_string_or_integer_gives_expires_at_and_zero_means_no_expiry(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory, ttl: Any, seconds: int | None
) -> None:
    served = finish(api, clock, task_payload("SUCCEED", images=[image_entry(URL, ttl=ttl)]))

    generation = make_client().txt2img("a cat")

    expected = None if seconds is None else served[0] + timedelta(seconds=seconds)
    assert generation.images[0].expires_at == expected
    assert generation.task.images[0].expires_at == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ({}, ppio.NsfwResult(valid=None, confidence=None)),
        ({"valid": True, "confidence": 12.5}, ppio.NsfwResult(valid=True, confidence=12.5)),
        ({"valid": False, "confidence": 99}, ppio.NsfwResult(valid=False, confidence=99)),
    ],
    ids=["null", "empty", "valid", "invalid"],
)
def test_nsfw_detection_result_may_be_null_empty_or_filled(
    api: ScriptedAPI,
    clock: FakeClock,
    make_client: ClientFactory,
    raw: Any,
    expected: ppio.NsfwResult | None,
) -> None:
    finish(api, clock, task_payload("SUCCEED", images=[image_entry(URL, nsfw=raw)]))

    generation = make_client().txt2img("a cat")

    assert generation.images[0].nsfw == expected


def test_missing_debug_info_audios_videos_and_extra_are_tolerated(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    payload = task_payload("SUCCEED", images=[image_entry(URL)])
    del payload["extra"], payload["audios"], payload["videos"]
    finish(api, clock, payload)

    generation = make_client().txt2img("a cat")

    assert generation.seed is None
    assert len(generation.images) == 1
    assert generation.images[0].data == PNG


def test_optional_fields_sent_as_null_are_read_as_absent_on_every_poll(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    """REFERENCE.md section 7: empty or null values. A server that sends `"eta": null` (no estimate) on every
    poll is waited out, not refused three times over."""
    nulls = {"eta": None, "progress_percent": None, "reason": None, "task_type": None}

    def with_nulls(payload: dict[str, Any]) -> dict[str, Any]:
        payload["task"].update(nulls)
        return payload

    image = {**image_entry(URL), "image_type": None, "image_url_ttl": None, "nsfw_detection_result": None}
    done = with_nulls(task_payload("SUCCEED", images=[image]))
    done.update(extra=None, audios=None, videos=None)
    api.results = [with_nulls(task_payload("QUEUED")), with_nulls(task_payload("PROCESSING")), done]
    api.images = {URL: [PNG]}
    seen: list[ppio.Task] = []

    generation = make_client().txt2img("a cat", on_progress=seen.append)

    assert [t.status for t in seen] == ["TASK_STATUS_QUEUED", "TASK_STATUS_PROCESSING", "TASK_STATUS_SUCCEED"]
    assert all(t.eta is None and t.reason is None and t.task_type is None for t in seen)
    assert [t.progress for t in seen] == [None, None, 100.0]
    assert generation.seed is None
    assert generation.images[0].data == PNG
    assert generation.images[0].expires_at is None
    assert len(api.polls) == 3


@pytest.mark.parametrize("field", ["task_id", "status"])
def test_a_required_task_field_sent_as_null_is_still_a_bad_answer(
    api: ScriptedAPI, make_client: ClientFactory, field: str
) -> None:
    payload = task_payload("PROCESSING")
    payload["task"][field] = None
    api.results = [payload]

    with pytest.raises(ppio.APIResponseValidationError, match=f"task.{field}"):
        make_client().get_task(TASK_ID)


def test_the_docs_full_example_with_debug_info_strings_parses(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    extra = {
        "seed": "158881667",
        "enable_nsfw_detection": False,
        "debug_info": {
            "request_info": "",
            "submit_time_ms": "",
            "execute_time_ms": "",
            "complete_time_ms": "",
        },
    }
    jpeg_url = f"{IMAGE_HOST}/{TASK_ID}/0.jpeg"
    finish(
        api,
        clock,
        task_payload(
            "SUCCEED", images=[image_entry(jpeg_url, image_type="jpeg", ttl=3600, nsfw={})], extra=extra
        ),
        JPEG,
    )

    generation = make_client().txt2img("a cat", response_image_type="jpeg")

    assert generation.seed == 158881667
    assert generation.images[0].format == "jpeg"
    assert generation.task.task_type == "TXT_TO_IMG"
    assert generation.task.reason is None  # "" on success


def test_unknown_keys_anywhere_in_the_payload_are_ignored(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    payload = task_payload(
        "SUCCEED",
        images=[image_entry(URL, width=512, watermark=None)],
        extra={"has_nsfw_contents": [], "seed": "7", "new_thing": {"x": 1}},
        brand_new_block={"a": [1, 2]},
    )
    payload["task"]["queue_position"] = 3
    finish(api, clock, payload)

    generation = make_client().txt2img("a cat")

    assert generation.seed == 7
    assert generation.images[0].data == PNG


def test_an_unknown_status_is_not_terminal_and_is_reported_to_on_progress(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    warming = task_payload("TASK_STATUS_WARMING_UP")
    api.results = [warming, warming, warming, task_payload("SUCCEED", images=[image_entry(URL)])]
    api.images = {URL: [PNG]}
    seen: list[ppio.Task] = []

    generation = make_client().txt2img("a cat", on_progress=seen.append)

    assert len(api.polls) == 4
    assert [t.status for t in seen] == ["TASK_STATUS_WARMING_UP", "TASK_STATUS_SUCCEED"]
    assert not seen[0].done
    assert generation.images[0].data == PNG
    assert generation.task.succeeded


def test_get_task_reports_an_unknown_status_as_is(api: ScriptedAPI, make_client: ClientFactory) -> None:
    api.results = [task_payload("TASK_STATUS_WARMING_UP", progress=5, eta=12)]

    task = make_client().get_task(TASK_ID)

    assert (task.id, task.status, task.progress, task.eta) == (TASK_ID, "TASK_STATUS_WARMING_UP", 5, 12)
    assert not task.done
    assert not task.succeeded
    assert not task.failed
    assert api.polls[0].url.endswith(f"/v3/async/task-result?task_id={TASK_ID}")


def test_a_failed_task_raises_task_failed_error_with_its_id_and_reason(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    api.results = [task_payload("QUEUED"), task_payload("FAILED", reason="ILLEGAL_PROMPT: nope")]

    with pytest.raises(ppio.TaskFailedError) as info:
        make_client().txt2img("a cat")

    assert info.value.task_id == TASK_ID
    assert info.value.reason == "ILLEGAL_PROMPT: nope"
    assert TASK_ID in str(info.value)
    assert "ILLEGAL_PROMPT: nope" in str(info.value)
    assert api.image_requests == []


def test_a_failed_task_without_reason_still_says_it_failed(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    api.results = [task_payload("FAILED")]

    with pytest.raises(ppio.TaskFailedError, match="failed") as info:
        make_client().wait(TASK_ID)

    assert info.value.task_id == TASK_ID


@pytest.mark.parametrize("message", ["task not found", "task no-such-task not found"])
def test_get_task_on_an_unknown_task_raises_not_found_naming_the_task_once(
    api: ScriptedAPI, make_client: ClientFactory, message: str
) -> None:
    # Named by the SDK when the API's message does not name it, and not again when it does.
    api.results = [error_response(404, "TASK_NOT_FOUND", message)]

    with pytest.raises(ppio.NotFoundError) as info:
        make_client().get_task("no-such-task")

    error = info.value
    assert (error.task_id, error.status_code, error.reason) == ("no-such-task", 404, "TASK_NOT_FOUND")
    assert str(error).count("no-such-task") == 1
    assert "TASK_NOT_FOUND" in str(error)
    assert len(api.polls) == 1  # a 404 is not retried


def test_wait_on_an_unknown_task_raises_not_found_at_once(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    api.results = [error_response(404, "TASK_NOT_FOUND")]

    with pytest.raises(ppio.NotFoundError) as info:
        make_client().wait(ppio.SubmittedTask(id="gone"))

    assert (info.value.task_id, info.value.status_code, info.value.reason) == ("gone", 404, "TASK_NOT_FOUND")
    assert "no such task" in str(info.value)  # the client's message when the body has none
    assert len(api.polls) == 1


@pytest.mark.parametrize("task_id", ["", "   "])
def test_an_empty_task_id_is_refused_before_any_request(
    api: ScriptedAPI, make_client: ClientFactory, task_id: str
) -> None:
    with pytest.raises(ppio.ValidationError):
        make_client().get_task(task_id)
    assert api.requests == []
