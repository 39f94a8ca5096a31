"""Procedural images: real PNG/JPEG/WebP files of the requested size, drawn from the prompt.

No model weights: the palette comes from a hash of the prompt, each word adds a shape, and the seed
and image index move things around. The picture is drawn on a small canvas and resized, so even
2048x2048 stays fast. The same (prompt, seed, index, size, format, transparency) always gives the same
bytes.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import random
import re
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter

CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_CANVAS = 160  # longest side of the canvas drawn before resizing
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class ImageSpec:
    """Everything that determines an image's bytes."""

    prompt: str
    seed: int
    index: int
    width: int
    height: int
    image_type: str
    transparent: bool = False


def _digest(*parts: object) -> bytes:
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _colour(hue: float, saturation: float, value: float, alpha: int = 255) -> tuple[int, int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return round(r * 255), round(g * 255), round(b * 255), alpha


def draw(spec: ImageSpec) -> Image.Image:
    """The picture (RGB, or RGBA with a transparent background), exactly `width` x `height`."""
    scale = _CANVAS / max(spec.width, spec.height)
    cw, ch = max(8, round(spec.width * scale)), max(8, round(spec.height * scale))
    palette = random.Random(_digest("palette", spec.prompt))
    rng = random.Random(_digest("layout", spec.prompt, spec.seed, spec.index))
    base_hue = palette.random()

    canvas = Image.new("RGBA", (cw, ch), (0, 0, 0, 0))
    pen = ImageDraw.Draw(canvas)
    if not spec.transparent:
        top = _colour(base_hue, 0.35 + 0.3 * palette.random(), 0.95)
        bottom = _colour(base_hue + 0.5 + 0.2 * rng.random(), 0.6, 0.35 + 0.3 * rng.random())
        for y in range(ch):
            t = y / max(1, ch - 1)
            r, g, b = (round(lo + (hi - lo) * t) for lo, hi in zip(top[:3], bottom[:3], strict=True))
            pen.line([(0, y), (cw, y)], fill=(r, g, b, 255))

    # The subject sits in the middle; with a transparent background the border stays empty.
    margin = 0.2 if spec.transparent else 0.0
    words = _WORD.findall(spec.prompt.lower())[:12] or ["empty"]
    for position, word in enumerate(words):
        shape = random.Random(_digest("word", word, spec.seed, spec.index, position))
        hue = base_hue + (int.from_bytes(_digest("hue", word)[:2], "big") / 65536) * 0.4
        fill = _colour(hue, 0.55 + 0.4 * shape.random(), 0.5 + 0.5 * shape.random())
        size = (0.12 + 0.25 * shape.random()) * min(cw, ch)
        lo_x, hi_x = cw * (margin + 0.1), cw * (1 - margin - 0.1)
        lo_y, hi_y = ch * (margin + 0.1), ch * (1 - margin - 0.1)
        cx, cy = shape.uniform(lo_x, hi_x), shape.uniform(lo_y, hi_y)
        half = min(
            size / 2, cx - cw * margin, cw * (1 - margin) - cx, cy - ch * margin, ch * (1 - margin) - cy
        )
        box = (cx - half, cy - half, cx + half, cy + half)
        kind = shape.randrange(3)
        if kind == 0:
            pen.ellipse(box, fill=fill)
        elif kind == 1:
            pen.rectangle(box, fill=fill)
        else:
            pen.polygon([(cx, cy - half), (cx + half, cy + half), (cx - half, cy + half)], fill=fill)
    # A few seed-dependent accents.
    for _ in range(3):
        radius = rng.uniform(1, min(cw, ch) / 12)
        ax = rng.uniform(cw * (margin + 0.15), cw * (1 - margin - 0.15))
        ay = rng.uniform(ch * (margin + 0.15), ch * (1 - margin - 0.15))
        accent = _colour(base_hue + rng.random(), 0.2, 1.0)
        pen.ellipse((ax - radius, ay - radius, ax + radius, ay + radius), fill=accent)

    canvas = canvas.filter(ImageFilter.SMOOTH)
    image = canvas.resize((spec.width, spec.height), Image.Resampling.BILINEAR)
    if spec.transparent:
        return image
    return image.convert("RGB")


def encode(spec: ImageSpec) -> bytes:
    """The image file, in `spec.image_type` format."""
    image = draw(spec)
    buffer = io.BytesIO()
    if spec.image_type == "png":
        image.save(buffer, format="PNG", compress_level=1)
    elif spec.image_type == "jpeg":
        image.convert("RGB").save(buffer, format="JPEG", quality=88)
    elif spec.image_type == "webp":
        image.save(buffer, format="WEBP", quality=80, method=0)
    else:
        raise ValueError(f"unsupported image type {spec.image_type!r}")
    return buffer.getvalue()
