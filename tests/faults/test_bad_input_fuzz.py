"""Bad input, over every public entry point: whatever is passed, what is raised before a request is a
`ppio.ValidationError` (a `ppio.PPIOError` for webhook bodies), and nothing is sent when it raises.

The clients talk to an `httpx.MockTransport` that records every request and answers a valid, fast
script (the task succeeds at the first poll, images come at the asked size), so an input the SDK
accepts simply succeeds. Time is a fake clock: nothing here sleeps. Hypothesis draws the odd values
(None, huge and negative ints, 10**400, nan, inf, -0.0, bools, bytes, lone surrogates, very long
strings, nested and deeply nested containers, objects of the wrong type); the inputs the contract names
(issue 8, item 9) are also pinned one by one. The `ppio` command gets odd arguments too, in-process and,
for real non-UTF-8 argv bytes, as a subprocess: exit status 2, one error line, never a traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import pickle
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from unittest import mock

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import ppio_txt2img as ppio
from ppio_txt2img.cli import main as cli_main
from tests.faults.raw_server import make_image

KEY = "sk-live-SECRET-fuzz-77aa"
SECRET = "SECRET-fuzz-77aa"
BASE_URL = "https://api.fuzz.invalid"
IMAGE_HOST = "https://images.fuzz.invalid"
TASK_ID = "f10333f2-2dd7-4f56-a177-e3c02a774d9a"
FUZZ = settings(
    max_examples=100,
    deadline=None,
    # No "explain" phase: it reruns a failing example many times over, which is slow while the SDK
    # still fails (the falsifying example is shown, shrunk, and `note`d with ascii() as well).
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,  # the same examples on every run: a failure here is a finding, not a flake
)


# ------------------------------------------------------------------------------------ a fast valid API
class FastAPI:
    """Answers every request validly and at once; records what was sent."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.size = (1024, 1024)
        self.image_num = 1
        self.fmt = "png"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "POST" and path.endswith("/v3/async/txt2img"):
            self._remember(request.content)
            return httpx.Response(200, json={"task_id": TASK_ID})
        if path.endswith("/v3/async/task-result"):
            urls = [f"{IMAGE_HOST}/{TASK_ID}/{i}.{self.fmt}" for i in range(self.image_num)]
            images = [{"image_url": u, "image_url_ttl": "3600", "image_type": self.fmt} for u in urls]
            asked = request.url.params.get("task_id", TASK_ID)  # a real API answers about the task asked
            task = {"task_id": asked, "status": "TASK_STATUS_SUCCEED", "eta": 0, "progress_percent": 100}
            return httpx.Response(200, json={"extra": {"seed": "7"}, "task": task, "images": images})
        if path.endswith("/v3/model"):
            model = {"id": 1, "name": "m", "sd_name": "m.safetensors", "type": {"name": "checkpoint"}}
            return httpx.Response(200, json={"models": [model], "pagination": {}})
        if request.url.host == "images.fuzz.invalid":
            return httpx.Response(200, content=make_image(*self.size, self.fmt))
        return httpx.Response(404, json={"code": 404, "reason": "API_NOT_FOUND", "message": "no"})

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        return self(request)

    def _remember(self, content: bytes) -> None:
        try:
            body = json.loads(content)
            request = body["request"]
            hires = request.get("hires_fix") or {}
            if hires:
                self.size = (int(hires["target_width"]), int(hires["target_height"]))
            else:
                self.size = (int(request["width"]), int(request["height"]))
            self.image_num = int(request["image_num"])
            self.fmt = str((body.get("extra") or {}).get("response_image_type", "png"))
        except (ValueError, KeyError, TypeError, AttributeError):  # whatever was sent: answer something
            self.size, self.image_num, self.fmt = (1024, 1024), 1, "png"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@contextlib.contextmanager
