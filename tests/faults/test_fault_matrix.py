"""The fault matrix: every case of `fault_cases.py`, sync and async, against the raw servers of
`raw_server.py`, through the public API only and the SDK's own httpx client (or the user's, where a
case gives one). For each case, besides its outcome:

- POSTs: exactly as many as the case says (a resend that may bill twice is never allowed);
- the deadline held: `elapsed <= timeout + MARGIN` (a bound, not a benchmark);
- no image silently dropped: a `Generation` has exactly the images asked for, in order; an `ImageError`
  says which index failed and carries the ones that arrived;
- the API key shows nowhere: not in the error (its chain, notes, attributes, traceback), not in any
  record of the `ppio_txt2img`, `httpx` or `httpcore` loggers at DEBUG, not in any request to an image
  URL or to the other host;
- the error survives pickling.

Every check of a case runs, and a failure lists all that failed, each tagged with what it checks.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from types import FrameType
from typing import Any

import anyio
import httpx
import pytest

import ppio_txt2img as ppio
from ppio_txt2img import _constants as ppio_constants
from tests.faults.fault_cases import CASES, MODEL_PAGES, NOT_NONE, SECRET, TASK, Call, Case
from tests.faults.raw_server import Fault, FaultKit, describe_requests
from tests.loopback import TLS

#: How far past its timeout a call may end (thread wake-ups, a last read, a loaded CI machine): this,
#: or half the timeout when that is more (a long call does more work that a loaded machine slows). Every
#: stalling or dripping fault lasts longer than its case's timeout plus this margin.
MARGIN = 1.5
#: The SDK's own sleeps (poll waits, retry backoffs) last this much less than it asks: what it decides
#: stays on the real clock (the deadline, every socket timeout), so a case ends the same way, sooner.
HURRY = 5.0
PROMPT = "a lighthouse at dusk"
LOGGERS = ("ppio_txt2img", "httpx", "httpcore")

# The async client imports aiohttp on first use: done here, so that no case's deadline pays for it
# (seconds, on a loaded machine).
importlib.import_module("aiohttp")


# ------------------------------------------------------------------------------------ running a case
def _hurried_sleep(seconds: float) -> None:
    time.sleep(seconds / HURRY)


async def _hurried_async_sleep(seconds: float) -> None:
    await anyio.sleep(seconds / HURRY)


def _sync(call: Call, url: str, task_id: str | None) -> object:
    with ExitStack() as stack:
        http = None
        if call.http_client is not None:
            http = stack.enter_context(httpx.Client(**call.http_client, verify=TLS))
        client = stack.enter_context(
            ppio.Client(
                call.api_key, base_url=url, timeout=call.timeout, http_client=http, sleep=_hurried_sleep
            )
        )
        if call.method == "txt2img":
            return client.txt2img(
                PROMPT, width=128, height=128, image_num=call.image_num, timeout=call.timeout, **call.options
            )
        if call.method == "submit":  # `timeout` is accepted, though `RequestOptions` does not list it
            options: dict[str, Any] = {"timeout": call.timeout, **call.options}
            return client.submit(PROMPT, width=128, height=128, image_num=call.image_num, **options)
        if call.method == "get_task":
            return client.get_task(task_id or "", timeout=call.timeout)
        if call.method == "wait":
            return client.wait(task_id or "", timeout=call.timeout)
        return list(client.models())


async def _async(call: Call, url: str, task_id: str | None, transport: str = "default") -> object:
    async with AsyncExitStack() as stack:
        http = None
        if call.http_client is not None:
            http = await stack.enter_async_context(httpx.AsyncClient(**call.http_client, verify=TLS))
        elif transport == "httpx":  # httpx's own transport, as under trio, instead of aiohttp's
            http = await stack.enter_async_context(httpx.AsyncClient(follow_redirects=False, verify=TLS))
        client = await stack.enter_async_context(
            ppio.AsyncClient(
                call.api_key,
                base_url=url,
                timeout=call.timeout,
                http_client=http,
                sleep=_hurried_async_sleep,
            )
        )
        if call.method == "txt2img":
            return await client.txt2img(
                PROMPT, width=128, height=128, image_num=call.image_num, timeout=call.timeout, **call.options
            )
        if call.method == "submit":
            options: dict[str, Any] = {"timeout": call.timeout, **call.options}
            return await client.submit(PROMPT, width=128, height=128, image_num=call.image_num, **options)
        if call.method == "get_task":
            return await client.get_task(task_id or "", timeout=call.timeout)
        if call.method == "wait":
            return await client.wait(task_id or "", timeout=call.timeout)
        return [model async for model in client.models()]


def run(case: Case, kit: FaultKit, mode: str) -> tuple[object, float]:
    """The call's result or the exception it raised, and how long it took."""
    task_id = None
    if case.call.method in ("get_task", "wait"):
        task_id = kit.create_task(image_num=case.call.image_num)
    started = time.monotonic()
    try:
        if mode == "sync":
            outcome = _sync(case.call, kit.url, task_id)
        elif mode == "async-httpx":
            outcome = anyio.run(_async, case.call, kit.url, task_id, "httpx")
        else:  # the async client's own transport: aiohttp's under asyncio
            outcome = anyio.run(_async, case.call, kit.url, task_id)
    except Exception as exc:  # the outcome under test, whatever it is
        outcome = exc
    return outcome, time.monotonic() - started


