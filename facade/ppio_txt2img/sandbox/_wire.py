"""How an answer's bytes travel: compressed as gateways do, padded to a size, dripped slowly by a proxy.

The decisions are pure functions (`accepts`, `compress`, `pad_json`, `drip_plan`); `on_the_wire`
rewrites a finished Starlette response accordingly, streaming the body when it must drip.
"""

from __future__ import annotations

import gzip
import math
import zlib
from collections.abc import AsyncIterator
from typing import Literal

import anyio
from starlette.responses import Response, StreamingResponse

Coding = Literal["gzip", "deflate"]
CODINGS: tuple[str, ...] = ("gzip", "deflate")

#: The field `pad_json` adds to an answer (an undocumented key, as real servers add them).
PADDING_FIELD = "_padding"
#: About this many seconds between two chunks of a dripped body.
DRIP_PAUSE = 0.05
_ALIASES = {"x-gzip": "gzip"}


def accepts(accept_encoding: str, coding: str) -> bool:
    """Whether an `Accept-Encoding` value allows `coding`: named with q > 0, or else `*` with q > 0."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, _, parameters = item.partition(";")
        name = name.strip().lower()
        if not name:
            continue
        weight = 1.0
        for parameter in parameters.split(";"):
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[_ALIASES.get(name, name)] = weight
    if coding in weights:
        return weights[coding] > 0
    return weights.get("*", 0.0) > 0


def compress(body: bytes, coding: str) -> bytes:
    """`body` in a content coding: "gzip" (RFC 1952) or "deflate" (zlib-wrapped, RFC 1950, per RFC 9110)."""
    if coding == "gzip":
        return gzip.compress(body, mtime=0)
    if coding == "deflate":
        return zlib.compress(body)
    raise ValueError(f"unknown content coding {coding!r}")


def pad_json(body: bytes, size: int) -> bytes:
    """A compact JSON object grown to exactly `size` bytes by one more string field, `"_padding":"xxx..."`.

    Unchanged when it is not an object, or already `size` bytes or more, or too short to hold the field.
    The filler is one repeated letter, so a compressed padded body stays small (a small "zip bomb")."""
    if not (body.startswith(b"{") and body.endswith(b"}")):
        return body
    separator = b"" if body == b"{}" else b","
    opening = separator + b'"' + PADDING_FIELD.encode("ascii") + b'":"'
    filler = size - len(body) - len(opening) - 1  # 1: the closing quote
    if filler < 0:
        return body
    return body[:-1] + opening + b"x" * filler + b'"}'


def drip_plan(bytes_per_second: float) -> tuple[int, float]:
    """Chunk size and the pause before each chunk, to send `bytes_per_second` in small chunks."""
    chunk = max(1, math.floor(bytes_per_second * DRIP_PAUSE))
    return chunk, chunk / bytes_per_second


async def drip(body: bytes, bytes_per_second: float) -> AsyncIterator[bytes]:
    """`body` in small chunks, each after a pause: the last byte leaves `len(body) / rate` seconds later."""
    chunk, pause = drip_plan(bytes_per_second)
    for start in range(0, len(body), chunk):
        await anyio.sleep(pause)
        yield body[start : start + chunk]


def on_the_wire(
    response: Response, *, coding: str | None, vary: bool, bytes_per_second: float | None
) -> Response:
    """`response` with its body compressed in `coding` (if any, and not empty) and dripped at
    `bytes_per_second` (if given: the headers go out at once, the body follows slowly).

    `vary` adds `Vary: Accept-Encoding`, as a server does whose answer depends on that header.
    `Content-Length` always gives the length of the bytes sent."""
    if coding is None and not vary and bytes_per_second is None:
        return response
    body = bytes(response.body)
    headers = [(k, v) for k, v in response.raw_headers if k != b"content-length"]
    if coding is not None and body:
        body = compress(body, coding)
        headers.append((b"content-encoding", coding.encode("ascii")))
    if vary:
        headers.append((b"vary", b"Accept-Encoding"))
    headers.append((b"content-length", str(len(body)).encode("ascii")))
    rewritten: Response
    if bytes_per_second is None:
        rewritten = Response(body, status_code=response.status_code)
    else:
        rewritten = StreamingResponse(drip(body, bytes_per_second), status_code=response.status_code)
    rewritten.raw_headers = headers
    return rewritten
