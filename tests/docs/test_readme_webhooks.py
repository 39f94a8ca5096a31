"""The README's "Webhooks as a wait mode" snippet, as written, in a Starlette app served by uvicorn on
loopback, against the sandbox (which delivers real webhooks): the webhook reaches the receiver and wakes
the wait. And the mistake the README warns of (`app.mount`), which Starlette answers with a redirect the
API does not follow: the wait ends at its fallback poll, and the log says why."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette

import ppio_txt2img as ppio
from ppio_txt2img.sandbox import Sandbox
from ppio_txt2img.webhooks import WebhookReceiver

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_webhook_snippet() -> str:
    section = README.read_text(encoding="utf-8").split("**Webhooks as a wait mode**", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's webhook section has no python example"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_app(app: Starlette, port: int, body: Any) -> Any:
    """`body()` while uvicorn serves `app` on 127.0.0.1:`port`."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn sets a flag, with no event to await)
            await asyncio.sleep(0.01)
        return await body()
    finally:
        server.should_exit = True
        await serving


def test_the_readme_webhook_snippet_wakes_the_wait_in_a_starlette_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = Sandbox(speed=10, queue_delay=0.1, seed=6)
    port = free_port()
    snippet = readme_webhook_snippet().replace("https://example.com", f"http://127.0.0.1:{port}")
    # The snippet's one top-level await, inside the function that runs it in the app's event loop.
    body = "async def snippet():\n" + "".join(f"    {line}\n" for line in snippet.splitlines())
    body += "    return receiver, gen\n"
    with sandbox.serve() as base_url:
        monkeypatch.setenv("PPIO_API_KEY", "k")
        monkeypatch.setenv("PPIO_BASE_URL", base_url)
        app = Starlette()
        namespace: dict[str, Any] = {"app": app, "ppio": ppio}
        exec(compile(body, str(README), "exec"), namespace)  # noqa: S102 - our own README
        receiver, generation = asyncio.run(run_app(app, port, namespace["snippet"]))
    assert isinstance(receiver, WebhookReceiver)
    assert generation.images
    assert (receiver.received, receiver.woken, receiver.wakeups.missing) == (1, 1, 0)
    assert sandbox.stats["task_result"].requests == 1  # the confirming poll, nothing else


def test_a_receiver_mounted_gets_no_webhook_and_the_log_says_so(caplog: pytest.LogCaptureFixture) -> None:
    sandbox = Sandbox(speed=10, queue_delay=0.1, seed=7)
    port = free_port()
    receiver = WebhookReceiver(f"http://127.0.0.1:{port}/ppio-webhook", fallback_poll=0.5)
    app = Starlette()
    app.mount("/ppio-webhook", receiver)

    async def body() -> ppio.Generation:
        async with ppio.AsyncClient("k", base_url=url, webhooks=receiver) as client:
            return await client.txt2img("a red fox in snow", width=128, height=128, steps=4, timeout=30)

    with caplog.at_level(logging.WARNING, logger="ppio_txt2img.webhooks"), sandbox.serve() as url:
        generation = asyncio.run(run_app(app, port, body))
    assert generation.images  # by the fallback poll
    assert (receiver.received, receiver.wakeups.missing) == (0, 1)
    assert any(
        r.name == "ppio_txt2img.webhooks" and "/ppio-webhook" in r.getMessage() for r in caplog.records
    )
