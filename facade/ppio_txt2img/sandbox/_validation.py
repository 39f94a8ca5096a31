"""Request validation straight from the OpenAPI document (the spec is the single source of truth).

The spec ships inside the generated package as `ppio_api/openapi.json`. Bodies are checked with a
Draft 2020-12 validator against `#/components/schemas/...`, resolving references through a
`referencing` registry that holds the whole document; query parameters are parsed from their strings
according to the type their schema declares, then validated against that schema.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ppio_txt2img._validation import schema_pattern

_SPEC_URI = "urn:ppio:openapi"
_INTEGER = re.compile(r"-?[0-9]+")
_MAX_ERRORS_IN_MESSAGE = 3


@dataclass(frozen=True)
class Problem:
    """Why a request is invalid: the field path (e.g. `request.width`) and what is wrong with it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@functools.cache
def spec() -> Mapping[str, Any]:
    """The OpenAPI document, as JSON data."""
    text = (importlib.resources.files("ppio_api") / "openapi.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@functools.cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(spec(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)
    return registry


def _integer_format(bits: int) -> Any:
    def check(value: object) -> bool:
        return not isinstance(value, int) or -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)

    return check


#: OpenAPI's integer formats are ranges (`seed` is `format: int64`: 2**63 is refused, as a real server's
#: int64 field would); no other format is checked.
_FORMATS = FormatChecker(formats=())
_FORMATS.checks("int32")(_integer_format(32))
_FORMATS.checks("int64")(_integer_format(64))


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterable[Any]:
    """`pattern` as JSON Schema means it (ECMA-262: `$` only at the very end), as the SDK reads it
    (`schema_pattern`): jsonschema's own reads it with Python's `re`, whose `$` also matches before a
    final line feed, so "abc\\n" passed `^[!-~]+$` here while the SDK refused it."""
    if validator.is_type(instance, "string") and schema_pattern(pattern).search(instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


#: Draft 2020-12, with `pattern` read as JSON Schema reads it.
_Validator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})


@functools.cache
def _validator(pointer: str) -> Any:
    return _Validator({"$ref": f"{_SPEC_URI}#{pointer}"}, registry=_registry(), format_checker=_FORMATS)


def component_schema(name: str) -> Mapping[str, Any]:
    """`#/components/schemas/<name>` (unresolved)."""
    schema: Mapping[str, Any] = spec()["components"]["schemas"][name]
    return schema


def resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a top-level `$ref` to a component schema, if there is one."""
    while "$ref" in schema:
        ref = str(schema["$ref"])
        schema = component_schema(ref.rsplit("/", 1)[-1])
    return schema


def enum_values(name: str) -> tuple[Any, ...]:
    """The `enum` of a component schema."""
    return tuple(component_schema(name)["enum"])


def check_component(
    name: str, instance: Any, *, root: str = "", unknown_fields: bool = False
) -> list[Problem]:
    """Validate `instance` against `#/components/schemas/<name>`; the problems, sorted by field.

    `unknown_fields=True` lets fields the spec does not name through (`additionalProperties: false`
    is then not enforced), as servers that ignore unknown JSON keys do."""
    validator = _validator(f"/components/schemas/{name}")
    errors = [leaf for error in validator.iter_errors(instance) for leaf in _through_nullable(error)]
    if unknown_fields:
        errors = [error for error in errors if error.validator != "additionalProperties"]
    problems = [_problem(error, root) for error in errors]
    return sorted(problems, key=lambda p: (p.field, p.message))


def _through_nullable(error: Any) -> list[Any]:
    """An optional field's `anyOf: [<schema>, {type: "null"}]` that a non-null value failed: the errors of
    the one non-null branch (`request.loras[0].strength` rather than `request.loras`), recursively."""
    branches = error.schema.get("anyOf") if error.validator == "anyOf" else None
    if not isinstance(branches, list) or error.instance is None:
        return [error]
    non_null = [i for i, branch in enumerate(branches) if branch.get("type") != "null"]
    if len(non_null) != 1 or len(branches) != 2:
        return [error]
    inner = [sub for sub in error.context if sub.schema_path and sub.schema_path[0] == non_null[0]]
    return [leaf for sub in inner for leaf in _through_nullable(sub)] or [error]


def without_nulls(value: Any) -> Any:
    """A valid request body with its `null` fields removed: the spec lets every optional field be `null`,
    meaning "not given" (real clients send them), so the emulator then reads the body as if they were
    absent."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def describe(problems: Sequence[Problem]) -> str:
    """One human-readable line naming the first few problems."""
    shown = "; ".join(str(p) for p in problems[:_MAX_ERRORS_IN_MESSAGE])
    more = len(problems) - _MAX_ERRORS_IN_MESSAGE
    return shown + (f" (and {more} more)" if more > 0 else "")


