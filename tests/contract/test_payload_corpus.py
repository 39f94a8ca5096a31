"""The SDK reads every payload of the shared corpus, tests/fixtures/payloads/.

The same files are parsed by the Go, TypeScript and Python (pydantic) clients that openapi-generator makes
from the spec (`make check-clients`): every documented task-result form (REFERENCE.md §1, §7), the
webhook event (§5), model lists (§4), error bodies (§3), created tasks (§2), plus new keys at every level,
unknown enum values, big and string seeds and a negative eta. Here the facade's own readers take them:
`parse_task`, `parse_models_page`, `parse_created_task_id`, `error_info` and `ppio.parse_webhook`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import ppio_txt2img as ppio
from ppio_txt2img._adapter import error_info, parse_created_task_id, parse_models_page, parse_task

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)
KINDS = ("create", "error", "models", "task_result", "webhook")


def payloads(kind: str) -> list[Any]:
    return [pytest.param(path, id=path.stem) for path in sorted((CORPUS / kind).glob("*.json"))]


def as_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


def test_the_corpus_has_every_kind_and_nothing_else() -> None:
    assert sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) == sorted(KINDS)
    assert len(list(CORPUS.glob("task_result/*.json"))) >= 10


def assert_task_matches(task: ppio.Task, data: dict[str, Any]) -> None:
    assert task.id == data["task"]["task_id"]
    assert task.status == data["task"]["status"]  # an unknown status is kept as sent
    extra = data.get("extra") or {}
    assert task.seed == as_int(extra.get("seed"))  # "392212448", 3000000000 and int64's max alike
    eta = data["task"].get("eta")
    assert task.eta == (None if eta is None else float(eta))  # -1 too: not refused
    images = data.get("images") or []
    assert [image.url for image in task.images] == [image["image_url"] for image in images]
    for image, raw in zip(task.images, images, strict=True):
        ttl = as_int(raw.get("image_url_ttl"))
        expected = RECEIVED + timedelta(seconds=ttl) if ttl else None  # "0": no known expiry
        assert image.expires_at == expected
        nsfw = raw.get("nsfw_detection_result")
        assert (image.nsfw is None) == (nsfw is None)


@pytest.mark.parametrize("path", payloads("task_result"))
def test_every_task_result_of_the_corpus_parses(path: Path) -> None:
    data = json.loads(path.read_bytes())

    task = parse_task(path.read_bytes(), RECEIVED)

    assert_task_matches(task, data)


@pytest.mark.parametrize("path", payloads("webhook"))
def test_every_webhook_event_of_the_corpus_parses(path: Path) -> None:
    data = json.loads(path.read_bytes())

    task = ppio.parse_webhook(path.read_bytes(), received_at=RECEIVED)

    if data["event_type"] != "ASYNC_TASK_RESULT":
        assert task is None  # the docs: ignore other event types
        return
    assert task is not None
    assert_task_matches(task, data["payload"])


@pytest.mark.parametrize("path", payloads("models"))
def test_every_model_list_of_the_corpus_parses(path: Path) -> None:
    data = json.loads(path.read_bytes())

    models, cursor = parse_models_page(path.read_bytes())

    assert [m.id for m in models] == [m.get("id") for m in data["models"]]
    assert [m.sd_name for m in models] == [m.get("sd_name") or m.get("model_name") for m in data["models"]]
    assert [m.type for m in models] == [(m.get("type") or {}).get("name") for m in data["models"]]
    assert [m.raw for m in models] == data["models"]  # new keys kept
    assert cursor == ((data.get("pagination") or {}).get("next_cursor") or None)


@pytest.mark.parametrize("path", payloads("error"))
def test_every_error_body_of_the_corpus_parses(path: Path) -> None:
    data = json.loads(path.read_bytes())

    info = error_info(path.read_bytes())

    assert info.reason == data["reason"]
    assert info.message == data["message"]
    assert info.metadata == data["metadata"]


@pytest.mark.parametrize("path", payloads("create"))
def test_every_created_task_of_the_corpus_parses(path: Path) -> None:
    assert parse_created_task_id(path.read_bytes()) == json.loads(path.read_bytes())["task_id"]
