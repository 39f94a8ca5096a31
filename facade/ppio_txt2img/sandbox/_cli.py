"""The `ppio sandbox` command: run the emulator in the foreground until Ctrl-C.

    ppio sandbox --port 8000 --speed 10 --error-rate task_result:429=0.2 --compress model=gzip

Every `SandboxConfig` knob has a flag (the table `FLAGS`; the flag's argparse `dest` is the knob's
name). A flag that fills a per-endpoint map takes `ENDPOINT=VALUE` (`--error-rate` takes
`ENDPOINT:STATUS=RATE`, `--override` takes `ENDPOINT:PATH=VALUE`) and may be repeated.

argparse only collects the strings: `config_from_args` reads them and `SandboxConfig` checks the
ranges, so every bad value is one line naming the flag (exit 2), never a usage dump or a traceback.
An address that cannot be bound is one line too: exit 2 for an unknown host, 1 when it is in use.

Wiring into another CLI: `add_arguments(parser)` adds the options to an `argparse` (sub)parser and
`run_from_args(args)` runs the server with them. `main(argv)` does both, standalone
(`python -m ppio_txt2img.sandbox`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._config import (
    ENDPOINTS,
    ETA_MODES,
    FINISHED_TASK_RESULT,
    JSON_ENDPOINTS,
    PROGRESS_MODES,
    UNKNOWN_FIELDS,
    SandboxConfig,
)
from ._hosts import REDIRECT_STATUSES, REDIRECT_TARGETS
from ._sandbox import Sandbox
from ._server import ListenError
from ._wire import CODINGS

PROG = "ppio sandbox"
DESCRIPTION = "Run an offline emulator of the PPIO / Novita v3 text-to-image API."
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
_MAX_PORT = 65535
_DEFAULTS = SandboxConfig()


# ------------------------------------------------------------------------- reading one value (pure)
def _pair(text: str, separator: str) -> tuple[str, str]:
    key, found, value = text.partition(separator)
    if not found or not key.strip():
        raise ValueError(f"no {separator!r}")
    return key.strip(), value.strip()


def endpoint_value(kind: Callable[[str], Any]) -> Callable[[str], tuple[str, Any]]:
    """A reader of `ENDPOINT=VALUE`, the value converted by `kind`."""

    def read(text: str) -> tuple[str, Any]:
        endpoint, value = _pair(text, "=")
        return endpoint, kind(value)

    return read


def read_error_rate(text: str) -> tuple[tuple[str, int], float]:
    """`ENDPOINT:STATUS=RATE`."""
    key, rate = _pair(text, "=")
    endpoint, status = _pair(key, ":")
    return (endpoint, int(status)), float(rate)


def read_override(text: str) -> tuple[tuple[str, str], Any]:
    """`ENDPOINT:PATH=VALUE`; VALUE is JSON (`123`, `"123"`, `null`, `[1]`), else it is a string."""
    key, raw = _pair(text, "=")
    endpoint, path = _pair(key, ":")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return (endpoint, path), value


def read_image_size(text: str) -> tuple[int, int]:
    """`WIDTHxHEIGHT`."""
    width, x, height = text.lower().partition("x")
    if not x:
        raise ValueError("no 'x'")
    return int(width), int(height)


def read_retry_after(text: str) -> int | None:
    """Whole seconds, or `none`."""
    return None if text.strip().lower() == "none" else int(text)


def read_port(text: str) -> int:
    """A TCP port, 0 for any free one."""
    port = int(text)
    if not 0 <= port <= _MAX_PORT:
        raise ValueError(f"out of range 0-{_MAX_PORT}")
    return port


def _nested(items: list[tuple[tuple[str, Any], Any]]) -> dict[str, dict[Any, Any]]:
    """`[((outer, inner), value), ...]` as `{outer: {inner: value}}` (a later value wins)."""
    result: dict[str, dict[Any, Any]] = {}
    for (outer, inner), value in items:
        result.setdefault(outer, {})[inner] = value
    return result


# ------------------------------------------------------------------------------------------- flags
@dataclass(frozen=True)
class Flag:
    """A flag that sets the `SandboxConfig` knob `knob` (also its argparse `dest`).

    `read` turns one value into the knob's value (or into one item of it); a flag with `combine` may be
    repeated and `combine` folds the items. `shape` says what a value looks like, for error messages.
    A `switch` takes no value."""

    flag: str
    knob: str
    metavar: str
    text: str
    read: Callable[[str], Any] = str
    shape: str = "a string"
    combine: Callable[[list[Any]], Any] | None = None
    switch: bool = False

    @property
    def help(self) -> str:
        default = getattr(_DEFAULTS, self.knob)
        if default is None or self.switch or isinstance(default, Mapping):
            return self.text
        shown = " ".join(map(repr, default)) if isinstance(default, tuple) else default
        return f"{self.text} (default: {shown})"


def _number(flag: str, knob: str, kind: type, metavar: str, text: str) -> Flag:
    shape = "an integer" if kind is int else "a number"
    return Flag(flag, knob, metavar, text, kind, shape)


def _per_endpoint(flag: str, knob: str, metavar: str, text: str, kind: type, example: str) -> Flag:
    return Flag(flag, knob, metavar, text, endpoint_value(kind), f"{metavar}, e.g. {example}", dict)


_ENDPOINTS = ", ".join(ENDPOINTS)

#: Every flag that sets a knob, by group: (title, description, flags).
FLAGS: tuple[tuple[str, str | None, tuple[Flag, ...]], ...] = (
    (
        "server",
        None,
        (
            Flag(
                "--api-key",
                "accepted_api_keys",
                "KEY",
                "accept only this API key (repeatable; default: any non-empty key)",
                combine=frozenset,
            ),
            _number(
                "--seed",
                "seed",
                int,
                "N",
                "seed of every random choice, for a reproducible run (default: random)",
            ),
        ),
    ),
    (
        "tasks",
        None,
        (
            _number("--speed", "speed", float, "X", "divides every task's processing time"),
            _number("--base-seconds", "base_seconds", float, "S", "fixed processing seconds of a task"),
            _number(
                "--seconds-per-megapixel-step",
                "seconds_per_megapixel_step",
                float,
                "S",
                "processing seconds per step per megapixel per image",
            ),
            _number("--queue-delay", "queue_delay", float, "S", "seconds every task stays queued"),
            _number("--ipm", "ipm", int, "N", "rate limit in images per minute, 429 past it (default: none)"),
            _number("--minute", "minute", float, "S", "seconds in the rate limit's minute"),
            _number("--concurrency", "concurrency", int, "N", "tasks processed at once"),
            Flag("--eta-mode", "eta_mode", "{" + ",".join(ETA_MODES) + "}", "how task.eta is reported"),
            Flag(
                "--unknown-fields",
                "unknown_fields",
                "{" + ",".join(UNKNOWN_FIELDS) + "}",
                "request fields the spec does not name: ignored or refused",
            ),
            Flag(
                "--progress-mode",
                "progress_mode",
                "{" + ",".join(PROGRESS_MODES) + "}",
                "how task.progress_percent is reported",
            ),
            _number("--image-url-ttl", "image_url_ttl", int, "S", "seconds image URLs stay valid"),
            _number("--webhook-retries", "webhook_retries", int, "N", "retries of a failed webhook delivery"),
            _number(
                "--webhook-timeout", "webhook_timeout", float, "S", "seconds a webhook endpoint may take"
            ),
        ),
    ),
    (
        "faults",
        f"ENDPOINT is one of {_ENDPOINTS} (the image downloads); repeat a flag for more endpoints.",
        (
            Flag(
                "--error-rate",
                "error_rates",
                "ENDPOINT:STATUS=RATE",
                "answer STATUS instead, with probability RATE, e.g. task_result:429=0.2 "
                "(502 and 504 come as a gateway's HTML page)",
                read_error_rate,
                "ENDPOINT:STATUS=RATE, e.g. task_result:429=0.2",
                _nested,
            ),
            Flag(
                "--retry-after",
                "retry_after",
                "S",
                "Retry-After seconds on 429 and 503, or none",
                read_retry_after,
                "whole seconds or none",
            ),
            _per_endpoint(
                "--drop-rate",
                "drop_rates",
                "ENDPOINT=RATE",
                "close the connection without an answer, with probability RATE "
                "(ENDPOINT txt2img_after_create: after the task was created)",
                float,
                "txt2img=0.1",
            ),
            _per_endpoint(
                "--slow",
                "slow_seconds",
                "ENDPOINT=SECONDS",
                "add this latency to every request",
                float,
                "model=0.5",
            ),
            _number(
                "--truncated-image-rate",
                "truncated_image_rate",
                float,
                "RATE",
                "fraction of image downloads cut short",
            ),
            _number("--fail-rate", "fail_rate", float, "RATE", "fraction of tasks that end FAILED"),
            Flag(
                "--fail-prompt",
                "fail_prompts",
                "TEXT",
                "a prompt containing TEXT fails its task (repeatable; '' for none)",
                combine=tuple,
            ),
            _number(
                "--unknown-status-seconds",
                "unknown_status_seconds",
                float,
                "S",
                "seconds a new task reports the undocumented status TASK_STATUS_WARMING_UP",
            ),
        ),
    ),
    (
        "misbehaving gateways and servers",
        "All off by default; the flags taking ENDPOINT=... are repeatable.",
        (
            _per_endpoint(
                "--compress",
                "compression",
                "ENDPOINT=CODING",
                f"compress bodies ({', '.join(CODINGS)}) when Accept-Encoding allows it",
                str,
                "model=gzip",
            ),
            _per_endpoint(
                "--drip",
                "drip_bytes_per_second",
                "ENDPOINT=BYTES_PER_SECOND",
                "send bodies slowly, in small chunks (the headers at once)",
                float,
                "storage=20000",
            ),
            _per_endpoint(
                "--redirect",
                "redirects",
                "ENDPOINT=TARGET",
                f"redirect every request; TARGET: {', '.join(REDIRECT_TARGETS)} "
                "(the other host is a second listener on 127.0.0.2)",
                str,
                "txt2img=other_host",
            ),
            _number(
                "--redirect-status",
                "redirect_status",
                int,
                "STATUS",
                f"status of the redirects: {', '.join(map(str, REDIRECT_STATUSES))}",
            ),
            Flag(
                "--override",
                "response_overrides",
                "ENDPOINT:PATH=VALUE",
                "replace a field of every answer, e.g. 'task_result:task.eta=\"soon\"' or "
                "task_result:images.0.image_url=123; VALUE is JSON, else a string; ENDPOINT: "
                f"{', '.join(JSON_ENDPOINTS)} or {FINISHED_TASK_RESULT} (finished tasks only)",
                read_override,
                "ENDPOINT:PATH=VALUE, e.g. task_result:task.eta=soon",
                _nested,
            ),
            _per_endpoint(
                "--pad-bytes",
                "pad_bytes",
                "ENDPOINT=BYTES",
                "pad JSON answers with an extra field to this size",
                int,
                "task_result=1000000",
            ),
            _number("--missing-images", "missing_images", int, "N", "images left out of a SUCCEED result"),
            Flag(
                "--image-size",
                "image_size_override",
                "WxH",
                "draw every image at this size, whatever was asked (default: the asked size)",
                read_image_size,
                "WIDTHxHEIGHT, e.g. 1024x768",
            ),
            Flag(
                "--endless-model-pages",
                "endless_model_pages",
                "",
                "GET /v3/model always answers a new next_cursor, going round the models forever",
                switch=True,
            ),
        ),
    ),
)


def _all_flags() -> list[Flag]:
    return [flag for _, _, flags in FLAGS for flag in flags]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox options to `parser` (values stay strings: `config_from_args` reads them)."""
    groups = {title: parser.add_argument_group(title, description) for title, description, _ in FLAGS}
    server = groups["server"]
    server.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default: %(default)s)")
    server.add_argument(
        "--port",
        default=str(DEFAULT_PORT),
        help="port to listen on, 0 for any free one (default: %(default)s)",
    )
    for title, _, flags in FLAGS:
        for flag in flags:
            if flag.switch:
                options: dict[str, Any] = {"action": "store_true", "default": None}
            else:
                options = {"action": "store" if flag.combine is None else "append", "metavar": flag.metavar}
            groups[title].add_argument(flag.flag, dest=flag.knob, help=flag.help, **options)


