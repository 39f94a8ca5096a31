"""`validate` compiled: whether a value passes a schema, answered without interpreting the schema anew.

`_validation.validate` walks the spec for every value it checks (following `$ref`s, finding the
keywords, building field paths for the error it might raise): 65 µs for a task result, which a wait
reads every poll. `compile_check` does that walk once per schema and returns a function of the value
alone that answers only "valid?" (a few µs). When it says no, the caller runs `validate` itself, which
finds the same problem and names it: the answer is the same, and so is the error.

It applies the same rules with the same helpers as `validate` (a test holds the two to the same answers
on the payload corpus and on generated values).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._errors import ValidationError
from ._spec import Schema, Spec, resolve
from ._validation import check_range, check_string, type_ok, without_null

__all__ = ["Check", "compile_check"]

Check = Callable[[Any], bool]


def compile_check(schema: Schema, spec: Spec, *, response: bool = False) -> Check:
    """A function telling whether `validate(value, schema, ..., response=response)` would pass."""
    return _Compiler(spec, response).compile(schema)


def _all(checks: list[Check]) -> Check:
    if not checks:
        return lambda value: True
    first, *rest = checks
    if not rest:
        return first
    later = _all(rest)
    return lambda value: first(value) and later(value)


def _passes(check: Callable[[Any], None]) -> Check:
    """A raising check of `_validation` as a yes/no one (it raises only for bad values: rare)."""

    def passes(value: Any) -> bool:
        try:
            check(value)
        except ValidationError:
            return False
        return True

    return passes


def _type_check(kind: str, response: bool) -> Check:
    """`type_ok` for one type, with the common cases first (a JSON object is a dict, a string a str)."""
    if kind == "string":
        return lambda value: isinstance(value, str)
    if kind == "object":
        return lambda value: type(value) is dict or type_ok(kind, value, response)
    if kind == "array":
        return lambda value: type(value) is list or type_ok(kind, value, response)
    return lambda value: type_ok(kind, value, response)


class _Compiler:
    def __init__(self, spec: Spec, response: bool) -> None:
        self.spec = spec
        self.response = response
        #: Compiled schemas by identity (the spec's resolved `$ref`s are shared), so that a schema that
        #: refers to itself compiles to a loop rather than forever; each kept alive with its cell, so
        #: that no identity is reused while compiling.
        self.done: dict[int, tuple[Schema, list[Check]]] = {}

    def compile(self, schema: Schema) -> Check:
        schema = resolve(self.spec, schema)
        known = self.done.get(id(schema))
        if known is not None:
            seen = known[1]
            return lambda value: seen[0](value)
        cell: list[Check] = []
        self.done[id(schema)] = (schema, cell)
        whole = self._plain(schema)
        only = without_null(schema, self.spec)
        if only is not schema:  # null means absent: anything else is checked against the one branch
            rest = self.compile(only)
            cell.append(lambda value: whole(value) if value is None else rest(value))
        else:
            cell.append(whole)
        return cell[0]

    def _plain(self, schema: Schema) -> Check:
        """As `validate` goes on once the null case is set aside."""
        if "anyOf" in schema:
            branches = [self.compile(b) for b in schema["anyOf"]]
            return lambda value: any(branch(value) for branch in branches)
        checks: list[Check] = []
        kind = schema.get("type")
        response = self.response
        if isinstance(kind, str):
            checks.append(_type_check(kind, response))
        if "enum" in schema:
            enum = list(schema["enum"])
            checks.append(lambda value: any(value == v and type(value) is type(v) for v in enum))
        if not response:
            in_range = _passes(lambda value: check_range(value, schema, ""))
            checks.append(
                lambda value: not isinstance(value, int | float) or isinstance(value, bool) or in_range(value)
            )
        if kind != "number" and kind != "integer":
            string_ok = _passes(lambda value: check_string(value, schema, ""))
            if not {"minLength", "maxLength", "pattern"} & schema.keys():  # only: valid Unicode
                checks.append(lambda value: not isinstance(value, str) or value.isascii() or string_ok(value))
            else:
                checks.append(lambda value: not isinstance(value, str) or string_ok(value))
        if kind == "array":
            checks.append(self._array(schema))
        if kind == "object":
            checks.append(self._object(schema))
        return _all(checks)

    def _array(self, schema: Schema) -> Check:
        imin, imax = schema.get("minItems", 0), schema.get("maxItems")
        items = schema.get("items")
        item = self.compile(items) if items is not None else None

        def array_ok(value: Any) -> bool:
            if not isinstance(value, Sequence):
                return True
            if len(value) < imin or (imax is not None and len(value) > imax):
                return False
            return item is None or all(item(v) for v in value)

        return array_ok

    def _object(self, schema: Schema) -> Check:
        properties: Mapping[str, Schema] = schema.get("properties", {})
        required = list(schema.get("required", []))
        closed = schema.get("additionalProperties") is False and not self.response
        compiled = [(key, self.compile(sub)) for key, sub in properties.items()]

        def object_ok(value: Any) -> bool:
            if not isinstance(value, Mapping):
                return True
            for key in required:
                if key not in value:
                    return False
            if closed and any(key not in properties for key in value):
                return False
            for key, check in compiled:  # noqa: SIM110 (a loop: all() over a generator is slower here)
                if key in value and not check(value[key]):
                    return False
            return True

        return object_ok
