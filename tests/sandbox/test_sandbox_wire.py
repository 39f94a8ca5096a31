"""Bytes on the wire as gateways and proxies send them: compressed bodies, dripped bodies, padded bodies."""

from __future__ import annotations

import gzip
import json
import socket
import time
import zlib
from urllib.parse import urlsplit

import httpx

from ppio_txt2img.sandbox import Sandbox
from tests.loopback import TLS
from tests.sandbox.sandbox_helpers import API_KEY, AUTH, assert_conforms, make_body, raw_request


def test_gzip_body_when_the_client_accepts_it_decompresses_to_the_json_answer() -> None:
    with Sandbox(compression={"model": "gzip"}).serve() as url:
        raw = raw_request(url + "/v3/model", headers={**AUTH, "Accept-Encoding": "gzip, deflate"})
        plain = raw_request(url + "/v3/model", headers=AUTH)  # http.client asks for identity
        decoded = httpx.get(url + "/v3/model", headers=AUTH, verify=TLS)  # httpx asks for gzip and decodes it
    assert raw.status == 200
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.headers["vary"] == "Accept-Encoding"
    assert raw.body[:2] == b"\x1f\x8b"  # the gzip magic number
    assert int(raw.headers["content-length"]) == len(raw.body)
    payload = json.loads(gzip.decompress(raw.body))
    assert_conforms("ModelListResponse", payload)
    assert "content-encoding" not in plain.headers
    assert json.loads(plain.body) == payload
    assert decoded.headers["content-encoding"] == "gzip"
    assert decoded.json() == payload


def test_deflate_is_zlib_wrapped_and_also_applies_to_error_answers() -> None:
    with Sandbox(compression={"task_result": "deflate"}).serve() as url:
        raw = raw_request(
            url + "/v3/async/task-result?task_id=nope", headers={**AUTH, "Accept-Encoding": "deflate"}
        )
    assert raw.status == 404
    assert raw.headers["content-encoding"] == "deflate"
    assert json.loads(zlib.decompress(raw.body))["reason"] == "TASK_NOT_FOUND"


def test_compression_is_not_used_when_accept_encoding_refuses_it() -> None:
    with Sandbox(compression={"model": "gzip"}).serve() as url:
        refused = raw_request(url + "/v3/model", headers={**AUTH, "Accept-Encoding": "gzip;q=0, deflate"})
        star = raw_request(url + "/v3/model", headers={**AUTH, "Accept-Encoding": "br, *;q=0.5"})
    assert "content-encoding" not in refused.headers
    json.loads(refused.body)
    assert star.headers["content-encoding"] == "gzip"


def test_dripped_body_arrives_slowly_in_many_chunks_after_the_headers() -> None:
    rate = 400.0  # bytes per second
    with Sandbox(drip_bytes_per_second={"model": rate}).serve() as url:
        parts = urlsplit(url)
        request = (
            f"GET /v3/model?pagination.limit=1 HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {API_KEY}\r\nConnection: close\r\n\r\n"
        ).encode()
        with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
            started = time.perf_counter()
            sock.sendall(request)
            reads: list[bytes] = []
            while chunk := sock.recv(65536):
                reads.append(chunk)
            elapsed = time.perf_counter() - started
    data = b"".join(reads)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    length = int(headers[b"content-length"])
    assert len(body) == length > 400
    json.loads(body)
    assert elapsed >= 0.8 * length / rate  # about 1.5 s for ~600 bytes; no upper bound asserted
    assert not reads[0].endswith(body)  # the headers came before the body was complete
    assert len(reads) >= 10  # small chunks, not one late write


def test_padded_answer_is_exactly_the_asked_size_and_compresses_well() -> None:
    size = 200_000
    sandbox = Sandbox(pad_bytes={"txt2img": size}, compression={"txt2img": "gzip"})
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        raw = raw_request(
            url + "/v3/async/txt2img",
            method="POST",
            headers={**AUTH, "Content-Type": "application/json", "Accept-Encoding": "gzip"},
            body=json.dumps(make_body()).encode(),
        )
        plain = client.post("/v3/async/txt2img", json=make_body(), headers={"Accept-Encoding": "identity"})
    body = gzip.decompress(raw.body)
    assert len(body) == size
    assert len(raw.body) < size // 50  # a small "zip bomb": a client must cap the decoded size
    payload = json.loads(body)
    assert set(payload) == {"task_id", "_padding"}
    assert payload["task_id"] in sandbox.tasks
    assert len(plain.content) == size
    assert int(plain.headers["content-length"]) == size
