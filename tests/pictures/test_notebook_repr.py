"""Results in Jupyter: `GeneratedImage._repr_png_` (a bounded preview) and `Generation._repr_html_`
(inline thumbnails with the seed and task id), decoded the way a notebook would."""

from __future__ import annotations

import base64
import dataclasses
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from tests.pictures.pictures_helpers import BLUE, GREEN, RED, TASK_ID, decode, generated, generation, solid


@pytest.mark.parametrize(
    ("size", "fmt", "expected"),
    [
        ((2048, 1024), "png", (512, 256)),
        ((768, 1344), "jpeg", (293, 512)),
        ((1024, 1024), "webp", (512, 512)),
        ((300, 200), "png", (300, 200)),  # never enlarged
    ],
)
def test_repr_png_is_a_png_at_most_512_px_on_its_longest_side(
    size: tuple[int, int], fmt: str, expected: tuple[int, int]
) -> None:
    image = generated(solid(RED, size, fmt))

    png = image._repr_png_()

    assert png is not None
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    preview = decode(png)
    assert preview.format == "PNG"
    assert preview.size == expected
    centre = preview.getpixel((preview.width // 2, preview.height // 2))
    assert isinstance(centre, tuple)
    assert centre[:3] == pytest.approx(RED, abs=3)


def test_repr_png_keeps_transparency_and_caches_nothing() -> None:
    image = generated(solid((10, 20, 30, 0), (1024, 1024)))
    before = dataclasses.asdict(image)

    first, second = image._repr_png_(), image._repr_png_()

    assert first == second
    assert first is not None
    preview = decode(first)
    corner = preview.getpixel((5, 5))
    assert isinstance(corner, tuple)
    assert (preview.mode, corner[3]) == ("RGBA", 0)
    assert dataclasses.asdict(image) == before  # nothing added to the (frozen, slotless) value
    assert not hasattr(image, "__dict__") or set(vars(image)) == {f.name for f in dataclasses.fields(image)}


def test_repr_png_of_bytes_that_do_not_decode_is_none_so_the_text_repr_shows() -> None:
    image = dataclasses.replace(generated(solid(RED)), data=b"\x89PNG\r\n\x1a\nnot really")
    assert image._repr_png_() is None


class _Page(HTMLParser):
    """Collects every tag with its attributes and all the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _data_uri_image(uri: str):  # type: ignore[no-untyped-def]
    head, _, payload = uri.partition(",")
    assert head in ("data:image/jpeg;base64", "data:image/png;base64")
    return decode(base64.b64decode(payload, validate=True))


def test_repr_html_shows_each_image_as_an_inline_thumbnail_with_the_seed_and_task_id() -> None:
    colours = (RED, GREEN, BLUE)
    gen = generation(*(solid(c, (1024, 768)) for c in colours), seed=987654)

    page = _Page()
    page.feed(gen._repr_html_())
    page.close()

    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert len(images) == 3
    for attrs, colour in zip(images, colours, strict=True):
        thumbnail = _data_uri_image(attrs["src"] or "")
        assert max(thumbnail.size) <= 256
        assert (attrs["width"], attrs["height"]) == (str(thumbnail.width), str(thumbnail.height))
        centre = thumbnail.convert("RGB").getpixel((thumbnail.width // 2, thumbnail.height // 2))
        assert centre == pytest.approx(colour, abs=6)
    text = "".join(page.text)
    assert TASK_ID in text  # the parser unescapes: the raw id with its <&> round-trips
    assert "987654" in text
    assert not any(tag == "script" for tag, _ in page.tags)


def test_repr_html_escapes_the_task_id_and_keeps_alpha_as_png() -> None:
    gen = generation(solid((1, 2, 3, 0), (64, 64)), task_id='"><script>alert(1)</script>', seed=None)

    html = gen._repr_html_()

    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    page = _Page()
    page.feed(html)
    (img,) = [attrs for tag, attrs in page.tags if tag == "img"]
    assert (img["src"] or "").startswith("data:image/png;base64,")
    assert "seed unknown" in "".join(page.text).replace("\xa0", " ")


def test_importing_the_package_and_the_gallery_loads_neither_pillow_nor_matplotlib() -> None:
    code = (
        "import sys, ppio_txt2img, ppio_txt2img.gallery; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'PIL', 'matplotlib'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
