"""Image checks: sniff the format from the bytes, check the size, decode with Pillow (a plain PNG is
checked whole without it: `_png.py`). No I/O.

Pillow is imported only inside `decode`, so `import ppio_txt2img` stays light.
"""

from __future__ import annotations

from ._png import plain_png, png_is_whole

__all__ = ["WrongSize", "declared_size", "decode", "normalize_type", "sniff_format"]


class WrongSize(ValueError):
    """An image whose pixel size is not what was asked for, or too large to decode safely."""


def sniff_format(data: bytes) -> str | None:
    """`png`, `jpeg` or `webp` from the file's magic bytes; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


#: JPEG's start-of-frame markers (SOF0-SOF15 but DHT, JPG and DAC): the segment with the image's size.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: The JPEG segments `declared_size` steps over (by their length, as Pillow and libjpeg do): tables,
#: restart interval, application data and comments. Any other marker, a stuffed 0xFF00 or a fill byte
#: before the scan, and it declines: there Pillow's and libjpeg's readers could part from a simple walk.
_JPEG_SEGMENTS = frozenset({0xC4, 0xCC, 0xDB, 0xDD, 0xFE, *range(0xE0, 0xF0)})
#: Chunks or segments read before giving up: a real header has a handful.
_MAX_HEADER_STEPS = 64


def declared_size(data: bytes) -> tuple[int, int] | None:
    """The pixel size a PNG's or a JPEG's header declares, read without decoding anything, where it is
    certainly the size Pillow decodes to; None otherwise (another format, a header cut short, or one laid
    out in a way Pillow and this walk might read apart: a second `IHDR` or start of frame, odd markers).
    It jumps from chunk to chunk (segment to segment), a few dozen at most: a cheap look on an event loop.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png_size(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    """The `IHDR` chunk first, and no other before the image data (Pillow takes the last one it reads)."""
    if len(data) < 24 or data[8:16] != b"\x00\x00\x00\x0dIHDR":
        return None
    at = 8 + 12 + 13
    for _ in range(_MAX_HEADER_STEPS):
        if at + 8 > len(data):
            return None
        kind = data[at + 4 : at + 8]
        if kind == b"IHDR":
            return None
        if kind in (b"IDAT", b"fdAT"):
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        at += 12 + int.from_bytes(data[at : at + 4], "big")
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Segment by segment up to the scan: exactly one start of frame, and only the segments both Pillow
    and libjpeg step over by their length (`_JPEG_SEGMENTS`) around it."""
    size: tuple[int, int] | None = None
    at = 2
    for _ in range(_MAX_HEADER_STEPS):
        if at + 4 > len(data) or data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xDA:  # the scan: the header is over
            return size
        if marker in _JPEG_FRAMES:
            if size is not None or at + 9 > len(data):
                return None
            size = int.from_bytes(data[at + 7 : at + 9], "big"), int.from_bytes(data[at + 5 : at + 7], "big")
        elif marker not in _JPEG_SEGMENTS:
            return None
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


def normalize_type(image_type: str | None) -> str | None:
    """The API's `image_type`, lower-cased, with `jpg` read as `jpeg`."""
    if not image_type:
        return None
    kind = image_type.strip().lower()
    return "jpeg" if kind == "jpg" else kind


#: How far (in pixels, per side) an image may be from the asked size: backends round sizes to their
#: latent grid (multiples of 8 or 64), and nothing more.
SIZE_TOLERANCE = 64


def _about(size: tuple[int, int], expected: tuple[int, int]) -> bool:
    return all(abs(got - asked) < SIZE_TOLERANCE for got, asked in zip(size, expected, strict=True))


def _size_fault(size: tuple[int, int], expected: tuple[int, int] | None, max_pixels: int) -> str | None:
    """What is wrong with an image's size (None: nothing): not `expected`, or more than `max_pixels`."""
    if expected is not None and not _about(size, expected):
        return f"the image is {size[0]}x{size[1]}, but {expected[0]}x{expected[1]} was asked"
    if size[0] * size[1] > max_pixels:
        return f"the image is {size[0]}x{size[1]}: more than {max_pixels} pixels"
    return None


def decode(
    data: bytes, *, expected: tuple[int, int] | None = None, max_pixels: int
) -> tuple[tuple[int, int], str]:
    """Decode the whole image (so truncation is caught); return its size and mode. A plain PNG of the
    right size is checked whole without decoding its pixels (`_png.py`), which tells the same for less.

    The size is checked from the header, before any pixel is decoded: `WrongSize` when it is not
    `expected` (give or take `SIZE_TOLERANCE` per side) or has more than `max_pixels` pixels (a
    decompression bomb). `ValueError` when the bytes are not a complete image Pillow can read (a PNG
    broken before its image data, whatever its size: it is worth fetching again).
    """
    from io import BytesIO

    from PIL import Image, UnidentifiedImageError

    png = plain_png(data)
    if png is not None and _size_fault(png.size, expected, max_pixels) is None:
        bomb = Image.MAX_IMAGE_PIXELS  # Pillow's own limit, as it is set now: past it, Pillow decides
        if (bomb is None or png.size[0] * png.size[1] <= bomb) and png_is_whole(data, png):
            return png.size, png.mode
    try:
        with Image.open(BytesIO(data)) as image:
            size = (image.width, image.height)
            fault = _size_fault(size, expected, max_pixels)
            if fault is not None:
                raise WrongSize(fault)
            image.load()
            return size, image.mode
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise WrongSize(f"the image is too large to decode safely: {exc}") from exc
    except (OSError, UnidentifiedImageError, SyntaxError) as exc:
        raise ValueError(f"the image does not decode: {exc}") from exc
