"""Validation of requests against the spec, before anything is sent.

A small, strict interpreter of the JSON-Schema keywords in `IMPLEMENTED_KEYWORDS`, plus the API's
documented cross-field rules. It raises `ValidationError` naming the field path, the value and what is
allowed. Pure: no I/O. `make generate` refuses a spec whose request schemas use any other keyword
(`unsupported_keywords`): a `multipleOf` this module ignored would let bad requests through.

The same interpreter reads responses (`response=True`), liberally: numbers may come as numeric strings,
ranges are not enforced (the API documents no bounds on what it sends), unknown keys are kept, and an
optional key sent as `null` is read as absent (`"eta": null`: no estimate, as `0` or no key would say).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from ._errors import ValidationError
from ._spec import Schema, Spec, component, load_spec, query_parameters, resolve

__all__ = [
    "ANNOTATION_KEYWORDS",
    "FORMAT_PATTERNS",
    "FORMAT_RANGES",
    "FORMAT_WORDS",
    "IMPLEMENTED_KEYWORDS",
    "check_range",
    "check_string",
    "describe",
    "is_numeric_string",
    "null_branch",
    "request_schemas",
    "schema_pattern",
    "type_ok",
    "unsupported_keywords",
    "validate",
    "validate_models_query",
    "validate_task_id",
    "validate_txt2img_body",
    "without_null",
]

#: The JSON-Schema keywords `validate` enforces (`format`: the integer ranges of int32 and int64).
IMPLEMENTED_KEYWORDS = frozenset(
    {
        "$ref",
        "type",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "format",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "items",
        "required",
        "properties",
        "additionalProperties",
        "anyOf",
    }
)
#: Keywords that describe a value without constraining it.
ANNOTATION_KEYWORDS = frozenset(
    {"description", "default", "examples", "example", "title", "deprecated", "$comment"}
)

#: Integer ranges of the OpenAPI `format`s the spec uses.
#: The integers each `format` allows.
FORMAT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
#: The string `format`s the spec uses, each the whole of what it allows (`fullmatch`), and in words:
#: `uri`, an absolute URI (RFC 3986: a scheme, a colon, then no space or control character). Checked in
#: requests only (a response is read liberally).
FORMAT_PATTERNS = {"uri": re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20\x7f]+")}
FORMAT_WORDS = {"uri": "an absolute URI, such as https://example.com/hook"}
_NUMERIC = re.compile(r"^\s*-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$")

_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "a boolean",
    "object": "an object",
    "array": "a list",
    "null": "null",
}


def _fmt(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def without_null(schema: Schema, spec: Spec) -> Schema:
    """The one branch of an `anyOf [X, {type: null}]` (how the spec writes an optional field that may be
    sent as null), resolved; the schema itself otherwise."""
    branch = null_branch(schema, spec)
    return schema if branch is None else resolve(spec, branch)


def null_branch(schema: Schema, spec: Spec) -> Schema | None:
    """The branch `without_null` takes, as the spec writes it (a `$ref` not followed); None if none."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return None
    rest = [b for b in branches if resolve(spec, b).get("type") != "null"]
    return rest[0] if len(rest) == 1 and len(branches) == 2 else None


def describe(schema: Schema) -> str:
    """What a (resolved) schema allows, in words: `an integer from 128 to 2048`."""
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    kind = schema.get("type")
    if "anyOf" in schema:
        return " or ".join(describe(b) for b in schema["anyOf"])
    if kind == "string" and schema.get("format") in FORMAT_WORDS:
        return FORMAT_WORDS[schema["format"]]
    text = _TYPE_NAMES.get(kind, "a value") if isinstance(kind, str) else "a value"
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is not None and hi is not None:
        text += f" from {_fmt(lo)} to {_fmt(hi)}"
    elif lo is not None:
        text += f" >= {_fmt(lo)}"
    elif hi is not None:
        text += f" <= {_fmt(hi)}"
    lmin, lmax = schema.get("minLength"), schema.get("maxLength")
    if lmin is not None or lmax is not None:
        text += (
            f" of {lmin or 0} to {lmax} characters"
            if lmax is not None
            else f" of at least {lmin} character{'' if lmin == 1 else 's'}"
        )
    imin, imax = schema.get("minItems"), schema.get("maxItems")
    if imax is not None:
        text += f" of at most {imax} items" if not imin else f" of {imin} to {imax} items"
    elif imin:
        text += f" of at least {imin} items"
    if kind == "object" and schema.get("properties"):
        required = schema.get("required", [])
        keys = [f"{k}{'' if k in required else '?'}" for k in schema["properties"]]
        text += " with keys " + ", ".join(keys)
    return text


