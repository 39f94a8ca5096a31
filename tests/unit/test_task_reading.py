"""A task result is read from its checked JSON (`_adapter.parse_task`), not through the generated
`TaskResultResponse.from_dict`: the two readings must give the same `Task`, on the payload corpus and on
its payloads made odd in every place (those the schema check lets through). The reference reads the
generated models as the facade did, with the same helpers for numbers and expiry times."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ppio_api.models import TaskResultResponse
from ppio_api.types import Unset
from ppio_txt2img._adapter import ResponseMismatch, parse_task
from ppio_txt2img._adapter import _expires_at as expires_at
from ppio_txt2img._adapter import _integer as integer
from ppio_txt2img._adapter import _number as number
from ppio_txt2img._results import ImageRef, NsfwResult, Task
from tests.unit.json_places import paths, swapped

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads" / "task_result"
NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _plain(value: object) -> Any:
    return None if isinstance(value, Unset) else value


def _number(value: object) -> float | None:
    return number(_plain(value))


def _integer(value: object) -> int | None:
    return integer(_plain(value))


def _expires(ttl: object) -> datetime | None:
    return expires_at(_plain(ttl), NOW)


def without_nulls(value: Any) -> Any:
    """An optional key sent as null, read as absent (as the schema check reads it): dropped."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    return [without_nulls(v) for v in value] if isinstance(value, list) else value


def through_generated_models(data: dict[str, Any]) -> Task:
    """The reading as the facade did it through the generated models (the reference), of the payload
    with its optional nulls dropped (which the generated models would take for an object and fail)."""
    result = TaskResultResponse.from_dict(without_nulls(data))
    images = []
    for image in _plain(result.images) or []:
        nsfw_raw = _plain(image.nsfw_detection_result)
        nsfw = (
            None
            if nsfw_raw is None
            else NsfwResult(valid=_plain(nsfw_raw.valid), confidence=_number(nsfw_raw.confidence))
        )
        image_type = _plain(image.image_type)
        images.append(
            ImageRef(
                url=image.image_url,
                image_type=None if image_type is None else str(image_type),
                expires_at=_expires(image.image_url_ttl),
                nsfw=nsfw,
            )
        )
    task, extra = result.task, _plain(result.extra)
    task_type = _plain(task.task_type)
    return Task(
        id=task.task_id,
        status=str(task.status),
        # 100 once succeeded: the API sends 0 then (`Task.progress`).
        progress=100.0 if str(task.status) == "TASK_STATUS_SUCCEED" else _number(task.progress_percent),
        eta=_number(task.eta),
        reason=_plain(task.reason) or None,
        task_type=None if task_type is None else str(task_type),
        seed=None if extra is None else _integer(extra.seed),
        images=tuple(images),
        raw=data,
    )


ODD: list[Any] = [
    *(None, "", "0", "12", " 7 ", "-3", "1e3", "1e999", "x", 0, -1, 7, 2.5, 10**30, 10**400, True, False),
    *([], {}, {"k": 1}),
]
PAYLOADS = sorted(CORPUS.glob("*.json"))


def test_the_corpus_has_task_results_with_images_and_without() -> None:
    loaded = [json.loads(path.read_text()) for path in PAYLOADS]
    assert any(p.get("images") for p in loaded)
    assert any(not p.get("images") for p in loaded)


@pytest.mark.parametrize("path", PAYLOADS, ids=lambda p: p.stem)
def test_reading_the_json_is_reading_the_models(path: Path) -> None:
    original = json.loads(path.read_text())
    compared = 0
    for where in paths(original)[1:]:
        for odd in ODD:
            for delete in (False, True):
                data = swapped(original, where, odd, delete)
                try:
                    task = parse_task(json.dumps(data).encode(), NOW)
                except ResponseMismatch:
                    continue  # the schema check refused it: neither reading happens
                assert task == through_generated_models(data), (where, odd, delete)
                compared += 1
    assert compared > 0
