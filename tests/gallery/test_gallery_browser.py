"""The gallery in a real browser: headless Chromium opens OUT/index.html from file://.

`--dump-dom` gives the DOM after the page's scripts ran; with `#selftest` in the URL the page itself
makes every image load, clicks each status filter, and writes what it saw (images loaded, cards shown
per filter, script errors, failed loads, console.error calls) into `<pre id="selftest">`. A screenshot
of the page is kept in the test's tmp dir.

`make test` installs Chromium (scripts/ensure_chromium.sh) and sets PPIO_REQUIRE_CHROMIUM=1, so there a
missing browser fails the test; run on its own without Chromium, it skips and says why.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ppio_txt2img.gallery import write_gallery
from tests.gallery.gallery_helpers import BatchOut

_BROWSERS = ("chromium", "chromium-browser", "google-chrome")
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


@pytest.fixture(scope="module")
def chromium() -> str:
    found = os.environ.get("PPIO_CHROMIUM") or next(filter(None, map(shutil.which, _BROWSERS)), None)
    if found:
        return found
    reason = (
        "no Chromium found (tried $PPIO_CHROMIUM, "
        + ", ".join(_BROWSERS)
        + "): run scripts/ensure_chromium.sh"
    )
    if os.environ.get("PPIO_REQUIRE_CHROMIUM") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _run(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [chromium, *_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
        stdin=subprocess.DEVNULL,
    )


def _selftest(chromium: str, tmp_path: Path, page: Path) -> dict[str, Any]:
    done = _run(chromium, tmp_path, "--virtual-time-budget=10000", "--dump-dom", f"{page.as_uri()}#selftest")
    found = re.search(r'<pre id="selftest"[^>]*>(.*?)</pre>', done.stdout, re.S)
    assert found is not None, done.stdout[-2000:] + done.stderr[-2000:]
    assert found[1], "the page's self-test did not report: a script did not run\n" + done.stderr[-2000:]
    report: dict[str, Any] = json.loads(html.unescape(found[1]))
    return report


def test_the_gallery_renders_in_chromium_from_file_url(
    chromium: str, batch_out: BatchOut, tmp_path: Path
) -> None:
    page = write_gallery(batch_out.path)

    report = _selftest(chromium, tmp_path, page)

    assert report["problems"] == []  # no script error, no failed load, no console.error
    assert report["images"] == batch_out.images
    assert report["loaded"] == batch_out.images, report["broken"]
    statuses = {"all": len(batch_out.lines)} | {
        s: batch_out.count(s) for s in ("done", "failed", "unknown", "running")
    }
    for status, count in statuses.items():
        shown = report["filters"][status]
        assert (shown["count"], shown["shown"], shown["pressed"]) == (count, count, "true"), status


def test_the_gallery_before_its_thumbnails_exist_loads_the_full_images(
    chromium: str, batch_out: BatchOut, tmp_path: Path
) -> None:
    page = write_gallery(batch_out.path, thumbnail_budget=0)
    report = _selftest(chromium, tmp_path, page)
    assert report["problems"] == []
    assert report["loaded"] == batch_out.images


def test_a_screenshot_of_the_gallery_shows_the_thumbnails(
    chromium: str, batch_out: BatchOut, tmp_path: Path
) -> None:
    page = write_gallery(batch_out.path)
    shot = tmp_path / "gallery.png"

    _run(
        chromium,
        tmp_path,
        "--virtual-time-budget=3000",
        f"--screenshot={shot}",
        "--window-size=1280,900",
        page.as_uri(),
    )

    with Image.open(shot) as picture:
        assert picture.size == (1280, 900)
        counted = picture.convert("RGB").getcolors(maxcolors=1 << 20) or []
        colours = {c for _, c in counted if isinstance(c, tuple)}
    # the solid colours of the first images are on screen (JPEG thumbnails: near, not exact)
    for colour in ((40, 180, 60), (40, 80, 220)):
        assert any(all(abs(a - b) <= 12 for a, b in zip(c, colour, strict=True)) for c in colours), colour


def test_ppio_batch_with_the_sandbox_leaves_a_gallery_chromium_renders_with_every_thumbnail(
    chromium: str, tmp_path: Path
) -> None:
    from ppio_txt2img.cli import main

    prompts = tmp_path / "prompts.jsonl"
    lines = [
        {"prompt": "a red fox", "image_num": 2},
        {"prompt": "a lighthouse"},
        {"prompt": "a bad line", "steps": 0},  # refused before sending: a failed card with its field
    ]
    prompts.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "out"
    args = ["batch", str(prompts), "-o", str(out), "--sandbox", "--sandbox-speed", "50", "-q"]
    code = main([*args, "--set", "width=128", "--set", "height=128", "--set", "steps=2"])

    assert code == 1  # one line failed
    assert (out / "index.html").exists()
    report = _selftest(chromium, tmp_path, out / "index.html")
    assert report["problems"] == []
    assert report["images"] == 3  # the two lines that were done: 2 + 1 images
    assert report["loaded"] == 3, report["broken"]
    assert report["filters"]["failed"]["count"] == 1
    assert all(p.exists() for p in (out / "thumbs").iterdir())
