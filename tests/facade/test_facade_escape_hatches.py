"""The escape hatches for what the API adds before the SDK knows it: `extra_body`, `extra_headers`,
`extra_query` per call, `default_headers` per client; the response headers on errors, the raw JSON on
tasks. None of them reaches an image host."""

from __future__ import annotations

import httpx
import pytest

import ppio_txt2img as ppio
from tests.facade.facade_helpers import IMAGE_HOST, TASK_ID, ClientFactory, ScriptedAPI, error_response


def test_extra_body_is_merged_into_the_validated_body_key_by_key(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    extra = {"request": {"new_field": 1}, "extra": {"custom_storage": {"aws_s3": {"bucket": "b"}}}}
    make_client().txt2img("a cat", steps=5, extra_body=extra)

    body = api.requests[0].json()
    assert body["request"]["new_field"] == 1
    assert (body["request"]["prompt"], body["request"]["steps"]) == ("a cat", 5)  # the options stay
    assert body["extra"]["custom_storage"] == {"aws_s3": {"bucket": "b"}}


def test_extra_headers_and_query_go_to_every_api_request_and_never_to_the_image_host(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    client = make_client(default_headers={"X-Team": "vision", "X-Trace": "client"})
    client.txt2img("a cat", extra_headers={"X-Trace": "call"}, extra_query={"debug": 1})

    api_requests = [r for r in api.requests if not r.url.startswith(IMAGE_HOST)]
    image_requests = [r for r in api.requests if r.url.startswith(IMAGE_HOST)]
    assert len(api_requests) >= 2
    assert image_requests
    for request in api_requests:
        assert (request.headers["x-team"], request.headers["x-trace"]) == ("vision", "call")
        assert httpx.URL(request.url).params["debug"] == "1"
    for request in image_requests:
        assert "x-team" not in request.headers
        assert "x-trace" not in request.headers
        assert "debug" not in httpx.URL(request.url).params


def test_get_task_and_wait_take_extra_headers_too(api: ScriptedAPI, make_client: ClientFactory) -> None:
    client = make_client()
    client.get_task(TASK_ID, extra_headers={"X-A": "1"})
    client.wait(TASK_ID, extra_headers={"X-A": "2"})
    assert [r.headers.get("x-a") for r in api.requests if "task-result" in r.url][:2] == ["1", "2"]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"extra_headers": {"X-A": "a\r\nInjected: 1"}}, "extra_headers['X-A']"),
        ({"extra_headers": {"Bad Name:": "1"}}, "extra_headers['Bad Name:']"),
        ({"extra_headers": {"X A": "1"}}, "extra_headers['X A']"),  # h11 refuses it; aiohttp sends it
        ({"extra_headers": {"X-(A)": "1"}}, "extra_headers['X-(A)']"),
        ({"extra_headers": {"": "1"}}, "extra_headers['']"),
        ({"extra_headers": {"X-Team": "Zürich"}}, "extra_headers['X-Team']"),  # httpx: UnicodeEncodeError
        ({"extra_headers": {"X-A": " padded "}}, "extra_headers['X-A']"),
        ({"extra_headers": {"X-A": 1}}, "extra_headers['X-A']"),
        ({"extra_headers": ["X-A"]}, "extra_headers"),
        ({"extra_query": {"q": object()}}, "extra_query"),
        ({"extra_query": {"q": "\ud800"}}, "extra_query"),  # a lone surrogate: no UTF-8 for it
        ({"extra_query": {"\udce9": "x"}}, "extra_query"),
        ({"extra_body": {"request": {"x": float("nan")}}}, "extra_body"),
        ({"extra_body": {"x": "\ud800"}}, "extra_body"),
        ({"extra_body": "request"}, "extra_body"),
    ],
)
def test_escape_hatches_that_cannot_be_sent_are_refused_before_any_request(
    api: ScriptedAPI, make_client: ClientFactory, options: dict[str, object], field: str
) -> None:
    with pytest.raises(ppio.ValidationError) as caught:
        make_client().txt2img("a cat", **options)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert "allowed: " in str(caught.value)
    assert api.requests == []


@pytest.mark.parametrize("headers", [{"X Team": "vision"}, {"X-Team": "Zürich"}, {"X-Team": "a\nb"}])
def test_default_headers_that_cannot_be_sent_are_refused_when_the_client_is_made(
    headers: dict[str, str],
) -> None:
    with pytest.raises(ppio.ValidationError) as caught:
        ppio.Client("k", default_headers=headers)
    assert caught.value.field == f"default_headers[{next(iter(headers))!r}]"
    ppio.Client("k", default_headers={"X-Team": "", "X-Trace": "a\tb c"}).close()  # HTTP allows these


def test_wait_and_get_task_refuse_extra_body_and_unknown_options(make_client: ClientFactory) -> None:
    client = make_client()
    with pytest.raises(ppio.ValidationError, match="extra_body"):
        client.wait(TASK_ID, extra_body={"a": 1})  # type: ignore[call-arg]
    with pytest.raises(ppio.ValidationError, match="on_progress"):
        client.get_task(TASK_ID, on_progress=print)  # type: ignore[call-arg]


def test_api_errors_carry_the_response_headers(api: ScriptedAPI, make_client: ClientFactory) -> None:
    api.results = [error_response(404, "TASK_NOT_FOUND", **{"X-Request-Id": "req-42"})]
    with pytest.raises(ppio.NotFoundError) as info:
        make_client().get_task(TASK_ID)
    assert info.value.headers["x-request-id"] == "req-42"


def test_a_task_keeps_the_raw_json_with_fields_the_sdk_does_not_read(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    api.results = [
        {"task": {"task_id": TASK_ID, "status": "TASK_STATUS_QUEUED", "queue_position": 3}, "credits": 7}
    ]
    task = make_client().get_task(TASK_ID)
    assert task.raw["credits"] == 7
    assert task.raw["task"]["queue_position"] == 3


def test_with_options_copies_the_settings_and_shares_the_connections(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    client = make_client(max_retries=3)
    strict = client.with_options(max_retries=0, timeout=5)
    assert (strict.max_retries, strict.timeout, client.max_retries) == (0, 5, 3)
    assert strict._http is client._http  # the same pool
    strict.close()  # a copy does not close what it shares
    assert client._http is not None  # the scripted API's httpx client
    assert not client._http.is_closed
    with pytest.raises(ppio.ValidationError):
        client.with_options(max_retries=-1)