# ------------------------------------------------------------------------------------ what to look at
class _Records(logging.Handler):
    """Every record of the watched loggers, formatted (message, args and traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"{record.name}: {record.getMessage()} | args={record.args!r}"
            if record.exc_info:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        except Exception as exc:  # a record that cannot be formatted is itself a finding
            text = f"{record.name}: unformattable record {record.msg!r}: {exc!r}"
        self.lines.append(text)


@contextmanager
def watched_logs() -> Iterator[_Records]:
    """The watched loggers at DEBUG, into one handler only (not propagated: pytest's own log capture
    would format every record a second time, and 1000 model pages make many)."""
    handler = _Records()
    saved = []
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger, level, propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate


def chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its causes and contexts (and a group's members), each once."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack += [e for e in (current.__cause__, current.__context__) if e is not None]
        if isinstance(current, BaseExceptionGroup):
            stack += list(current.exceptions)


def exception_texts(exc: BaseException) -> Iterator[str]:
    """Everything a user, a log or an error tracker could show of an exception."""
    yield "".join(traceback.format_exception(exc))
    for current in chain(exc):
        yield repr(current)
        yield str(current)
        yield from (str(note) for note in getattr(current, "__notes__", ()))
        for value in vars(current).values():
            yield value.decode("latin-1") if isinstance(value, bytes) else repr(value)


def excerpt(text: str) -> str:
    """The part of a text around the secret."""
    at = text.index(SECRET)
    return repr(text[max(0, at - 150) : at + 100])


def resolve(obj: object, path: str) -> object:
    for part in path.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)  # type: ignore[index]
    return obj


def summary(outcome: object) -> str:
    if isinstance(outcome, BaseException):
        return f"{type(outcome).__module__}.{type(outcome).__qualname__}: {str(outcome)[:300]}"
    if isinstance(outcome, ppio.Generation):
        return f"a Generation with {len(outcome.images)} images"
    if isinstance(outcome, list):
        return f"a list of {len(outcome)} models"
    return repr(outcome)[:300]


def counted(outcome: object) -> int | None:
    """How many images or models an outcome holds (an ImageError: the images that arrived)."""
    if isinstance(outcome, ppio.Generation):
        return len(outcome.images)
    if isinstance(outcome, list):
        return len(outcome)
    images = getattr(outcome, "images", None) if isinstance(outcome, ppio.ImageError) else None
    return len(images) if isinstance(images, tuple) else None


# ---------------------------------------------------------------------------------------- the checks
def check_outcome(case: Case, outcome: object) -> list[str]:
    expect = case.expect
    problems: list[str] = []
    raised = isinstance(outcome, BaseException)
    if expect.error is None:
        allowed = raised and expect.may_raise is not None and isinstance(outcome, expect.may_raise)
        if raised and not allowed:
            return [f"[outcome] expected a result, got {summary(outcome)}"]
        if allowed:
            return []
    elif not isinstance(outcome, expect.error):
        return [f"[outcome] expected {expect.error.__name__}, got {summary(outcome)}"]
    for path, want in expect.attrs.items():
        try:
            got = resolve(outcome, path)
        except (AttributeError, IndexError, TypeError) as exc:
            problems.append(f"[outcome] no {path}: {type(exc).__name__}: {exc}")
            continue
        if (want is NOT_NONE and got is None) or (want is not NOT_NONE and got != want):
            problems.append(f"[outcome] {path} is {got!r}, expected {want!r} ({summary(outcome)})")
    if expect.count is not None and counted(outcome) != expect.count:
        problems.append(f"[outcome] {counted(outcome)} images/models, expected {expect.count}")
    if raised:
        text = str(outcome)
        problems += [
            f"[outcome] the message lacks {s!r}: {text[:300]!r}" for s in expect.says if s not in text
        ]
        problems += [
            f"[outcome] the message says {s!r}: {text[:300]!r}" for s in expect.never_says if s in text
        ]
    return problems


def check_images(case: Case, outcome: object) -> list[str]:
    """No image silently dropped: a result has them all, in order; an ImageError says what arrived."""
    problems = []
    if isinstance(outcome, ppio.Generation):
        order = [image.index for image in outcome.images]
        if order != list(range(len(order))):
            problems.append(f"[images] out of order or with gaps: indices {order}")
        if case.call.method == "txt2img" and len(order) != case.call.image_num:
            problems.append(f"[images] {len(order)} images returned, {case.call.image_num} asked")
    if isinstance(outcome, ppio.ImageError):
        images = getattr(outcome, "images", None)
        if not isinstance(images, tuple):
            return [f"[images] ImageError has no images tuple (got {images!r})"]
        indices: list[int | None] = [getattr(image, "index", None) for image in images]
        if not all(isinstance(image, ppio.GeneratedImage) for image in images):
            problems.append(f"[images] ImageError.images holds non-images: {images!r}")
        elif indices != sorted({i for i in indices if i is not None}) or outcome.index in indices:
            problems.append(
                f"[images] ImageError.images indices {indices} with failing index {outcome.index}"
            )
    return problems


def check_secret(outcome: object, logs: _Records, kit: FaultKit) -> list[str]:
    problems = []
    if isinstance(outcome, BaseException):
        leaks = [text for text in exception_texts(outcome) if SECRET in text]
        if leaks:
            problems.append(f"[key] the API key is in the error ({len(leaks)} places): {excerpt(leaks[0])}")
    leaked_logs = [line for line in logs.lines if SECRET in line]
    if leaked_logs:
        problems.append(f"[key] the API key is in {len(leaked_logs)} log records: {excerpt(leaked_logs[0])}")
    for seen in kit.seen():
        if (seen.server == "other" or seen.route.startswith("image/")) and SECRET in seen.wire_text:
            problems.append(f"[key] the API key went to {seen.server} {seen.method} {seen.path}")
    return problems


def check_pickle(case: Case, outcome: object) -> list[str]:
    if not isinstance(outcome, ppio.PPIOError):
        return []
    try:
        copy = pickle.loads(pickle.dumps(outcome))  # noqa: S301 - our own bytes, just made
    except Exception as exc:
        return [f"[pickle] {type(outcome).__name__} does not survive pickling: {type(exc).__name__}: {exc}"]
    problems = []
    if type(copy) is not type(outcome) or str(copy) != str(outcome):
        problems.append(f"[pickle] unpickled as {type(copy).__name__}: {str(copy)[:200]!r}")
    expected = case.expect.error or case.expect.may_raise
    for path in case.expect.attrs if expected is not None and isinstance(outcome, expected) else ():
        try:
            if resolve(copy, path) != resolve(outcome, path):
                problems.append(f"[pickle] {path} changed: {resolve(copy, path)!r}")
        except (AttributeError, IndexError, TypeError) as exc:
            problems.append(f"[pickle] {path} lost: {exc}")
    return problems


def check_wire(case: Case, kit: FaultKit, elapsed: float) -> list[str]:
    problems = []
    posts = len(kit.posts)
    if posts != case.posts:
        problems.append(f"[posts] {posts} POSTs, expected {case.posts}")
    margin = max(MARGIN, case.call.timeout / 2)
    if elapsed > case.call.timeout + margin:
        problems.append(f"[deadline] took {elapsed:.1f} s; timeout {case.call.timeout:g} s (+{margin:g})")
    for route, (least, most) in case.expect.requests.items():
        if route == "all":
            seen = len(kit.seen())
        elif route == "other":
            seen = len(kit.seen(server="other"))
        else:
            seen = len(kit.seen(route))
        if not least <= seen <= most:
            problems.append(f"[requests] {seen} {route} requests, expected {least} to {most}")
    if case.expect.sent_key is not None:
        for seen_request in kit.seen(server="api"):
            auth = [value for name, value in seen_request.headers if name.lower() == "authorization"]
            if seen_request.route in ("submit", "result", "models") and auth != [case.expect.sent_key]:
                problems.append(f"[key] {seen_request.route} sent Authorization {auth!r}")
                break
    return problems


# Sync runs on httpx's transport; async on the async client's default (aiohttp's, under asyncio) and,
# as under trio, on httpx's own: every promise holds on every transport.
@pytest.mark.parametrize("mode", ["sync", "async", "async-httpx"])
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_fault_matrix(case: Case, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ppio_constants, "MAX_MODEL_PAGES", MODEL_PAGES)
    with FaultKit(**case.kit) as kit, watched_logs() as logs:
        for route, faults in case.server.items():
            kit.on(route, *faults)
        outcome, elapsed = run(case, kit, mode)
    problems = [
        *check_outcome(case, outcome),
        *check_wire(case, kit, elapsed),
        *check_images(case, outcome),
        *check_secret(outcome, logs, kit),
        *check_pickle(case, outcome),
    ]
    assert not problems, (
        f"contract item {case.item}: {case.fault} -> expected: {case.does}\n  "
        + "\n  ".join(problems)
        + f"\n  outcome: {summary(outcome)}\n  requests: {describe_requests(kit)}; {elapsed:.2f} s"
    )
    assert kit.errors == []


def test_the_cases_are_well_formed() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
    for case in CASES:
        assert case.fault
        assert case.does
        assert 0 <= case.item <= 10
        routes = set(case.server) | set(case.expect.requests)
        assert all(r.split("/")[0] in {"submit", "result", "models", "image", "other", "all"} for r in routes)
        if case.call.method == "txt2img" and case.expect.error is None and case.expect.may_raise is None:
            assert case.expect.count == case.call.image_num, case.name


# ------------------------------------------------------------------------------------ Ctrl-C (item 10)
def test_ctrl_c_during_sync_downloads_propagates_within_a_second() -> None:
    """A real SIGINT while both images hang: the KeyboardInterrupt reaches the caller at once, with the
    task id; the downloads in flight are abandoned, not waited for."""
    armed = threading.Event()
    sent_at: list[float] = []

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if armed.is_set():
            raise KeyboardInterrupt

    def interrupt_when_downloading(kit: FaultKit) -> None:
        deadline = time.monotonic() + 10
        while len(kit.seen("image")) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        sent_at.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with FaultKit() as kit, ppio.Client("sk-live-SECRET-9f8e7d6c5b4a", base_url=kit.url) as client:
            kit.on("image", Fault(delay=8))
            interrupter = threading.Thread(target=interrupt_when_downloading, args=(kit,), daemon=True)
            interrupter.start()
            armed.set()
            try:
                with pytest.raises(KeyboardInterrupt) as info:
                    client.txt2img(PROMPT, width=128, height=128, image_num=2, timeout=20)
                caught_at = time.monotonic()
            finally:
                armed.clear()
            interrupter.join(timeout=5)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert sent_at, "the downloads never started"
    assert caught_at - sent_at[0] < 1.5, f"Ctrl-C took {caught_at - sent_at[0]:.1f} s to propagate"
    assert getattr(info.value, "task_id", None) == TASK
