"""Which images are decoded on the event loop (small ones) and which on a worker thread, and the header
reading that tells a small image from a large one when its size was not asked (`wait()`)."""

from __future__ import annotations

import io
import random
import warnings
import zlib
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


def test_a_webp_is_decoded_in_place_when_asked_small_and_a_png_or_jpeg_when_its_header_says_so() -> None:
    assert decodes_inline("webp", (128, 128))
    assert decodes_inline("webp", (256, 256))
    assert not decodes_inline("webp", (512, 512))
    assert not decodes_inline("webp", (1024, 64))
    assert not decodes_inline("webp", None)  # size unknown (`wait()`): it could be anything
    for kind in ("png", "jpeg"):
        assert decodes_inline(kind, None, (128, 128))
        assert decodes_inline(kind, (128, 128), (320, 320))
        assert not decodes_inline(kind, None, (321, 320))
        assert not decodes_inline(kind, (128, 128), (1024, 1024))  # the header, not the size asked
        assert not decodes_inline(kind, (128, 128), None)  # a header not read plainly: a thread


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


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def test_a_header_pillow_might_read_otherwise_declares_nothing() -> None:
    """Files laid out so that a simple walk and Pillow could disagree on the size (Pillow takes the last
    IHDR, skips a stuffed 0xFF00, keeps the last start of frame): none gets a size, so none is decoded on
    the event loop however small its first header says it is."""
    big_png, jpeg = _encoded((400, 300), "PNG"), _encoded((400, 300), "JPEG")
    tiny_ihdr = _png_chunk(b"IHDR", (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0]))
    two_headers = big_png[:8] + tiny_ihdr + big_png[8:]
    with Image.open(io.BytesIO(two_headers)) as image:
        assert image.size == (400, 300)  # what Pillow would decode
    assert declared_size(two_headers) is None
    frame = jpeg.index(b"\xff\xc0")
    length = int.from_bytes(jpeg[frame + 2 : frame + 4], "big")
    small_frame = jpeg[frame : frame + 5] + (8).to_bytes(2, "big") * 2 + jpeg[frame + 9 : frame + 2 + length]
    assert declared_size(jpeg[:frame] + small_frame + jpeg[frame:]) is None  # two starts of frame
    assert declared_size(jpeg[:2] + b"\xff\x00" + jpeg[2:]) is None  # a stuffed byte where a marker goes
    assert declared_size(jpeg[:2] + b"\xff" * 1000 + jpeg[2:]) is None  # fill bytes: declined at the first
    assert (
        declared_size(jpeg[:2] + b"\xff\xf7\x00\x04\x00\x00" + jpeg[2:]) is None
    )  # JPEG-LS, not stepped over
    assert (
        declared_size(jpeg[:2] + b"\xff\xfe\x00\x02" * 64 + jpeg[2:]) is None
    )  # more segments than a header has


def test_whatever_the_bytes_a_declared_size_is_the_one_pillow_opens_with() -> None:
    """Mutated and cut PNGs and JPEGs: `declared_size` never raises, and when it names a size, Pillow
    either refuses the file or opens it at exactly that size."""
    rng = random.Random(5)
    seeds = [_encoded(size, kind, **options) for size in ((40, 30), (300, 200)) for kind, options in _KINDS]
    named = 0
    for _ in range(3000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(min(len(data), 700))
            data[at : at + rng.randrange(1, 5)] = rng.randbytes(rng.randrange(0, 5))
        sample = bytes(data[: rng.randrange(len(data) + 1)] if rng.random() < 0.3 else data)
        size = declared_size(sample)
        if size is None:
            continue
        named += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # a huge size: still a size
                with Image.open(io.BytesIO(sample)) as image:
                    opened: tuple[int, int] | None = image.size
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            opened = None  # refused: nothing is decoded
        assert opened in (None, size), sample[:64]
    assert named > 500  # the mutations left most headers readable: the check above ran


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
    assert _offload_of(small, (128, 128)).inline  # `txt2img()`: the same
    assert not _offload_of(large, (512, 512)).inline
    assert _offload_of(_encoded((128, 128), "WEBP"), (128, 128)).inline  # a WebP: the size asked decides
    fill = _encoded((128, 128), "JPEG")
    assert not _offload_of(fill[:2] + b"\xff" * 100 + fill[2:], (128, 128)).inline  # Pillow's slow read
