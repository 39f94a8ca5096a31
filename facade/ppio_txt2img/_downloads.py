"""Image downloads as flows: no API key sent, status, size and format checked, checked whole; a failed,
truncated or undecodable download fetched again within the deadline; an expired URL refreshed once."""

from __future__ import annotations

from functools import partial

import httpx

from ._call import Deadline, Expired, Settings
from ._constants import DOWNLOAD_MAX_ATTEMPTS, INLINE_DECODE_PIXELS
from ._errors import ImageError, PPIOError
from ._http import REDIRECT_STATUSES, send_with_retries, unfollowable
from ._images import SIZE_TOLERANCE, WrongSize, declared_size, decode, normalize_type, sniff_format
from ._io import Flow, Offload, ResponseTooLarge, Sleep, unsendable
from ._results import GeneratedImage, ImageRef
from ._retry import backoff_delay
from ._spec import largest_image_pixels
from ._tasks import patient_look_flow

_URL_REJECTED = frozenset({400, 401, 403, 404, 410})


class _Damaged(Exception):
    """The bytes arrived but are not a whole image: worth fetching again."""


def _refreshed_ref(
    settings: Settings, deadline: Deadline, task_id: str, index: int, status_code: int | None = None
) -> Flow[ImageRef]:
    """The image's URL as a new look at the task gives it (`patient_look_flow`: what the wait rode out,
    this rides out too). When that look fails for good, the image is what went wrong: an `ImageError`
    (which the other images that arrived join), caused by the failure; `status_code`: the image host's
    refusal that asked for the refresh, if one did."""
    why = "the image URL was refused" if status_code is not None else "the image URL had expired"
    try:
        task = yield from patient_look_flow(settings, deadline, task_id)
    except PPIOError as exc:
        raise ImageError(
            f"{why}, and refreshing it failed: {type(exc).__name__}: {exc}",
            task_id=task_id,
            index=index,
            status_code=status_code,
        ) from exc
    if index >= len(task.images):
        raise ImageError("the refreshed task result no longer lists this image", task_id=task_id, index=index)
    return task.images[index]


def decodes_inline(
    kind: str, expected_size: tuple[int, int] | None, declared: tuple[int, int] | None = None
) -> bool:
    """Whether an image is decoded in place rather than on a worker thread, where decoding it costs less
    than handing it to a thread and back: no more than `INLINE_DECODE_PIXELS`.

    A PNG or JPEG is judged by its header (`declared`, `declared_size`): the size Pillow decodes to,
    whatever size was asked (`wait()` asks none), and only when that header is a plain one, read in a
    few steps (Pillow reads a JPEG's odd bytes one at a time in Python: not on an event loop). Another
    format (WebP), by the size asked: its header is checked against it before any pixel is decoded, so
    it cannot turn out larger."""
    if kind in ("png", "jpeg"):
        return declared is not None and declared[0] * declared[1] <= INLINE_DECODE_PIXELS
    if expected_size is None:
        return False
    width, height = expected_size
    return (width + SIZE_TOLERANCE) * (height + SIZE_TOLERANCE) <= INLINE_DECODE_PIXELS


def download_flow(
    settings: Settings,
    deadline: Deadline,
    task_id: str,
    index: int,
    ref: ImageRef,
    expected_size: tuple[int, int] | None = None,
) -> Flow[GeneratedImage]:
    """Download one image (no API key sent), check it and decode it.

    5xx, 429 and dropped connections are retried, and damaged bytes fetched again, up to
    `DOWNLOAD_MAX_ATTEMPTS` times within the deadline; an expired or refused URL is refreshed once.
    """
    refreshed = False
    damaged = 0
    last_damage = ""
    while True:
        if not refreshed and ref.expires_at is not None and ref.expires_at <= settings.now():
            ref, refreshed = (yield from _refreshed_ref(settings, deadline, task_id, index)), True
        problem = unsendable(ref.url)
        if problem is not None:
            raise ImageError(f"the image cannot be fetched: {problem}", task_id=task_id, index=index)
        try:
            reply = yield from send_with_retries(
                settings,
                deadline,
                method="GET",
                url=ref.url,
                idempotent=True,
                drop_headers=("authorization",),
                max_bytes=settings.max_image_bytes,
                max_retries=DOWNLOAD_MAX_ATTEMPTS - 1,
            )
        except httpx.TransportError as exc:
            raise ImageError(
                f"download failed: {type(exc).__name__}: {exc}", task_id=task_id, index=index
            ) from exc
        except ResponseTooLarge as exc:
            raise ImageError(f"image larger than {exc.limit} bytes", task_id=task_id, index=index) from None
        except Expired:
            if not damaged:
                raise
            # The deadline came while fetching damaged bytes again: the damage is what went wrong.
            raise ImageError(
                f"{last_damage} (after {damaged} downloads; the deadline passed during the next)",
                task_id=task_id,
                index=index,
                status_code=200,
            ) from None
        if reply.status_code in _URL_REJECTED and not refreshed:
            refresh = _refreshed_ref(settings, deadline, task_id, index, reply.status_code)
            ref, refreshed = (yield from refresh), True
            continue
        if reply.status_code != 200:
            if reply.status_code in REDIRECT_STATUSES:
                problem = unfollowable(ref.url, reply)
                what = (
                    f"the image host redirected to a URL that cannot be fetched: {problem}"
                    if problem is not None
                    else "the image host redirected in a loop, or too many times"
                )
            elif reply.status_code in _URL_REJECTED:
                what = "the image URL has expired or was refused"
            else:
                what = "download failed"
            raise ImageError(
                f"{what} (HTTP {reply.status_code}{', even after refreshing it' if refreshed else ''})",
                task_id=task_id,
                index=index,
                status_code=reply.status_code,
                reason=reply.content[:200].decode("utf-8", "replace") or None,
            )
        try:
            return (yield from _checked_image(task_id, index, ref, reply.content, expected_size))
        except _Damaged as exc:
            damaged += 1
            last_damage = str(exc)
            delay = backoff_delay(damaged - 1, settings.rng)
            if damaged >= DOWNLOAD_MAX_ATTEMPTS or delay >= deadline.remaining():
                raise ImageError(
                    f"{exc} (after {damaged} downloads)", task_id=task_id, index=index, status_code=200
                ) from None
            yield Sleep(delay)


def _checked_image(
    task_id: str, index: int, ref: ImageRef, data: bytes, expected_size: tuple[int, int] | None
) -> Flow[GeneratedImage]:
    kind = sniff_format(data)
    expected = normalize_type(ref.image_type)
    if kind is None:
        raise _Damaged(f"not a PNG, JPEG or WebP file ({len(data)} bytes)")
    if expected is not None and kind != expected:
        raise ImageError(f"the API said {expected} but the file is {kind}", task_id=task_id, index=index)
    try:
        size, mode = yield Offload(
            partial(decode, data, expected=expected_size, max_pixels=largest_image_pixels()),
            inline=decodes_inline(kind, expected_size, declared_size(data)),
        )
    except WrongSize as exc:
        raise ImageError(str(exc), task_id=task_id, index=index) from None
    except ValueError as exc:
        raise _Damaged(str(exc)) from None
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
