"""Turning `txt2img(prompt, **options)` into the JSON body the API takes. Pure: no I/O.

Defaults are the SDK's (`_constants.py`); the limits the result is checked against are the spec's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from . import _constants as C
from ._errors import ValidationError
from ._inputs import CallOptions, GenerateOptions, SubmitOptions, WaitOptions, to_plain
from ._options import OPTION_PATHS
from ._validation import encodes

__all__ = [
    "CALL_OPTIONS",
    "GENERATE_OPTIONS",
    "REQUEST_DEFAULTS",
    "SUBMIT_OPTIONS",
    "WAIT_OPTIONS",
    "body_option",
    "build_txt2img_body",
    "check_extras",
    "expected_result",
    "merge_extra_body",
    "split_options",
]

#: What a bare `txt2img("a cat")` asks for: SDXL base, 1024x1024, 20 steps, 7.5, "Euler a", 1 image.
REQUEST_DEFAULTS: Mapping[str, Any] = C.REQUEST_DEFAULTS

_WAIT_KEYS = frozenset(WaitOptions.__annotations__) | {"extra_body"}

#: The option names each call accepts.
GENERATE_OPTIONS = frozenset(GenerateOptions.__annotations__)
SUBMIT_OPTIONS = frozenset(SubmitOptions.__annotations__)
WAIT_OPTIONS = frozenset(WaitOptions.__annotations__)
CALL_OPTIONS = frozenset(CallOptions.__annotations__)


def split_options(
    options: Mapping[str, Any], *, allowed: frozenset[str], problem: str = "is not a known option"
) -> tuple[dict[str, Any], WaitOptions]:
    """Separate request options from wait options; a name outside `allowed` is a `ValidationError`."""
    for name in options:
        if name not in allowed:
            raise ValidationError(name, options[name], "one of " + ", ".join(sorted(allowed)), problem)
    callback = options.get("on_progress")
    if callback is not None and not callable(callback):
        raise ValidationError("on_progress", callback, "a callable taking a Task", "is not callable")
    request = {k: v for k, v in options.items() if k not in _WAIT_KEYS}
    wait: WaitOptions = {k: v for k, v in options.items() if k in _WAIT_KEYS}  # type: ignore[assignment]
    return request, wait


def build_txt2img_body(prompt: str, options: Mapping[str, Any] | GenerateOptions) -> dict[str, Any]:
    """The body of `POST /v3/async/txt2img`, not yet validated. None-valued options are left out."""
    request: dict[str, Any] = {**REQUEST_DEFAULTS, "prompt": prompt}
    body: dict[str, Any] = {"request": request}
    for name, value in options.items():
        if value is None or name in _WAIT_KEYS:
            continue
        path = OPTION_PATHS.get(name)
        if path is None:
            raise ValidationError(name, value, "a documented option", "is not a known option")
        target = body
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = to_plain(value, name)
    return body


def body_option(body: Mapping[str, Any], name: str) -> Any:
    """The value option `name` has in a body `build_txt2img_body` made (None when it is not set)."""
    value: Any = body
    for part in OPTION_PATHS[name]:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def expected_result(
    body: Mapping[str, Any], extra_body: Mapping[str, Any] | None = None
) -> tuple[int | None, tuple[int, int] | None]:
    """How many images a validated body asks for, and their size (the hires-fix target, if any). What
    `extra_body` (merged unchecked) sets of them in `request` is not known: None, never checked against
    (a size set there made the right images an `ImageError`)."""
    request = body["request"]
    hires = request.get("hires_fix")
    size: tuple[int, int] | None = (
        (hires["target_width"], hires["target_height"]) if hires else (request["width"], request["height"])
    )
    image_num: int | None = request["image_num"]
    overrides = (extra_body or {}).get("request")
    if isinstance(overrides, Mapping):
        if "image_num" in overrides:
            image_num = None
        if any(key in overrides for key in ("width", "height", "hires_fix")):
            size = None
    return image_num, size


#: What HTTP lets a header be (RFC 9110 5.1, 5.5): a name of token characters; a value of visible ASCII
#: with spaces and tabs inside, none at either end. httpx refuses other text without sending anything,
#: but as an error that reads as "may have been sent" (h11's), and aiohttp sends it as it is.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"(?:[\x21-\x7e](?:[ \t\x21-\x7e]*[\x21-\x7e])?)?")


def _header_problem(name: object, value: object) -> tuple[str, str] | None:
    """What is allowed, and what is wrong, when a header cannot go out as HTTP allows; None when it can."""
    if not (isinstance(name, str) and _HEADER_NAME.fullmatch(name)):
        allowed = "a header name of letters, digits and !#$%&'*+-.^_`|~ (no spaces, no colon)"
        return allowed, "cannot be sent as an HTTP header name"
    if not (isinstance(value, str) and _HEADER_VALUE.fullmatch(value)):
        allowed = "a string of printable ASCII, with spaces or tabs only between other characters"
        return allowed, "cannot be sent as an HTTP header value"
    return None


def check_extras(options: Mapping[str, Any]) -> None:
    """The escape hatches are not checked against the spec, but must be sendable at all: headers HTTP
    allows (`_HEADER_NAME`, `_HEADER_VALUE`), a query of scalars in UTF-8, a body of JSON in UTF-8.
    Raises `ValidationError` (a header's value is not shown: it may be a credential)."""
    headers = options.get("extra_headers")
    if headers is not None:
        if not isinstance(headers, Mapping):
            raise ValidationError("extra_headers", headers, "a mapping of header names to strings")
        for name, value in headers.items():
            wrong = _header_problem(name, value)
            if wrong is not None:
                allowed, problem = wrong
                raise ValidationError(f"extra_headers[{name!r}]", "<not shown>", allowed, problem)
    query = options.get("extra_query")
    if query is not None and not (
        isinstance(query, Mapping)
        and all(
            isinstance(k, str) and encodes(k) and isinstance(v, str | int | float | bool) and encodes(str(v))
            for k, v in query.items()
        )
    ):
        raise ValidationError(
            "extra_query", query, "a mapping of names to strings, numbers or booleans, as UTF-8 text"
        )
    body = options.get("extra_body")
    if body is not None:
        if not isinstance(body, Mapping):
            raise ValidationError("extra_body", body, "a mapping merged into the request body")
        try:  # as the request's body is encoded: UTF-8, so a lone surrogate cannot go
            json.dumps(body, allow_nan=False, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValidationError(
                "extra_body", body, "JSON: dicts, lists, strings, numbers, as UTF-8 text", str(exc)
            ) from None


def merge_extra_body(body: Mapping[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """`body` with `extra` merged in: nested objects key by key, anything else replaced."""
    merged = dict(body)
    for key, value in (extra or {}).items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_extra_body(merged[key], value)
        else:
            merged[key] = value
    return merged
