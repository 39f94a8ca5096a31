"""A batch's input, read lazily: one request per line, checked as the SDK checks a request.

    .jsonl   one JSON object per line: `prompt` plus any txt2img option (`{"prompt": "a fox", "width": 512}`)
    .txt     one prompt per line

Blank lines are skipped but keep their number, so a line number is always the file's. Defaults (`--set
KEY=VALUE`) apply to every line; a line's own keys win. Each line becomes a `BatchRequest`: the
validated JSON body and the hash of the line's effective request (its fields over the defaults), or
the `ValidationError` that makes it a failed line.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ppio_txt2img._errors import ValidationError
from ppio_txt2img._inputs import to_plain
from ppio_txt2img._request_body import SUBMIT_OPTIONS, build_txt2img_body, split_options
from ppio_txt2img._validation import validate_txt2img_body

__all__ = ["BatchRequest", "check_defaults", "count_lines", "parse_set", "read_lines", "to_request"]

#: Request options a batch line may carry (those of `client.submit`, without the per-call timeout).
LINE_OPTIONS = SUBMIT_OPTIONS - {"timeout"}
#: The suffixes of input files: JSON lines, or one prompt a line (`.txt`). Any other is refused, not
#: guessed: a `.jsonl` misspelt and read as text would buy every JSON object as a prompt.
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
TEXT_SUFFIXES = (".txt",)


@dataclass(frozen=True)
class BatchRequest:
    """One input line: its number (1-based), prompt and options, the request body, and its hash; or the
    error that keeps it from being sent (`error`, with `error_field` for a `ValidationError`)."""

    line: int
    prompt: str | None
    options: Mapping[str, Any]
    body: Mapping[str, Any] | None
    digest: str
    error: str | None = None
    error_field: str | None = None

    @property
    def image_num(self) -> int:
        return int(self.body["request"]["image_num"]) if self.body else 0


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def to_request(line: int, item: object, defaults: Mapping[str, Any] | None = None) -> BatchRequest:
    """A `BatchRequest` from a prompt (str) or a mapping with `prompt` and options, over `defaults`."""
    if isinstance(item, str):
        fields: dict[str, Any] = {**(defaults or {}), "prompt": item}
    elif isinstance(item, Mapping):
        fields = {**(defaults or {}), **item}
    else:
        problem = f"is a {type(item).__name__}, not a JSON object or a prompt"
        return _bad(line, None, {"line": repr(item)}, ValidationError("line", item, "an object", problem))
    prompt = fields.pop("prompt", None)
    try:
        if not isinstance(prompt, str):
            problem = "is required" if prompt is None else "is not a string"
            raise ValidationError("request.prompt", prompt, "a string of 1 to 1024 characters", problem)
        options, body = _checked(prompt, fields)
    except ValidationError as exc:
        return _bad(line, prompt if isinstance(prompt, str) else None, {"prompt": prompt, **fields}, exc)
    # The hash covers what the user asked for (the line over its defaults), not the SDK's own defaults:
    # an SDK upgrade that changes a default must not make a resumed batch buy every line again.
    return BatchRequest(line, prompt, options, body, _digest(to_plain({"prompt": prompt, **options})))


def _checked(prompt: str, fields: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A line's options and its validated request body (or the `ValidationError` that fails it)."""
    options, _ = split_options(fields, allowed=LINE_OPTIONS)
    body = build_txt2img_body(prompt, options)
    validate_txt2img_body(body)
    return options, body


def _bad(line: int, prompt: str | None, raw: object, exc: ValidationError) -> BatchRequest:
    return BatchRequest(line, _recorded(prompt), {}, None, _digest(raw), str(exc), exc.field)


#: How much of a failed line's prompt its record keeps (the API takes 1,024 characters at most).
_RECORDED_PROMPT = 2048


def _recorded(prompt: str | None) -> str | None:
    """A failed line's prompt as its record keeps it: a prompt of megabytes (refused, and never sent)
    cut short, so that the journal, the manifest rewritten every half second and the gallery do not
    carry it whole (40 such lines made 80 MB of each, and a 160 MB page)."""
    if prompt is None or len(prompt) <= _RECORDED_PROMPT:
        return prompt
    return f"{prompt[:_RECORDED_PROMPT]}... ({len(prompt)} characters)"


