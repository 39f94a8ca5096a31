"""The gallery of a batch's output directory: one self-contained `OUT/index.html`.

    from ppio_txt2img.gallery import write_gallery
    write_gallery("out")          # reads out/manifest.jsonl, writes out/index.html, returns its path

The layout of OUT and the manifest's fields are those of `ppio batch` (MANIFEST-FORMAT.md). The page
has no external asset (inline CSS and JS, no CDN, no request beyond its own thumbnails) and works from
`file://`: thumbnails are small JPEGs in `OUT/thumbs/<line>-<i>.jpg`, referenced relatively. Files and
not inline data URIs, so that a page of thousands of images stays a few MB, written in milliseconds
after every manifest rewrite, while each thumbnail is drawn once: again only when it is missing or
older than its image.

`write_gallery` is cheap enough to call after every manifest rewrite of a batch of thousands of lines:
one read of the manifest, one stat per image and one listing of `thumbs/`; the only slow part is
drawing new thumbnails (a decode each), bounded per call by `thumbnail_budget` seconds. An image whose
thumbnail is not drawn yet is shown from the full image until a later call draws it. From an event
loop, run it in a worker thread (`await asyncio.to_thread(write_gallery, out)`) and skip a call while
the previous one still runs: calls at once are safe (every file is replaced atomically), just wasted.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from ._constants import THUMBNAIL_MAX_SIDE
from ._gallery_page import TITLE_END, Entry, Picture, render_page
from ._pictures import write_jpeg_thumbnail

__all__ = ["GALLERY_FILE", "MANIFEST_FILE", "THUMBS_DIR", "foreign_page", "read_manifest", "write_gallery"]

MANIFEST_FILE = "manifest.jsonl"
GALLERY_FILE = "index.html"
THUMBS_DIR = "thumbs"
#: Seconds one `write_gallery` call may spend drawing new thumbnails (the rest wait for the next call).
DEFAULT_THUMBNAIL_BUDGET = 1.0


@dataclass
class ManifestRead:
    """The manifest's lines as entries (sorted by `line`), how many lines could not be read, and
    whether there was a manifest at all."""

    entries: list[Entry] = field(default_factory=list)
    unreadable: int = 0
    found: bool = True


def read_manifest(out_dir: str | PathLike[str]) -> ManifestRead:
    """Read `OUT/manifest.jsonl`, tolerantly: a missing file is an empty manifest, and a line that does
    not parse (a partly written last line, say) is skipped and counted. Fields of the wrong type read
    as null."""
    try:
        raw = (Path(out_dir) / MANIFEST_FILE).read_bytes()
    except FileNotFoundError:
        return ManifestRead(found=False)
    result = ManifestRead()
    for text in raw.decode("utf-8", errors="replace").splitlines():
        if text.strip():
            entry = _entry_of(text)
            if entry is None:
                result.unreadable += 1
            else:
                result.entries.append(entry)
    result.entries.sort(key=lambda e: e.line)
    return result


@functools.lru_cache(maxsize=1 << 15)
def _entry_of(text: str) -> Entry | None:
    """One manifest line as an entry (None when it does not parse). Cached by the line's text: between
    two rewrites of a running batch's manifest almost every line is unchanged."""
    try:
        return _entry(json.loads(text))
    except ValueError:
        return None