def sync_client(api: FastAPI, **kwargs: Any) -> Iterator[ppio.Client]:
    clock = FakeClock()
    with httpx.Client(transport=httpx.MockTransport(api)) as http:
        options: dict[str, Any] = {
            "base_url": BASE_URL,
            "http_client": http,
            "clock": clock,
            "sleep": clock.sleep,
            **kwargs,
        }
        with ppio.Client(options.pop("api_key", KEY), **options) as client:
            yield client


def run_async(api: FastAPI, use: Callable[[ppio.AsyncClient], Awaitable[object]], **kwargs: Any) -> object:
    async def main() -> object:
        clock = FakeClock()
        async with httpx.AsyncClient(transport=httpx.MockTransport(api.handle_async)) as http:
            options: dict[str, Any] = {
                "base_url": BASE_URL,
                "http_client": http,
                "clock": clock,
                "sleep": clock.async_sleep,
                **kwargs,
            }
            async with ppio.AsyncClient(options.pop("api_key", KEY), **options) as client:
                return await use(client)

    return anyio.run(main)


# ------------------------------------------------------------------------------------ the odd values
class Deep(list[Any]):
    """A list nested `depth` levels deep, with a short repr (a full one would itself recurse)."""

    def __init__(self, depth: int) -> None:
        inner: list[Any] = []
        for _ in range(depth - 1):
            inner = [inner]
        super().__init__([inner])
        self.depth = depth

    def __repr__(self) -> str:
        return f"Deep({self.depth})"


class DeepDict(dict[str, Any]):
    def __init__(self, depth: int) -> None:
        inner: dict[str, Any] = {}
        for _ in range(depth - 1):
            inner = {"a": inner}
        super().__init__(a=inner)
        self.depth = depth

    def __repr__(self) -> str:
        return f"DeepDict({self.depth})"


class Long(str):
    """A very long string with a short repr (hypothesis warns about, and pytest prints, long reprs)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Long({len(self)})"


class Weird:
    """An object of no expected type, whose str() and bool() work."""

    def __repr__(self) -> str:
        return "Weird()"


SURROGATES = ("\ud800", "\udce9", "\udfff", "caf\udce9", "a\ud83d")
ODD_SCALARS: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    -(2**63),
    2**63,
    2**64 + 1,
    10**400,
    -(10**400),
    math.nan,
    math.inf,
    -math.inf,
    -0.0,
    1e-300,
    5e-324,
    1e308,
    b"bytes",
    b"\xff\xfe\x00",
    bytearray(b"x"),
    "",
    " ",
    "\x00",
    "\n",
    "\x7f",
    "é",
    Long("x" * 100_000),
    Long("é" * 5000 + "\ud800"),
    *SURROGATES,
    Weird(),
    object(),
    [],
    {},
    (),
    set(),
    frozenset({1}),
    complex(1, 1),
    Decimal("NaN"),
    Decimal("1e400"),
    Fraction(1, 3),
    datetime(2025, 1, 1, tzinfo=UTC),
    timedelta(seconds=5),
    Ellipsis,
    int,
    Deep(5000),
    DeepDict(5000),
    ppio.Lora("add_detail", 0.5),
    ppio.Refiner(0.5),
)

surrogate_text = st.builds(
    lambda a, s, b: a + s + b, st.text(max_size=5), st.sampled_from(SURROGATES), st.text(max_size=5)
)
nested = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
odd = st.one_of(
    st.sampled_from(ODD_SCALARS),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    surrogate_text,
    st.binary(max_size=20),
    nested,
)


def odd_options_objects() -> st.SearchStrategy[tuple[str, Any]]:
    """`loras`, `embeddings`, `hires_fix`, `refiner` with odd values inside the option objects or dicts."""
    lora = st.builds(ppio.Lora, odd, odd) | st.builds(lambda n, s: {"model_name": n, "strength": s}, odd, odd)
    return st.one_of(
        st.tuples(st.just("loras"), st.lists(lora, max_size=3)),
        st.tuples(st.just("loras"), odd),
        st.tuples(st.just("embeddings"), st.lists(st.builds(ppio.Embedding, odd), max_size=3)),
        st.tuples(st.just("hires_fix"), st.builds(ppio.HiresFix, odd, odd, odd, odd)),
        st.tuples(
            st.just("hires_fix"), st.dictionaries(st.sampled_from(["target_width", "strength", "x"]), odd)
        ),
        st.tuples(st.just("refiner"), st.builds(ppio.Refiner, odd)),
        st.tuples(st.just("refiner"), odd),
    )


REQUEST_OPTIONS = sorted(ppio.RequestOptions.__annotations__)
option = st.one_of(
    st.tuples(st.sampled_from([*REQUEST_OPTIONS, "timeout", "bogus_option"]), odd),
    st.tuples(st.just("on_progress"), odd.filter(lambda v: not callable(v))),  # a callable is the user's code
    odd_options_objects(),
)


# ------------------------------------------------------------------------------------ the property
def tiny_timeout(value: object) -> bool:
    """A finite timeout so small that the deadline may pass before anything is sent: allowed to end in
    `WaitTimeoutError` rather than a result."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1  # NaN: False


