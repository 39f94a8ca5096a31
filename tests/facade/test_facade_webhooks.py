"""`ppio.parse_webhook`: the ASYNC_TASK_RESULT event, as the docs show it, read into a `Task`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import ppio_txt2img as ppio

# The docs' example event (REFERENCE.md section 5), verbatim apart from the shortened URL.
DOCS_EVENT = {
    "event_type": "ASYNC_TASK_RESULT",
    "payload": {
        "task": {
            "eta": 0,
            "progress_percent": 0,
            "reason": "",
            "status": "TASK_STATUS_SUCCEED",
            "task_id": "f6aec953-2e81-4e8b-938e-2ceab54d6df9",
            "task_type": "TXT_TO_IMG",
        },
        "extra": {"enable_nsfw_detection": False, "webhook": {"url": "https://your-webhook-endpoint-url"}},
        "images": [
            {
                "image_type": "jpeg",
                "image_url": "https://faas-output-image.s3.example/test_data/image_01.jpeg?X-Amz-Expires=3600",
                "image_url_ttl": "3600",
                "nsfw_detection_result": None,
            }
        ],
        "videos": [],
        "audios": [],
    },
}


def test_the_docs_example_event_gives_its_task_and_images() -> None:
    received = datetime(2026, 1, 1, tzinfo=UTC)
    task = ppio.parse_webhook(json.dumps(DOCS_EVENT).encode(), received_at=received)
    assert task is not None
    assert task.id == "f6aec953-2e81-4e8b-938e-2ceab54d6df9"
    assert task.succeeded
    [image] = task.images
    assert image.image_type == "jpeg"
    assert image.expires_at == received + timedelta(seconds=3600)
    assert image.nsfw is None


def test_a_str_or_a_parsed_dict_work_too() -> None:
    received = datetime(2026, 1, 1, tzinfo=UTC)
    from_text = ppio.parse_webhook(json.dumps(DOCS_EVENT), received_at=received)
    assert from_text == ppio.parse_webhook(DOCS_EVENT, received_at=received)


def test_a_failed_task_keeps_its_reason() -> None:
    event = json.loads(json.dumps(DOCS_EVENT))
    event["payload"]["task"].update(status="TASK_STATUS_FAILED", reason="ILLEGAL_PROMPT")
    event["payload"]["images"] = []
    task = ppio.parse_webhook(event)
    assert task is not None
    assert task.failed
    assert task.reason == "ILLEGAL_PROMPT"


def test_other_event_types_are_ignored() -> None:
    assert ppio.parse_webhook({"event_type": "SOMETHING_NEW", "payload": {}}) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"<html>not json</html>", "body"),
        (b"[1, 2]", "event_type"),
        ({"payload": {}}, "event_type"),
        ({"event_type": "ASYNC_TASK_RESULT", "payload": {"task": {"status": "x"}}}, "payload"),
        ({"event_type": "ASYNC_TASK_RESULT"}, "payload"),
    ],
)
def test_a_body_that_is_not_an_event_is_a_validation_error(body: object, field: str) -> None:
    with pytest.raises(ppio.ValidationError) as caught:
        ppio.parse_webhook(body)  # type: ignore[arg-type]
    assert caught.value.field == field
