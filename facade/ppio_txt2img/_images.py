"""Image checks: sniff the format from the bytes, check the size, decode with Pillow. No I/O.

Pillow is imported only inside `decode`, so `import ppio_txt2img` stays light.
"""

from __future__ import annotations

__all__ = ["WrongSize", "decode", "normalize_type", "sniff_format"]


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