def is_numeric_string(value: object, *, integer: bool = False) -> bool:
    """A number sent as a string (`"3600"`, `"2.5"`): what responses do with documented numbers."""
    if not isinstance(value, str) or len(value) > 64 or not _NUMERIC.match(value):
        return False
    return not integer or value.strip().lstrip("-").isdigit()


def type_ok(kind: str, value: object, response: bool = False) -> bool:
    if response and kind in ("integer", "number") and is_numeric_string(value, integer=kind == "integer"):
        return True
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return isinstance(value, int) or math.isfinite(value)  # an int of any size is finite
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, Mapping)
    if kind == "array":
        return isinstance(value, Sequence) and not isinstance(value, str | bytes)
    if kind == "null":
        return value is None
    return True


def validate(value: object, schema: Schema, path: str, spec: Spec, *, response: bool = False) -> None:
    """Check `value` against `schema`; raise `ValidationError` for the first problem found.

    `response=True` reads a response liberally (see the module's docstring)."""
    schema = resolve(spec, schema)
    if value is not None and (only := without_null(schema, spec)) is not schema:
        validate(value, only, path, spec, response=response)  # null means absent: check the rest
        return
    if "anyOf" in schema:
        errors: list[ValidationError] = []
        for branch in schema["anyOf"]:
            try:
                validate(value, branch, path, spec, response=response)
            except ValidationError as exc:
                errors.append(exc)
            else:
                return
        raise ValidationError(path, value, describe({"anyOf": [resolve(spec, b) for b in schema["anyOf"]]}))
    kind = schema.get("type")
    if isinstance(kind, str) and not type_ok(kind, value, response):
        raise ValidationError(path, value, describe(schema), f"is not {_TYPE_NAMES.get(kind, kind)}")
    if "enum" in schema and not any(value == v and type(value) is type(v) for v in schema["enum"]):
        raise ValidationError(path, value, describe(schema))
    if isinstance(value, int | float) and not isinstance(value, bool) and not response:
        check_range(value, schema, path)
    if isinstance(value, str) and kind != "number" and kind != "integer":
        check_string(value, schema, path)
        known = FORMAT_PATTERNS.get(schema.get("format", ""))
        if known is not None and not response and known.fullmatch(value) is None:
            raise ValidationError(path, value, describe(schema), f"is not a valid {schema['format']}")
    if kind == "array" and isinstance(value, Sequence):
        _check_array(value, schema, path, spec, response)
    if kind == "object" and isinstance(value, Mapping):
        _check_object(value, schema, path, spec, response)


def check_range(value: float, schema: Schema, path: str) -> None:
    bounds = FORMAT_RANGES.get(schema.get("format", "")) if isinstance(value, int) else None
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        least, most = bounds
        past = f"is past the {schema['format']} range, {least} to {most}"
        raise ValidationError(path, value, describe(schema), past)
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValidationError(path, value, describe(schema), "is out of range")
    xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if (xlo is not None and value <= xlo) or (xhi is not None and value >= xhi):
        raise ValidationError(path, value, describe(schema), "is out of range")


