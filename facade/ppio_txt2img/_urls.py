"""URLs as httpx sends them, without running httpx's parser when there is nothing for it to change.

Every poll and every image download is a URL the client has not sent before (a task id in the query, a
signed image URL); httpx's parser (IDNA and IPv4 checks, percent-encoding, dot segments) costs about
0.15 ms of CPU per URL, as much as a tenth of the async client's work per request. Most URLs are already
in httpx's normal form: `is_normal` recognises them with one pattern and leaves the rest to httpx.
`tests/unit/test_urls.py` checks, on generated URLs, that the pattern never accepts one that httpx would
change or refuse. Pure; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["fetchable_as_written", "is_normal", "plain_query", "without_query"]

# Characters httpx leaves as they are: unreserved, sub-delims and its path / query safe sets (printable
# ASCII but for space and the characters below; "%" is kept whether or not an escape follows it).
_PATH_CHARS = r"[!$%&'()*+,\-./0-9:;=@A-Z\[\\\]^_a-z|~]"
_QUERY_CHARS = r"[!$%&'()*+,\-./0-9:;=?@A-Z\[\\\]^_`a-z{|}~]"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_NORMAL = re.compile(
    r"(?P<scheme>https?)://"
    # a lower-case DNS name that starts with a letter, or a dotted IPv4 address without leading zeros; not
    # one that starts with an IDNA label (`xn--`): httpx decodes such a host when it sends, and may fail
    rf"(?:(?!xn--)[a-z][a-z0-9\-]*(?:\.[a-z0-9\-]+)*|{_OCTET}(?:\.{_OCTET}){{3}})"
    r"(?::(?P<port>[1-9][0-9]{0,4}))?"
    rf"(?P<path>/{_PATH_CHARS}*)?"
    rf"(?:\?{_QUERY_CHARS}*)?"
)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_PLAIN_NAME = re.compile(r"[A-Za-z0-9\-._~]+")
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9\-._~]*")


def _normal(url: str) -> re.Match[str] | None:
    """The pattern's match of `url` when httpx would send it exactly as it is written."""
    match = _NORMAL.fullmatch(url)
    if match is None or match["port"] == _DEFAULT_PORTS[match["scheme"]]:
        return None
    path = match["path"]
    if path is None or "." not in path:
        return match
    segments = path.split("/")
    return None if "." in segments or ".." in segments else match  # httpx would drop dot segments


def is_normal(url: str) -> bool:
    """Whether httpx would send `url` exactly as it is written (`str(httpx.URL(url)) == url`).

    False says nothing: the URL may still be normal, or wrong (httpx decides)."""
    return _normal(url) is not None


def fetchable_as_written(url: str) -> bool:
    """Whether `url` is in httpx's normal form with a port in range, if it has one: an http(s) URL with a
    host, which every transport can fetch (`_io.unsendable` has nothing to say of it). False says
    nothing (httpx's parser decides)."""
    match = _normal(url)
    return match is not None and (match["port"] is None or int(match["port"]) < 65536)


def plain_query(params: Mapping[str, Any]) -> str | None:
    """The query string httpx makes of `params` when every name and value is a string of unreserved
    characters (`task_id=...`): they are joined as they are. None for anything else, and for no
    parameters at all (httpx decides)."""
    if not params:
        return None
    parts = []
    for name, value in params.items():
        if not (
            isinstance(name, str)
            and isinstance(value, str)
            and _PLAIN_NAME.fullmatch(name)
            and _PLAIN_VALUE.fullmatch(value)
        ):
            return None
        parts.append(f"{name}={value}")
    return "&".join(parts)


def without_query(url: str) -> str:
    """A URL without its query string and fragment (image URLs carry their signature there)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