# ------------------------------------------------------------------------------------------ reading
def _read(flag: Flag, text: str) -> Any:
    try:
        return flag.read(text)
    except ValueError:
        raise ValueError(f"{flag.flag} {text!r}: expected {flag.shape}") from None


def listen_address(args: argparse.Namespace) -> tuple[str, int]:
    """`(host, port)` of the parsed options; ValueError (one line) for a bad port."""
    text = str(getattr(args, "port", DEFAULT_PORT))
    try:
        port = read_port(text)
    except ValueError:
        raise ValueError(f"--port {text!r}: expected a port from 0 to {_MAX_PORT}") from None
    return str(getattr(args, "host", DEFAULT_HOST)), port


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """The `SandboxConfig` the parsed options describe (knobs not given keep their defaults).

    Raises ValueError in one line naming the option when a value is invalid (also `--port`, although
    the port is not part of the config)."""
    listen_address(args)
    knobs: dict[str, Any] = {}
    for flag in _all_flags():
        given = getattr(args, flag.knob, None)
        if given is None:
            continue
        if flag.switch:
            knobs[flag.knob] = bool(given)
        elif flag.combine is None:
            knobs[flag.knob] = _read(flag, given)
        else:
            knobs[flag.knob] = flag.combine([_read(flag, text) for text in given])
    return SandboxConfig(**knobs)


# ------------------------------------------------------------------------------------------ running
def run_from_args(args: argparse.Namespace) -> int:
    """Serve with the parsed options until interrupted (Ctrl-C); the exit status.

    An address that cannot be bound is one line on stderr and exit status 2 (an unknown host, a port
    out of range) or 1 (in use, not an address of this machine). Raises ValueError when the options
    are invalid (see `config_from_args`).
    """
    sandbox = Sandbox(config_from_args(args))
    host, port = listen_address(args)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            sandbox.serve_forever(host, port)
    except ListenError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2 if exc.invalid else 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`ppio sandbox` as a standalone program."""
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        config_from_args(args)
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    return run_from_args(args)
