"""A compression bomb from the API or an image host stops at the body's size cap on every transport,
in memory too: a few hundred bytes on the wire that inflate to 256 MiB (`Content-Encoding: gzip, gzip`)
are inflated no further than the cap (8 MiB for an API answer, `max_image_bytes` for an image). httpx
inflated each network chunk whole and each layer in turn, 2 GB for a 2 KB answer, before the cap was
counted. Memory is Python's own allocations during the call (`tracemalloc`), not a timing."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import anyio
import pytest

import ppio_txt2img as ppio
from ppio_txt2img import _constants as C
from tests.faults.raw_server import Fault, FaultKit

INSIDE = 256 << 20  # what the bomb inflates to


def bomb() -> bytes:
    """A JSON object padded with INSIDE bytes of spaces, gzip in gzip: valid, whole, and huge inside."""
    inner = zlib.compressobj(9, wbits=zlib.MAX_WBITS | 16)
    block = b" " * (1 << 20)
    body = inner.compress(b'{"task": ') + b"".join(inner.compress(block) for _ in range(INSIDE >> 20))
    return gzip.compress(body + inner.compress(b"null}") + inner.flush())


def peak_during(call: Callable[[], object]) -> tuple[object, int]:
    tracemalloc.start()
    try:
        return call(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def on(library: str, kit: FaultKit, method: Callable[[Any], Any], **options: Any) -> Callable[[], object]:
    """The call on `library`'s client: its result, or its `PPIOError` as (type, message), taken inside
    the event loop (an error kept past a trio run would keep the abandoned body's stream alive past it)."""

    def sync() -> object:
        with ppio.Client("sk-test", base_url=kit.url, timeout=20, **options) as client:
            try:
                return method(client)
            except ppio.PPIOError as exc:
                return type(exc), str(exc)

    async def in_async() -> object:
        async with ppio.AsyncClient("sk-test", base_url=kit.url, timeout=20, **options) as client:
            try:
                return await method(client)
            except ppio.PPIOError as exc:
                return type(exc), str(exc)

    return sync if library == "sync" else lambda: anyio.run(in_async, backend=library)


#: Under trio, a body left before its end (too large) leaves httpx's nested stream generators (each
#: iterates the next; closing the outer one does not close the inner) to the garbage collector, and trio
#: warns about every async generator collected unfinished. httpx's, not the SDK's: its connection is
#: closed (`response.aclose()`); only the warning is left.
HTTPX_STREAMS_UNDER_TRIO = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <async_generator object "
    "(BoundAsyncStream|AsyncResponseStream|PoolByteStream).__aiter__"
    ":pytest.PytestUnraisableExceptionWarning"
)


@HTTPX_STREAMS_UNDER_TRIO
@pytest.mark.parametrize("library", ["sync", "asyncio", "trio"])
def test_a_bombed_task_result_stops_at_the_answers_cap_in_memory_too(kit: FaultKit, library: str) -> None:
    kit.on("result", Fault(body=bomb(), headers=(("Content-Encoding", "gzip, gzip"),)))
    outcome, peak = peak_during(on(library, kit, lambda client: client.get_task("fa17fa17-bomb")))
    assert isinstance(outcome, tuple), outcome
    assert outcome[0] is ppio.APIResponseValidationError
    assert f"larger than {C.MAX_API_BODY_BYTES} bytes" in outcome[1]
    assert peak < 3 * C.MAX_API_BODY_BYTES, f"{peak >> 20} MiB at the peak"


@HTTPX_STREAMS_UNDER_TRIO
@pytest.mark.parametrize("library", ["sync", "asyncio", "trio"])
def test_a_bombed_image_stops_at_max_image_bytes_in_memory_too(kit: FaultKit, library: str) -> None:
    kit.on("image", Fault(body=bomb(), headers=(("Content-Encoding", "gzip, gzip"),)))
    cap = 1 << 20
    outcome, peak = peak_during(on(library, kit, lambda client: client.txt2img("a fox"), max_image_bytes=cap))
    assert isinstance(outcome, tuple), outcome
    assert outcome[0] is ppio.ImageError
    assert f"image larger than {cap} bytes" in outcome[1]
    assert peak < 8 * C.MAX_API_BODY_BYTES, f"{peak >> 20} MiB at the peak"
