"""`write_gallery(OUT)`: what the page holds, its thumbnails, tolerance of the manifest, atomic writes.
(The page in a real browser: `test_gallery_browser.py`.)"""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from ppio_txt2img import gallery
from ppio_txt2img.gallery import read_manifest, write_gallery
from tests.gallery.gallery_helpers import BatchOut, line, write_image


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def test_the_page_has_a_thumbnail_per_image_in_input_order_and_every_line_with_its_facts(
    batch_out: BatchOut,
) -> None:
    path = write_gallery(batch_out.path)

    assert path == batch_out.path / "index.html"
    page = parse(path)
    images = page.all("img")
    expected = [(entry["line"], i) for entry in batch_out.lines for i in range(len(entry["images"]))]
    assert [img["src"] for img in images] == [f"thumbs/{n}-{i}.jpg" for n, i in expected]
    for img in images:
        with Image.open(batch_out.path / (img["src"] or "")) as thumbnail:
            assert thumbnail.format == "JPEG"
            assert max(thumbnail.size) == 256  # from 512x384
    links = [a["href"] for a in page.all("a") if (a["href"] or "").startswith("images/")]
    assert links == [p for entry in batch_out.lines for p in entry["images"]]
    cards = [attrs for attrs in page.all("li") if attrs.get("class") == "card"]
    assert [(c["id"], c["data-status"]) for c in cards] == [
        (f"line-{e['line']}", e["status"]) for e in batch_out.lines
    ]
    text = "".join(page.text)
    for entry in batch_out.lines:
        for key in ("prompt", "task_id", "seed", "error"):
            if entry[key] is not None:
                assert str(entry[key]) in text, (key, entry)
    assert "request.width" in text
    assert "in progress" in text  # the running line
    assert "1 manifest line could not be read" in text  # the half-written last line


def test_every_manifest_text_is_escaped(batch_out: BatchOut) -> None:
    page_text = write_gallery(batch_out.path).read_text()
    assert "<script>alert" not in page_text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page_text
    assert len(parse(batch_out.path / "index.html").all("script")) == 2  # the page's own two


def test_filter_buttons_count_each_status(batch_out: BatchOut) -> None:
    page = parse(write_gallery(batch_out.path))
    buttons = page.all("button")
    assert [b["data-filter"] for b in buttons] == ["all", "done", "failed", "unknown", "running"]
    text = "".join(page.text)
    for status in ("done", "failed", "unknown", "running"):
        assert f"{status} {batch_out.count(status)}" in text
    assert f"all {len(batch_out.lines)}" in text


def test_a_missing_manifest_makes_an_empty_page_and_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    page = parse(write_gallery(tmp_path))
    assert [attrs for attrs in page.all("li") if attrs.get("class") == "card"] == []
    assert "No manifest.jsonl yet" in "".join(page.text)
    with pytest.raises(NotADirectoryError):
        write_gallery(tmp_path / "nope")


def test_lines_that_do_not_parse_are_skipped_and_counted_anywhere_in_the_file(tmp_path: Path) -> None:
    write_image(tmp_path, "2-0.png", (1, 2, 3))
    (tmp_path / "manifest.jsonl").write_text(
        '{"line": 1, "status": "done", "images": "oops", "seed": "12"}\n'
        "not json\n"
        '["a", "list"]\n'
        '{"line": 2, "status": "done", "prompt": 7, "images": ["images/2-0.png"]}\n'
        '{"line": 3, "stat'
    )
    read = read_manifest(tmp_path)
    assert [e.line for e in read.entries] == [1, 2]
    assert read.unreadable == 3
    assert (read.entries[0].images, read.entries[0].seed, read.entries[1].prompt) == ((), None, None)
    assert len(parse(write_gallery(tmp_path)).all("img")) == 1


