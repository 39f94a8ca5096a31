"""What calls return: tasks, generated images, generations and models. Plain, immutable values.

Each has `to_dict()`: a JSON-ready dict (`json.dumps` takes it as is) without image bytes, and with
URLs stripped of their query string, which holds the signature that grants access.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._constants import THUMBNAIL_MAX_SIDE
from ._errors import ValidationError
from ._urls import without_query

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = [
    "GeneratedImage",
    "Generation",
    "ImageRef",
    "Model",
    "NsfwResult",
    "SubmittedTask",
    "Task",
    "TaskStatus",
    "file_stem",
]


class TaskStatus(StrEnum):
    """The documented task statuses. `Task.status` is a plain string: a status the server adds later
    comes through as it is (and is treated as not finished)."""

    QUEUED = "TASK_STATUS_QUEUED"
    PROCESSING = "TASK_STATUS_PROCESSING"
    SUCCEED = "TASK_STATUS_SUCCEED"
    FAILED = "TASK_STATUS_FAILED"


@dataclass(frozen=True)
class NsfwResult:
    """The NSFW check of one image; both fields None when the API sent `{}`."""

    valid: bool | None
    confidence: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "confidence": self.confidence}


@dataclass(frozen=True)
class ImageRef:
    """Where a finished image can be fetched, and until when."""

    url: str = field(repr=False)
    image_type: str | None
    expires_at: datetime | None
    nsfw: NsfwResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """`url` (without its query string), `image_type`, `expires_at` (ISO 8601 or None)."""
        return {
            "url": without_query(self.url),
            "image_type": self.image_type,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


@dataclass(frozen=True)
class SubmittedTask:
    """A task that was created; pass `id` to `client.wait()` or `client.get_task()`."""

    id: str


@dataclass(frozen=True)
class Task:
    """A task as the API reported it at one moment. `progress`: percent done, 100 once the task has
    succeeded (the API itself then sends 0; `raw` holds what it sent)."""

    id: str
    status: str
    progress: float | None = None
    eta: float | None = None
    reason: str | None = None
    task_type: str | None = None
    seed: int | None = None
    images: tuple[ImageRef, ...] = ()
    #: The task result as the API sent it (decoded JSON): fields this SDK does not read yet.
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def done(self) -> bool:
        """Succeeded or failed (an unknown status is not done)."""
        return self.status in (TaskStatus.SUCCEED, TaskStatus.FAILED)

    @property
    def succeeded(self) -> bool:
        return self.status == TaskStatus.SUCCEED

    @property
    def failed(self) -> bool:
        return self.status == TaskStatus.FAILED

    def to_dict(self) -> dict[str, Any]:
        """The task as JSON-ready values; `id` is `task_id`, as the API calls it."""
        return {
            "task_id": self.id,
            "status": self.status,
            "progress": self.progress,
            "eta": self.eta,
            "reason": self.reason,
            "task_type": self.task_type,
            "seed": self.seed,
            "images": [ref.to_dict() for ref in self.images],
        }


def file_stem(task_id: str) -> str:
    """A task id as the start of a file name in a directory: the server's word, so anything but letters,
    digits, `-`, `_` and inner dots becomes `_` (a `/` or `..` would name a file elsewhere: a gateway
    answering `../../x` as a task id must not write outside the directory). A UUID stays as it is."""
    stem = _UNSAFE_IN_NAMES.sub("_", task_id)
    return "_" + stem[1:] if stem.startswith(".") or not stem else stem


_UNSAFE_IN_NAMES = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True, repr=False)
class GeneratedImage:
    """One downloaded, decoded image. `data` holds the file's bytes exactly as served."""

    task_id: str
    index: int
    data: bytes
    format: str
    size: tuple[int, int]
    mode: str
    url: str
    expires_at: datetime | None
    nsfw: NsfwResult | None = None

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    def save(self, path: str | PathLike[str]) -> Path:
        """Write the image's bytes to `path` and return where they went.

        A directory gets `<task_id>-<index>.<ext>` (the task id as `file_stem` makes it a file name:
        never outside it): an existing one, or a path ending in `/` or without a file extension
        (`"out"`), created if needed, so that the images of a task saved in turn each get a file. A path
        with an extension (`"cat.png"`) is the file, its directory created if needed; an image extension
        of another format (`"cat.jpg"` for a PNG) is a `ValidationError`: the bytes are written as they
        came, never converted, and a mislabelled file misleads whatever trusts its name. The bytes are
        written to a temporary file beside it, then moved into place: a full disk leaves no truncated
        image.
        """
        target = Path(path).expanduser()  # "~/cat.png" is the home's, not a directory named "~" here
        extension = "jpg" if self.format == "jpeg" else self.format
        if target.is_dir() or str(path).endswith(("/", os.sep)) or not target.suffix:
            target.mkdir(parents=True, exist_ok=True)
            target = target / f"{file_stem(self.task_id)}-{self.index}.{extension}"
        else:
            _check_suffix(target, self.format, extension)
            target.parent.mkdir(parents=True, exist_ok=True)
        # This save's (one at a time per thread), short: a name at the file system's limit still saves.
        partial = target.with_name(f".ppio-{os.getpid()}-{threading.get_ident()}.tmp")
        try:
            partial.write_bytes(self.data)
            partial.replace(target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return target

    def to_dict(self) -> dict[str, Any]:
        """What describes the image, without its bytes: `index`, `format`, `width`, `height`, `bytes`
        (their count), `url` (without its query string) and, when detection ran, `nsfw`."""
        entry: dict[str, Any] = {
            "index": self.index,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "bytes": len(self.data),
            "url": without_query(self.url),
        }
        if self.nsfw is not None:
            entry["nsfw"] = self.nsfw.to_dict()
        return entry

    def to_pil(self) -> PILImage:
        """The image as a Pillow `Image` (decoded on each call)."""
        from io import BytesIO

        from PIL import Image

        image = Image.open(BytesIO(self.data))
        image.load()
        return image

    def _repr_png_(self) -> bytes | None:
        """What Jupyter / IPython show: a PNG at most 512 px on its longest side, drawn on each call
        (nothing decoded is kept). None (the text repr is shown) if the bytes do not decode."""
        from ._pictures import preview_png

        try:
            return preview_png(self.data)
        except ValueError:
            return None

    def __repr__(self) -> str:
        return (
            f"GeneratedImage(task_id={self.task_id!r}, index={self.index}, format={self.format!r}, "
            f"size={self.size}, mode={self.mode!r}, bytes={len(self.data)})"
        )


@dataclass(frozen=True)
class Generation:
    """The result of `txt2img()` or `wait()`: the images in the API's order, none dropped."""

    task_id: str
    seed: int | None
    images: tuple[GeneratedImage, ...]
    task: Task

    def to_dict(self) -> dict[str, Any]:
        """`task_id`, `seed` and each image's `to_dict()`."""
        return {"task_id": self.task_id, "seed": self.seed, "images": [i.to_dict() for i in self.images]}

    def contact_sheet(self, *, columns: int | None = None, cell: int = THUMBNAIL_MAX_SIDE) -> PILImage:
        """All the images in one Pillow `Image`: a grid (`columns`, default about square) of cells of
        at most `cell` px, each captioned with its index and the seed. Save it with `.save(path)`.

        Raises `ValueError` when there is no image."""
        from ._pictures import contact_sheet

        seed = "unknown" if self.seed is None else self.seed
        captions = [f"#{image.index}  seed {seed}" for image in self.images]
        return contact_sheet([image.data for image in self.images], captions, columns=columns, cell=cell)

    def _repr_html_(self) -> str:
        """What Jupyter shows: the task id, the seed and the images in a row as inline thumbnails."""
        from ._pictures import generation_html

        return generation_html(self)


@dataclass(frozen=True)
class Model:
    """A model of the catalogue. `sd_name` is what `model_name=` takes (PPIO calls it `model_name`)."""

    id: int | None
    name: str | None
    sd_name: str | None
    sd_name_in_api: str | None
    type: str | None
    is_sdxl: bool | None
    base_model: str | None
    status: int | None
    tags: tuple[Any, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The fields above as JSON-ready values (`raw`, the API's whole entry, left out)."""
        return {
            "id": self.id,
            "name": self.name,
            "sd_name": self.sd_name,
            "sd_name_in_api": self.sd_name_in_api,
            "type": self.type,
            "is_sdxl": self.is_sdxl,
            "base_model": self.base_model,
            "status": self.status,
            "tags": list(self.tags),
        }


#: File extensions of image formats, by the format the SDK names (`GeneratedImage.format`); and every
#: image extension, these and other formats'.
_IMAGE_SUFFIXES = {"png": (".png",), "jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"), "webp": (".webp",)}
_IMAGE_SUFFIXES_ANY = frozenset(
    {".gif", ".bmp", ".tif", ".tiff", ".avif", ".heic"}.union(*_IMAGE_SUFFIXES.values())
)


def _check_suffix(target: Path, image_format: str, extension: str) -> None:
    """Refuse a file name whose image extension is of another format than the image's."""
    suffix = target.suffix.lower()
    if suffix in _IMAGE_SUFFIXES_ANY and suffix not in _IMAGE_SUFFIXES.get(image_format, ()):
        raise ValidationError(
            "path",
            str(target),
            f"a name ending .{extension} (the image is {image_format.upper()}), or a directory",
            f"ends {suffix}: the bytes are saved as they came, not converted",
        )