def key_free(exc: BaseException) -> None:
    texts = [str(exc), repr(exc), repr(getattr(exc, "value", None))]
    assert not any(SECRET in text for text in texts), f"the key shows in {exc!r}"


def no_secret_in(exc: BaseException, secret: str) -> bool:
    return not any(secret in t for t in (str(exc), repr(exc), repr(vars(exc))))


def check(api: FastAPI, attempt: Callable[[], object], *, may_time_out: bool = False) -> object:
    """Run an attempt: a result, or a ValidationError with no request sent. Anything else fails."""
    try:
        return attempt()
    except ppio.ValidationError as exc:
        refused = exc
    except ppio.WaitTimeoutError as exc:
        if not may_time_out:
            raise
        return exc
    assert api.requests == [], f"{refused!r} raised after {len(api.requests)} requests"
    assert isinstance(refused.field, str)
    str(refused)  # formatting the message never fails
    key_free(refused)
    return refused


def drain(value: object) -> object:
    return list(value) if isinstance(value, Iterator) else value


# ------------------------------------------------------------------------------------ the fuzz tests
CONSTRUCTOR_ARGS = ("api_key", "base_url", "timeout", "max_retries", "request_timeout", "max_image_bytes")


@FUZZ
@given(
    args=st.dictionaries(st.sampled_from(CONSTRUCTOR_ARGS), odd, max_size=3),
    key_suffix=st.one_of(
        st.none(), st.sampled_from(["", "\n", "\r\n", "\x00", "é", "\t", "\x7f", *SURROGATES])
    ),
    odd_http=st.one_of(st.none(), st.sampled_from([Weird(), "http://x", httpx.AsyncClient])),
    use_async=st.booleans(),
)
def test_client_constructors_take_odd_arguments(
    args: dict[str, Any], key_suffix: str | None, odd_http: object, use_async: bool
) -> None:
    """`Client(...)` / `AsyncClient(...)`: a ValidationError at once, or a client that works."""
    note(ascii((args, key_suffix, odd_http, use_async))[:2000])
    api = FastAPI()
    if key_suffix is not None:
        args["api_key"] = KEY + key_suffix
    if odd_http is not None:
        args["http_client"] = odd_http
    no_key = "api_key" in args and (args["api_key"] is None or args["api_key"] == "")
    with mock.patch.dict(os.environ, {}, clear=False):
        os.environ.pop("PPIO_API_KEY", None)
        os.environ.pop("PPIO_BASE_URL", None)
        try:
            if use_async:
                outcome = run_async(api, lambda client: client.get_task(TASK_ID), **args)
            else:
                with sync_client(api, **args) as client:
                    outcome = client.get_task(TASK_ID)
        except ppio.PPIOError as exc:
            outcome = exc
    if isinstance(outcome, ppio.Task):
        return
    assert isinstance(outcome, ppio.PPIOError)
    if isinstance(outcome, ppio.WaitTimeoutError):
        assert tiny_timeout(args.get("timeout")), f"{outcome!r} with a sane timeout"
        return
    assert api.requests == [], f"{outcome!r} after a request"
    key_free(outcome)
    if not isinstance(outcome, ppio.ValidationError):
        assert no_key, f"{type(outcome).__name__} is not a ValidationError: {outcome}"


