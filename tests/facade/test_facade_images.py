"""Images: downloaded without the API key, checked (status, size, format, decoding), kept in the API's
order, refreshed once when the URL has expired; and the key never leaks into reprs, errors or logs."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import ppio_txt2img as ppio
from tests.facade.facade_helpers import (
    API_KEY,
    BASE_URL,
    IMAGE_HOST,
    JPEG,
    PNG,
    TASK_ID,
    WEBP,
    AsyncClientFactory,
    ClientFactory,
    FakeClock,
    ScriptedAPI,
    error_response,
    image_entry,
    make_image,
    succeeded,
    task_payload,
)

OLD = f"{IMAGE_HOST}/{TASK_ID}/0.png?X-Amz-Signature=old"
NEW = f"{IMAGE_HOST}/{TASK_ID}/0.png?X-Amz-Signature=new"


def test_images_go_without_the_api_key_even_if_the_users_client_has_an_authorization_header(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    api.finish_with(("0.png", PNG), ("1.png", PNG))
    headers = {"Authorization": "Bearer users-own-default"}

    with httpx.Client(transport=httpx.MockTransport(api), headers=headers) as http:
        make_client(http_client=http).txt2img("a cat")

    assert len(api.image_requests) == 2
    for request in api.image_requests:
        assert "authorization" not in request.headers
        assert API_KEY not in str(request.headers)
    assert len(api.api_requests) == 4
    for request in api.api_requests:
        assert request.headers["authorization"] == f"Bearer {API_KEY}"


def test_a_users_client_level_auth_neither_replaces_the_api_key_nor_reaches_the_image_host(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    api.finish_with(("0.png", PNG))

    with httpx.Client(transport=httpx.MockTransport(api), auth=("user", "password")) as http:
        make_client(http_client=http).txt2img("a cat")

    assert [r.headers["authorization"] for r in api.api_requests] == [f"Bearer {API_KEY}"] * 4
    assert [r.headers.get("authorization") for r in api.image_requests] == [None]


def test_async_images_go_without_credentials_too(
    api: ScriptedAPI, make_async_client: AsyncClientFactory, anyio_backend: str
) -> None:
    api.finish_with(("0.png", PNG))

    async def main() -> None:
        headers = {"Authorization": "Bearer users-own-default"}
        transport = httpx.MockTransport(api.async_handler)
        async with (
            httpx.AsyncClient(transport=transport, headers=headers) as http1,
            httpx.AsyncClient(transport=transport, auth=("user", "password")) as http2,
        ):
            for http in (http1, http2):
                async with make_async_client(http_client=http) as client:
                    await client.txt2img("a cat")

    anyio.run(main, backend=anyio_backend)
    assert [r.headers.get("authorization") for r in api.image_requests] == [None, None]
    assert {r.headers["authorization"] for r in api.api_requests} == {f"Bearer {API_KEY}"}


def test_the_api_key_is_not_in_repr_of_the_client(make_client: ClientFactory) -> None:
    client = make_client()
    assert API_KEY not in repr(client)
    assert API_KEY not in str(client)
    assert repr(client) == f"Client(base_url={BASE_URL!r}, timeout=300, max_retries=2)"


FAILURES: list[Any] = [
    pytest.param(
        lambda api: setattr(api, "submit_script", [error_response(401, "INVALID_API_KEY")]), id="401"
    ),
    pytest.param(lambda api: setattr(api, "submit_script", [httpx.ReadError("reset")]), id="read-error"),
    pytest.param(lambda api: setattr(api, "submit_script", [httpx.Response(200, text="?")]), id="garbage"),
    pytest.param(lambda api: setattr(api, "results", [task_payload("FAILED", reason="x")]), id="failed"),
    pytest.param(lambda api: setattr(api, "results", [task_payload("QUEUED")]), id="timeout"),
    pytest.param(lambda api: setattr(api, "images", {}), id="image-404"),
]


@pytest.mark.parametrize("break_it", FAILURES)
def test_the_api_key_is_in_no_exception_message(
    api: ScriptedAPI, make_client: ClientFactory, break_it: Any
) -> None:
    break_it(api)

    with pytest.raises(ppio.PPIOError) as info:
        make_client().txt2img("a cat", timeout=10)

    error: BaseException | None = info.value
    while error is not None:  # the error and everything it was raised from
        assert API_KEY not in str(error)
        assert API_KEY not in repr(error)
        assert API_KEY not in repr(vars(error))
        error = error.__cause__ or error.__context__


def test_the_api_key_is_in_no_log_record_and_each_request_is_logged_once(
    api: ScriptedAPI, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    api.finish_with(("0.png", PNG), ("1.png", PNG))
    api.results.insert(1, error_response(503, "GET_RESULT_FAILED"))  # a retried request is logged too
    caplog.set_level(logging.DEBUG)  # every logger, httpx's included

    make_client().txt2img("a cat")

    assert caplog.records
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
        assert API_KEY not in repr(record.args)
    ours = [r for r in caplog.records if r.name == "ppio_txt2img" and r.levelno == logging.DEBUG]
    assert len(ours) == len(api.requests) == 7
    messages = [r.getMessage() for r in ours]
    assert [m.split()[0] for m in messages] == [r.method for r in api.requests]
    assert all("Signature" not in m and "sig=" not in m for m in messages)  # signed URLs lose their query
    # httpx's own INFO line of each request, too (an app logging at INFO gets it): no signature there.
    theirs = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(theirs) == 7
    assert not [m for m in theirs if "Signature" in m or "sig=" in m]


def test_an_image_answering_500_is_retried(api: ScriptedAPI, make_client: ClientFactory) -> None:
    (url,) = api.finish_with(("0.png", PNG))
    api.images[url] = [httpx.Response(500, text="oops"), PNG]

    generation = make_client().txt2img("a cat")

    assert generation.images[0].data == PNG
    assert [r.url for r in api.image_requests] == [url, url]


def test_an_image_that_stays_404_raises_image_error_with_the_status(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    (url,) = api.finish_with(("0.png", PNG))
    api.images[url] = [httpx.Response(404, text="NoSuchKey")]

    with pytest.raises(ppio.ImageError) as info:
        make_client().txt2img("a cat")

    error = info.value
    assert (error.task_id, error.index, error.status_code) == (TASK_ID, 0, 404)
    assert error.reason == "NoSuchKey"
    assert "HTTP 404" in str(error)
    assert len(api.polls) == 4  # three polls, then one refresh of the URL


def test_an_image_larger_than_max_image_bytes_is_refused(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    big = make_image("png", size=(64, 64))
    api.finish_with(("0.png", big))

    with pytest.raises(ppio.ImageError, match="larger than 100 bytes") as info:
        make_client(max_image_bytes=100).txt2img("a cat")

    assert (info.value.task_id, info.value.index) == (TASK_ID, 0)


def test_an_image_streamed_without_content_length_is_capped_too(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    (url,) = api.finish_with(("0.png", PNG))
    chunks = [PNG[:40], PNG[40:], b"\0" * 10_000]
    api.images[url] = [lambda request: httpx.Response(200, content=iter(chunks))]

    with pytest.raises(ppio.ImageError, match="larger than 1000 bytes"):
        make_client(max_image_bytes=1000).txt2img("a cat")


@pytest.mark.parametrize(
    ("said", "data", "message"),
    [
        ("png", JPEG, "the API said png but the file is jpeg"),
        ("jpeg", WEBP, "the API said jpeg but the file is webp"),
        ("png", b"<html>AccessDenied</html>", "not a PNG, JPEG or WebP"),
    ],
    ids=["jpeg-for-png", "webp-for-jpeg", "html"],
)
def test_the_image_format_is_sniffed_and_checked_against_image_type(
    api: ScriptedAPI, make_client: ClientFactory, said: str, data: bytes, message: str
) -> None:
    api.finish_with(("0", data), image_type=said)

    with pytest.raises(ppio.ImageError, match=message) as info:
        make_client().txt2img("a cat")

    assert (info.value.task_id, info.value.index) == (TASK_ID, 0)


@pytest.mark.parametrize("image_type", ["jpg", "JPEG"])
def test_image_type_spellings_are_normalised(
    api: ScriptedAPI, make_client: ClientFactory, image_type: str
) -> None:
    api.finish_with(("0.jpg", JPEG), image_type=image_type)

    assert make_client().txt2img("a cat").images[0].format == "jpeg"


@pytest.mark.parametrize(
    "corrupt",
    [PNG[: len(PNG) // 2], JPEG[: len(JPEG) - 40], PNG[:8] + b"\0" * 60],
    ids=["png", "jpeg", "garbled"],
)
def test_a_truncated_or_corrupt_image_raises_image_error_with_task_id_and_index(
    api: ScriptedAPI, make_client: ClientFactory, corrupt: bytes
) -> None:
    kind = "jpeg" if corrupt.startswith(b"\xff\xd8") else "png"
    api.finish_with(("0", make_image(kind)), ("1", corrupt), image_type=kind)

    with pytest.raises(ppio.ImageError, match="does not decode") as info:
        make_client().txt2img("a cat")

    assert (info.value.task_id, info.value.index) == (TASK_ID, 1)


def test_damaged_bytes_whose_fetch_again_meets_the_deadline_raise_image_error_with_what_arrived(
    api: ScriptedAPI, make_client: ClientFactory, clock: FakeClock
) -> None:
    (first, second) = api.finish_with(("0.png", PNG), ("1.png", PNG))

    def the_deadline_passes_while_it_downloads(request: httpx.Request) -> httpx.Response:
        clock.advance(3600)
        raise httpx.ReadTimeout("timed out", request=request)

    api.images[second] = [PNG[:40], the_deadline_passes_while_it_downloads]

    with pytest.raises(ppio.ImageError) as info:
        make_client().txt2img("a cat", image_num=2, timeout=60)

    error = info.value
    assert (error.task_id, error.index) == (TASK_ID, 1)
    assert "after 1 downloads" in str(error)
    assert [image.index for image in error.images] == [0]
    assert [r.url for r in api.image_requests].count(second) == 2
    assert first in [r.url for r in api.image_requests]


def test_images_keep_the_apis_order_and_none_is_dropped(api: ScriptedAPI, make_client: ClientFactory) -> None:
    files = [
        ("0.png", make_image("png", size=(1000, 1024))),
        ("1.png", make_image("png", size=(1024, 1000))),
        ("2.png", make_image("png", size=(1024, 1024))),
        ("3.png", make_image("png", size=(1040, 1040))),
    ]
    urls = api.finish_with(*files)
    # The first answers last: downloads run concurrently and finish out of order.
    api.delays = dict(zip(urls, [0.06, 0.0, 0.03, 0.01], strict=True))

    generation = make_client().txt2img("a cat", image_num=4)

    assert [image.index for image in generation.images] == [0, 1, 2, 3]
    assert [image.data for image in generation.images] == [data for _, data in files]
    assert [image.size for image in generation.images] == [
        (1000, 1024),
        (1024, 1000),
        (1024, 1024),
        (1040, 1040),
    ]
    assert [image.url for image in generation.images] == urls
    assert sorted(r.url for r in api.image_requests) == sorted(urls)


def test_expires_at_is_the_ttl_after_the_result_arrived(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    arrived = []

    def final(request: httpx.Request) -> dict[str, Any]:
        arrived.append(clock.datetime())
        return task_payload("SUCCEED", images=[image_entry(OLD, ttl="600")])

    api.results = [task_payload("QUEUED"), final]
    api.images = {OLD: [PNG]}

    image = make_client().txt2img("a cat").images[0]

    assert image.expires_at == arrived[0] + timedelta(seconds=600)


def test_an_expired_url_is_refreshed_once_through_the_task_result(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    api.results = [succeeded(OLD), succeeded(NEW)]
    api.images = {OLD: [httpx.Response(403, text="<Error>Request has expired</Error>")], NEW: [PNG]}

    generation = make_client().txt2img("a cat")

    assert generation.images[0].data == PNG
    assert generation.images[0].url == NEW
    assert [r.url for r in api.image_requests] == [OLD, NEW]
    assert len(api.polls) == 2  # the wait's poll and one refresh


def test_a_url_that_fails_again_after_its_refresh_raises_image_error_saying_so(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    api.results = [succeeded(OLD), succeeded(NEW)]
    api.images = {OLD: [httpx.Response(403, text="expired")], NEW: [httpx.Response(403, text="expired")]}

    with pytest.raises(ppio.ImageError, match="even after refreshing it") as info:
        make_client().txt2img("a cat")

    assert (info.value.task_id, info.value.index, info.value.status_code) == (TASK_ID, 0, 403)
    assert [r.url for r in api.image_requests] == [OLD, NEW]
    assert len(api.polls) == 2  # refreshed once, not again


def test_a_refresh_that_no_longer_lists_the_image_raises_image_error(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    api.results = [succeeded(OLD), task_payload("SUCCEED", images=[])]
    api.images = {OLD: [httpx.Response(410, text="gone")]}

    with pytest.raises(ppio.ImageError, match="no longer lists") as info:
        make_client().txt2img("a cat")

    assert info.value.index == 0


def bad_result(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b'{"task": {"task_id": "')  # cut short: does not parse


def _unavailable(request: httpx.Request) -> httpx.Response:
    return error_response(503, "SERVICE_UNAVAILABLE")


def _bad_gateway(request: httpx.Request) -> httpx.Response:
    return httpx.Response(502, text="<html>Bad Gateway</html>")


@pytest.mark.parametrize(
    "hiccups",
    [
        [bad_result],
        [bad_result, bad_result],
        [_unavailable] * 4,  # a poll's retries, then one more poll
        [_bad_gateway] * 4,
        [httpx.ConnectError("refused")] * 4,
    ],
    ids=["one bad answer", "two bad answers", "503 past a poll's retries", "HTML 502", "refused"],
)
def test_a_refresh_rides_out_what_a_wait_rides_out(
    api: ScriptedAPI, make_client: ClientFactory, hiccups: list[Any]
) -> None:
    # The refresh is a look at the task within the same call: one bad answer, or a server error that
    # outlasts one poll's retries, must not end the call (it would not end the wait before it).
    api.results = [succeeded(OLD), *hiccups, succeeded(NEW)]
    api.images = {OLD: [httpx.Response(403, text="<Error>Request has expired</Error>")], NEW: [PNG]}

    generation = make_client(max_retries=2).txt2img("a cat")

    assert generation.images[0].url == NEW
    assert [r.url for r in api.image_requests] == [OLD, NEW]
    assert len(api.polls) == 2 + len(hiccups)


def test_a_refresh_that_fails_for_good_is_the_images_error_and_keeps_the_images_that_arrived(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    fine = f"{IMAGE_HOST}/{TASK_ID}/1.png?X-Amz-Signature=fine"
    api.results = [succeeded(OLD, fine), bad_result]  # every look after the first: unreadable
    api.images = {OLD: [httpx.Response(403, text="expired")], fine: [PNG]}

    with pytest.raises(ppio.ImageError, match="refused, and refreshing it failed") as info:
        make_client().txt2img("a cat", image_num=2)

    error = info.value
    assert (error.task_id, error.index, error.status_code) == (TASK_ID, 0, 403)
    assert [image.index for image in error.images] == [1]  # the image that did arrive is kept
    assert isinstance(error.__cause__, ppio.APIResponseValidationError)
    assert len(api.polls) == 1 + 3  # the wait's, then three unreadable answers in a row


def test_a_refresh_refused_by_the_api_is_the_images_error(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    api.results = [succeeded(OLD), error_response(401, "INVALID_API_KEY")]
    api.images = {OLD: [httpx.Response(404, text="gone")]}

    with pytest.raises(ppio.ImageError, match="refreshing it failed: AuthenticationError") as info:
        make_client().txt2img("a cat")

    assert (info.value.index, info.value.status_code) == (0, 404)
    assert isinstance(info.value.__cause__, ppio.AuthenticationError)
    assert len(api.polls) == 2  # not retried: waiting cannot mend a key


def test_async_a_refresh_rides_out_a_bad_answer(
    api: ScriptedAPI, make_async_client: AsyncClientFactory, anyio_backend: str
) -> None:
    api.results = [succeeded(OLD), bad_result, succeeded(NEW)]
    api.images = {OLD: [httpx.Response(403, text="expired")], NEW: [PNG]}

    async def main() -> ppio.Generation:
        async with make_async_client() as client:
            return await client.txt2img("a cat")

    generation = anyio.run(main, backend=anyio_backend)

    assert generation.images[0].url == NEW
    assert len(api.polls) == 3


def test_a_save_that_fails_leaves_no_partial_file(tmp_path: Path) -> None:
    """The bytes go to a temporary file moved into place: a write cut short (here by a file size limit,
    as a full disk would) leaves neither a truncated image nor the temporary file."""
    code = (
        "import resource, signal, sys\n"
        "from ppio_txt2img._results import GeneratedImage\n"
        "image = GeneratedImage('t1', 0, b'x' * 4096, 'png', (1, 1), 'RGB', 'u', None)\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))\n"
        "try:\n"
        "    image.save(sys.argv[1])\n"
        "except OSError as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "out")], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout.strip()) == (0, "OSError"), done.stderr  # EFBIG
    assert list((tmp_path / "out").iterdir()) == []  # neither t1-0.png (truncated) nor its temporary file


def test_save_and_to_pil(api: ScriptedAPI, make_client: ClientFactory, tmp_path: Path) -> None:
    api.finish_with(("0.png", PNG), ("1.jpeg", JPEG), ("2.webp", WEBP), image_type="")

    generation = make_client().txt2img("a cat")

    png, jpeg, webp = generation.images
    assert (png.format, jpeg.format, webp.format) == ("png", "jpeg", "webp")
    assert png.save(tmp_path / "out.png") == tmp_path / "out.png"
    assert (tmp_path / "out.png").read_bytes() == PNG
    assert jpeg.save(tmp_path) == tmp_path / f"{TASK_ID}-1.jpg"
    assert webp.save(tmp_path) == tmp_path / f"{TASK_ID}-2.webp"
    assert (tmp_path / f"{TASK_ID}-2.webp").read_bytes() == WEBP
    # A path ending in "/" is a directory, created when missing (as in the README's quickstart).
    assert png.save(f"{tmp_path}/new/") == tmp_path / "new" / f"{TASK_ID}-0.png"
    assert (tmp_path / "new" / f"{TASK_ID}-0.png").read_bytes() == PNG
    # So is a missing path without an extension: every image of the task gets its own file in it (it
    # was one file, "results", each image overwriting the one before).
    saved = [image.save(tmp_path / "results") for image in generation.images]
    names = [f"{TASK_ID}-{i}.{ext}" for i, ext in enumerate(("png", "jpg", "webp"))]
    assert saved == [tmp_path / "results" / name for name in names]
    assert [path.read_bytes() for path in saved] == [PNG, JPEG, WEBP]
    assert sorted(path.name for path in (tmp_path / "results").iterdir()) == sorted(p.name for p in saved)
    # A file in a directory that is missing: the directory is made (it failed naming a temporary file).
    assert webp.save(tmp_path / "a" / "b" / "owl.webp") == tmp_path / "a" / "b" / "owl.webp"
    assert (tmp_path / "a" / "b" / "owl.webp").read_bytes() == WEBP
    # An image extension of another format: refused, not written as a mislabelled file (a PNG saved
    # as "cat.jpg" was PNG bytes under a JPEG name); .jpeg, and any case, name a JPEG.
    for image, name, right in (
        (png, "cat.jpg", ".png"),
        (jpeg, "cat.PNG", ".jpg"),
        (webp, "cat.gif", ".webp"),
    ):
        with pytest.raises(ppio.ValidationError) as caught:
            image.save(tmp_path / name)
        assert (caught.value.field, caught.value.value) == ("path", str(tmp_path / name))
        assert f"a name ending {right}" in caught.value.allowed
        assert not (tmp_path / name).exists()
    assert jpeg.save(tmp_path / "cat.JPEG") == tmp_path / "cat.JPEG"
    with pytest.raises(ppio.ValidationError):
        png.save(tmp_path / "cat.jfif")  # a JPEG's extension too (/tmp/attack29, finding 9)
    longest = "x" * 251 + ".png"  # at the file system's 255 bytes: the temporary file's name is shorter
    assert png.save(tmp_path / longest) == tmp_path / longest
    assert png.save(tmp_path / "cat.data") == tmp_path / "cat.data"  # not an image's extension: as asked
    picture = png.to_pil()
    assert (picture.size, picture.mode) == ((png.width, png.height), png.mode) == ((1024, 1024), "RGBA")
    assert jpeg.to_pil().format == "JPEG"
    assert "bytes=" in repr(png)
    assert "Signature" not in repr(png)
