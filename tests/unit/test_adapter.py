"""The adapter to the generated layer, on its own: requests it builds, responses it checks and converts.

It is the only module of the facade that imports `ppio_api`; the last test holds it to that.
"""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ppio_txt2img._adapter import (
    ResponseMismatch,
    create_task_request,
    enveloped_task_id,
    error_info,
    models_request,
    parse_created_task_id,
    parse_models_page,
    parse_task,
    task_result_request,
)

NOW = datetime(2025, 1, 1, tzinfo=UTC)
FACADE = Path(__file__).resolve().parents[2] / "facade" / "ppio_txt2img"


def _task(**task: object) -> bytes:
    return json.dumps({"task": {"task_id": "t1", "status": "TASK_STATUS_PROCESSING", **task}}).encode()


def test_requests_carry_method_path_query_and_body() -> None:
    body = {
        "request": {
            "model_name": "m",
            "prompt": "a cat",
            "width": 512,
            "height": 512,
            "image_num": 1,
            "steps": 20,
            "guidance_scale": 7.5,
            "sampler_name": "Euler a",
        }
    }
    created = create_task_request(body)
    assert (created.method, created.path) == ("POST", "/v3/async/txt2img")
    assert created.json["request"]["prompt"] == "a cat"
    looked = task_result_request("t1")
    assert (looked.method, looked.path, dict(looked.params or {})) == (
        "GET",
        "/v3/async/task-result",
        {"task_id": "t1"},
    )
    page = models_request({"filter.types": "checkpoint", "pagination.limit": 5}, "c_1")
    assert dict(page.params or {})["filter.types"] == "checkpoint"
    assert dict(page.params or {})["pagination.cursor"] == "c_1"


@pytest.mark.parametrize("task_id", [None, 123, "", ["t1"]])
def test_a_create_answer_without_a_usable_task_id_is_a_mismatch(task_id: object) -> None:
    with pytest.raises(ResponseMismatch, match="task_id"):
        parse_created_task_id(json.dumps({"task_id": task_id}).encode())


def test_numeric_strings_are_read_as_numbers() -> None:
    task = parse_task(_task(eta="5", progress_percent="50.5"), NOW)
    assert (task.eta, task.progress) == (5.0, 50.5)


@pytest.mark.parametrize(
    ("field", "value"), [("eta", "soon"), ("progress_percent", "50%"), ("status", 7), ("task_id", None)]
)
def test_wrong_typed_task_fields_are_a_mismatch_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ResponseMismatch, match=f"task.{field}"):
        parse_task(_task(**{field: value}), NOW)


def test_a_wrong_typed_image_url_is_a_mismatch() -> None:
    body = {"task": {"task_id": "t1", "status": "TASK_STATUS_SUCCEED"}, "images": [{"image_url": 123}]}
    with pytest.raises(ResponseMismatch, match=r"images\[0\]\.image_url"):
        parse_task(json.dumps(body).encode(), NOW)


@pytest.mark.parametrize(("ttl", "expires"), [("3600", NOW + timedelta(hours=1)), (0, None), (10**30, None)])
def test_image_url_ttl_gives_expiry_and_a_huge_one_means_none_known(ttl: object, expires: object) -> None:
    body = {
        "task": {"task_id": "t1", "status": "TASK_STATUS_SUCCEED"},
        "images": [{"image_url": "https://i/0.png", "image_url_ttl": ttl}],
    }
    assert parse_task(json.dumps(body).encode(), NOW).images[0].expires_at == expires


@pytest.mark.parametrize("content", [b"<html>502</html>", b"[" * 10_000, b"", b'{"task": 1}'])
def test_bodies_that_are_not_a_task_result_are_a_mismatch(content: bytes) -> None:
    with pytest.raises(ResponseMismatch):
        parse_task(content, NOW)


def test_models_pages_keep_unknown_shapes_and_read_the_cursor() -> None:
    page = {
        "models": [{"model_name": "x.safetensors", "categories": {}, "tags": {}, "status": "1"}],
        "pagination": {"next_cursor": "c_2"},
    }
    models, cursor = parse_models_page(json.dumps(page).encode())
    assert cursor == "c_2"
    assert (models[0].sd_name, models[0].status, models[0].tags) == ("x.safetensors", 1, ())


def test_a_models_page_with_optional_fields_sent_as_null_reads_them_as_absent() -> None:
    model = {"model_name": "x.safetensors", "type": None, "tags": None, "status": None, "is_sdxl": None}
    for pagination in (None, {"next_cursor": None}):
        models, cursor = parse_models_page(json.dumps({"models": [model], "pagination": pagination}).encode())
        assert cursor is None
        read = (models[0].sd_name, models[0].type, models[0].tags, models[0].status)
        assert read == ("x.safetensors", None, (), None)


def test_a_task_with_optional_fields_sent_as_null_reads_them_as_absent() -> None:
    task = parse_task(_task(eta=None, progress_percent=None, reason=None, task_type=None), NOW)
    assert (task.eta, task.progress, task.reason, task.task_type) == (None, None, None, None)
    with pytest.raises(ResponseMismatch, match=r"task\.status"):
        parse_task(_task(status=None), NOW)


def test_error_bodies_are_read_leniently() -> None:
    info = error_info(
        b'{"code": 429, "reason": "RATE_LIMIT_EXCEEDED", "message": "slow down", "metadata": {}}'
    )
    assert (info.reason, info.message) == ("RATE_LIMIT_EXCEEDED", "slow down")
    assert error_info(b"<html>bad gateway</html>").reason is None


def test_only_the_adapter_imports_the_generated_layer() -> None:
    importers = []
    for path in sorted(FACADE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name == "ppio_api" or name.startswith("ppio_api.") for name in names):
                importers.append(path.relative_to(FACADE).as_posix())
    assert sorted(set(importers)) == ["_adapter.py"]


@pytest.mark.parametrize("field", ["eta", "progress_percent"])
def test_an_integer_too_large_for_a_float_is_read_as_unknown(field: str) -> None:
    assert (
        getattr(parse_task(_task(**{field: 10**400}), NOW), "eta" if field == "eta" else "progress") is None
    )


@pytest.mark.parametrize(
    ("answer", "task_id"),
    [
        ({"code": 0, "msg": "", "data": {"task_id": "t-1"}}, "t-1"),
        ({"code": 0, "data": {"task_id": "t-1"}}, "t-1"),
        ({"code": True, "data": {"task_id": "t-1"}}, None),  # True == 0 is False, but True == 1: not code 0
        ({"code": False, "data": {"task_id": "t-1"}}, None),  # False == 0 in Python: still no int
        ({"code": "0", "data": {"task_id": "t-1"}}, None),
        ({"code": 1, "msg": "failed", "data": {"task_id": "t-1"}}, None),
        ({"code": 0, "data": {"task_id": "a b"}}, None),  # no task-result request could name it
        ({"code": 0, "data": {"task_id": 7}}, None),
        ({"code": 0, "data": ["t-1"]}, None),
        ({"task_id": "t-1"}, None),  # the V3 answer is no envelope
        ([0, {"task_id": "t-1"}], None),
    ],
)
def test_a_create_answer_in_the_v2_envelope_gives_its_task_id(answer: object, task_id: str | None) -> None:
    assert enveloped_task_id(json.dumps(answer).encode()) == task_id


def test_a_create_answer_that_is_no_json_is_no_envelope() -> None:
    assert enveloped_task_id(b"{not json") is None
    assert enveloped_task_id(b"[" * 100_000) is None
