"""Images and storage: real files of the requested size and format, deterministic, signed and expiring."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from ppio_txt2img.sandbox import Sandbox
from tests.loopback import TLS
from tests.sandbox.sandbox_helpers import AUTH, FakeClock, make_body, poll_until_done, submit


def _images(
    client: httpx.Client, body: dict[str, Any], clock: FakeClock | None = None
) -> list[dict[str, Any]]:
    final = poll_until_done(client, submit(client, body), clock=clock)[-1]
    assert final["task"]["status"] == "TASK_STATUS_SUCCEED"
    images: list[dict[str, Any]] = final["images"]
    return images


@pytest.mark.parametrize(
    ("image_type", "pil_format", "content_type"),
    [("png", "PNG", "image/png"), ("jpeg", "JPEG", "image/jpeg"), ("webp", "WEBP", "image/webp")],
)
def test_images_have_the_requested_count_size_and_format(
    image_type: str, pil_format: str, content_type: str
) -> None:
    sandbox = Sandbox(speed=50, queue_delay=0.0)
    body = make_body(extra={"response_image_type": image_type}, width=320, height=128, image_num=3)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        images = _images(client, body)
        assert len(images) == 3
        for image in images:
            assert image["image_type"] == image_type
            response = httpx.get(image["image_url"], verify=TLS)
            assert response.status_code == 200
            assert response.headers["content-type"] == content_type
            decoded = Image.open(io.BytesIO(response.content))
            decoded.load()
            assert decoded.format == pil_format
            assert decoded.size == (320, 128)


def test_a_hires_fix_gives_images_at_its_target_size_and_the_sdk_takes_them() -> None:
    """Generated at width x height, upscaled to the hires fix's target: the size the images come at, and
    the size the SDK checks them against (it refused every hires-fix image of the sandbox before)."""
    import ppio_txt2img as ppio

    sandbox = Sandbox(speed=50, queue_delay=0.0)
    hires = {"target_width": 384, "target_height": 256, "strength": 0.5}
    body = make_body(width=192, height=128, image_num=2, hires_fix=hires)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        images = _images(client, body)
        sizes = [Image.open(io.BytesIO(httpx.get(i["image_url"], verify=TLS).content)).size for i in images]
        with ppio.Client("k", base_url=url) as sdk:
            generation = sdk.txt2img(
                "a fox", width=192, height=128, hires_fix=ppio.HiresFix(384, 256, 0.5), timeout=30
            )
    assert sizes == [(384, 256), (384, 256)]
    assert [image.size for image in generation.images] == [(384, 256)]


def test_the_largest_images_are_drawn_at_their_full_size() -> None:
    # How fast they are drawn is `make bench`'s business, not a test's.
    sandbox = Sandbox(speed=1000, queue_delay=0.0)
    body = make_body(width=2048, height=2048, image_num=1)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        (image,) = _images(client, body)
        data = httpx.get(image["image_url"], verify=TLS).content
    assert Image.open(io.BytesIO(data)).size == (2048, 2048)


def test_images_are_deterministic_for_prompt_seed_index_and_size() -> None:
    def download(seed: int, prompt: str = "a red fox in the snow") -> list[bytes]:
        sandbox = Sandbox(speed=50, queue_delay=0.0)
        with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
            images = _images(client, make_body(prompt=prompt, seed=seed))
            return [httpx.get(image["image_url"], verify=TLS).content for image in images]

    first, again, other_seed = download(7), download(7), download(8)
    assert first == again
    assert first[0] != first[1]  # each image of a task differs
    assert first[0] != other_seed[0]
    assert download(7, prompt="a blue whale")[0] != first[0]


def test_transparent_background_gives_rgba_png_with_transparent_corners() -> None:
    sandbox = Sandbox(speed=50, queue_delay=0.0)
    body = make_body(enable_transparent_background=True, image_num=1)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        (image,) = _images(client, body)
        decoded = Image.open(io.BytesIO(httpx.get(image["image_url"], verify=TLS).content))
    assert decoded.mode == "RGBA"
    width, height = decoded.size
    for corner in [(0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)]:
        pixel = decoded.getpixel(corner)
        assert isinstance(pixel, tuple)  # RGBA: a tuple per pixel
        assert pixel[3] == 0
    alpha = decoded.getchannel("A")
    assert alpha.getextrema() == (0, 255)  # a visible subject on a transparent background


def test_nsfw_detection_result_is_reported_when_detection_is_enabled() -> None:
    sandbox = Sandbox(speed=50, queue_delay=0.0)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        final = poll_until_done(client, submit(client, make_body(extra={"enable_nsfw_detection": True})))[-1]
    assert final["extra"]["enable_nsfw_detection"] is True
    for image in final["images"]:
        result = image["nsfw_detection_result"]
        assert result["valid"] is True
        assert 0 <= result["confidence"] <= 100


def test_image_url_expires_after_its_ttl_with_403() -> None:
    clock = FakeClock()
    sandbox = Sandbox(speed=50, queue_delay=0.0, image_url_ttl=1, clock=clock)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        (image, _) = _images(client, make_body(), clock)
        assert image["image_url_ttl"] == "1"
        assert httpx.get(image["image_url"], verify=TLS).status_code == 200
        clock.advance(2.05)  # past `expires`: whole seconds, at most 2 s after the answer with a TTL of 1
        expired = httpx.get(image["image_url"], verify=TLS)
    assert expired.status_code == 403
    assert expired.headers["content-type"] == "application/xml"
    assert b"<Code>AccessDenied</Code>" in expired.content
    assert b"expired" in expired.content


def test_tampered_or_missing_signature_is_refused_with_403() -> None:
    sandbox = Sandbox(speed=50, queue_delay=0.0)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        (image, _) = _images(client, make_body())
        forged = image["image_url"].replace("/0.png", "/1.png")
        unsigned = image["image_url"].split("?")[0]
        assert httpx.get(forged, verify=TLS).status_code == 403
        assert httpx.get(unsigned, verify=TLS).status_code == 403
        assert httpx.get(url + "/storage/unknown/0.png", verify=TLS).status_code == 403


def test_storage_ignores_authorization_but_counts_requests_that_send_it() -> None:
    sandbox = Sandbox(speed=50, queue_delay=0.0)
    with sandbox.serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        (image, _) = _images(client, make_body())
        assert httpx.get(image["image_url"], verify=TLS).status_code == 200
        assert sandbox.storage_requests_with_authorization == 0
        assert client.get(image["image_url"]).status_code == 200  # the API client leaks its key
    assert sandbox.storage_requests_with_authorization == 1
    assert sandbox.stats["storage"].count(200) == 2