@FUZZ
@given(
    prompt=st.one_of(st.just("a red fox"), odd),
    options=st.lists(option, max_size=3),
    method=st.sampled_from(["txt2img", "submit"]),
)
def test_txt2img_and_submit_take_odd_options(
    prompt: Any, options: list[tuple[str, Any]], method: str
) -> None:
    note(ascii((prompt, options, method))[:2000])
    api = FastAPI()
    kwargs = dict(options)
    kwargs.setdefault("width", 128)
    kwargs.setdefault("height", 128)
    with sync_client(api) as client:
        call = client.txt2img if method == "txt2img" else client.submit
        outcome = check(api, lambda: call(prompt, **kwargs), may_time_out=tiny_timeout(kwargs.get("timeout")))
    assert isinstance(outcome, ppio.Generation | ppio.SubmittedTask | ppio.PPIOError), outcome


@FUZZ
@given(prompt=st.one_of(st.just("a red fox"), odd), options=st.lists(option, max_size=2))
def test_async_txt2img_takes_odd_options(prompt: Any, options: list[tuple[str, Any]]) -> None:
    note(ascii((prompt, options))[:2000])
    api = FastAPI()
    kwargs = {"width": 128, "height": 128, **dict(options)}
    outcome = check(
        api,
        lambda: run_async(api, lambda client: client.txt2img(prompt, **kwargs)),
        may_time_out=tiny_timeout(kwargs.get("timeout")),
    )
    assert isinstance(outcome, ppio.Generation | ppio.PPIOError), outcome


def must_refuse_task_id(value: object) -> bool:
    """What the contract says is not a task id: not a string, empty, longer than 256 characters, or with
    a character outside printable ASCII."""
    if isinstance(value, ppio.SubmittedTask | ppio.Task):
        value = value.id
    if not isinstance(value, str):
        return True
    return not value.strip() or len(value) > 256 or any(not " " <= c <= "~" for c in value)


task_ids = st.one_of(
    odd,
    st.text(max_size=300),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=300),
    st.builds(ppio.SubmittedTask, odd),
)


@FUZZ
@given(task=task_ids, timeout=st.one_of(st.none(), odd), method=st.sampled_from(["get_task", "wait"]))
def test_get_task_and_wait_take_odd_task_ids_and_timeouts(task: Any, timeout: Any, method: str) -> None:
    note(ascii((task, timeout, method))[:2000])
    api = FastAPI()
    with sync_client(api) as client:
        if method == "get_task":
            outcome = check(
                api, lambda: client.get_task(task, timeout=timeout), may_time_out=tiny_timeout(timeout)
            )
        else:
            outcome = check(
                api, lambda: client.wait(task, timeout=timeout), may_time_out=tiny_timeout(timeout)
            )
    if must_refuse_task_id(task):
        assert isinstance(outcome, ppio.ValidationError), f"{task!r} was accepted as a task id"


@FUZZ
@given(
    filters=st.dictionaries(
        st.sampled_from([*ppio.ModelFilters.__annotations__, "bogus"]),
        st.one_of(odd, st.sampled_from(["checkpoint", "lora", "public", "civitai"])),
        max_size=3,
    )
)
def test_models_takes_odd_filters(filters: dict[str, Any]) -> None:
    note(ascii(filters)[:2000])
    api = FastAPI()
    with sync_client(api) as client:
        outcome = check(api, lambda: list(client.models(**filters)))
    assert isinstance(outcome, list | ppio.ValidationError)


