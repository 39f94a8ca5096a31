"""The fault kit's servers, seen on the wire with `http.client` and raw sockets: the API they play, and
each way they can be told to misbehave. (The SDK is not involved here.)"""

from __future__ import annotations

import gzip
import http.client
import io
import json
import socket
import time
import zlib
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit

import pytest

from tests.faults.raw_server import (
    API_HOST,
    DELETE,
    OTHER_HOST,
    Fault,
    FaultKit,
    Redirect,
    error,
    html,
    png_size,
    task_id_for,
)

AUTH = {"Authorization": "Bearer sk-kit-test"}
BODY = {"request": {"prompt": "a cat", "width": 128, "height": 96, "image_num": 2}}


def connect(url: str, timeout: float = 10) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    assert parts.hostname is not None
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


def call(
    url: str,
    method: str,
    target: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[http.client.HTTPResponse, bytes]:
    """One request on a fresh connection; the response and its raw (undecoded) body."""
    conn = connect(url)
    payload = None if body is None else json.dumps(body).encode()
    conn.request(method, target, body=payload, headers={**AUTH, **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


def submit(kit: FaultKit, body: Any = BODY) -> str:
    response, data = call(kit.url, "POST", "/v3/async/txt2img", body)
    assert response.status == 200
    task_id = json.loads(data)["task_id"]
    assert isinstance(task_id, str)
    return task_id


def poll(kit: FaultKit, task_id: str) -> dict[str, Any]:
    response, data = call(kit.url, "GET", f"/v3/async/task-result?task_id={task_id}")
    assert response.status == 200
    result = json.loads(data)
    assert isinstance(result, dict)
    return result


def test_the_kit_plays_submit_queued_succeed_and_serves_real_images_of_the_asked_size(kit: FaultKit) -> None:
    from PIL import Image

    task_id = submit(kit)
    assert task_id == task_id_for(1)
    assert poll(kit, task_id)["task"]["status"] == "TASK_STATUS_QUEUED"
    done = poll(kit, task_id)
    assert done["task"]["status"] == "TASK_STATUS_SUCCEED"
    urls = [image["image_url"] for image in done["images"]]
    assert len(urls) == 2
    for url in urls:
        assert url.startswith(kit.url + "/img/")
        response, data = call(kit.url, "GET", url[len(kit.url) :], headers={"Authorization": ""})
        assert response.status == 200
        assert response.getheader("Content-Type") == "image/png"
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert image.size == (128, 96)
    assert [r.route for r in kit.seen()] == ["submit", "result", "result", "image/0", "image/1"]
    assert len(kit.posts) == 1


def test_hires_fix_images_come_at_the_target_size(kit: FaultKit) -> None:
    body = {"request": {**BODY["request"], "hires_fix": {"target_width": 256, "target_height": 200}}}
    task_id = submit(kit, body)
    poll(kit, task_id)
    (first, _) = (image["image_url"] for image in poll(kit, task_id)["images"])
    _, data = call(kit.url, "GET", urlsplit(first).path)
    assert png_size(data) == (256, 200)


def test_every_request_is_recorded_with_its_server_headers_and_body(kit: FaultKit) -> None:
    submit(kit)
    call(kit.other_url, "GET", "/v3/model", headers={"X-Probe": "1"})
    post, models = kit.seen()
    assert (post.server, post.method, post.path, post.route) == ("api", "POST", "/v3/async/txt2img", "submit")
    assert post.header("authorization") == "Bearer sk-kit-test"
    assert json.loads(post.body) == BODY
    assert (models.server, models.route, models.header("x-probe")) == ("other", "models", "1")
    assert urlsplit(kit.other_url).hostname == OTHER_HOST
    assert urlsplit(kit.url).hostname == API_HOST


def test_the_api_asks_for_a_key_the_other_host_does_not(kit: FaultKit) -> None:
    response, body = call(kit.url, "GET", "/v3/model", headers={"Authorization": ""})
    assert response.status == 401
    assert json.loads(body)["reason"] == "INVALID_API_KEY"
    response, _ = call(kit.other_url, "GET", "/v3/model", headers={"Authorization": ""})
    assert response.status == 200


@pytest.mark.parametrize(
    ("encoding", "decompress"), [("gzip", gzip.decompress), ("deflate", zlib.decompress)]
)
def test_compressed_bodies_honour_accept_encoding(
    kit: FaultKit, encoding: Literal["gzip", "deflate"], decompress: Callable[[bytes], bytes]
) -> None:
    kit.on("submit", Fault(encoding=encoding))
    response, raw = call(kit.url, "POST", "/v3/async/txt2img", BODY, {"Accept-Encoding": encoding})
    assert response.getheader("Content-Encoding") == encoding
    assert int(response.getheader("Content-Length") or 0) == len(raw)
    assert json.loads(decompress(raw))["task_id"] == task_id_for(1)

    response, raw = call(kit.url, "POST", "/v3/async/txt2img", BODY)  # not asked for: sent plain
    assert response.getheader("Content-Encoding") is None
    assert json.loads(raw)["task_id"] == task_id_for(2)


def test_a_dripping_body_sends_the_headers_at_once_and_one_byte_at_a_time(kit: FaultKit) -> None:
    kit.on("models", Fault(drip=0.02, drip_for=0.3))
    conn = connect(kit.url)
    started = time.monotonic()
    conn.request("GET", "/v3/model", headers=AUTH)
    response = conn.getresponse()
    headers_after = time.monotonic() - started
    first = response.read(1)
    rest = response.read()
    body_after = time.monotonic() - started
    conn.close()
    assert headers_after < 0.2
    assert json.loads(first + rest)["models"]
    assert 0.3 <= body_after < 2  # dripped for drip_for seconds, then the rest at once


def test_a_same_host_redirect_chain_then_the_real_answer(kit: FaultKit) -> None:
    kit.on("models", Fault(redirect=Redirect(307, "same", hops=2)))
    response, _ = call(kit.url, "GET", "/v3/model?pagination.limit=5")
    assert response.status == 307
    first = response.getheader("Location") or ""
    assert first.startswith("/v3/model?")
    assert "_hop=1" in first
    assert "pagination.limit=5" in first
    response, _ = call(kit.url, "GET", first)
    second = response.getheader("Location") or ""
    assert response.status == 307
    assert "_hop=2" in second
    response, body = call(kit.url, "GET", second)
    assert response.status == 200
    assert json.loads(body)["models"]


def test_a_redirect_to_another_host_and_a_loop(kit: FaultKit) -> None:
    kit.on("result", Fault(redirect=Redirect(308, "other")))
    task_id = submit(kit)
    response, _ = call(kit.url, "GET", f"/v3/async/task-result?task_id={task_id}")
    location = response.getheader("Location") or ""
    assert response.status == 308
    assert location.startswith(kit.other_url + "/v3/async/task-result?")
    response, body = call(kit.other_url, "GET", location[len(kit.other_url) :], headers={"Authorization": ""})
    assert response.status == 200
    assert json.loads(body)["task"]["task_id"] == task_id
    assert kit.seen("result", server="other")

    kit.on("models", Fault(redirect=Redirect(302, "loop")))
    response, _ = call(kit.url, "GET", "/v3/model")
    target = response.getheader("Location") or ""
    for _ in range(3):
        response, _ = call(kit.url, "GET", target)
        assert (response.status, response.getheader("Location")) == (302, target)  # the same URL again


def test_json_fields_are_replaced_with_wrong_types_and_fewer_images_are_listed(kit: FaultKit) -> None:
    kit.on(
        "result",
        Fault(
            set_fields={"task.eta": "soon", "images[*].image_url": 123, "extra.seed": DELETE},
            images=1,
        ),
    )
    task_id = submit(kit)
    queued = poll(kit, task_id)
    assert queued["task"]["eta"] == "soon"
    done = poll(kit, task_id)
    assert [image["image_url"] for image in done["images"]] == [123]  # 1 image of the 2 asked
    assert "seed" not in done["extra"]

    kit.on("submit", Fault(set_fields={"task_id": None}))
    _, raw = call(kit.url, "POST", "/v3/async/txt2img", BODY)
    assert json.loads(raw) == {"task_id": None}


def test_an_image_of_another_size_can_be_huge_and_is_still_cheap(kit: FaultKit) -> None:
    kit.on("image", Fault(size=(10000, 10000)))
    task_id = submit(kit)
    poll(kit, task_id)
    url = poll(kit, task_id)["images"][0]["image_url"]
    started = time.monotonic()
    _, data = call(kit.url, "GET", urlsplit(url).path)
    assert png_size(data) == (10000, 10000)
    assert len(data) < 1_000_000
    assert time.monotonic() - started < 10


def test_a_truncated_image_and_a_connection_cut_mid_body(kit: FaultKit) -> None:
    from PIL import Image

    kit.on("image/0", Fault(truncate=60))
    kit.on("image/1", Fault(cut=10))
    task_id = submit(kit)
    poll(kit, task_id)
    first, second = (urlsplit(i["image_url"]).path for i in poll(kit, task_id)["images"])
    response, data = call(kit.url, "GET", first)
    assert response.status == 200
    assert len(data) == 60 == int(response.getheader("Content-Length") or 0)
    with pytest.raises(OSError, match=r"truncated|broken"), Image.open(io.BytesIO(data)) as image:
        image.load()

    conn = connect(kit.url)
    conn.request("GET", second)
    response = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    conn.close()


def test_errors_n_times_then_the_real_answer(kit: FaultKit) -> None:
    kit.on("models", error(503, retry_after="0"), error(429, retry_after="1"), html(502), Fault())
    statuses = []
    for _ in range(4):
        response, body = call(kit.url, "GET", "/v3/model")
        statuses.append(
            (response.status, response.getheader("Retry-After"), response.getheader("Content-Type"))
        )
    assert statuses == [
        (503, "0", "application/json"),
        (429, "1", "application/json"),
        (502, None, "text/html"),
        (200, None, "application/json"),
    ]
    assert b"<h1>502 Bad Gateway</h1>" in (html(502).body or b"")
    assert json.loads(body)["models"]


def test_a_huge_body(kit: FaultKit) -> None:
    kit.on("submit", Fault(pad_to=20_000_000))
    _, raw = call(kit.url, "POST", "/v3/async/txt2img", BODY)
    assert len(raw) >= 20_000_000
    assert json.loads(raw)["task_id"] == task_id_for(1)


def test_endless_model_pages_are_bounded_by_the_kit() -> None:
    with FaultKit(endless_max_pages=25) as kit:
        kit.on("models", Fault(endless=True))
        cursor, pages = "", 0
        while True:
            pages += 1
            _, body = call(kit.url, "GET", "/v3/model" + (f"?pagination.cursor={cursor}" if cursor else ""))
            cursor = json.loads(body)["pagination"].get("next_cursor", "")
            if not cursor:
                break
        assert pages == 25


def test_closing_the_connection_without_answering(kit: FaultKit) -> None:
    kit.on("submit", Fault(close=True), Fault())
    with pytest.raises(http.client.RemoteDisconnected):
        call(kit.url, "POST", "/v3/async/txt2img", BODY)
    assert submit(kit) == task_id_for(2)  # the first POST did create a task: the outcome was unknown
    assert len(kit.posts) == 2


def test_resetting_the_connection_without_answering(kit: FaultKit) -> None:
    kit.on("submit", Fault(reset=True), Fault())
    with pytest.raises(ConnectionResetError):
        call(kit.url, "POST", "/v3/async/txt2img", BODY)
    assert submit(kit) == task_id_for(2)
    assert len(kit.posts) == 2


def test_a_raw_socket_sees_keep_alive_and_a_delayed_answer(kit: FaultKit) -> None:
    kit.on("models", Fault(delay=0.3), Fault())
    with socket.create_connection((API_HOST, kit.api.server_address[1]), timeout=10) as sock:
        request = b"GET /v3/model HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n\r\n"
        started = time.monotonic()
        sock.sendall(request * 2)  # two requests on one connection
        received = b""
        while received.count(b"HTTP/1.1 200 OK") < 2 or not received.endswith(b"}"):
            received += sock.recv(65536)
    assert time.monotonic() - started >= 0.3
    assert received.count(b"Connection: keep-alive") == 2


def test_stop_closes_everything_and_wakes_a_dripping_handler() -> None:
    kit = FaultKit()
    kit.on("models", Fault(drip=1.0, drip_for=60))
    port = kit.api.server_address[1]
    conn = connect(kit.url)
    conn.request("GET", "/v3/model", headers=AUTH)
    response = conn.getresponse()
    started = time.monotonic()
    kit.stop()
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        response.read()
    conn.close()
    assert time.monotonic() - started < 5
    with pytest.raises(ConnectionRefusedError), socket.create_connection((API_HOST, port), timeout=2):
        pass
    assert kit.errors == []
