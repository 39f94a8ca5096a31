"""Validation of requests against the spec, before anything is sent.

A small, strict interpreter of the JSON-Schema keywords the spec uses for requests (`type`, `enum`,
`minimum`/`maximum`, `minLength`/`maxLength`, `pattern`, `maxItems`/`minItems`, `required`,
`properties`, `additionalProperties`, `anyOf`, `$ref`), plus the API's documented cross-field rules.
It raises `ValidationError` naming the field path, the value and what is allowed. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import ValidationError
from ._spec import Schema, Spec, component, load_spec, query_parameters, resolve

__all__ = ["describe", "validate", "validate_models_query", "validate_txt2img_body"]

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


def describe(schema: Schema) -> str:
    """What a (resolved) schema allows, in words: `an integer from 128 to 2048`."""
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    kind = schema.get("type")
    if "anyOf" in schema:
        return " or ".join(describe(b) for b in schema["anyOf"])
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
            f" of {lmin or 0} to {lmax} characters" if lmax is not None else f" of at least {lmin} characters"
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


def _type_ok(kind: str, value: object) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
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


def validate(value: object, schema: Schema, path: str, spec: Spec) -> None:
    """Check `value` against `schema`; raise `ValidationError` for the first problem found."""
    schema = resolve(spec, schema)
    if "anyOf" in schema:
        errors: list[ValidationError] = []
        for branch in schema["anyOf"]:
            try:
                validate(value, branch, path, spec)
            except ValidationError as exc:
                errors.append(exc)
            else:
                return
        raise ValidationError(path, value, describe({"anyOf": [resolve(spec, b) for b in schema["anyOf"]]}))
    kind = schema.get("type")
    if isinstance(kind, str) and not _type_ok(kind, value):
        raise ValidationError(path, value, describe(schema), f"is not {_TYPE_NAMES.get(kind, kind)}")
    if "enum" in schema and not any(value == v and type(value) is type(v) for v in schema["enum"]):
        raise ValidationError(path, value, describe(schema))
    if isinstance(value, int | float) and not isinstance(value, bool):
        _check_range(value, schema, path)
    if isinstance(value, str):
        _check_string(value, schema, path)
    if kind == "array" and isinstance(value, Sequence):
        _check_array(value, schema, path, spec)
    if kind == "object" and isinstance(value, Mapping):
        _check_object(value, schema, path, spec)


def _check_range(value: float, schema: Schema, path: str) -> None:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValidationError(path, value, describe(schema), "is out of range")
    xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if (xlo is not None and value <= xlo) or (xhi is not None and value >= xhi):
        raise ValidationError(path, value, describe(schema), "is out of range")


def _check_string(value: str, schema: Schema, path: str) -> None:
    lmin, lmax = schema.get("minLength", 0), schema.get("maxLength")
    if len(value) < lmin or (lmax is not None and len(value) > lmax):
        raise ValidationError(path, value, describe(schema), f"has length {len(value)}")
    pattern = schema.get("pattern")
    if pattern is not None and not re.search(pattern, value):
        raise ValidationError(path, value, f"a string matching {pattern}", "does not match")


def _check_array(value: Sequence[Any], schema: Schema, path: str, spec: Spec) -> None:
    imin, imax = schema.get("minItems", 0), schema.get("maxItems")
    if len(value) < imin or (imax is not None and len(value) > imax):
        raise ValidationError(path, value, describe(schema), f"has {len(value)} items", show_value=False)
    items = schema.get("items")
    if items is not None:
        for i, item in enumerate(value):
            validate(item, items, f"{path}[{i}]", spec)


def _check_object(value: Mapping[str, Any], schema: Schema, path: str, spec: Spec) -> None:
    properties: Mapping[str, Schema] = schema.get("properties", {})
    prefix = f"{path}." if path else ""
    for key in schema.get("required", []):
        if key not in value:
            allowed = describe(resolve(spec, properties[key])) if key in properties else "a value"
            raise ValidationError(prefix + key, None, allowed, "is required")
    if schema.get("additionalProperties") is False:
        for key in value:
            if key not in properties:
                raise ValidationError(
                    prefix + str(key),
                    value[key],
                    "one of the keys " + ", ".join(properties),
                    "is not a known field",
                )
    for key, sub in properties.items():
        if key in value:
            validate(value[key], sub, prefix + key, spec)


def validate_txt2img_body(body: Mapping[str, Any], spec: Spec | None = None) -> None:
    """Validate a whole `POST /v3/async/txt2img` body: the spec, then the documented cross-field rules."""
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


def validate_models_query(params: Mapping[str, Any], spec: Spec | None = None) -> None:
    """Validate the query of `GET /v3/model` (filters and page size) against the spec's parameters."""
    spec = spec or load_spec()
    known = query_parameters(spec, "/v3/model")
    for name, value in params.items():
        if name not in known:
            raise ValidationError(name, value, "one of " + ", ".join(known), "is not a known query parameter")
        if value is not None:
            validate(value, known[name], name, spec)