webhook_payload = st.fixed_dictionaries(
    {
        "task": st.one_of(
            odd,
            st.fixed_dictionaries(
                {
                    "task_id": st.one_of(st.just(TASK_ID), odd),
                    "status": st.one_of(st.just("TASK_STATUS_SUCCEED"), odd),
                },
                optional={"eta": odd, "progress_percent": odd, "reason": odd},
            ),
        )
    },
    optional={
        "images": st.one_of(
            odd, st.lists(st.dictionaries(st.sampled_from(["image_url", "image_url_ttl"]), odd))
        ),
        "extra": odd,
    },
)
webhook_event = st.fixed_dictionaries(
    {"event_type": st.one_of(st.just("ASYNC_TASK_RESULT"), odd), "payload": st.one_of(webhook_payload, odd)}
)


def as_body(event: Any, form: str) -> Any:
    if form == "mapping":
        return event
    try:
        text = json.dumps(event)
    except (TypeError, ValueError, RecursionError):
        return event
    return text if form == "str" else text.encode("utf-8", "surrogatepass")


@FUZZ
@given(
    body=st.one_of(
        st.builds(as_body, webhook_event, st.sampled_from(["mapping", "str", "bytes"])),
        odd,
        st.binary(max_size=50),
        st.just(Long("[" * 100_000)),
        st.just(Long("{" * 50_000)),
    ),
    received_at=st.one_of(st.none(), st.just(datetime(2025, 1, 1, tzinfo=UTC)), odd),
)
def test_parse_webhook_takes_odd_bodies(body: Any, received_at: Any) -> None:
    note(ascii((body, received_at))[:2000])
    try:
        task = ppio.parse_webhook(body, received_at=received_at)
    except ppio.PPIOError as exc:
        str(exc)
        return
    assert task is None or isinstance(task, ppio.Task)


# ------------------------------------------------------------------------------------ item 9, one by one
Attempt = Callable[[Callable[..., Any]], Any]


def _models(client: Any, **filters: Any) -> Any:
    return client.models(**filters)


CONTRACT_INPUTS: dict[str, Attempt] = {
    "get_task(None)": lambda make: make().get_task(None),
    "get_task(123)": lambda make: make().get_task(123),
    "wait(None)": lambda make: make().wait(None),
    "prompt with a lone surrogate": lambda make: make().txt2img("a \ud800 fox"),
    "negative_prompt with a lone surrogate": lambda make: make().txt2img("a", negative_prompt="caf\udce9"),
    "model_name with a lone surrogate": lambda make: make().submit("a", model_name="m\udfff"),
    "sampler_name with a lone surrogate": lambda make: make().submit("a", sampler_name="Euler\ud800"),
    "sd_vae with a lone surrogate": lambda make: make().submit("a", sd_vae="v\ud800"),
    "webhook_url with a lone surrogate": lambda make: make().submit(
        "a", webhook_url="https://h.example/\ud800"
    ),
    "lora name with a lone surrogate": lambda make: make().submit("a", loras=[ppio.Lora("l\ud800", 0.5)]),
    "embedding with a lone surrogate": lambda make: make().submit(
        "a", embeddings=[ppio.Embedding("e\udce9")]
    ),
    "task id with a lone surrogate": lambda make: make().get_task("abc\ud800"),
    "wait on a task id with a lone surrogate": lambda make: make().wait("abc\udce9"),
    "models query with a lone surrogate": lambda make: _models(make(), query="caf\udce9"),
    "timeout=10**400": lambda make: make().txt2img("a", timeout=10**400),
    "timeout=inf": lambda make: make().txt2img("a", timeout=math.inf),
    "timeout=nan": lambda make: make().txt2img("a", timeout=math.nan),
    "get_task timeout=inf": lambda make: make().get_task(TASK_ID, timeout=math.inf),
    "Lora strength 10**400": lambda make: make().submit("a", loras=[ppio.Lora("x", 10**400)]),
    "guidance_scale=nan": lambda make: make().submit("a", guidance_scale=math.nan),
    "task id of 257 characters": lambda make: make().get_task("a" * 257),
    "task id with NUL": lambda make: make().get_task("abc\x00def"),
    "task id with a newline": lambda make: make().wait("abc\ndef"),
    "task id with non-ASCII": lambda make: make().get_task("tâche-1"),
    "base_url=123": lambda make: make(base_url=123),
    'base_url=b"http://x"': lambda make: make(base_url=b"http://x"),
    "base_url=http://[::1": lambda make: make(base_url="http://[::1"),
    "base_url with a query": lambda make: make(base_url="https://api.example.com/?x=1"),
    "base_url with a fragment": lambda make: make(base_url="https://api.example.com/#top"),
    "Client(timeout=inf)": lambda make: make(timeout=math.inf),
    "Client(timeout=nan)": lambda make: make(timeout=math.nan),
    "Client(timeout=10**400)": lambda make: make(timeout=10**400),
}


