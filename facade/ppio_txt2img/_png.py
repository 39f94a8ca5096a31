"""A plain PNG checked whole without Pillow: its chunks' checksums, its image data inflated to exactly
the rows its header declares, each row's filter a known one. Pure: no I/O, no Pillow.

An image is decoded to be sure it arrived whole (`_images.decode`); much of what Pillow's decode of a
PNG costs is work that check does not need (unfiltering every row into pixels): for the bench's 128x128
PNG, a fifth of Pillow's time; for 1024x1024 ones, 35-65 % of it (the inflating is most of what is
left). Only a plain PNG is read here (8 bits per sample, grey, RGB, grey + alpha or RGBA, not
interlaced, its chunks in the usual order, none Pillow might stumble on); for anything else, and
anything odd or broken, `plain_png` answers None or `png_is_whole` False and Pillow decides, so this
never refuses an image Pillow reads, and accepts only what Pillow would
(`tests/unit/test_png_check.py`; `_images.decode` leaves images past Pillow's own bomb limit to it).

One pass over the file, keeping nothing of it: each chunk checked as it comes, its image data fed to the
inflater `_FEED` bytes at a time and inflated at most `_PIECE` bytes of rows at a time, so that memory
stays a fraction of the file's size whatever its chunks (millions of empty ones, a stream that inflates
to more than its rows).
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

__all__ = ["PlainPng", "Rows", "plain_png", "png_is_whole"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Colour types read here, at 8 bits per sample: Pillow's mode and the bytes per pixel.
_COLOURS = {0: ("L", 1), 2: ("RGB", 3), 4: ("LA", 2), 6: ("RGBA", 4)}
#: Chunks besides IHDR, IDAT and IEND a plain PNG may have (text, as image generators write their
#: parameters in): Pillow reads any bytes there without failing, up to `_MAX_TEXT` bytes in all (it
#: refuses more than 64 MiB). Any other chunk: Pillow decides.
_PLAIN_EXTRAS = frozenset({b"tEXt"})
_MAX_TEXT = 1 << 20
#: The five filter types of PNG's filter method 0; a row's first byte names one.
_FILTERS = 5
#: The most bytes of rows inflated at once, and of the stream fed to the inflater at once.
_PIECE = 1 << 15
_FEED = 1 << 10
#: The IHDR chunk, whole, takes this many bytes after the signature.
_HEADER_END = len(_SIGNATURE) + 12 + 13


class PlainPng(NamedTuple):
    """A plain PNG's header: its size, Pillow's mode for it, and the bytes of one row of pixels."""

    size: tuple[int, int]
    mode: str
    row_bytes: int


def plain_png(data: bytes) -> PlainPng | None:
    """The header of a plain PNG, read from its IHDR chunk (its CRC right) and nothing else; None when
    Pillow must decide: another format, or a PNG whose header is not plain."""
    if not data.startswith(_SIGNATURE) or data[8:16] != b"\x00\x00\x00\x0dIHDR":
        return None
    if zlib.crc32(data[12:29]) != int.from_bytes(data[29:33], "big") or len(data) < _HEADER_END:
        return None
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    depth, colour, compression, filtering, interlace = data[24:29]
    if not (0 < width < 2**31 and 0 < height < 2**31) or depth != 8 or colour not in _COLOURS:
        return None
    if compression or filtering or interlace:
        return None
    mode, pixel_bytes = _COLOURS[colour]
    return PlainPng((width, height), mode, width * pixel_bytes)


def png_is_whole(data: bytes, png: PlainPng) -> bool:
    """Whether the rest of a plain PNG (after IHDR) is whole and plain: `_PLAIN_EXTRAS` chunks and one run
    of IDAT chunks, then IEND, empty and last, every CRC right; the image data inflating to exactly its
    rows (one filter byte each, then its pixels), the zlib stream ending right there, every filter byte
    one of PNG's five. Never inflates more than one byte past the rows: call it once the size has been
    checked (a decompression bomb)."""
    stride = 1 + png.row_bytes
    rows = Rows(png.size[1] * stride, stride)
    view = memoryview(data)
    at, state, text = _HEADER_END, "before", 0  # state: before the run of IDAT chunks, in it, after it
    while at + 12 <= len(data):
        length = int.from_bytes(view[at : at + 4], "big")
        end = at + 12 + length
        if end > len(data) or zlib.crc32(view[at + 4 : end - 4]) != int.from_bytes(view[end - 4 : end]):
            return False
        kind = bytes(view[at + 4 : at + 8])
        if kind == b"IEND":
            return state != "before" and not length and end == len(data) and rows.ended()
        if kind == b"IDAT":
            if state == "after" or not rows.take(view[at + 8 : end - 4]):
                return False
            state = "in"
        elif kind in _PLAIN_EXTRAS:
            text += length
            if text > _MAX_TEXT:
                return False
            state = "after" if state == "in" else state
        else:
            return False
        at = end
    return False


class Rows:
    """The image data of a PNG being inflated, `total` bytes of rows of `stride` bytes expected: at most
    `_PIECE` bytes of them at a time, each row's filter byte checked as it comes, none kept."""

    def __init__(self, total: int, stride: int) -> None:
        self.total = total
        self.stride = stride
        self.done = 0
        self.inflater = zlib.decompressobj()

    def take(self, deflated: memoryview) -> bool:
        """Inflate the next piece of the stream; False as soon as it is not the rows expected (bad data,
        a filter byte unknown, more bytes than the rows, bytes after the stream's end)."""
        if not deflated:
            return True
        # Fed `_FEED` bytes at a time: zlib copies the input it has not taken yet at every call.
        return all(self._inflate(deflated[at : at + _FEED]) for at in range(0, len(deflated), _FEED))

    def _inflate(self, piece: bytes | memoryview) -> bool:
        while True:
            if self.inflater.eof:
                return not piece
            limit = min(self.total - self.done + 1, _PIECE)
            try:
                out = self.inflater.decompress(piece, limit)
            except zlib.error:
                return False
            if max(out[-self.done % self.stride :: self.stride], default=0) >= _FILTERS:
                return False
            self.done += len(out)
            if self.done > self.total:
                return False
            piece = self.inflater.unconsumed_tail
            if not piece and len(out) < limit:  # all taken in, and nothing more to give out
                return True

    def ended(self) -> bool:
        """Whether the stream ended exactly after the last row, with nothing after it."""
        return self.done == self.total and self.inflater.eof and not self.inflater.unused_data
