"""A plain PNG checked whole without Pillow (`_png.py`): `decode` must give exactly what decoding with
Pillow gives (the same size and mode, or the same kind of error) for every image, whole, cut short,
damaged or crafted, and must read the PNGs image generators send without Pillow."""

from __future__ import annotations

import io
import random
import struct
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest
from PIL import Image, PngImagePlugin

from ppio_txt2img._images import WrongSize, decode
from ppio_txt2img._png import plain_png, png_is_whole

MAX_PIXELS = 4096 * 4096


def _pillow_decode(data: bytes, expected: tuple[int, int] | None = None) -> tuple[tuple[int, int], str]:
    """What `decode` was before `_png.py`: Pillow opens and decodes every image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            size = (image.width, image.height)
            if expected is not None and any(abs(a - b) >= 64 for a, b in zip(size, expected, strict=True)):
                raise WrongSize("size")
            if size[0] * size[1] > MAX_PIXELS:
                raise WrongSize("pixels")
            image.load()
            return size, image.mode
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise WrongSize("bomb") from exc
    except (OSError, SyntaxError) as exc:  # UnidentifiedImageError is an OSError
        raise ValueError("does not decode") from exc


def _outcome(decoder: object, data: bytes, expected: tuple[int, int] | None = None) -> object:
    try:
        return decoder(data, expected=expected, max_pixels=MAX_PIXELS)  # type: ignore[operator]
    except (WrongSize, ValueError) as exc:
        return type(exc)


def _reference(data: bytes, expected: tuple[int, int] | None = None) -> object:
    try:
        return _pillow_decode(data, expected)
    except (WrongSize, ValueError) as exc:
        return type(exc)


def _png(mode: str, size: tuple[int, int], *, noisy: bool, **options: object) -> bytes:
    rng = random.Random(f"{mode}{size}{noisy}")
    if noisy:
        image = Image.new(mode, size)
        raw = image.tobytes()  # as many bytes as the mode's pixels take
        image.frombytes(bytes(rng.randrange(256) for _ in range(len(raw))))
    else:
        image = Image.linear_gradient("L").resize(size).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


def _text(**pairs: str) -> PngImagePlugin.PngInfo:
    """Text chunks: `tEXt`, or `zTXt` for the key `zipped`."""
    info = PngImagePlugin.PngInfo()
    for key, value in pairs.items():
        info.add_text(key, value, zip=key == "zipped")
    return info


#: PNGs as image generators and Pillow write them: read here without Pillow.
PLAIN = {
    f"{mode} {size[0]}x{size[1]}{' noisy' if noisy else ''}{' level 0' if level == 0 else ''}": _png(
        mode, size, noisy=noisy, compress_level=level
    )
    for mode in ("L", "LA", "RGB", "RGBA")
    for size in ((1, 1), (7, 3), (128, 128))
    for noisy in (False, True)
    for level in (0, 6)
} | {
    "RGB with generation parameters": _png("RGB", (64, 64), noisy=False, pnginfo=_text(parameters="a fox")),
    "RGB in many IDAT chunks": _png("RGB", (300, 300), noisy=True, compress_level=0),
}
PLAIN_SIZES = {name: Image.open(io.BytesIO(data)).size for name, data in PLAIN.items()}
#: PNGs that are not plain: Pillow decides.
OTHERS = {
    "palette": _png("P", (16, 16), noisy=True),
    "one bit": _png("1", (16, 16), noisy=True),
    "sixteen bits": _png("I;16", (16, 16), noisy=True),
    "with its resolution": _png("RGB", (16, 16), noisy=False, dpi=(72, 72)),
    "with a transparent colour": _png("RGB", (16, 16), noisy=False, transparency=(0, 0, 0)),
    "with a compressed text": _png("RGB", (16, 16), noisy=False, pnginfo=_text(zipped="a fox")),
}


def _chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    at = 8
    while at < len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        yield data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        at += 12 + length


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _rebuilt(data: bytes, *, rows: bytes | None = None, extra: tuple[bytes, bytes] | None = None) -> bytes:
    """`data` with its image data replaced by `rows` deflated (CRCs right), or a chunk added before IEND."""
    out, replaced = data[:8], False
    for kind, body in _chunks(data):
        if kind == b"IDAT" and rows is not None:
            if not replaced:  # the new data in one chunk, where the first was
                out += _chunk(b"IDAT", zlib.compress(rows))
                replaced = True
            continue
        if kind == b"IEND" and extra is not None:
            out += _chunk(*extra)
        out += _chunk(kind, body)
    return out


def _rows(data: bytes) -> bytes:
    return zlib.decompress(b"".join(body for kind, body in _chunks(data) if kind == b"IDAT"))


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_a_plain_png_is_read_without_pillow_as_pillow_reads_it(name: str) -> None:
    data = PLAIN[name]
    png = plain_png(data)
    assert png is not None
    assert png_is_whole(data, png)
    assert _outcome(decode, data) == _reference(data)
    assert _outcome(decode, data, png.size) == _reference(data, png.size)
    assert _outcome(decode, data, (png.size[0] + 200, png.size[1])) is WrongSize


@pytest.mark.parametrize("name", sorted(OTHERS))
def test_another_png_is_left_to_pillow(name: str) -> None:
    data = OTHERS[name]
    png = plain_png(data)
    assert png is None or not png_is_whole(data, png)
    assert _outcome(decode, data) == _reference(data)


@pytest.mark.parametrize("name", ["RGB 7x3", "RGBA 128x128 noisy", "RGB with generation parameters"])
def test_a_png_cut_short_anywhere_or_with_any_byte_changed_is_judged_as_pillow_judges_it(name: str) -> None:
    """Every prefix, and each byte changed in turn (three ways), of a small PNG; a sample of a large one.
    Not one is read whole without Pillow: a cut loses IEND, a changed byte a CRC."""
    data = PLAIN[name]
    rng = random.Random(name)
    places = range(len(data)) if len(data) < 2000 else sorted(rng.sample(range(len(data)), 600))
    variants = [data[:end] for end in places]
    for at in places:
        for change in (1, 0x80, rng.randrange(1, 256)):
            variants.append(data[:at] + bytes([data[at] ^ change]) + data[at + 1 :])
    wrong = (PLAIN_SIZES[name][0] + 200, PLAIN_SIZES[name][1])  # broken and the wrong size: broken first
    for variant in variants:
        png = plain_png(variant)
        assert png is None or not png_is_whole(variant, png), variant
        assert _outcome(decode, variant) == _reference(variant)
        assert _outcome(decode, variant, wrong) == _reference(variant, wrong)


def test_a_png_with_its_checksums_right_but_its_rows_wrong_is_judged_as_pillow_judges_it() -> None:
    """Image data re-deflated with its CRCs made right: whatever is wrong inside must be found by the
    inflating and the row check, or left to Pillow."""
    data = PLAIN["RGB 7x3"]
    rows = _rows(data)
    stride = 1 + 7 * 3
    crafted = {
        "a row's filter byte unknown": rows[:stride] + b"\x05" + rows[stride + 1 :],
        "a filter byte 255": b"\xff" + rows[1:],
        "a row short": rows[:-1],
        "a row too many": rows + rows[:stride],
        "a byte more": rows + b"\x00",
        "no rows": b"",
    }
    for name, changed in crafted.items():
        variant = _rebuilt(data, rows=changed)
        png = plain_png(variant)
        assert png is not None, name  # the chunks are whole: only the inflated rows can tell
        assert not png_is_whole(variant, png), name
        assert _outcome(decode, variant) == _reference(variant), name
    # The stream's own faults: truncated, with bytes after its end, not zlib at all.
    deflated = zlib.compress(rows)
    for name, stream in {
        "stream cut": deflated[:-6],
        "the stream's checksum missing": deflated[:-4],  # every row inflated, but the stream not ended
        "bytes after the stream": deflated + b"\x00\x00",
        "not a zlib stream": b"\x00" * 16,
    }.items():
        variant = data[:8] + _chunk(b"IHDR", next(b for k, b in _chunks(data) if k == b"IHDR"))
        variant += _chunk(b"IDAT", stream) + _chunk(b"IEND", b"")
        png = plain_png(variant)
        assert png is not None, name
        assert not png_is_whole(variant, png), name
        assert _outcome(decode, variant) == _reference(variant), name


def test_chunks_out_of_the_plain_order_are_left_to_pillow() -> None:
    data = PLAIN["RGB 7x3"]
    chunks = list(_chunks(data))
    ihdr, idat, iend = (next(b for k, b in chunks if k == kind) for kind in (b"IHDR", b"IDAT", b"IEND"))
    head = data[:8]
    halves = idat[: len(idat) // 2], idat[len(idat) // 2 :]
    variants = {
        "IDAT split around a text": head + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", halves[0])
        + _chunk(b"tEXt", b"k\x00v") + _chunk(b"IDAT", halves[1]) + _chunk(b"IEND", iend),
        "a second IHDR": head + _chunk(b"IHDR", ihdr) + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", iend),
        "bytes after IEND": data + b"\x00",
        "an IEND with a body": head + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"x"),
        "no IDAT": head + _chunk(b"IHDR", ihdr) + _chunk(b"IEND", iend),
        "an unknown chunk": _rebuilt(data, extra=(b"zzZz", b"anything")),
        "a critical chunk": _rebuilt(data, extra=(b"PLTE", b"\x00" * 3)),
        "text after the image data": _rebuilt(data, extra=(b"tEXt", b"k\x00v")),
        "an IHDR too short": head + _chunk(b"IHDR", ihdr[:12]) + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", iend),
    }  # fmt: skip
    for name, variant in variants.items():
        png = plain_png(variant)
        if name == "text after the image data":
            assert png is not None, name  # still plain: text may come after the image data
            assert png_is_whole(variant, png), name
        else:
            assert png is None or not png_is_whole(variant, png), name
        assert _outcome(decode, variant) == _reference(variant), name


def test_odd_headers_are_left_to_pillow_and_a_bomb_is_refused_before_inflating() -> None:
    data = PLAIN["RGB 7x3"]
    chunks = list(_chunks(data))
    ihdr = next(b for k, b in chunks if k == b"IHDR")
    idat = next(b for k, b in chunks if k == b"IDAT")

    def with_header(header: bytes, image_data: bytes = idat) -> bytes:
        return data[:8] + _chunk(b"IHDR", header) + _chunk(b"IDAT", image_data) + _chunk(b"IEND", b"")

    width_height = ihdr[:8]
    for name, header in {
        "interlaced": width_height + bytes([8, 2, 0, 0, 1]),
        "compression method 1": width_height + bytes([8, 2, 1, 0, 0]),
        "filter method 1": width_height + bytes([8, 2, 0, 1, 0]),
        "colour type 5": width_height + bytes([8, 5, 0, 0, 0]),
        "zero wide": struct.pack(">II", 0, 3) + ihdr[8:],
        "2**31 high": struct.pack(">II", 7, 2**31) + ihdr[8:],
    }.items():
        variant = with_header(header)
        assert plain_png(variant) is None, name
        assert _outcome(decode, variant) == _reference(variant), name
    # A header declaring 40000x40000 over a few bytes of a stream that would inflate to 4.8 GB: refused by
    # its size, never inflated.
    bomb = with_header(struct.pack(">II", 40000, 40000) + ihdr[8:], zlib.compress(b"\x00" * 10_000_000))
    png = plain_png(bomb)
    assert png is not None
    assert png.size == (40000, 40000)
    assert _outcome(decode, bomb) is WrongSize
    assert _reference(bomb) is WrongSize


def test_image_data_inflating_to_more_than_its_rows_is_never_inflated_past_them() -> None:
    """A header of 7x3 over a stream that inflates to 50 MB: no more than its rows (and a byte) is ever
    inflated, whatever the stream holds."""
    data = PLAIN["RGB 7x3"]
    ihdr = next(b for k, b in _chunks(data) if k == b"IHDR")
    stream = zlib.compress(b"\x00" * 50_000_000, 9)
    variant = data[:8] + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", stream) + _chunk(b"IEND", b"")
    png = plain_png(variant)
    assert png is not None
    tracemalloc.start()
    try:
        assert not png_is_whole(variant, png)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, peak


def test_many_empty_chunks_take_no_memory_and_pillow_s_own_limit_still_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """50,000 empty IDAT (or tEXt) chunks around a 1x1 image: read in one pass, keeping nothing of them.
    And a plain PNG past Pillow's bomb limit, as the app set it, is left to Pillow, which refuses it."""
    one = _png("L", (1, 1), noisy=False)
    chunks = list(_chunks(one))
    ihdr, idat = (next(b for k, b in chunks if k == kind) for kind in (b"IHDR", b"IDAT"))
    for kind, where in ((b"IDAT", "after"), (b"tEXt", "before")):
        empties = _chunk(kind, b"") * 50_000
        head = one[:8] + _chunk(b"IHDR", ihdr)
        body = _chunk(b"IDAT", idat)
        variant = head + (empties + body if where == "before" else body + empties) + _chunk(b"IEND", b"")
        png = plain_png(variant)
        assert png is not None
        tracemalloc.start()
        try:
            whole = png_is_whole(variant, png)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert whole
        assert peak < 100_000, (kind, peak)
        assert _outcome(decode, variant) == _reference(variant) == ((1, 1), "L")
    data = PLAIN["L 128x128"]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses more than twice this
    assert _reference(data) is WrongSize
    assert _outcome(decode, data) is WrongSize
