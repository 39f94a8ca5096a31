"""Image downloads as flows: no API key sent, status and size checked, format sniffed, fully decoded,
and an expired URL refreshed once through the task result."""

from __future__ import annotations

from functools import partial

import httpx

from ._call import Deadline, Settings
from ._errors import ImageError
from ._http import send_with_retries
from ._images import decode, normalize_type, sniff_format
from ._io import Flow, Offload, ResponseTooLarge
from ._results import GeneratedImage, ImageRef
from ._tasks import get_task_flow

_URL_REJECTED = frozenset({400, 401, 403, 404, 410})


def _refreshed_ref(settings: Settings, deadline: Deadline, task_id: str, index: int) -> Flow[ImageRef]:
    task = yield from get_task_flow(settings, deadline, task_id)
    if index >= len(task.images):
        raise ImageError("the refreshed task result no longer lists this image", task_id=task_id, index=index)
    return task.images[index]


def download_flow(
    settings: Settings, deadline: Deadline, task_id: str, index: int, ref: ImageRef
) -> Flow[GeneratedImage]:
    """Download one image (no API key sent), check it and decode it; refresh an expired URL once."""
    refreshed = False
    while True:
        if not refreshed and ref.expires_at is not None and ref.expires_at <= settings.now():
            ref, refreshed = (yield from _refreshed_ref(settings, deadline, task_id, index)), True
        try:
            reply = yield from send_with_retries(
                settings,
                deadline,
                method="GET",
                url=ref.url,
                idempotent=True,
                drop_headers=("authorization",),
                max_bytes=settings.max_image_bytes,
            )
        except httpx.TransportError as exc:
            raise ImageError(
                f"download failed: {type(exc).__name__}: {exc}", task_id=task_id, index=index
            ) from exc
        except ResponseTooLarge as exc:
            raise ImageError(f"image larger than {exc.limit} bytes", task_id=task_id, index=index) from exc
        if reply.status_code in _URL_REJECTED and not refreshed:
            ref, refreshed = (yield from _refreshed_ref(settings, deadline, task_id, index)), True
            continue
        if reply.status_code != 200:
            what = (
                "the image URL has expired or was refused"
                if reply.status_code in _URL_REJECTED
                else "download failed"
            )
            raise ImageError(
                f"{what} (HTTP {reply.status_code}{', even after refreshing it' if refreshed else ''})",
                task_id=task_id,
                index=index,
                status_code=reply.status_code,
                reason=reply.content[:200].decode("utf-8", "replace") or None,
            )
        return (yield from _checked_image(task_id, index, ref, reply.content))


def _checked_image(task_id: str, index: int, ref: ImageRef, data: bytes) -> Flow[GeneratedImage]:
    kind = sniff_format(data)
    expected = normalize_type(ref.image_type)
    if kind is None:
        raise ImageError(f"not a PNG, JPEG or WebP file ({len(data)} bytes)", task_id=task_id, index=index)
    if expected is not None and kind != expected:
        raise ImageError(f"the API said {expected} but the file is {kind}", task_id=task_id, index=index)
    try:
        size, mode = yield Offload(partial(decode, data))
    except ValueError as exc:
        raise ImageError(str(exc), task_id=task_id, index=index) from exc
    return GeneratedImage(
        task_id=task_id,
        index=index,
        data=data,
        format=kind,
        size=size,
        mode=mode,
        url=ref.url,
        expires_at=ref.expires_at,
        nsfw=ref.nsfw,
    )