def read_lines(path: str | Path, defaults: Mapping[str, Any] | None = None) -> Iterator[BatchRequest]:
    """The requests of a `.jsonl` or `.txt` file, one line at a time (never the whole file in memory).
    A file of another suffix, or bad `defaults`, is a `ValidationError` at once, before anything is
    read; a file that cannot be opened, an `OSError` when the first line is read."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in JSON_SUFFIXES + TEXT_SUFFIXES:
        allowed = "a file named .jsonl (.ndjson, .json: one JSON object a line) or .txt (one prompt a line)"
        raise ValidationError("path", str(path), allowed, "has another suffix: its lines' form is not known")
    check_defaults(defaults)
    return _lines(path, suffix in JSON_SUFFIXES, defaults)


def _lines(path: Path, as_json: bool, defaults: Mapping[str, Any] | None) -> Iterator[BatchRequest]:
    # utf-8-sig: a byte order mark (Notepad's, Excel's "UTF-8") is not part of the first line;
    # surrogateescape: a byte that is not UTF-8 fails its own line (`_not_utf8`), not the whole file;
    # newline="\n": a line ends at \n (or \r\n) only, as `count_lines` counts, so a bare \r in a line
    # does not split it in two prompts and shift every later line's number.
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="\n") as lines:
        for number, text in enumerate(lines, start=1):
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            if (error := _not_utf8(text)) is not None:
                yield _bad(number, None, {"line": text}, error)
                continue
            if not as_json:
                yield to_request(number, text, defaults)
                continue
            try:
                item = json.loads(text)
            except ValueError as exc:
                error = ValidationError("line", text, "one JSON object", f"is not JSON ({exc})")
                yield _bad(number, None, {"line": text}, error)
                continue
            except RecursionError:  # nested thousands deep: Python's parser gives up, not this batch
                error = ValidationError("line", text, "one JSON object", "is nested too deeply to read")
                yield _bad(number, None, {"line": text}, error)
                continue
            yield to_request(number, item, defaults)


def _not_utf8(text: str) -> ValidationError | None:
    """The error of a line with a byte that is not UTF-8 (read as a lone surrogate by surrogateescape),
    naming the byte and where it is; None for a line that is all UTF-8."""
    if text.isascii():
        return None
    for position, char in enumerate(text):
        if 0xDC80 <= ord(char) <= 0xDCFF:
            byte = ord(char) - 0xDC00
            problem = (
                f"has a byte that is not UTF-8 (0x{byte:02x}) at character {position + 1}: save the file "
                "as UTF-8 (a Latin-1 or Windows-1252 file, say, keeps an accented letter in one such byte)"
            )
            return ValidationError("line", text, "text in UTF-8", problem)
    return None


def requests_of(items: Iterable[object], defaults: Mapping[str, Any] | None = None) -> Iterator[BatchRequest]:
    """`BatchRequest`s from prompts, mappings or ready `BatchRequest`s (numbered from 1 in order). What
    is one request, or a file's name, rather than many (a str, bytes, a mapping, a path), a table (a
    DataFrame, whose iteration gives its column names), and bad `defaults`, are a `ValidationError` at
    once: iterated, a str was bought a character at a time."""
    if isinstance(items, str | bytes | bytearray | Mapping | os.PathLike) or _is_table(items):
        allowed = "an iterable of prompts or request mappings (read_lines(PATH) for a file)"
        problem = f"is a {type(items).__name__}: {_one_not_many(items)}"
        raise ValidationError("requests", _shown(items), allowed, problem)
    check_defaults(defaults)
    return (
        item if isinstance(item, BatchRequest) else to_request(number, item, defaults)
        for number, item in enumerate(items, start=1)
    )


def _is_table(items: object) -> bool:
    """A DataFrame-like table (pandas, polars: `columns`), which iterates its column names, not rows."""
    return hasattr(items, "columns") or hasattr(items, "iterrows")


def _one_not_many(items: object) -> str:
    if _is_table(items):
        return "a table iterates its column names, not its rows: pass df.to_dict('records')"
    if isinstance(items, Mapping):
        return "one request, not many: pass [request]"
    if isinstance(items, os.PathLike):
        return "a file's name: pass read_lines(path)"
    return "one prompt (or a file's name), not many: pass [prompt], or read_lines(path)"


def _shown(items: object) -> object:
    """A value for the error's text: a str or bytes cut to 200 characters (a whole file read by mistake)."""
    return items[:200] if isinstance(items, str | bytes | bytearray) else items


def check_defaults(defaults: Mapping[str, Any] | None) -> None:
    """Refuse, at once, defaults that would fail every line (`ppio batch --set` refuses them so too):
    not a mapping, a `prompt` (each line has its own), an unknown option or a value out of range."""
    if defaults is None:
        return
    if not isinstance(defaults, Mapping):
        raise ValidationError("defaults", defaults, "a mapping of txt2img options", "is not a mapping")
    if "prompt" in defaults:
        raise ValidationError(
            "defaults.prompt", defaults["prompt"], "no prompt: each line has its own", "is set"
        )
    try:
        _checked("a prompt", defaults)
    except ValidationError as exc:
        raise ValidationError(f"defaults.{exc.field}", exc.value, exc.allowed, exc.problem) from None


def parse_set(assignments: Iterable[str]) -> dict[str, Any]:
    """`--set KEY=VALUE` pairs: the value as JSON when it parses (`512`, `true`, `[...]`), else a string."""
    defaults: dict[str, Any] = {}
    for text in assignments:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {text!r}: expected KEY=VALUE, e.g. width=512")
        try:
            defaults[key.strip()] = json.loads(value)
        except ValueError:
            defaults[key.strip()] = value
    return defaults


def count_lines(path: str | Path) -> int:
    """Non-blank lines of a file, counted in chunks (for progress and ETA; nothing is kept)."""
    count, carry = 0, b""
    with Path(path).open("rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            pieces = (carry + chunk).split(b"\n")
            carry = pieces.pop()
            count += sum(1 for piece in pieces if piece.strip())
    return count + (1 if carry.strip() else 0)