def _path(parts: Iterable[Any], root: str) -> str:
    text = root
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "body"


def _problem(error: Any, root: str) -> Problem:
    parts = list(error.absolute_path)
    validator = error.validator
    if validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        name = missing[0] if missing else "?"
        return Problem(_path([*parts, name], root), "is required")
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        name = extra[0] if extra else "?"
        return Problem(_path([*parts, name], root), "is not a known field (unknown fields are refused)")
    return Problem(_path(parts, root), _short(error.message))


def _short(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "..."


def parse_json_body(raw: bytes) -> tuple[Any, Problem | None]:
    """Decode a request body as strict JSON (no NaN/Infinity, no duplicate-free guarantee needed)."""

    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        text = raw.decode("utf-8")
        value = json.loads(text, parse_constant=refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        return None, Problem("body", f"is not valid JSON ({exc})")
    if _has_non_finite(value):
        return None, Problem("body", "contains a number out of range")
    return value, None


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False


# ---------------------------------------------------------------------------------- query strings


@dataclass(frozen=True)
class QueryParameter:
    """A query parameter of an operation, as the spec declares it."""

    name: str
    required: bool
    schema: Mapping[str, Any]
    pointer: str
    """JSON pointer to the parameter's schema inside the document (its `$ref`s resolve from there)."""

    @property
    def type(self) -> str:
        declared = resolve(self.schema).get("type", "string")
        return str(declared)


@functools.cache
def query_parameters(path: str, method: str) -> tuple[QueryParameter, ...]:
    """The query parameters the spec declares for an operation."""
    operation = spec()["paths"][path][method]
    escaped = path.replace("~", "~0").replace("/", "~1")
    return tuple(
        QueryParameter(
            str(p["name"]),
            bool(p.get("required", False)),
            p.get("schema", {}),
            f"/paths/{escaped}/{method}/parameters/{index}/schema",
        )
        for index, p in enumerate(operation.get("parameters", []))
        if p.get("in") == "query"
    )


def parse_query(
    path: str, method: str, items: Sequence[tuple[str, str]]
) -> tuple[dict[str, Any], list[Problem]]:
    """Parse the declared query parameters from the raw (name, value) pairs; ignore undeclared ones."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for parameter in query_parameters(path, method):
        given = [value for name, value in items if name == parameter.name]
        if not given:
            if parameter.required:
                problems.append(Problem(parameter.name, "is required"))
            continue
        if len(given) > 1:
            problems.append(Problem(parameter.name, "was given more than once"))
            continue
        value, problem = _coerce(parameter, given[0])
        if problem is not None:
            problems.append(problem)
            continue
        validator = _validator(parameter.pointer)
        errors = sorted(validator.iter_errors(value), key=lambda e: str(e.message))
        if errors:
            problems.append(Problem(parameter.name, _short(errors[0].message)))
            continue
        values[parameter.name] = value
    return values, problems


def _coerce(parameter: QueryParameter, raw: str) -> tuple[Any, Problem | None]:
    kind = parameter.type
    if kind == "boolean":
        if raw in ("true", "false"):
            return raw == "true", None
        return None, Problem(parameter.name, f"{raw!r} is not a boolean (true or false)")
    if kind == "integer":
        if _INTEGER.fullmatch(raw):
            return int(raw), None
        return None, Problem(parameter.name, f"{raw!r} is not an integer")
    if kind == "number":
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number, None
        return None, Problem(parameter.name, f"{raw!r} is not a number")
    return raw, None
