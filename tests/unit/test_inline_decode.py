"""Which images are decoded on the event loop (small ones) and which on a worker thread, and the header
reading that tells a small image from a large one when its size was not asked (`wait()`)."""

from __future__ import annotations

import io
import random
from typing import Any

import httpx
import pytest
from PIL import Image

from ppio_txt2img._call import Deadline
from ppio_txt2img._downloads import decodes_inline, download_flow
from ppio_txt2img._images import declared_size
from ppio_txt2img._io import Offload, Reply, Send
from ppio_txt2img._results import GeneratedImage, ImageRef

from .flow_settings import flow_settings


def test_small_images_asked_for_are_decoded_in_place_and_others_on_a_thread() -> None:
    assert decodes_inline((128, 128))
    assert decodes_inline((256, 256))
    assert not decodes_inline((512, 512))
    assert not decodes_inline((1024, 64))
    assert not decodes_inline(None)  # size unknown and no header read: it could be anything


def test_with_no_size_asked_the_header_decides() -> None:
    assert decodes_inline(None, (128, 128))
    assert decodes_inline(None, (320, 320))
    assert not decodes_inline(None, (321, 320))
    assert not decodes_inline(None, (1024, 1024))
    assert not decodes_inline((1024, 1024), (128, 128))  # asked large: the header is not needed to say no


def _encoded(size: tuple[int, int], kind: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    rng = random.Random(size[0] * 7919 + size[1])
    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    image.save(buffer, kind, **options)
    return buffer.getvalue()


_SIZES = [(1, 1), (7, 3), (128, 128), (320, 320), (321, 200), (1024, 768), (65500, 1), (3, 4000)]
_KINDS: list[tuple[str, dict[str, Any]]] = [
    ("PNG", {}),
    ("PNG", {"optimize": True}),
    ("JPEG", {}),
    ("JPEG", {"progressive": True}),  # SOF2
    ("JPEG", {"exif": b"Exif\x00\x00" + b"\x00" * 300, "icc_profile": b"\x01" * 5000}),  # APP1, APP2 first
    ("JPEG", {"quality": 30, "subsampling": 0, "restart_marker_blocks": 1}),
]


@pytest.mark.parametrize(("kind", "options"), _KINDS)
def test_the_declared_size_is_the_one_pillow_decodes_to(kind: str, options: dict[str, Any]) -> None:
    for size in _SIZES:
        data = _encoded(size, kind, **options)
        with Image.open(io.BytesIO(data)) as image:
            assert declared_size(data) == image.size == size


def test_a_header_cut_short_or_another_format_declares_nothing() -> None:
    png, jpeg = _encoded((64, 48), "PNG"), _encoded((64, 48), "JPEG")
    webp = _encoded((64, 48), "WEBP")
    assert declared_size(webp) is None  # WebP: decoded on a thread, as before
    assert declared_size(b"") is None
    assert declared_size(b"GIF89a" + png[6:]) is None
    for cut in range(24):
        assert declared_size(png[:cut]) is None
    frame = jpeg.index(b"\xff\xc0")
    for cut in range(frame + 9):
        assert declared_size(jpeg[:cut]) is None
    assert declared_size(png[:12] + b"IDAT" + png[16:]) is None  # IHDR must come first
    assert declared_size(b"\xff\xd8\xff\xda" + jpeg[4:]) is None  # a scan before any frame
    assert declared_size(b"\xff\xd8\x00" + jpeg[3:]) is None  # not a marker where one must be


def _offload_of(data: bytes, expected: tuple[int, int] | None) -> Offload:
    """The decode step a download of `data` asks for (the flow driven by hand, up to that step)."""
    settings = flow_settings()
    flow = download_flow(
        settings, Deadline(settings.clock, 30.0), "t", 0, ImageRef("https://img.test/0", None, None), expected
    )
    send = next(flow)
    assert isinstance(send, Send)
    offload = flow.send(Reply(200, httpx.Headers({"content-type": "image/png"}), data))
    assert isinstance(offload, Offload)
    finished = None
    try:
        flow.send(offload.fn())
    except StopIteration as stop:
        finished = stop.value
    assert isinstance(finished, GeneratedImage)
    with Image.open(io.BytesIO(data)) as image:
        assert finished.size == image.size  # decoded, wherever it was
    return offload


def test_wait_decodes_a_small_image_in_place_and_a_large_one_on_a_thread() -> None:
    small, large = _encoded((128, 128), "PNG"), _encoded((512, 512), "PNG")
    assert _offload_of(small, None).inline  # `wait()`: no size asked, the header says small
    assert not _offload_of(large, None).inline
    assert _offload_of(_encoded((128, 128), "JPEG"), None).inline
    assert not _offload_of(_encoded((128, 128), "WEBP"), None).inline  # no header read: a thread, as before
    assert _offload_of(small, (128, 128)).inline  # `txt2img()`: the size asked decides
    assert not _offload_of(large, (512, 512)).inline