def encodes(text: str) -> bool:
    """Whether `text` is valid Unicode, which can go out as UTF-8 (a lone surrogate cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_string(value: str, schema: Schema, path: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, e.g. from a badly decoded file name
        where = exc.start
        raise ValidationError(
            path, value, "text that is valid Unicode", f"has a lone surrogate at position {where}"
        ) from None
    lmin, lmax = schema.get("minLength", 0), schema.get("maxLength")
    if len(value) < lmin or (lmax is not None and len(value) > lmax):
        raise ValidationError(path, value, describe(schema), f"has length {len(value)}")
    pattern = schema.get("pattern")
    if pattern is not None and schema_pattern(pattern).search(value) is None:
        raise ValidationError(path, value, f"a string matching {pattern}", "does not match")


@cache
def schema_pattern(pattern: str) -> re.Pattern[str]:
    """A JSON Schema `pattern` (an ECMA-262 regular expression) compiled for Python's `re`. Python's `$`
    also matches before a final line feed, ECMA-262's only at the end: outside a class and unescaped, it
    is written `\\Z` here, so that "abc\\n" does not match `^[!-~]+$` (as in the spec's JavaScript and
    Go clients). The rest is read as Python reads it (its `\\d` and `\\w` match more than ASCII, which
    no pattern of the spec relies on)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        elif pattern[i] == "[":  # a class, as `re` reads it: a `]` first (after a `^`) is itself
            end = i + 1
            end += pattern.startswith("^", end)
            end += pattern.startswith("]", end)
            while end < len(pattern) and pattern[end] != "]":
                end += 2 if pattern[end] == "\\" else 1
            out.append(pattern[i : end + 1])
            i = end + 1
        else:
            out.append(r"\Z" if pattern[i] == "$" else pattern[i])
            i += 1
    return re.compile("".join(out))


def _check_array(value: Sequence[Any], schema: Schema, path: str, spec: Spec, response: bool) -> None:
    imin, imax = schema.get("minItems", 0), schema.get("maxItems")
    if len(value) < imin or (imax is not None and len(value) > imax):
        raise ValidationError(path, value, describe(schema), f"has {len(value)} items", show_value=False)
    items = schema.get("items")
    if items is not None:
        for i, item in enumerate(value):
            validate(item, items, f"{path}[{i}]", spec, response=response)


def _check_object(value: Mapping[str, Any], schema: Schema, path: str, spec: Spec, response: bool) -> None:
    properties: Mapping[str, Schema] = schema.get("properties", {})
    prefix = f"{path}." if path else ""
    # An unknown key first: a misspelt one ("promt") is then named, not the one it was meant to be.
    if schema.get("additionalProperties") is False and not response:
        for key in value:
            if key not in properties:
                raise ValidationError(
                    prefix + str(key),
                    value[key],
                    "one of the keys " + ", ".join(properties),
                    "is not a known field",
                )
    for key in schema.get("required", []):
        if key not in value:
            allowed = describe(resolve(spec, properties[key])) if key in properties else "a value"
            raise ValidationError(prefix + key, None, allowed, "is required")
    required = schema.get("required", [])
    for key, sub in properties.items():
        if key in value and not (response and value[key] is None and key not in required):
            validate(value[key], sub, prefix + key, spec, response=response)


def validate_txt2img_body(body: Mapping[str, Any], spec: Spec | None = None) -> None:
    """Validate a whole `POST /v3/async/txt2img` body: the spec, then the documented cross-field rules."""
    if spec is not None or not _txt2img_body_check()(body):  # the check says no: find and name why
        spec = spec or load_spec()
        validate(body, component(spec, "Txt2ImgBody"), "", spec)
    request: Mapping[str, Any] = body["request"]
    extra: Mapping[str, Any] = body.get("extra") or {}
    image_type = extra.get("response_image_type", "png")
    if request.get("enable_transparent_background") and image_type != "png":
        raise ValidationError(
            "extra.response_image_type",
            image_type,
            "'png' when request.enable_transparent_background is true",
            "cannot hold a transparent background",
        )


def prepare_checks() -> None:
    """Compile the checks every call makes of its input now (see `_adapter.prepare`)."""
    _txt2img_body_check()
    _task_id_check()


@cache
def _txt2img_body_check() -> Callable[[Any], bool]:
    """Whether a body passes `Txt2ImgBody` in the packaged spec, compiled once (`_fast_check.py`): the
    interpreter walks the spec anew for every body, at a quarter of a submission's CPU."""
    from ._fast_check import compile_check

    spec = load_spec()
    return compile_check(component(spec, "Txt2ImgBody"), spec)


