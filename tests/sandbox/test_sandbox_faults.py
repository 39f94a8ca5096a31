"""Fault injection: every knob has an observable effect, and a seed makes a run reproducible."""

from __future__ import annotations

import io
import time

import httpx
import pytest
from PIL import Image

from ppio_txt2img.sandbox import Sandbox
from tests.loopback import TLS
from tests.sandbox.sandbox_helpers import AUTH, assert_conforms, make_body, poll_until_done, submit


def test_rate_limit_answers_429_with_retry_after_and_creates_no_task() -> None:
    sandbox = Sandbox(error_rates={"txt2img": {429: 1.0}}, retry_after=1)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        response = client.post("/v3/async/txt2img", json=make_body())
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert_conforms("ErrorBody", response.json())
    assert response.json()["reason"] == "RATE_LIMIT_EXCEEDED"
    assert sandbox.tasks == {}
    assert sandbox.stats["txt2img"].count(429) == 1


@pytest.mark.parametrize(
    ("endpoint", "method", "path", "reason"),
    [
        ("txt2img", "POST", "/v3/async/txt2img", "CREATE_TASK_FAILED"),
        ("task_result", "GET", "/v3/async/task-result?task_id=x", "GET_RESULT_FAILED"),
        ("model", "GET", "/v3/model", "INTERNAL_SERVER_ERROR"),
    ],
)
def test_server_errors_use_the_documented_reason_per_endpoint(
    endpoint: str, method: str, path: str, reason: str
) -> None:
    sandbox = Sandbox(error_rates={endpoint: {500: 1.0}})
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        response = client.request(method, path, json=make_body() if method == "POST" else None)
    assert response.status_code == 500
    assert response.json() == {
        "code": 500,
        "reason": reason,
        "message": response.json()["message"],
        "metadata": {},
    }
    assert "retry-after" not in response.headers


def test_503_carries_retry_after_unless_disabled_and_502_is_a_gateway_html_page() -> None:
    with Sandbox(error_rates={"model": {503: 1.0}}, retry_after=0).serve() as url:
        unavailable = httpx.get(url + "/v3/model", headers=AUTH, verify=TLS)
    assert unavailable.status_code == 503
    assert unavailable.headers["retry-after"] == "0"
    assert unavailable.json()["reason"] == "SERVICE_UNAVAILABLE"
    with Sandbox(error_rates={"model": {503: 1.0}}, retry_after=None).serve() as url:
        assert "retry-after" not in httpx.get(url + "/v3/model", headers=AUTH, verify=TLS).headers
    with Sandbox(error_rates={"model": {502: 1.0}}).serve() as url:
        gateway = httpx.get(url + "/v3/model", headers=AUTH, verify=TLS)
    assert gateway.status_code == 502
    assert gateway.headers["content-type"].startswith("text/html")


def test_error_rates_are_drawn_in_proportion() -> None:
    sandbox = Sandbox(error_rates={"model": {429: 0.3, 503: 0.2}}, seed=11)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        statuses = [client.get("/v3/model").status_code for _ in range(200)]
    assert 40 <= statuses.count(429) <= 80
    assert 20 <= statuses.count(503) <= 60
    assert statuses.count(200) == 200 - statuses.count(429) - statuses.count(503)


def test_dropped_submit_before_creation_is_a_transport_error_and_no_task() -> None:
    sandbox = Sandbox(drop_rates={"txt2img": 1.0})
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        with pytest.raises(httpx.TransportError):
            client.post("/v3/async/txt2img", json=make_body())
        assert client.get("/v3/model").status_code == 200  # the client recovers on a new connection
    assert sandbox.tasks == {}
    assert sandbox.stats["txt2img"].dropped == 1


def test_dropped_submit_after_creation_leaves_a_running_task_the_client_never_saw() -> None:
    sandbox = Sandbox(drop_rates={"txt2img_after_create": 1.0}, speed=50, queue_delay=0.0)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/v3/async/txt2img", json=make_body())
        (task_id,) = sandbox.tasks
        assert poll_until_done(client, task_id)[-1]["task"]["status"] == "TASK_STATUS_SUCCEED"


@pytest.mark.parametrize(
    ("endpoint", "path"), [("task_result", "/v3/async/task-result?task_id=x"), ("model", "/v3/model")]
)
def test_dropped_reads_are_transport_errors(endpoint: str, path: str) -> None:
    sandbox = Sandbox(drop_rates={endpoint: 1.0})
    with (
        sandbox.serve() as url,
        httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client,
        pytest.raises(httpx.TransportError),
    ):
        client.get(path)
    assert sandbox.stats[endpoint].dropped == 1


def test_dropped_and_failing_image_downloads() -> None:
    sandbox = Sandbox(
        speed=50, queue_delay=0.0, drop_rates={"storage": 0.5}, error_rates={"storage": {503: 0.5}}, seed=5
    )
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        (image, _) = poll_until_done(client, submit(client))[-1]["images"]
        outcomes = []
        for _ in range(20):
            try:
                outcomes.append(httpx.get(image["image_url"], verify=TLS).status_code)
            except httpx.TransportError:
                outcomes.append(0)
    assert 0 in outcomes
    assert 503 in outcomes
    assert sandbox.stats["storage"].dropped == outcomes.count(0)


def test_slow_seconds_add_latency_to_the_endpoint() -> None:
    # A lower bound only: how fast the other endpoints answer depends on the machine's load.
    sandbox = Sandbox(slow_seconds={"model": 0.3})
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        client.get("/v3/async/task-result", params={"task_id": "warm-up"})
        started = time.perf_counter()
        assert client.get("/v3/model").status_code == 200
        slow = time.perf_counter() - started
    assert slow >= 0.3


def test_truncated_image_has_status_200_consistent_length_and_cannot_be_decoded() -> None:
    sandbox = Sandbox(speed=50, queue_delay=0.0, truncated_image_rate=1.0)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        (image, _) = poll_until_done(client, submit(client))[-1]["images"]
        response = httpx.get(image["image_url"], verify=TLS)
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    with pytest.raises(OSError, match=r"(?i)truncated"):
        Image.open(io.BytesIO(response.content)).load()


def test_the_same_seed_reproduces_task_ids_seeds_and_faults() -> None:
    def run() -> tuple[list[str], list[int]]:
        sandbox = Sandbox(seed=99, error_rates={"txt2img": {429: 0.5}})
        ids, statuses = [], []
        with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
            for _ in range(10):
                response = client.post("/v3/async/txt2img", json=make_body(seed=-1))
                statuses.append(response.status_code)
                if response.status_code == 200:
                    ids.append(response.json()["task_id"])
        return ids + [str(sandbox.tasks[i].seed) for i in ids], statuses

    assert run() == run()
    assert 0 < run()[1].count(429) < 10


def test_invalid_knobs_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="error_rates: unknown endpoint 'txt2ing'"):
        Sandbox(error_rates={"txt2ing": {429: 0.1}})
    with pytest.raises(ValueError, match="add up to"):
        Sandbox(error_rates={"model": {429: 0.7, 503: 0.7}})
    with pytest.raises(ValueError, match="eta_mode"):
        Sandbox(eta_mode="sometimes")  # knobs are untyped keywords: checked at run time
    with pytest.raises(ValueError, match="speed"):
        Sandbox(speed=0)