def _entry(obj: Any) -> Entry | None:
    if not isinstance(obj, dict) or not _is_int(obj.get("line")):
        return None

    def text(key: str) -> str | None:
        value = obj.get(key)
        return value if isinstance(value, str) else None

    images = obj.get("images")
    seed = obj.get("seed")
    return Entry(
        line=obj["line"],
        status=text("status") or "unknown",
        prompt=text("prompt"),
        task_id=text("task_id"),
        seed=seed if _is_int(seed) else None,
        images=tuple(p for p in images if isinstance(p, str)) if isinstance(images, list) else (),
        error=text("error"),
        error_field=text("error_field"),
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _readable(name: str) -> str:
    """A file name as text a page can hold: bytes of it that are not UTF-8 (which Python holds as lone
    surrogates) shown as U+FFFD; written as they were, they failed the page, and with it the batch's
    manifest rewrites (/tmp/attack28, F2)."""
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no file-system name decodes to
        raw = name.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def write_gallery(
    out_dir: str | PathLike[str],
    *,
    thumbnail_budget: float | None = DEFAULT_THUMBNAIL_BUDGET,
    clock: Callable[[], float] = time.monotonic,
) -> Path:
    """(Re)write `OUT/index.html` from `OUT/manifest.jsonl` and return its path.

    Thumbnails are drawn for images that have none or whose image is newer, for at most
    `thumbnail_budget` seconds (None: all of them). The page is written to a temporary file and moved
    into place with `os.replace`, so a browser never reads half a page. Raises `NotADirectoryError`
    when OUT is not a directory.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise NotADirectoryError(f"{out}: not a directory")
    if (foreign := foreign_page(out)) is not None:
        raise FileExistsError(f"{foreign} exists and is not a ppio gallery: left as it is")
    manifest = read_manifest(out)
    pictures, pending = _pictures(out, manifest.entries, thumbnail_budget, clock)
    page = render_page(
        manifest.entries,
        pictures,
        title=_readable(out.resolve().name or str(out)),
        unreadable=manifest.unreadable,
        pending_thumbnails=pending,
        manifest_found=manifest.found,
    )
    target = out / GALLERY_FILE
    _write_atomically(target, page.encode("utf-8"))
    return target


def foreign_page(out_dir: str | PathLike[str]) -> Path | None:
    """`OUT/index.html` when it exists and is not a gallery this module wrote (a web project's own page,
    in a directory given by mistake), which `write_gallery` will not replace; None otherwise."""
    target = Path(out_dir) / GALLERY_FILE
    try:
        with target.open("rb") as page:
            head = page.read(4096)
    except FileNotFoundError:
        return None
    except OSError:
        return target
    return None if TITLE_END.encode() in head else target


def _pictures(
    out: Path, entries: list[Entry], budget: float | None, clock: Callable[[], float]
) -> tuple[dict[int, tuple[Picture, ...]], int]:
    """What each image of each line shows (by line): its thumbnail (drawn now if needed and the budget
    allows), else the full image, else why it cannot be shown. Also how many thumbnails are still to
    draw. Plain strings and `os` calls: this runs for every image on every call."""
    root = os.fspath(out)
    thumbs = os.path.join(root, THUMBS_DIR)
    existing = _mtimes(thumbs)
    made_dir = bool(existing) or os.path.isdir(thumbs)
    deadline = None if budget is None else clock() + budget
    pictures: dict[int, tuple[Picture, ...]] = {}
    pending = 0
    for entry in entries:
        shown = []
        for index, rel in enumerate(entry.images):
            if not _inside(rel):
                shown.append(Picture(rel, None, "the path is outside the output directory"))
                continue
            source = os.path.join(root, rel)
            try:
                image_mtime = os.stat(source).st_mtime_ns
            except OSError:
                shown.append(Picture(rel, None, "the image file is missing"))
                continue
            name = f"{entry.line}-{index}.jpg"
            thumb_mtime = existing.get(name)
            if thumb_mtime is not None and thumb_mtime >= image_mtime:
                shown.append(Picture(rel, f"{THUMBS_DIR}/{name}"))
                continue
            if deadline is not None and clock() >= deadline:
                pending += 1
                shown.append(Picture(rel, rel))  # the full image until a later call draws its thumbnail
                continue
            if not made_dir:
                os.makedirs(thumbs, exist_ok=True)
                made_dir = True
            try:
                write_jpeg_thumbnail(Path(source), Path(thumbs, name), THUMBNAIL_MAX_SIDE)
            except ValueError as exc:  # not (yet) a complete image: shown as such, tried again next call
                shown.append(Picture(rel, None, str(exc)))  # "the image does not decode: ..."
                continue
            except OSError as exc:
                shown.append(Picture(rel, rel, f"no thumbnail: {exc.strerror or exc}"))
                continue
            shown.append(Picture(rel, f"{THUMBS_DIR}/{name}"))
        pictures[entry.line] = tuple(shown)
    return pictures, pending


def _mtimes(directory: str) -> dict[str, int]:
    """Name -> mtime (ns) of each file in `directory`, in one listing (none when it does not exist)."""
    try:
        with os.scandir(directory) as found:
            return {e.name: e.stat().st_mtime_ns for e in found if e.is_file()}
    except FileNotFoundError:
        return {}


def _inside(rel: str) -> bool:
    """Whether the manifest's relative path stays inside OUT: not empty, not absolute, no `..`."""
    if not rel or rel[0] in "/\\" or rel[1:2] == ":" or os.path.isabs(rel):
        return False
    return ".." not in rel or ".." not in rel.replace("\\", "/").split("/")


def _write_atomically(target: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `target` and `os.replace` it into place. Not fsynced:
    the page is a view of the manifest (which is), rewritten on the next call."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