def validate_task_id(task_id: object, spec: Spec | None = None) -> str:
    """A task id as `GET /v3/async/task-result` takes it (the spec's `task_id` parameter)."""
    if spec is None and _task_id_check()(task_id):
        return task_id  # type: ignore[return-value]  # checked: a string
    spec = spec or load_spec()  # the check says no (or another spec): find and name why
    validate(task_id, query_parameters(spec, "/v3/async/task-result")["task_id"], "task_id", spec)
    return task_id  # type: ignore[return-value]  # validated: a string


@cache
def _task_id_check() -> Callable[[Any], bool]:
    """Whether a task id passes the `task_id` parameter of the packaged spec, compiled once: every
    `get_task` and `wait` checks one."""
    from ._fast_check import compile_check

    spec = load_spec()
    return compile_check(query_parameters(spec, "/v3/async/task-result")["task_id"], spec)


def validate_models_query(params: Mapping[str, Any], spec: Spec | None = None) -> None:
    """Validate the query of `GET /v3/model` (filters and page size) against the spec's parameters."""
    spec = spec or load_spec()
    known = query_parameters(spec, "/v3/model")
    for name, value in params.items():
        if name not in known:
            raise ValidationError(name, value, "one of " + ", ".join(known), "is not a known query parameter")
        if value is not None:
            validate(value, known[name], name, spec)


def _pointer(spec: Spec, ref: str) -> object:
    """What a local `$ref` points at, as written (its own `$ref`s not followed)."""
    target: Any = spec
    for part in ref[2:].split("/"):
        target = (
            target.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(target, Mapping) else None
        )
    return target


def request_schemas(spec: Spec) -> list[tuple[str, object]]:
    """Every schema the SDK validates requests against: the JSON body and the query parameters of each
    operation, each with the JSON pointer where it is written (`$ref`s not yet followed)."""
    found: list[tuple[str, object]] = []
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, Mapping):
                continue
            here = f"#/paths/{path.replace('~', '~0').replace('/', '~1')}/{method}"
            body = resolve(spec, operation.get("requestBody", {})).get("content", {})
            if "application/json" in body:
                found.append(
                    (
                        f"{here}/requestBody/content/application~1json/schema",
                        body["application/json"].get("schema"),
                    )
                )
            for i, raw in enumerate(operation.get("parameters", [])):
                where = raw.get("$ref", f"{here}/parameters/{i}")
                parameter = resolve(spec, raw)
                if parameter.get("in") == "query" and "schema" in parameter:
                    found.append((f"{where}/schema", parameter["schema"]))
    return found


def unsupported_keywords(spec: Spec) -> list[tuple[str, str]]:
    """`(where, keyword)` for each keyword of a request schema that `validate` does not implement, or
    implements only in one form (`type` a single name, `items` one schema, `additionalProperties` a
    boolean). `$ref`s are followed and each target is reported where it is written."""
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()

    def walk(schema: object, where: str) -> None:
        if not isinstance(schema, Mapping):
            problems.append((where, "(not a schema object)"))
            return
        for keyword, value in schema.items():
            here = f"{where}/{keyword}"
            if keyword in ANNOTATION_KEYWORDS or keyword.startswith("x-"):  # x-: OpenAPI extensions
                continue
            if keyword not in IMPLEMENTED_KEYWORDS:
                problems.append((where, keyword))
            elif keyword == "$ref":
                if not isinstance(value, str) or not value.startswith("#/"):
                    problems.append((where, "$ref (not a local reference)"))
                elif value not in seen:
                    seen.add(value)
                    walk(_pointer(spec, value), value)
            elif keyword == "format" and value not in FORMAT_RANGES and value not in FORMAT_PATTERNS:
                problems.append((where, f"format {value!r}"))
            elif keyword == "type" and not isinstance(value, str):
                problems.append((where, "type (as a list)"))
            elif keyword == "additionalProperties" and not isinstance(value, bool):
                problems.append((where, "additionalProperties (as a schema)"))
            elif keyword == "items":
                walk(value, here)
            elif keyword == "properties":
                for name, sub in value.items():
                    walk(sub, f"{here}/{name}")
            elif keyword == "anyOf":
                for i, sub in enumerate(value):
                    walk(sub, f"{here}/{i}")

    for where, schema in request_schemas(spec):
        walk(schema, where)
    return problems
