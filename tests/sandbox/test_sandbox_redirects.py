"""Redirects as gateways send them: one hop on the same host, to another host, and round in a loop."""

from __future__ import annotations

import json

import httpx
import pytest

from ppio_txt2img.sandbox import Sandbox
from tests.loopback import TLS
from tests.sandbox.sandbox_helpers import AUTH, make_body, poll_until_done, raw_request, submit


def _netloc(url: str) -> str:
    return url.split("://", 1)[1]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_same_host_redirect_has_the_status_and_location_and_is_served_after_one_hop(status: int) -> None:
    sandbox = Sandbox(redirects={"model": "same_host"}, redirect_status=status)
    with sandbox.serve() as url:
        raw = raw_request(url + "/v3/model?pagination.limit=2", headers=AUTH)
        hop = raw_request(raw.headers["location"], headers=AUTH)
        followed = httpx.get(
            url + "/v3/model?pagination.limit=2", headers=AUTH, follow_redirects=True, verify=TLS
        )
    assert raw.status == status
    assert raw.headers["location"] == url + "/_r/v3/model?pagination.limit=2"
    assert raw.headers["content-type"].startswith("text/html")
    assert hop.status == 200
    assert len(json.loads(hop.body)["models"]) == 2
    assert followed.status_code == 200
    assert [r.status_code for r in followed.history] == [status]
    assert sandbox.stats["model"].requests == 4
    assert sandbox.stats["model"].count(status) == 2


def test_other_host_listener_serves_the_same_app_and_counts_what_reached_it() -> None:
    sandbox = Sandbox(redirects={"txt2img": "other_host"}, redirect_status=307, speed=50, queue_delay=0.0)
    with sandbox.serve() as url:
        other = sandbox.other_host_url
        assert other is not None
        assert other.startswith("http://127.0.0.2:")
        assert other != url.replace("127.0.0.1", "127.0.0.2")  # another port too
        with httpx.Client(base_url=url, headers=AUTH, follow_redirects=True, verify=TLS) as client:
            # httpx re-sends the POST body on 307 but drops the key on the way to another host
            resent = client.post("/v3/async/txt2img", json=make_body())
        key_leaks_after_httpx = sandbox.other_host_requests_with_authorization
        raw = raw_request(url + "/v3/async/txt2img", method="POST", headers=AUTH, body=b"{}")
        # a client that keeps the key: the other host accepts the POST and creates the task there
        raw_request(
            raw.headers["location"], method="POST", headers=AUTH, body=json.dumps(make_body()).encode()
        )
        by_host = sandbox.requests_by_host
        (task_id,) = sandbox.tasks
        # one app: the first host knows the task
        with httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
            finished = poll_until_done(client, task_id)[-1]
    assert raw.status == 307
    assert raw.headers["location"] == other + "/v3/async/txt2img"
    assert resent.status_code == 401
    assert resent.json()["reason"] == "MISSING_API_KEY"
    assert [r.url.host for r in (*resent.history, resent)] == ["127.0.0.1", "127.0.0.2"]
    assert resent.request.method == "POST"
    assert key_leaks_after_httpx == 0
    assert by_host[_netloc(url)] == {"txt2img": 2}
    assert by_host[_netloc(other)] == {"txt2img": 2}
    assert sandbox.other_host_requests_with_authorization == 1
    assert finished["task"]["status"] == "TASK_STATUS_SUCCEED"


def test_redirect_loop_goes_back_and_forth_between_the_two_hosts() -> None:
    sandbox = Sandbox(redirects={"task_result": "loop"}, redirect_status=302)
    with sandbox.serve() as url:
        other = sandbox.other_host_url
        assert other is not None
        first = raw_request(url + "/v3/async/task-result?task_id=x", headers=AUTH)
        second = raw_request(first.headers["location"], headers=AUTH)
        with pytest.raises(httpx.TooManyRedirects):
            httpx.get(
                url + "/v3/async/task-result?task_id=x", headers=AUTH, follow_redirects=True, verify=TLS
            )
        by_host = sandbox.requests_by_host
    assert (first.status, first.headers["location"]) == (302, other + "/v3/async/task-result?task_id=x")
    assert (second.status, second.headers["location"]) == (302, url + "/v3/async/task-result?task_id=x")
    assert by_host[_netloc(url)]["task_result"] >= 10
    assert by_host[_netloc(other)]["task_result"] >= 10


def test_image_download_redirected_to_the_other_host_still_downloads() -> None:
    sandbox = Sandbox(redirects={"storage": "other_host"}, speed=50, queue_delay=0.0)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        (image, _) = poll_until_done(client, submit(client))[-1]["images"]
        download = httpx.get(image["image_url"], follow_redirects=True, verify=TLS)
        other = sandbox.other_host_url
        by_host = sandbox.requests_by_host
    assert download.status_code == 200
    assert download.content.startswith(b"\x89PNG")
    assert download.history[0].status_code == 307
    assert other is not None
    assert by_host[_netloc(other)] == {"storage": 1}


def test_no_second_listener_without_a_redirect_to_it() -> None:
    sandbox = Sandbox(redirects={"model": "same_host"})
    with sandbox.serve():
        assert sandbox.other_host_url is None
