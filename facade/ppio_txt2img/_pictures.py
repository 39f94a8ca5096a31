"""Pictures of results for people: bounded previews, inline thumbnails and contact sheets.

Pillow is imported inside each function (`import ppio_txt2img` stays light). Every picture is drawn
from an image's bytes when asked for and nothing decoded is kept: a preview costs one decode, at a
reduced scale for JPEG (Pillow's `draft`), and the full-size pixels are dropped when it returns.
"""

from __future__ import annotations

import base64
import html
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from ._constants import PREVIEW_MAX_SIDE, THUMBNAIL_MAX_SIDE

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage
    from PIL.ImageDraw import ImageDraw
    from PIL.ImageFont import FreeTypeFont, ImageFont

    from ._results import Generation

__all__ = [
    "SheetLayout",
    "contact_sheet",
    "generation_html",
    "preview",
    "preview_png",
    "sheet_layout",
    "thumbnail_data_uri",
    "write_jpeg_thumbnail",
]

#: The sheet's background and the captions' colour (a neutral dark grey: images stand out on it).
SHEET_BACKGROUND = (32, 32, 32)
CAPTION_COLOUR = (220, 220, 220)
#: Pixels between cells and around the sheet.
SHEET_GAP = 8
#: What transparent pixels become in a JPEG (which has no alpha): white.
JPEG_BACKGROUND = (255, 255, 255)
JPEG_QUALITY = 85


def preview(data: bytes, max_side: int = PREVIEW_MAX_SIDE) -> PILImage:
    """The image in `data`, scaled down to at most `max_side` on its longest side (never enlarged).

    JPEG is decoded directly at a reduced scale; other formats are decoded once at full size, scaled,
    and the full-size pixels dropped. Raises `ValueError` when the bytes are not an image.
    """
    from PIL import Image, UnidentifiedImageError

    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side}")
    try:
        with Image.open(BytesIO(data)) as image:
            image.draft(None, (max_side, max_side))  # JPEG only; a no-op for the others
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=1.0)
            small = image.copy()  # closing the file drops the opened image's pixels
        return _displayable(small)
    except (OSError, UnidentifiedImageError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"the image does not decode: {_why(exc)}") from exc


def _displayable(image: PILImage) -> PILImage:
    """The image in a mode that PNG, browsers and the sheet take: RGB, or RGBA when it has alpha."""
    if image.mode in ("RGB", "RGBA"):
        return image
    has_alpha = image.mode in ("LA", "PA", "La") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _has_alpha(image: PILImage) -> bool:
    """Whether any pixel is less than opaque (a transparent-background image)."""
    if image.mode != "RGBA":
        return False
    low = image.getchannel("A").getextrema()[0]
    return isinstance(low, int | float) and low < 255


def _flatten(image: PILImage, background: tuple[int, int, int]) -> PILImage:
    """RGB, with transparent pixels laid on `background`."""
    from PIL import Image

    if image.mode != "RGBA":
        return image.convert("RGB")
    flat = Image.new("RGB", image.size, background)
    flat.paste(image, mask=image.getchannel("A"))
    return flat


def preview_png(data: bytes, max_side: int = PREVIEW_MAX_SIDE) -> bytes:
    """A PNG of the image at most `max_side` px on its longest side (what a notebook shows)."""
    out = BytesIO()
    preview(data, max_side).save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()


def thumbnail_data_uri(data: bytes, max_side: int = THUMBNAIL_MAX_SIDE) -> tuple[str, tuple[int, int]]:
    """A `data:` URI of a thumbnail and its size: JPEG, or PNG when the image has transparent pixels
    (a JPEG would lose them). JPEG keeps a notebook cell of a few images to tens of KiB."""
    small = preview(data, max_side)
    out = BytesIO()
    if _has_alpha(small):
        mime = "image/png"
        small.save(out, format="PNG")
    else:
        mime = "image/jpeg"
        _flatten(small, JPEG_BACKGROUND).save(out, format="JPEG", quality=JPEG_QUALITY)
    return f"data:{mime};base64,{base64.b64encode(out.getvalue()).decode('ascii')}", small.size


def write_jpeg_thumbnail(source: Path, target: Path, max_side: int = THUMBNAIL_MAX_SIDE) -> tuple[int, int]:
    """Write a JPEG thumbnail of the image file `source` to `target`, atomically (a temporary file in
    the same directory, then `os.replace`: a reader never sees half a file, and a crash never leaves a
    truncated thumbnail that looks newer than its image). Returns the thumbnail's size."""
    small = _flatten(preview(source.read_bytes(), max_side), JPEG_BACKGROUND)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        small.save(tmp, format="JPEG", quality=JPEG_QUALITY)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return small.size


