"""A response body's `Content-Encoding`, decoded by the SDK as the body arrives: the same way on every
transport, and never past the body's size cap.

The transports' own decoders did neither. httpx inflates each network chunk whole, with no limit on
what comes out, and one layer after another for stacked codings (`gzip, gzip`): a 2 KB answer grew to
2 GB in memory before the size cap (counted on what came out) could stop it. And the same body was
decoded on one transport and refused on another: stacked codings (httpx decodes them, aiohttp not), a
gzip of several members (aiohttp reads them all, httpx the first), bytes after the gzip (httpx drops
them, aiohttp fails). So every transport hands over the bytes as they came (`iter_raw`, aiohttp's
`auto_decompress=False`), each request asks for the codings decoded here (`ACCEPT_ENCODING`), and this
decodes them:

- `gzip` (and its old name `x-gzip`), every member; `deflate`, as zlib's format or raw (told by its
  first two bytes: browsers read both); `identity`; codings stacked in any number, undone last first;
- out of each layer, never more than the cap allows (`zlib`'s `max_length`): past it, `BodyTooLarge`
  (an inner layer may hold a little more than the body it inflates to: `_LAYER_SLACK`);
- bytes after the last gzip member that start no new one are dropped, and a stream that ends early
  gives what it held (as httpx does): the body's own checks (JSON, an image's) judge what came;
- a label the SDK does not know (`utf-8`, `none`, `br`) is passed over, as httpx and aiohttp do;
- a body that does not decode as its label says is `Undecodable`.
"""

from __future__ import annotations

import zlib

__all__ = ["ACCEPT_ENCODING", "BodyDecoder", "BodyTooLarge", "Undecodable", "body_decoder"]

#: What every request of the SDK says it can take: what `BodyDecoder` decodes.
ACCEPT_ENCODING = "gzip, deflate"

#: How much more than the body's cap an inner layer of stacked codings may hold (a compressed stream of
#: incompressible bytes is a little larger than they are).
_LAYER_SLACK = 64 * 1024

_GZIP_MAGIC = b"\x1f\x8b"


class BodyTooLarge(Exception):
    """More decoded bytes than the cap allows."""


class Undecodable(Exception):
    """A body that does not decode as its `Content-Encoding` says."""


class _Layer:
    """One coding being undone: gzip (member after member) or deflate (zlib's format, else raw)."""

    def __init__(self, coding: str, room: int | None) -> None:
        self.coding = coding
        self.room = room  # bytes it may still give out (None: no cap)
        self._inflater = self._new()
        self._started = False  # deflate: the format is told from its first two bytes
        #: Bytes held until there are enough to tell: deflate's first two, or, after a gzip member,
        #: whether a new one begins.
        self._after = b""
        self._ended = False  # past the last member: what comes is dropped

    def _new(self, raw: bool = False) -> zlib._Decompress:
        if self.coding == "gzip":
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        return zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        if self.coding == "deflate" and not self._started:
            data = self._deflate_head(data)
        while data and not self._ended:
            if self._inflater.eof:
                data = self._next_member(data)
                continue
            data = self._inflate(data, out)
        return b"".join(out)

    def _deflate_head(self, data: bytes) -> bytes:
        """Deflate's first bytes, held until there are two: zlib's header (RFC 1950: method 8, the pair
        a multiple of 31), else a raw stream. What to inflate now."""
        self._after += data
        if len(self._after) < 2:
            return b""
        data, self._after = self._after, b""
        self._started = True
        if not (data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0):
            self._inflater = self._new(raw=True)
        return data

    def _inflate(self, data: bytes, out: list[bytes]) -> bytes:
        """Inflate `data` into `out` within the room; what is left after the stream's end."""
        try:
            piece = self._inflater.decompress(data, 0 if self.room is None else self.room + 1)
        except zlib.error as exc:
            raise Undecodable(f"the body does not decode as {self.coding} ({exc})") from None
        self._spend(piece)
        out.append(piece)
        if self._inflater.unconsumed_tail:  # stopped at the room's edge: more comes out of the same
            return self._inflater.unconsumed_tail
        return self._inflater.unused_data if self._inflater.eof else b""

    def _next_member(self, data: bytes) -> bytes:
        """After a stream's end: a new gzip member, or bytes to drop (deflate has one stream)."""
        if self.coding != "gzip":
            self._ended = True
            return b""
        self._after += data
        if len(self._after) < len(_GZIP_MAGIC):
            return b""
        data, self._after = self._after, b""
        if not data.startswith(_GZIP_MAGIC):
            self._ended = True
            return b""
        self._inflater = self._new()
        return data

    def _spend(self, piece: bytes) -> None:
        if self.room is not None:
            self.room -= len(piece)
            if self.room < 0:
                raise BodyTooLarge

    def flush(self) -> bytes:
        if self.coding == "deflate" and not self._started and self._after:
            raise Undecodable(f"the body does not decode as deflate (it is {len(self._after)} byte long)")
        if self._ended or self._inflater.eof:
            return b""
        try:
            piece = self._inflater.flush()
        except zlib.error as exc:
            raise Undecodable(f"the body does not decode as {self.coding} ({exc})") from None
        self._spend(piece)
        return piece


class BodyDecoder:
    """Undoes a body's codings as its bytes arrive (`feed`), then at its end (`flush`)."""

    def __init__(self, codings: list[str], limit: int | None) -> None:
        last = len(codings) - 1
        self._layers = [  # the last applied is undone first, and gives the body itself
            _Layer(coding, limit if i == last or limit is None else limit + _LAYER_SLACK)
            for i, coding in enumerate(reversed(codings))
        ]

    def feed(self, data: bytes) -> bytes:
        for layer in self._layers:
            data = layer.feed(data)
        return data

    def flush(self) -> bytes:
        data = b""
        for layer in self._layers:
            data = layer.feed(data) + layer.flush()
        return data


def body_decoder(content_encoding: str | None, limit: int | None) -> BodyDecoder | None:
    """The decoder of a body with this `Content-Encoding` (several header lines joined by commas), its
    decoded bytes capped at `limit`; None when there is nothing to undo."""
    if not content_encoding:
        return None
    codings = []
    for token in content_encoding.split(","):
        coding = token.strip().lower()
        if coding in ("", "identity"):
            continue
        if coding == "x-gzip":
            coding = "gzip"
        if coding in ("gzip", "deflate"):
            codings.append(coding)
        # Any other label is passed over, as httpx and aiohttp pass it: servers send `utf-8` or `none`
        # there by mistake, on bodies that are not encoded at all (and were read: refusing them would
        # lose a created task's id). A body really in `br` then fails its own check (not JSON, no image).
    return BodyDecoder(codings, limit) if codings else None