def test_thumbnails_are_drawn_only_when_missing_or_older_than_their_image(
    batch_out: BatchOut, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[str] = []
    real = gallery.write_jpeg_thumbnail  # type: ignore[attr-defined]  # the module's own import, patched

    def counting(source: Path, target: Path, max_side: int) -> tuple[int, int]:
        drawn.append(target.name)
        return real(source, target, max_side)

    monkeypatch.setattr(gallery, "write_jpeg_thumbnail", counting)
    write_gallery(batch_out.path)
    assert len(drawn) == batch_out.images
    drawn.clear()

    write_gallery(batch_out.path)
    assert drawn == []  # all up to date

    image = batch_out.path / "images" / "2-1.png"
    Image.new("RGB", (512, 384), (0, 0, 0)).save(image)
    later = (batch_out.path / "thumbs" / "2-1.jpg").stat().st_mtime_ns + 1_000_000_000
    os.utime(image, ns=(later, later))  # the image is now newer than its thumbnail
    (batch_out.path / "thumbs" / "7-0.jpg").unlink()  # and one thumbnail is gone
    write_gallery(batch_out.path)
    assert sorted(drawn) == ["2-1.jpg", "7-0.jpg"]
    with Image.open(batch_out.path / "thumbs" / "2-1.jpg") as redrawn:
        assert redrawn.getpixel((10, 10)) == pytest.approx((0, 0, 0), abs=4)


def test_out_of_budget_thumbnails_show_the_full_image_until_a_later_call(batch_out: BatchOut) -> None:
    page = parse(write_gallery(batch_out.path, thumbnail_budget=0))
    assert [img["src"] for img in page.all("img")] == [p for e in batch_out.lines for p in e["images"]]
    assert f"{batch_out.images} thumbnails not drawn yet" in "".join(page.text)
    assert not (batch_out.path / "thumbs").exists()

    page = parse(write_gallery(batch_out.path, thumbnail_budget=None))
    assert all((img["src"] or "").startswith("thumbs/") for img in page.all("img"))


def test_images_that_are_missing_undecodable_or_outside_out_are_named_not_read(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "2-0.png").write_bytes(b"\x89PNG\r\n\x1a\nhalf")
    (tmp_path.parent / "secret.png").write_bytes(b"")
    lines = [
        line(1, "done", images=["images/1-0.png"]),
        line(2, "done", images=["images/2-0.png"]),
        line(3, "done", images=["../secret.png", "/etc/passwd"]),
    ]
    BatchOut(tmp_path, lines).write_manifest()

    page = parse(write_gallery(tmp_path))

    assert page.all("img") == []
    text = "".join(page.text)
    assert "images/1-0.png: the image file is missing" in text
    assert "images/2-0.png: the image does not decode: not in an image format Pillow reads" in text
    assert text.count("does not decode") == 1  # said once, and no repr of the buffer it was read from
    assert "object at 0x" not in text
    assert "../secret.png: the path is outside the output directory" in text
    assert "/etc/passwd: the path is outside the output directory" in text
    assert not (tmp_path / "thumbs").exists() or list((tmp_path / "thumbs").iterdir()) == []


def test_the_page_is_replaced_atomically_and_no_temporary_file_stays(
    batch_out: BatchOut, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write_gallery(batch_out.path).read_bytes()

    def failing_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    batch_out.lines.append(line(10, "failed", error="new"))
    batch_out.write_manifest()
    with pytest.raises(OSError, match="disk full"):
        write_gallery(batch_out.path)
    monkeypatch.undo()

    assert (batch_out.path / "index.html").read_bytes() == first  # the old page, whole
    leftovers = [p.name for p in batch_out.path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_a_directory_whose_name_is_not_utf8_gets_a_page_titled_with_what_can_be_shown(tmp_path: Path) -> None:
    """The page's title is the directory's name: bytes of it that are not UTF-8 show as U+FFFD (they
    made the page unwritable, and with it every manifest rewrite of a batch run there)."""
    out = tmp_path / os.fsdecode(b"caf\xe9 \xff")
    out.mkdir()
    (out / "manifest.jsonl").write_text("")
    page = write_gallery(out).read_text(encoding="utf-8")
    assert "<title>caf\ufffd \ufffd - ppio gallery</title>" in page


def test_ppio_gallery_writes_the_page_and_prints_its_path(
    batch_out: BatchOut, capsys: pytest.CaptureFixture[str]
) -> None:
    from ppio_txt2img.cli import main

    assert main(["gallery", str(batch_out.path)]) == 0
    out = capsys.readouterr().out
    assert out == f"{batch_out.path / 'index.html'}\n"
    assert len(parse(batch_out.path / "index.html").all("img")) == batch_out.images

    assert main(["gallery", str(batch_out.path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_ppio_gallery_json_prints_the_path_and_a_failure_as_json_objects(
    tmp_path: Path, batch_out: BatchOut, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--json`, as the other commands take it: the page's path, or the failure (stderr keeps its line,
    the exit status is the same)."""
    from ppio_txt2img.cli import main

    assert main(["gallery", str(batch_out.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"gallery": str(batch_out.path / "index.html")}

    assert main(["gallery", str(tmp_path), "--json"]) == 2  # no manifest: not a batch's directory
    captured = capsys.readouterr()
    failure = json.loads(captured.out)
    assert (failure["exit_code"], failure["error"]["type"]) == (2, "UsageError")
    assert failure["error"]["message"] == captured.err.strip().removeprefix("ppio: error: ")
    assert "no manifest.jsonl here" in failure["error"]["message"]


def test_a_page_the_gallery_did_not_write_is_never_replaced(
    tmp_path: Path, batch_out: BatchOut, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ppio gallery .` in a web project, or a batch's -o given such a directory: the project's own
    index.html stays (it was replaced by an empty gallery, with exit 0); a gallery is rewritten."""
    from ppio_txt2img.cli import main

    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>my site</h1>")
    assert main(["gallery", str(site)]) == 2  # no manifest: not a batch's directory
    assert "no manifest.jsonl here" in capsys.readouterr().err
    (site / "manifest.jsonl").write_text("")
    assert main(["gallery", str(site)]) == 2
    assert "is not a ppio gallery" in capsys.readouterr().err
    with pytest.raises(FileExistsError):
        write_gallery(site)
    prompts = tmp_path / "in.txt"
    prompts.write_text("a fox\n")
    code = main(
        ["batch", str(prompts), "-o", str(site), "--base-url", "http://127.0.0.1:9", "--api-key", "k"]
    )
    assert code == 2  # refused before anything is sent (nothing listens on port 9)
    assert (site / "index.html").read_text() == "<h1>my site</h1>"
    assert sorted(p.name for p in site.iterdir()) == ["index.html", "manifest.jsonl"]

    write_gallery(batch_out.path)  # its own page, as many times as it likes
    assert gallery.foreign_page(batch_out.path) is None
    assert main(["gallery", str(batch_out.path)]) == 0
