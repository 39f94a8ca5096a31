"""Image checks: sniff the format from the bytes, check the size, decode with Pillow. No I/O.

Pillow is imported only inside `decode`, so `import ppio_txt2img` stays light.
"""

from __future__ import annotations

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


def declared_size(data: bytes) -> tuple[int, int] | None:
    """The pixel size a PNG's or a JPEG's header declares (the one Pillow decodes to: the first `IHDR`, the
    first start of frame), read without decoding anything; None for other formats or a header cut short.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if not data.startswith(b"\xff\xd8"):
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers with no segment
            at += 2
        elif marker in (0xD9, 0xDA):  # the end, or the scan, before any frame: not a JPEG Pillow reads
            return None
        elif marker in _JPEG_FRAMES:
            if at + 9 > len(data):
                return None
            return int.from_bytes(data[at + 7 : at + 9], "big"), int.from_bytes(data[at + 5 : at + 7], "big")
        else:
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


def decode(
    data: bytes, *, expected: tuple[int, int] | None = None, max_pixels: int
) -> tuple[tuple[int, int], str]:
    """Decode the whole image (so truncation is caught); return its size and mode.

    The size is checked from the header, before any pixel is decoded: `WrongSize` when it is not
    `expected` (give or take `SIZE_TOLERANCE` per side) or has more than `max_pixels` pixels (a
    decompression bomb). `ValueError` when the bytes are not a complete image Pillow can read.
    """
    from io import BytesIO

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(BytesIO(data)) as image:
            size = (image.width, image.height)
            if expected is not None and not _about(size, expected):
                asked = f"{expected[0]}x{expected[1]}"
                raise WrongSize(f"the image is {size[0]}x{size[1]}, but {asked} was asked")
            if size[0] * size[1] > max_pixels:
                raise WrongSize(f"the image is {size[0]}x{size[1]}: more than {max_pixels} pixels")
            image.load()
            return size, image.mode
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise WrongSize(f"the image is too large to decode safely: {exc}") from exc
    except (OSError, UnidentifiedImageError, SyntaxError) as exc:
        raise ValueError(f"the image does not decode: {exc}") from exc
