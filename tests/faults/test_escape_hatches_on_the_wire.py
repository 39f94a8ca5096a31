"""An escape hatch HTTP cannot carry (a header name with a space, a header value outside ASCII, a lone
surrogate in the query or the body) is a `ValidationError` before anything is sent, on every transport.
Before, each transport did its own thing with the same input: httpx refused it while sending, as an error
that read "the task may have been created and billed"; aiohttp sent the malformed request; a surrogate
escaped as a bare `UnicodeEncodeError`. On a raw server that counts what arrives."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import ppio_txt2img as ppio
from tests.faults.raw_server import FaultKit

BAD: list[tuple[dict[str, Any], str]] = [
    ({"extra_headers": {"X A": "1"}}, "extra_headers['X A']"),
    ({"extra_headers": {"X-Team": "Zürich"}}, "extra_headers['X-Team']"),
    ({"extra_query": {"q": "\ud800"}}, "extra_query"),
    ({"extra_body": {"extra": {"note": "\ud800"}}}, "extra_body"),
]


@pytest.mark.parametrize("library", ["sync", "asyncio", "trio"])
def test_an_escape_hatch_http_cannot_carry_is_refused_before_sending_on_every_transport(
    kit: FaultKit, library: str
) -> None:
    fields = []
    for options, _ in BAD:
        try:
            if library == "sync":
                with ppio.Client("sk-test", base_url=kit.url) as client:
                    client.txt2img("a red fox", **options)
            else:

                async def call(options: dict[str, Any] = options) -> None:
                    async with ppio.AsyncClient("sk-test", base_url=kit.url) as client:
                        await client.txt2img("a red fox", **options)

                anyio.run(call, backend=library)
        except ppio.ValidationError as exc:
            fields.append(exc.field)
    assert fields == [field for _, field in BAD]
    assert kit.seen() == []  # nothing reached the server