async def _settle(value: object) -> object:
    if isinstance(value, Awaitable):
        value = await value
    if hasattr(value, "__aiter__"):
        return [item async for item in value]
    return drain(value)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("attempt", CONTRACT_INPUTS.values(), ids=CONTRACT_INPUTS.keys())
def test_contract_inputs_raise_validation_error_before_any_request(attempt: Attempt, mode: str) -> None:
    api = FastAPI()
    clock = FakeClock()
    with contextlib.ExitStack() as stack:
        if mode == "sync":
            http = stack.enter_context(httpx.Client(transport=httpx.MockTransport(api)))

            def make(**kwargs: Any) -> ppio.Client:
                options = {"base_url": BASE_URL, "http_client": http, "clock": clock, "sleep": clock.sleep}
                return stack.enter_context(ppio.Client(KEY, **{**options, **kwargs}))

            with pytest.raises(ppio.ValidationError) as info:
                drain(attempt(make))
        else:

            async def main() -> None:
                async with httpx.AsyncClient(transport=httpx.MockTransport(api.handle_async)) as http:

                    def make(**kwargs: Any) -> ppio.AsyncClient:
                        options = {
                            "base_url": BASE_URL,
                            "http_client": http,
                            "clock": clock,
                            "sleep": clock.async_sleep,
                        }
                        return ppio.AsyncClient(KEY, **{**options, **kwargs})

                    await _settle(attempt(make))

            with pytest.raises(ppio.ValidationError) as info:
                anyio.run(main)
    assert api.requests == []
    assert isinstance(info.value.field, str)


@pytest.mark.parametrize(
    "body", ["[" * 100_000, "{" * 100_000, '{"a":' * 100_000], ids=["lists", "objects", "keyed-objects"]
)
def test_a_deeply_nested_webhook_body_is_a_validation_error(body: str) -> None:
    with pytest.raises(ppio.ValidationError):
        ppio.parse_webhook(body)
    with pytest.raises(ppio.ValidationError):
        ppio.parse_webhook(body.encode())


@pytest.mark.parametrize(
    "key",
    [
        KEY + "\r\nX-Injected: 1",
        KEY[:8] + "\n\n" + KEY[8:],
        KEY[:8] + "\n" + KEY[8:],
        KEY + "\x00",
        KEY + "\x7f",
        KEY + "é",
        KEY + "\ud800",
    ],
    ids=["crlf-header", "inner-newlines", "inner-lf", "nul", "del", "non-ascii", "surrogate"],
)
@pytest.mark.parametrize("kind", [ppio.Client, ppio.AsyncClient])
def test_a_key_with_control_or_non_ascii_characters_is_refused_and_never_shown(
    key: str, kind: type[ppio.Client] | type[ppio.AsyncClient]
) -> None:
    with pytest.raises(ppio.ValidationError) as info:
        kind(key, base_url=BASE_URL)
    exc = info.value
    assert exc.field == "api_key"
    assert exc.value == "<redacted>"
    assert no_secret_in(exc, SECRET)


