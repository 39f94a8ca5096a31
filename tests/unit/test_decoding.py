"""`_decoding`: a body's Content-Encoding undone as its bytes arrive, in whatever pieces they come, never
past the cap (`BodyDecoder`, used by every transport's `BodyReader`)."""

from __future__ import annotations

import gzip
import os
import tracemalloc
import zlib

import pytest

from ppio_txt2img._decoding import ACCEPT_ENCODING, BodyTooLarge, Undecodable, body_decoder

BODY = os.urandom(3000) + b'{"task": "a JSON-ish body"}' * 400


def decoded(coding: str, data: bytes, limit: int | None = None, piece: int = 7) -> bytes:
    decoder = body_decoder(coding, limit)
    assert decoder is not None
    out = b"".join(decoder.feed(data[i : i + piece]) for i in range(0, len(data), piece))
    return out + decoder.flush()


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize("piece", [1, 7, 4096, 10**9])
@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("GZip", gzip.compress),
        ("deflate", zlib.compress),  # the zlib format, as HTTP says
        ("deflate", raw_deflate),  # a raw stream, as some servers send
        ("gzip, gzip", lambda data: gzip.compress(gzip.compress(data))),
        ("deflate, gzip", lambda data: gzip.compress(zlib.compress(data))),
        ("identity, gzip", gzip.compress),
        ("gzip", lambda data: gzip.compress(data[:100]) + gzip.compress(data[100:])),  # two members
        ("gzip", lambda data: gzip.compress(data) + b"\x00\x00 not a member"),  # dropped
        ("gzip", lambda data: gzip.compress(data) + b"\x1f"),  # half a magic number: dropped
    ],
)
def test_each_coding_decodes_whatever_the_pieces(coding: str, encode: object, piece: int) -> None:
    assert callable(encode)
    assert decoded(coding, encode(BODY), len(BODY), piece) == BODY


def test_nothing_to_undo_is_no_decoder() -> None:
    assert body_decoder(None, 10) is None
    assert body_decoder("", 10) is None
    assert body_decoder("identity", 10) is None
    assert body_decoder(" , identity", 10) is None


def test_one_byte_past_the_cap_is_too_large_and_the_cap_itself_is_not() -> None:
    data = gzip.compress(BODY)
    assert decoded("gzip", data, len(BODY)) == BODY
    with pytest.raises(BodyTooLarge):
        decoded("gzip", data, len(BODY) - 1)


def test_a_stacked_bomb_stops_at_the_cap_without_inflating_the_rest() -> None:
    inner = zlib.compressobj(wbits=zlib.MAX_WBITS | 16)
    block = b" " * (1 << 20)
    bomb_inner = b"".join(inner.compress(block) for _ in range(256)) + inner.flush()  # 256 MiB inside
    bomb = gzip.compress(bomb_inner)  # a few hundred bytes on the wire
    assert len(bomb) < 2000
    cap = 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            decoded("gzip, gzip", bomb, cap, 65536)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * cap, f"{peak} bytes at the peak for a cap of {cap}"


def test_a_body_that_does_not_decode_is_undecodable() -> None:
    with pytest.raises(Undecodable, match="does not decode as gzip"):
        decoded("gzip", b"plain text, not gzip")
    with pytest.raises(Undecodable, match="does not decode as deflate"):
        decoded("deflate", b"\xff" * 50)


def test_a_label_the_sdk_does_not_know_is_passed_over_as_httpx_and_aiohttp_do() -> None:
    """Servers put `utf-8` or `none` there by mistake on plain bodies: refusing them lost created tasks."""
    for label in ("utf-8", "none", "br", "compress, identity"):
        assert body_decoder(label, None) is None
    assert decoded("br, gzip", gzip.compress(BODY)) == BODY  # the known one undone, the other passed over
    assert ACCEPT_ENCODING == "gzip, deflate"  # what every request asks for: nothing else should come


def test_a_stream_that_ends_early_gives_what_it_held() -> None:
    data = gzip.compress(BODY)[:-30]
    assert BODY.startswith(decoded("gzip", data)[:3000])
