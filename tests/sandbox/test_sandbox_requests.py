"""Authentication and request validation: every refusal is a documented error body naming the problem."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ppio_txt2img.sandbox import Sandbox
from tests.loopback import TLS
from tests.sandbox.sandbox_helpers import API_KEY, AUTH, assert_conforms, make_body


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with Sandbox(accepted_api_keys=frozenset({API_KEY}), speed=50).serve() as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers=AUTH, verify=TLS) as client:
        yield client


def _refusal(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert_conforms("ErrorBody", body)
    assert body["code"] == status
    assert body["reason"] == reason
    assert body["message"]
    return body


def test_missing_api_key_is_401_missing_api_key(base_url: str) -> None:
    with httpx.Client(base_url=base_url, verify=TLS) as anonymous:
        _refusal(anonymous.post("/v3/async/txt2img", json=make_body()), 401, "MISSING_API_KEY")
        _refusal(anonymous.get("/v3/model"), 401, "MISSING_API_KEY")
        empty_bearer = anonymous.get("/v3/model", headers={"Authorization": "Bearer"})
        _refusal(empty_bearer, 401, "MISSING_API_KEY")


def test_wrong_api_key_is_403_invalid_api_key(base_url: str) -> None:
    with httpx.Client(base_url=base_url, headers={"Authorization": "Bearer wrong"}, verify=TLS) as wrong:
        body = _refusal(wrong.get("/v3/async/task-result", params={"task_id": "x"}), 403, "INVALID_API_KEY")
    assert body["metadata"] == {}


def test_bare_key_without_bearer_is_accepted_like_the_js_sdk_sends_it(base_url: str) -> None:
    with httpx.Client(base_url=base_url, headers={"Authorization": API_KEY}, verify=TLS) as bare:
        assert bare.get("/v3/model").status_code == 200
    with httpx.Client(base_url=base_url, headers={"Authorization": f"bearer {API_KEY}"}, verify=TLS) as lower:
        assert lower.get("/v3/model").status_code == 200


def test_any_non_empty_key_is_accepted_when_no_keys_are_configured() -> None:
    with (
        Sandbox().serve() as url,
        httpx.Client(base_url=url, headers={"Authorization": "Bearer x"}, verify=TLS) as client,
    ):
        assert client.get("/v3/model").status_code == 200


def test_submit_returns_a_uuid_task_id(client: httpx.Client) -> None:
    response = client.post("/v3/async/txt2img", json=make_body())
    assert response.status_code == 200
    assert_conforms("CreateTaskResponse", response.json())
    task_id = response.json()["task_id"]
    assert len(task_id) == 36
    assert task_id[14] == "4"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (make_body(width=4096), "request.width", "maximum"),
        (make_body(height=64), "request.height", "minimum"),
        (make_body(prompt=None), "request.prompt", "required"),
        (make_body(prompt=""), "request.prompt", "non-empty"),
        (make_body(image_num=9), "request.image_num", "maximum"),
        (make_body(guidance_scale=True), "request.guidance_scale", "number"),
        (make_body(steps=True), "request.steps", "integer"),
        (make_body(steps=2.5), "request.steps", "integer"),
        (make_body(sampler_name="Euler b"), "request.sampler_name", "Euler a"),
        (make_body(loras=[{"model_name": "x", "strength": 2}]), "request.loras[0].strength", "maximum"),
        (make_body(loras=[{"model_name": "x"}] * 6), "request.loras", "long"),
        (make_body(colour="red"), "request.colour", "unknown"),
        (make_body(extra={"response_image_type": "gif"}), "extra.response_image_type", "gif"),
        (make_body(extra={"webhook": {}}), "extra.webhook.url", "required"),
        ({"extra": {}}, "request", "required"),
        ([1, 2], "body", "object"),
    ],
)
def test_invalid_body_is_400_naming_the_field(
    client: httpx.Client, body: Any, field: str, words: str
) -> None:
    refusal = _refusal(client.post("/v3/async/txt2img", json=body), 400, "INVALID_REQUEST_BODY")
    assert refusal["message"].startswith(field + ":"), refusal["message"]
    assert words in refusal["message"]
    assert refusal["metadata"] == {"field": field}


def test_non_json_body_is_400_invalid_request_body(client: httpx.Client) -> None:
    headers = {"Content-Type": "application/json"}
    _refusal(
        client.post("/v3/async/txt2img", content=b"{not json", headers=headers), 400, "INVALID_REQUEST_BODY"
    )
    _refusal(
        client.post("/v3/async/txt2img", content=b'{"a": NaN}', headers=headers), 400, "INVALID_REQUEST_BODY"
    )
    form = client.post("/v3/async/txt2img", data={"request": "x"})
    assert "application/json" in _refusal(form, 400, "INVALID_REQUEST_BODY")["message"]


def test_transparent_background_needs_png_output(client: httpx.Client) -> None:
    body = make_body(extra={"response_image_type": "jpeg"}, enable_transparent_background=True)
    refusal = _refusal(client.post("/v3/async/txt2img", json=body), 400, "INVALID_REQUEST_BODY")
    assert refusal["metadata"] == {"field": "extra.response_image_type"}
    accepted = make_body(extra={"response_image_type": None}, enable_transparent_background=True)
    del accepted["extra"]["response_image_type"]  # the default is png
    assert client.post("/v3/async/txt2img", json=accepted).status_code == 200


def test_webhook_to_a_non_loopback_host_is_refused(client: httpx.Client) -> None:
    for url in ["https://example.com/hook", "http://10.0.0.1/hook", "ftp://127.0.0.1/x", "not a url"]:
        body = make_body(extra={"webhook": {"url": url}})
        refusal = _refusal(client.post("/v3/async/txt2img", json=body), 400, "INVALID_REQUEST_BODY")
        assert refusal["metadata"] == {"field": "extra.webhook.url"}


def test_task_result_without_task_id_is_400(client: httpx.Client) -> None:
    _refusal(client.get("/v3/async/task-result"), 400, "INVALID_REQUEST_BODY")
    _refusal(client.get("/v3/async/task-result", params={"task_id": ""}), 400, "INVALID_REQUEST_BODY")
    twice = client.get("/v3/async/task-result", params=[("task_id", "a"), ("task_id", "b")])
    _refusal(twice, 400, "INVALID_REQUEST_BODY")


@pytest.mark.parametrize("task_id", ["abc\n", "a b", "tâche"])
def test_a_task_id_outside_its_pattern_is_400_as_the_sdk_refuses_it(
    client: httpx.Client, task_id: str
) -> None:
    """The spec's `^[!-~]+$` read as JSON Schema reads it: `$` only at the very end, so "abc\\n" is
    refused (Python's `$` also matched before a final line feed: 404 here, ValidationError in the SDK)."""
    _refusal(client.get("/v3/async/task-result", params={"task_id": task_id}), 400, "INVALID_REQUEST_BODY")


def test_unknown_path_is_404_api_not_found_and_wrong_method_405(client: httpx.Client) -> None:
    _refusal(client.get("/v3/async/img2img"), 404, "API_NOT_FOUND")
    wrong = client.get("/v3/async/txt2img")
    _refusal(wrong, 405, "METHOD_NOT_ALLOWED")
    assert wrong.headers["allow"] == "POST"
