"""Ctrl-C and programming mistakes: the sync client never holds an interrupt up behind requests in
flight, and a flow that yields something other than an I/O action is named as the mistake it is."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Generator
from typing import Any

import httpx
import pytest

import ppio_txt2img as ppio
from ppio_txt2img._io import run_sync
from tests.facade.facade_helpers import make_image
from tests.loopback import TLS

PNG = make_image("png", size=(128, 128))


def test_ctrl_c_during_sync_downloads_returns_while_they_are_still_in_flight() -> None:
    downloading = threading.Semaphore(0)
    release = threading.Event()
    finished: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"task_id": "t1"})
        if request.url.path == "/v3/async/task-result":
            images = [{"image_url": f"https://img.test/{i}.png", "image_type": "png"} for i in range(2)]
            task = {"task_id": "t1", "status": "TASK_STATUS_SUCCEED"}
            return httpx.Response(200, json={"task": task, "images": images})
        downloading.release()
        release.wait(30)  # an image host that hangs until the test lets it go
        finished.append(1)
        return httpx.Response(200, content=PNG)

    def interrupt_once_both_downloads_hang() -> None:
        downloading.acquire()
        downloading.acquire()
        os.kill(os.getpid(), signal.SIGINT)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = ppio.Client("k", base_url="https://api.test", http_client=http, sleep=lambda s: None)
    # Python's own Ctrl-C handler, even where the runner was started with SIGINT ignored (`cmd &`).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=interrupt_once_both_downloads_hang, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            client.txt2img("a cat", width=128, height=128, image_num=2)
        assert finished == []  # the interrupt came through while both downloads still hung
        assert info.value.task_id == "t1"  # type: ignore[attr-defined]
    finally:
        release.set()
        signal.signal(signal.SIGINT, previous)


def test_a_sub_flow_yielded_without_yield_from_is_named() -> None:
    def sub() -> Generator[Any, Any, int]:
        yield from ()
        return 1

    def flow() -> Generator[Any, Any, int]:
        value = yield sub()  # the mistake: should be `yield from sub()`
        return int(value)

    with httpx.Client(verify=TLS) as http, pytest.raises(TypeError, match="without `yield from`"):
        run_sync(flow(), http)
