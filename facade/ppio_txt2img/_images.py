"""Image helpers: sniff the format from the bytes, compute expiry, decode with Pillow. No I/O.

Pillow is imported only inside `decode`, so `import ppio_txt2img` stays light.
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["decode", "expires_at", "normalize_type", "parse_int", "sniff_format"]


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


def parse_int(value: object) -> int | None:
    """An integer sent as a number or a numeric string (`3600` or `"3600"`); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def expires_at(ttl: object, received_at: datetime) -> datetime | None:
    """When a URL with `image_url_ttl` seconds to live, received at `received_at`, expires.

    None when the TTL is missing, unparseable or 0 (PPIO sends "0" for URLs that do not expire).
    """
    seconds = parse_int(ttl)
    if seconds is None or seconds <= 0:
        return None
    return received_at + timedelta(seconds=seconds)


def decode(data: bytes) -> tuple[tuple[int, int], str]:
    """Decode the whole image (so truncation is caught); return its size and mode.

    Raises `ValueError` when the bytes are not a complete image Pillow can read.
    """
    from io import BytesIO

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(BytesIO(data)) as image:
            image.load()
            return (image.width, image.height), image.mode
    except (OSError, UnidentifiedImageError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"the image does not decode: {exc}") from exc
