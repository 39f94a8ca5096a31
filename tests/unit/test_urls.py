"""URLs sent without httpx's parser: only those httpx would send exactly as written (`_urls.py`)."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ppio_txt2img._http import with_query
from ppio_txt2img._io import parsed_url, unsendable
from ppio_txt2img._urls import fetchable_as_written, is_normal, plain_query

# Pieces that httpx keeps, changes or refuses: case, default and odd ports, IPv4-like hosts, dot
# segments, escapes, characters it percent-encodes, non-ASCII, user info, fragments.
_SCHEMES = st.sampled_from(["http", "https", "HTTP", "Https", "ftp", ""])
_HOSTS = st.sampled_from(
    [
        "api.novita.ai",
        "Api.Novita.AI",
        "127.0.0.1",
        "127.0.0.01",
        "256.1.1.1",
        "1.2.3",
        "1a2b3c4",
        "1password.com",
        "localhost",
        "faas-output-image.s3.ap-southeast-1.amazonaws.com",
        "xn--bcher-kva.example",
        "bücher.example",
        "a..b",
        "host.",
        "[::1]",
        "user:pw@host",
        "h_st",
        "",
    ]
)
_PORTS = st.sampled_from(["", ":80", ":443", ":8080", ":08080", ":0", ":65535", ":99999", ":", ":x"])
_PATH_PIECES = st.sampled_from(
    [
        *["/", "a", ".", "..", "%2F", "%", "%zz", "%e2%82%ac", " ", "é", "?", "#", '"', "<", "`", "{", "}"],
        *["|", "\\", "[", "]", ":", "@", "!$&'()*+,;=", "~", "-_.", "X-Amz-Signature", "\t", "\x7f"],
    ]
)
_PATHS = st.lists(_PATH_PIECES, max_size=8).map("".join)
_QUERIES = st.one_of(st.just(""), _PATHS.map(lambda p: "?" + p))
_URLS = st.tuples(_SCHEMES, _HOSTS, _PORTS, _PATHS, _QUERIES).map(
    lambda t: f"{t[0]}://{t[1]}{t[2]}{t[3]}{t[4]}" if t[0] else f"{t[1]}{t[2]}{t[3]}{t[4]}"
)


def _httpx_form(url: str) -> str | None:
    try:
        return str(httpx.URL(url))
    except httpx.InvalidURL:
        return None


@settings(max_examples=300, deadline=None)
@given(_URLS)
@example("http://127.0.0.1:8080/v3/async/task-result")
@example("https://h.example/a/./b")
@example("https://h.example/a/b/..")
@example("https://h.example:443/x")
def test_a_url_taken_as_normal_is_what_httpx_would_send(url: str) -> None:
    if is_normal(url):
        assert _httpx_form(url) == url


def _parsed_verdict(url: str) -> str | None:
    """What `unsendable` says of `url` from httpx's parse alone (its fast path bypassed)."""
    parsed_url.cache_clear()
    try:
        parsed = httpx.URL(url)
        port, host = parsed.port, parsed.host
    except (httpx.InvalidURL, ValueError):
        return "does not parse"
    if parsed.scheme not in ("http", "https") or not host:
        return "not an http(s) URL with a host"
    return "port out of range" if port is not None and not 0 < port < 65536 else None


@settings(max_examples=300, deadline=None)
@given(_URLS)
@example("http://127.0.0.1:65535/x")
@example("http://127.0.0.1:65536/x")
@example("http://127.0.0.1:99999/x")
@example("http://xn--bcher-kva.example..")  # its host fails IDNA decoding only when read
@example("http://xn--zz.example/0.png")  # so does this one's, which looks normal: httpx decodes it to send
@example("http://xn--bcher-kva.example/0.png")  # a good IDNA host: left to httpx's parser all the same
def test_a_url_fetched_without_parsing_is_one_httpx_parses_as_fetchable(url: str) -> None:
    """`unsendable` skips httpx's parser for `fetchable_as_written` URLs: only for those httpx finds
    fetchable, and then it says the same as the parse would (nothing)."""
    if fetchable_as_written(url):
        assert _parsed_verdict(url) is None
        assert unsendable(url) is None
    else:
        assert (unsendable(url) is None) == (_parsed_verdict(url) is None)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.novita.ai/v3/async/task-result",
        "http://127.0.0.1:41234/img/5f0c-11ee/0.png",
        "https://faas-output-image.s3.ap-southeast-1.amazonaws.com/prod/abc/0.png?X-Amz-Algorithm="
        "AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20241130%2Fap-southeast-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20241130T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=ab12",
        "http://localhost:8000",
    ],
)
def test_the_urls_the_client_sends_every_task_are_taken_as_normal(url: str) -> None:
    assert is_normal(url)
    assert fetchable_as_written(url)
    assert _httpx_form(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "HTTPS://api.novita.ai/",
        "https://API.novita.ai/",
        "https://h.example:443/",
        "https://h.example/a/../b",
    ],
)
def test_urls_httpx_would_rewrite_are_left_to_httpx(url: str) -> None:
    assert not is_normal(url)
    assert _httpx_form(url) != url


_VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["5f0c2b1e-1111-4a4a-9b9b-123456789abc", "a b", "a&b", "a=b", "é", "", "~._-"]),
    st.integers(),
    st.booleans(),
    st.none(),
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["https://api.novita.ai/v3/async/task-result", "http://127.0.0.1:9/x?y=1", "HTTP://h/"]),
    st.dictionaries(st.sampled_from(["task_id", "a b", "", "é", "x"]), _VALUES, max_size=3),
)
def test_a_query_built_without_httpx_is_the_one_httpx_builds(url: str, params: dict[str, object]) -> None:
    assert with_query(url, params) == str(httpx.URL(url, params=params))


def test_a_task_id_query_is_built_without_httpx() -> None:
    assert plain_query({"task_id": "5f0c2b1e-1111-4a4a-9b9b-123456789abc"}) == (
        "task_id=5f0c2b1e-1111-4a4a-9b9b-123456789abc"
    )
    assert plain_query({"task_id": "a b"}) is None
    assert plain_query({"n": 3}) is None
    assert plain_query({}) is None
