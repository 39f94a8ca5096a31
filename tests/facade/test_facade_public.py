"""The package's public surface and configuration: `__all__`, a light import, the API key and base URL."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import httpx
import pytest

import ppio_txt2img as ppio
from ppio_txt2img._constants import DEFAULT_BASE_URL, ENV_API_KEY, ENV_BASE_URL
from tests.facade.facade_helpers import API_KEY, BASE_URL, TASK_ID, FakeClock, ScriptedAPI, task_payload


def test_all_is_sorted_and_is_exactly_the_public_names() -> None:
    public = {
        name for name in dir(ppio) if not name.startswith("_") and not inspect.ismodule(getattr(ppio, name))
    }
    assert ppio.__all__ == sorted(ppio.__all__)
    assert len(set(ppio.__all__)) == len(ppio.__all__)
    assert set(ppio.__all__) - {"__version__"} == public
    assert all(hasattr(ppio, name) for name in ppio.__all__)


def test_the_error_tree_has_one_root_and_subclasses_builtins_where_the_meaning_matches() -> None:
    assert issubclass(ppio.ValidationError, ValueError)
    assert issubclass(ppio.WaitTimeoutError, TimeoutError)
    for name in ("APIError", "APIStatusError", "TaskFailedError", "ImageError", "WaitTimeoutError"):
        assert issubclass(getattr(ppio, name), ppio.PPIOError)


def _printed_by(code: str) -> list[str]:
    """The lines `code` prints, run in a fresh interpreter (nothing imported yet)."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.splitlines()


def test_importing_the_package_does_not_import_pillow() -> None:
    code = "import sys, ppio_txt2img; print(sorted(m for m in sys.modules if m.split('.')[0] == 'PIL'))"
    assert _printed_by(code) == ["[]"]


def test_an_async_client_imports_its_transport_when_made_not_at_its_first_request() -> None:
    """aiohttp and Pillow take 150-250 ms to import: at the first request, inside a running event loop,
    every other request it served would stall that long. Made under trio, it leaves aiohttp alone."""
    code = (
        "import sys, trio, ppio_txt2img as ppio\n"
        "loaded = lambda: sorted({'aiohttp', 'PIL.Image'} & set(sys.modules))\n"
        "print(loaded())\n"
        "async def under_trio(): ppio.AsyncClient('k')\n"
        "trio.run(under_trio)\n"
        "print(loaded())\n"
        "ppio.AsyncClient('k')\n"
        "print(loaded())\n"
    )
    assert _printed_by(code) == ["[]", "['PIL.Image']", "['PIL.Image', 'aiohttp']"]


def test_an_async_client_prepares_its_requests_and_checks_when_made_not_in_its_first_call() -> None:
    """The generated client's builders and models, and the compiled checks of input and answers: made in
    the first call, inside the event loop, they stalled it some 40 ms (the app's other requests too)."""
    code = (
        "import sys, ppio_txt2img as ppio\n"
        "from ppio_txt2img import _adapter, _validation\n"
        "ready = lambda: ('ppio_api.api.txt2img' in sys.modules, 'ppio_api.api.tasks.get_task_result' in "
        "sys.modules, _adapter._response_check.cache_info().currsize, "
        "_validation._txt2img_body_check.cache_info().currsize)\n"
        "print(ready())\n"
        "ppio.AsyncClient('k')\n"
        "print(ready())\n"
    )
    assert _printed_by(code) == ["(False, False, 0, 0)", "(True, True, 2, 1)"]


@pytest.mark.parametrize("key", [None, ""])
def test_a_client_without_an_api_key_raises_before_sending_anything(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock, api: ScriptedAPI, key: str | None, anyio_backend: str
) -> None:
    monkeypatch.delenv(ENV_API_KEY, raising=False)

    with (
        httpx.Client(transport=httpx.MockTransport(api)) as http,
        pytest.raises(ppio.ValidationError, match=ENV_API_KEY) as info,
    ):
        ppio.Client(key, base_url=BASE_URL, http_client=http)
    assert (info.value.field, info.value.problem) == ("api_key", "is required")  # bad input, as the rest

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(api)) as ahttp:
            with pytest.raises(ppio.ValidationError, match=ENV_API_KEY):
                ppio.AsyncClient(key, base_url=BASE_URL, http_client=ahttp)

    anyio.run(main, backend=anyio_backend)
    assert api.requests == []


def test_the_api_key_and_base_url_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    env_base = "https://env.example.invalid"
    monkeypatch.setenv(ENV_API_KEY, "sk-from-env")
    monkeypatch.setenv(ENV_BASE_URL, env_base + "/")
    api = ScriptedAPI(clock, base_url=env_base)
    api.results = [task_payload("QUEUED")]

    with httpx.Client(transport=httpx.MockTransport(api)) as http:
        client = ppio.Client(http_client=http)
        assert client.base_url == env_base
        client.get_task(TASK_ID)

    (request,) = api.requests
    assert request.url == f"{env_base}/v3/async/task-result?task_id={TASK_ID}"
    assert request.headers["authorization"] == "Bearer sk-from-env"


def test_arguments_win_over_the_environment_and_the_default_base_url_is_used_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_API_KEY, "sk-from-env")
    monkeypatch.setenv(ENV_BASE_URL, "https://env.example.invalid")
    with ppio.Client(API_KEY, base_url=BASE_URL) as client:
        assert client.base_url == BASE_URL

    monkeypatch.delenv(ENV_BASE_URL)
    with ppio.Client() as client:
        assert client.base_url == DEFAULT_BASE_URL


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_url": "ftp://x"},
        {"max_retries": -1},
        {"max_retries": True},
        {"timeout": 0},
        {"request_timeout": -5},
        {"max_image_bytes": 0},
        {"max_image_bytes": "64MB"},
        {"max_image_bytes": True},
    ],
    ids=[
        "base_url",
        "negative-retries",
        "bool-retries",
        "zero-timeout",
        "negative-request-timeout",
        "zero-max-image-bytes",
        "str-max-image-bytes",
        "bool-max-image-bytes",
    ],
)
def test_bad_client_settings_are_validation_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ppio.ValidationError):
        ppio.Client(API_KEY, **kwargs)  # type: ignore[arg-type]


def test_the_client_s_own_http_client_sends_a_user_agent_with_the_package_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without `http_client=`, the SDK makes its own httpx client; each request names the SDK version."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    seen: list[str | None] = []
    body = json.dumps(task_payload("QUEUED")).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("User-Agent"))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with ppio.Client(API_KEY, base_url=f"http://127.0.0.1:{server.server_port}") as client:
                client.get_task(TASK_ID)
        finally:
            server.shutdown()
            thread.join()

    assert seen == [f"ppio-txt2img-python/{ppio.__version__}"]


@pytest.mark.parametrize(
    "error",
    [
        ppio.APIConnectionError("ReadError: Server disconnected", outcome_unknown=True),
        ppio.APIConnectionError("ReadError: Server disconnected.", outcome_unknown=True),
        ppio.WaitTimeoutError(None, "submitting", 5.0, outcome_unknown=True),
    ],
)
def test_an_unknown_outcome_is_said_in_sentences(error: ppio.PPIOError) -> None:
    """It ran into the message before ("Server disconnected The request may have reached ...")."""
    message = str(error)
    assert re.search(r"[^.] The request may have reached the server", message) is None
    assert ". The request may have reached the server" in message
    assert ".. " not in message
