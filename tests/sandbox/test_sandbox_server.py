"""Serving: a real loopback socket, clean shutdown, the in-process ASGI app, the public names."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

import ppio_txt2img.sandbox as sandbox_module
from ppio_txt2img.sandbox import Sandbox, SandboxConfig, serve
from tests.loopback import TLS
from tests.sandbox.sandbox_helpers import AUTH, make_body


def test_public_names_are_exactly_the_sorted_all() -> None:
    public = {name for name in dir(sandbox_module) if not name.startswith("_")}
    assert sorted(sandbox_module.__all__) == sandbox_module.__all__
    assert public == set(sandbox_module.__all__)


def test_serve_yields_a_loopback_url_and_stops_without_leaking_threads() -> None:
    before = set(threading.enumerate())
    sandbox = Sandbox(speed=50, queue_delay=0.0)
    with sandbox.serve() as url:
        assert url.startswith("http://127.0.0.1:")
        port = int(url.rsplit(":", 1)[1])
        with httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
            client.post("/v3/async/txt2img", json=make_body())  # also starts the drawing threads
            assert client.get("/v3/model").status_code == 200
    assert set(threading.enumerate()) == before
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_serve_on_a_fixed_port_and_serve_again_later() -> None:
    sandbox = Sandbox()
    with sandbox.serve() as url:
        port = int(url.rsplit(":", 1)[1])
    with sandbox.serve(port=port) as again:
        assert again == url
        assert httpx.get(again + "/v3/model", headers=AUTH, verify=TLS).status_code == 200


def test_module_serve_yields_the_base_url() -> None:
    with serve(SandboxConfig(speed=5), queue_delay=0.0) as url:
        assert httpx.get(url + "/v3/model", headers=AUTH, verify=TLS).status_code == 200


def test_knobs_override_the_given_config() -> None:
    sandbox = Sandbox(SandboxConfig(speed=3, concurrency=2), concurrency=5)
    assert sandbox.config == SandboxConfig(speed=3, concurrency=5)
    assert SandboxConfig(accepted_api_keys="only").accepted_api_keys == frozenset({"only"})  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_asgi_app_serves_in_process_through_httpx_asgi_transport() -> None:
    with Sandbox(speed=50, queue_delay=0.0) as sandbox:
        transport = httpx.ASGITransport(app=sandbox.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox", headers=AUTH) as client:
            created = await client.post("/v3/async/txt2img", json=make_body())
            assert created.status_code == 200
            task_id = created.json()["task_id"]
            result = await client.get("/v3/async/task-result", params={"task_id": task_id})
            assert result.json()["task"]["task_id"] == task_id
        assert sandbox.stats["txt2img"].count(200) == 1


@pytest.mark.anyio
async def test_dropped_connection_in_process_raises_what_httpx_raises_on_a_socket() -> None:
    with Sandbox(drop_rates={"model": 1.0}) as sandbox:
        transport = httpx.ASGITransport(app=sandbox.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox", headers=AUTH) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get("/v3/model")