# ------------------------------------------------------------------------------------ contact sheets
@dataclass(frozen=True)
class SheetLayout:
    """Where each cell of a contact sheet goes. Every cell is `tile` pixels (the largest image scaled
    to fit `cell` x `cell`, never enlarged) with a caption strip of `caption_height` below it, and
    `SHEET_GAP` pixels between cells and around the sheet:

        width  = columns * tile_w + (columns + 1) * gap
        height = rows * (tile_h + caption_height) + (rows + 1) * gap
    """

    count: int
    columns: int
    rows: int
    tile: tuple[int, int]
    caption_height: int
    gap: int = SHEET_GAP

    @property
    def size(self) -> tuple[int, int]:
        tile_w, tile_h = self.tile
        return (
            self.columns * tile_w + (self.columns + 1) * self.gap,
            self.rows * (tile_h + self.caption_height) + (self.rows + 1) * self.gap,
        )

    def tile_box(self, index: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of cell `index`'s image area (row by row)."""
        row, column = divmod(index, self.columns)
        tile_w, tile_h = self.tile
        left = self.gap + column * (tile_w + self.gap)
        top = self.gap + row * (tile_h + self.caption_height + self.gap)
        return left, top, left + tile_w, top + tile_h


def sheet_layout(
    sizes: Sequence[tuple[int, int]],
    *,
    columns: int | None = None,
    cell: int = THUMBNAIL_MAX_SIDE,
    caption_height: int = 0,
) -> SheetLayout:
    """The grid for images of `sizes`: `columns` (default: the ceiling of the square root of the count,
    so 4 images make 2 x 2 and 5 make 3 + 2) and the tile every cell gets."""
    if not sizes:
        raise ValueError("a contact sheet needs at least one image")
    if columns is not None and columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    if cell < 1:
        raise ValueError(f"cell must be at least 1, got {cell}")
    count = len(sizes)
    columns = min(columns or math.ceil(math.sqrt(count)), count)
    widest, tallest = max(w for w, _ in sizes), max(h for _, h in sizes)
    scale = min(1.0, cell / max(widest, tallest))
    tile = (max(1, round(widest * scale)), max(1, round(tallest * scale)))
    return SheetLayout(count, columns, math.ceil(count / columns), tile, caption_height)


def contact_sheet(
    images: Sequence[bytes],
    captions: Sequence[str],
    *,
    columns: int | None = None,
    cell: int = THUMBNAIL_MAX_SIDE,
) -> PILImage:
    """One RGB picture of `images` in a grid (see `SheetLayout`), each centred in its tile with its
    caption below it (Pillow's built-in font; cut to the tile's width). Images are decoded one at a
    time, at a reduced size where the format allows."""
    from PIL import Image, ImageDraw

    if len(images) != len(captions):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    font = _caption_font()
    _, top, _, bottom = font.getbbox("Ag#0123456789")
    caption_height = int(bottom - min(top, 0)) + 6
    sizes = [_size_of(data) for data in images]
    layout = sheet_layout(sizes, columns=columns, cell=cell, caption_height=caption_height)
    sheet = Image.new("RGB", layout.size, SHEET_BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    tile_w, tile_h = layout.tile
    for index, (data, caption) in enumerate(zip(images, captions, strict=True)):
        x0, y0, _, y1 = layout.tile_box(index)
        small = preview(data, max(tile_w, tile_h))
        small.thumbnail(layout.tile)  # a taller or wider image than the tile's shape fits inside it
        at = (x0 + (tile_w - small.width) // 2, y0 + (tile_h - small.height) // 2)
        sheet.paste(small, at, small.getchannel("A") if small.mode == "RGBA" else None)
        text = _fit(draw, caption, font, tile_w)
        draw.text((x0, y1 + 3 - min(top, 0)), text, fill=CAPTION_COLOUR, font=font)
    return sheet


def _caption_font() -> FreeTypeFont | ImageFont:
    """Pillow's built-in font (no font file needed): a small scalable one where FreeType is there
    (Pillow >= 10.1), the fixed bitmap one otherwise."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=12)
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


def _size_of(data: bytes) -> tuple[int, int]:
    """The pixel size from the header (no decoding)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(BytesIO(data)) as image:
            return image.size
    except (OSError, UnidentifiedImageError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"the image does not decode: {_why(exc)}") from exc


def _fit(draw: ImageDraw, text: str, font: FreeTypeFont | ImageFont, width: int) -> str:
    """`text`, cut with an ellipsis to fit `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..." if text else ""


# --------------------------------------------------------------------------------------- notebooks
def generation_html(generation: Generation, max_side: int = THUMBNAIL_MAX_SIDE) -> str:
    """A generation as a notebook shows it: one line with the task id and seed, then its images in a
    row (wrapping), each an inline thumbnail with its index and size. Every text is escaped."""
    seed = "unknown" if generation.seed is None else str(generation.seed)
    count = len(generation.images)
    head = (
        f"task <code>{html.escape(generation.task_id)}</code> &middot; seed <b>{html.escape(seed)}</b>"
        f" &middot; {count} image{'' if count == 1 else 's'}"
    )
    figures = []
    for image in generation.images:
        label = f"#{image.index} · {image.width}x{image.height} {image.format}"
        try:
            uri, (w, h) = thumbnail_data_uri(image.data, max_side)
            picture = (
                f'<img src="{uri}" width="{w}" height="{h}" '
                f'alt="{html.escape(f"image {image.index} of task {generation.task_id}")}" '
                f'style="display:block;border-radius:4px">'
            )
        except ValueError as exc:  # not expected (images are checked when downloaded); say so
            picture = f"<div>{html.escape(str(exc))}</div>"
        figures.append(
            '<figure style="margin:0">'
            f"{picture}"
            f'<figcaption style="font-size:12px;color:#666;margin-top:2px">{html.escape(label)}'
            "</figcaption></figure>"
        )
    return (
        '<div class="ppio-generation" style="font-family:system-ui,sans-serif">'
        f'<div style="font-size:13px;margin-bottom:6px">{head}</div>'
        f'<div style="display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start">{"".join(figures)}</div>'
        "</div>"
    )


def _why(exc: Exception) -> str:
    """Why Pillow could not read an image, in words (its "cannot identify image file" names the
    `BytesIO` it read, as `<_io.BytesIO object at 0x...>`)."""
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return "not in an image format Pillow reads"
    return str(exc)