@pytest.mark.parametrize(
    "attempt",
    [
        pytest.param(lambda client: client.submit("a", width=1), id="request-field"),
        pytest.param(lambda client: client.submit("a", loras=[ppio.Lora("x", 2)]), id="nested-field"),
        pytest.param(lambda client: client.txt2img("a", timeout=-1), id="timeout"),
        pytest.param(lambda client: ppio.Client(KEY + "\r\nX: 1", base_url=BASE_URL), id="api-key"),
    ],
)
def test_a_validation_error_survives_pickling(attempt: Callable[[ppio.Client], object]) -> None:
    with sync_client(FastAPI()) as client, pytest.raises(ppio.ValidationError) as info:
        attempt(client)
    exc = info.value
    copy = pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, just made
    assert type(copy) is type(exc)
    assert (str(copy), copy.field, copy.allowed) == (str(exc), exc.field, exc.allowed)
    assert repr(copy.value) == repr(exc.value)
    assert no_secret_in(copy, SECRET)


# ------------------------------------------------------------------------------------ the CLI
def unused_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """`ppio` in-process, with stdout / stderr that encode like a real UTF-8 terminal's.

    The API URL is a loopback port nothing listens on and, but for `sandbox`, `--max-retries 0
    --timeout 1` are added: arguments the CLI wrongly accepts fail fast (exit 1), instead of retrying
    or waiting for minutes.
    """
    if argv[:1] != ["sandbox"] and len(argv) > 1:
        fast = [*(() if "--max-retries" in argv else ("--max-retries", "0"))]
        fast += [*(() if "--timeout" in argv else ("--timeout", "1"))]
        argv = [argv[0], *fast, *argv[1:]]
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace")
    env = {"PPIO_API_KEY": KEY, "PPIO_BASE_URL": unused_port_url()}
    with mock.patch.dict(os.environ, env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_main(argv)
        except BaseException as exc:  # the CLI must never raise, whatever it is
            code = -1
            err.write(f"RAISED {type(exc).__name__}: {exc!r}\n")
        finally:
            out.flush()
            err.flush()
    texts = [buffer.buffer.getvalue().decode("utf-8", "replace") for buffer in (out, err)]
    return code, texts[0], texts[1]


def assert_one_error_line(code: int, err: str, argv: list[str], *, usage_allowed: bool = True) -> None:
    assert code == 2, f"{argv!r}: exit {code}, stderr {err!r}"
    assert "Traceback" not in err, f"{argv!r}: {err}"
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1, f"{argv!r}: {err!r}"
    assert lines[-1] == errors[0], f"{argv!r}: {err!r}"
    if not usage_allowed:
        assert len(lines) == 1, f"{argv!r}: more than one line: {err!r}"


ODD_ARG_TEXT = st.one_of(
    surrogate_text,
    st.sampled_from(
        ["", "-1", "nan", "inf", "-inf", "1e400", "99999", "0x10", "1,5", "\x00", "é", "x" * 2000]
    ),
)
FLAG_VALUES: dict[str, st.SearchStrategy[str]] = {
    "--width": ODD_ARG_TEXT,
    "--height": ODD_ARG_TEXT,
    "--image-num": ODD_ARG_TEXT,
    "--steps": ODD_ARG_TEXT,
    "--guidance-scale": ODD_ARG_TEXT,
    "--seed": st.one_of(surrogate_text, st.sampled_from(["-2", "nan", "1e400", ""])),
    "--lora": st.one_of(surrogate_text, st.sampled_from(["x:nan", "x:inf", ":0.5", "x:1e400", "x:2", "x"])),
    "--hires-fix": st.one_of(surrogate_text, st.sampled_from(["0x0:0.5", "99999x2:0.5", "2x2:nan", "x:y"])),
    "--refiner": st.one_of(surrogate_text, st.sampled_from(["nan", "inf", "2", "-1"])),
    "--sampler": st.one_of(surrogate_text, st.sampled_from(["", "Euler b"])),
    "--image-type": st.one_of(surrogate_text, st.sampled_from(["gif", ""])),
    "--timeout": st.one_of(surrogate_text, st.sampled_from(["inf", "nan", "-1", "0", "1e400"])),
    "--max-retries": st.one_of(surrogate_text, st.sampled_from(["-1", "1e3", "x"])),
    "--base-url": st.one_of(surrogate_text, st.sampled_from(["ftp://x", "http://[::1", "http://x/?q=1"])),
    "--model": surrogate_text,
    "--negative-prompt": surrogate_text,
    "--webhook-url": surrogate_text,
}
cli_argv = st.one_of(
    st.builds(lambda p: ["txt2img", p], st.one_of(surrogate_text, st.just(""), st.just("x" * 1025))),
    st.builds(
        lambda flag_value: ["txt2img", "a red fox", *flag_value],
        st.sampled_from(sorted(FLAG_VALUES)).flatmap(lambda f: st.tuples(st.just(f), FLAG_VALUES[f])),
    ),
    st.builds(
        lambda cmd, task: [cmd, task],
        st.sampled_from(["task", "wait"]),
        st.one_of(surrogate_text, st.sampled_from(["a" * 257, "abc\x00", "tâche", "a\nb"])),
    ),
    st.builds(
        lambda flag, value: ["models", flag, value],
        st.sampled_from(["--type", "--visibility", "--source", "--limit"]),
        st.one_of(surrogate_text, st.sampled_from(["bogus", "-1", "nan"])),
    ),
    st.builds(lambda value: ["models", "--query", value], surrogate_text),
    st.builds(
        lambda port: ["sandbox", "--port", port],
        st.one_of(surrogate_text, st.sampled_from(["99999", "65536", "-1", "x", ""])),
    ),
    st.builds(lambda word: [word], surrogate_text),
)


# Fewer examples: each run makes a `Client`, and httpx builds an SSL context for it (~0.1 s).
@settings(FUZZ, max_examples=50)
@given(argv=cli_argv)
def test_the_cli_answers_odd_arguments_with_exit_2_and_one_error_line(argv: list[str]) -> None:
    note(ascii(argv)[:2000])
    code, _out, err = run_cli(argv)
    assert_one_error_line(code, err, argv)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param([b"task", b"caf\xe9"], id="task-id"),
        pytest.param([b"txt2img", b"caf\xe9 au lait"], id="prompt"),
        pytest.param([b"txt2img", b"a cat", b"--model", b"\xff\xfe"], id="option-value"),
        pytest.param([b"models", b"--query", b"caf\xe9"], id="models-query"),
        pytest.param([b"sandbox", b"--port", b"99999"], id="sandbox-port-99999"),
        pytest.param([b"sandbox", b"--port", b"65536"], id="sandbox-port-65536"),
    ],
)
def test_the_cli_as_a_process_answers_non_utf8_argv_and_a_bad_port_with_one_line(argv: list[bytes]) -> None:
    """Real argv bytes: Python hands them to `ppio` decoded with surrogateescape."""
    env = {
        **os.environ,
        "PPIO_API_KEY": KEY,
        "PPIO_BASE_URL": unused_port_url(),
        "LC_ALL": "C.UTF-8",
    }
    done = subprocess.run(
        [sys.executable.encode(), b"-m", b"ppio_txt2img", *argv],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 2, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got {err!r}"
    assert "error" in lines[0]
