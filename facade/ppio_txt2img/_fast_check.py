"""`validate` compiled: whether a value passes a schema, answered without interpreting the schema anew.

`_validation.validate` walks the spec for every value it checks (following `$ref`s, finding the
keywords, building field paths for the error it might raise): 65 µs for a task result, which a wait
reads every poll. `compile_check` does that walk once per schema and writes a Python function of the
value alone that answers only "valid?": an object's or an array's schema becomes a function of plain
statements, any other schema an expression inside it, ranges and lengths written out as comparisons
(2 µs for a task result, 1.7 µs for a request body; a tree of closures, the way this module first did
it, took 8 µs each). When it says no, the caller runs `validate` itself, which finds the same problem and
names it: the answer is the same, and so is the error.

It applies the rules of `validate` (types through the same `type_ok`), and a test holds the two to the
same answers on the payload corpus and on values made odd in every place. The source written holds no
text of the spec but its property names, each written as a Python literal (`repr`); every other value
it needs (bounds, enums, patterns) is passed in by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._spec import Schema, Spec, resolve
from ._validation import FORMAT_PATTERNS, FORMAT_RANGES, encodes, null_branch, schema_pattern, type_ok

__all__ = ["Check", "compile_check"]

Check = Callable[[Any], bool]


def compile_check(schema: Schema, spec: Spec, *, response: bool = False) -> Check:
    """A function telling whether `validate(value, schema, ..., response=response)` would pass."""
    return _Compiler(spec, response).compile(schema)


#: Kinds whose values are never strings, nor numbers a range could apply to, once their type is checked.
_NOT_TEXT = frozenset({"integer", "number", "array", "object", "boolean", "null"})
_NOT_NUMBER = frozenset({"string", "array", "object", "boolean", "null"})
#: The range keywords, and the comparison by which each refuses a number.
_REFUSED_BY = {"minimum": "<", "maximum": ">", "exclusiveMinimum": "<=", "exclusiveMaximum": ">="}


def _kind(schema: Schema) -> str | None:
    """The schema's `type`, when it names one (`validate` ignores any other)."""
    kind = schema.get("type")
    return kind if isinstance(kind, str) else None


def _is_container(schema: Schema) -> bool:
    """Whether a (resolved) schema is an object's or an array's: checked by a function of its own."""
    return "anyOf" not in schema and _kind(schema) in ("object", "array")


class _Compiler:
    """Writes one function per object or array schema (and per `anyOf` met again inside itself), each
    checking the others by calling them by name: a schema that refers to itself becomes a function that
    calls itself."""

    def __init__(self, spec: Spec, response: bool) -> None:
        self.spec = spec
        self.response = response
        self.names: dict[int, str] = {}  # the functions written, by the identity of their schema
        self.kept: list[Schema] = []  # each schema named, kept alive: no identity is reused meanwhile
        self.inlining: set[int] = set()  # schemas being written out inline, by identity
        self.namespace: dict[str, Any] = {
            "type_ok": type_ok,
            "encodes": encodes,  # as `check_string` asks
            "Mapping": Mapping,
            "Sequence": Sequence,
        }
        self.sources: list[str] = []

    def compile(self, schema: Schema) -> Check:
        name = self._function(schema)
        source = "\n\n".join(self.sources)  # written here alone: names, literals (`repr`) and operators
        exec(compile(source, "<ppio_txt2img compiled check>", "exec"), self.namespace)  # noqa: S102
        check: Check = self.namespace[name]
        return check

    def _const(self, value: Any) -> str:
        name = f"k{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def _literal(self, key: Any) -> str:
        """A property name in the source: a plain str as its literal, anything else passed in by name."""
        return repr(key) if type(key) is str else self._const(key)

    def _function(self, raw: Schema) -> str:
        """The name of the function checking a schema as the spec writes it (`$ref`s followed), written the
        first time. Known by the identity of the spec's own dict: following a `$ref` may make a new one
        each time, and a schema that refers to itself would be written forever."""
        name = self.names.get(id(raw))
        if name is not None:
            return name
        name = self.names[id(raw)] = f"check_{len(self.names)}"
        self.kept.append(raw)
        schema = resolve(self.spec, raw)
        body = (
            self._container(schema) if _is_container(schema) else [f"    return {self._inline(schema, 'v')}"]
        )
        self.sources.append("\n".join([f"def {name}(v):", *body]))
        return name

    def _expr(self, raw: Schema, var: str) -> str:
        """A Python expression: whether the value in variable `var` passes `raw` (as the spec writes it)."""
        schema = resolve(self.spec, raw)
        if id(raw) in self.names or id(raw) in self.inlining or _is_container(schema):
            return f"{self._function(raw)}({var})"
        self.inlining.add(id(raw))
        self.kept.append(raw)
        try:
            return self._inline(schema, var)
        finally:
            self.inlining.discard(id(raw))

    def _inline(self, schema: Schema, var: str) -> str:
        """As `validate` goes: null means absent (checked against the schema as a whole), anything else
        against the one branch of an optional field."""
        branch = null_branch(schema, self.spec)
        if branch is not None:
            return f"({self._plain(schema, var)} if {var} is None else {self._expr(branch, var)})"
        return self._plain(schema, var)

    def _plain(self, schema: Schema, var: str) -> str:
        """The checks of a schema on its own, for a schema that is neither an object nor an array."""
        if "anyOf" in schema:
            return "(" + " or ".join(self._expr(branch, var) for branch in schema["anyOf"]) + ")"
        return "(" + (" and ".join(self._checks(schema, var)) or "True") + ")"

    def _checks(self, schema: Schema, var: str) -> list[str]:
        """What `validate` checks of a value before looking into an object's or an array's members."""
        kind = _kind(schema)
        checks = []
        if kind is not None:
            checks.append(self._type(kind, var))
        if "enum" in schema:
            checks.append(self._enum(list(schema["enum"]), var))
        if not self.response and kind not in _NOT_NUMBER and (in_range := self._range(schema, var)):
            checks.append(f"(not isinstance({var}, (int, float)) or isinstance({var}, bool) or {in_range})")
        if kind not in _NOT_TEXT:
            checks.append(f"(not isinstance({var}, str) or {self._string(schema, var)})")
        return checks

    def _type(self, kind: str, var: str) -> str:
        """`type_ok`, with the common cases first (a JSON object is a dict, a string a str...)."""
        if kind == "string":
            return f"isinstance({var}, str)"
        if kind == "boolean":
            return f"({var} is True or {var} is False)"
        if kind == "null":
            return f"{var} is None"
        plain = {"object": "dict", "array": "list", "integer": "int", "number": "int"}.get(kind)
        general = f"type_ok({kind!r}, {var}, {self.response!r})"
        return f"(type({var}) is {plain} or {general})" if plain else general

    def _enum(self, values: list[Any], var: str) -> str:
        if values and all(type(v) is str for v in values):
            return f"(type({var}) is str and {var} in {self._const(frozenset(values))})"
        return f"any({var} == e and type({var}) is type(e) for e in {self._const(tuple(values))})"

    def _range(self, schema: Schema, var: str) -> str:
        """`check_range` on a number (not a bool), as comparisons; "" when it can refuse none. NaN passes
        as there: no comparison with it is true."""
        parts = []
        known = schema.get("format")
        if isinstance(known, str) and known in FORMAT_RANGES:
            lo, hi = (self._const(bound) for bound in FORMAT_RANGES[known])
            parts.append(f"(not isinstance({var}, int) or {lo} <= {var} <= {hi})")
        for keyword, refused in _REFUSED_BY.items():
            if schema.get(keyword) is not None:
                parts.append(f"not {var} {refused} {self._const(schema[keyword])}")
        return " and ".join(parts)

    def _string(self, schema: Schema, var: str) -> str:
        """`check_string` on a str: valid Unicode (no lone surrogate), its length, its pattern; and its
        string `format` (requests only, as `validate`)."""
        parts = [f"({var}.isascii() or encodes({var}))"]
        lmin, lmax, pattern = schema.get("minLength", 0), schema.get("maxLength"), schema.get("pattern")
        if lmin:
            parts.append(f"len({var}) >= {self._const(lmin)}")
        if lmax is not None:
            parts.append(f"len({var}) <= {self._const(lmax)}")
        if pattern is not None:
            parts.append(f"{self._const(schema_pattern(pattern))}.search({var}) is not None")
        known = FORMAT_PATTERNS.get(schema.get("format", ""))
        if known is not None and not self.response:
            parts.append(f"{self._const(known)}.fullmatch({var}) is not None")
        return "(" + " and ".join(parts) + ")"

    def _container(self, schema: Schema) -> list[str]:
        """The statements of an object's or an array's function (argument `v`)."""
        lines = [f"    if not ({' and '.join(self._checks(schema, 'v'))}):", "        return False"]
        if _kind(schema) == "array":
            lines += self._array(schema)
        else:
            lines += self._object(schema)
        return [*lines, "    return True"]

    def _array(self, schema: Schema) -> list[str]:
        imin, imax = schema.get("minItems", 0), schema.get("maxItems")
        lines = []
        bounds = ([f"len(v) < {self._const(imin)}"] if imin else []) + (
            [] if imax is None else [f"len(v) > {self._const(imax)}"]
        )
        if bounds:
            lines += [f"        if {' or '.join(bounds)}:", "            return False"]
        items = schema.get("items")
        if items is not None:
            lines += [
                "        for y in v:",
                f"            if not {self._expr(items, 'y')}:",
                "                return False",
            ]
        return ["    if type(v) is list or isinstance(v, Sequence):", *lines] if lines else []

    def _object(self, schema: Schema) -> list[str]:
        properties: Mapping[str, Schema] = schema.get("properties", {})
        lines: list[str] = []
        for key in schema.get("required", []):
            lines += [f"        if {self._literal(key)} not in v:", "            return False"]
        if schema.get("additionalProperties") is False and not self.response:
            known = self._const(frozenset(properties))
            lines += [
                "        for key in v:",
                f"            if key not in {known}:",
                "                return False",
            ]
        required = set(schema.get("required", []))
        for key, sub in properties.items():
            literal = self._literal(key)
            lines += [f"        if {literal} in v:", f"            x = v[{literal}]"]
            if self.response and key not in required:  # an optional key sent as null: read as absent
                lines += [f"            if x is not None and not {self._expr(sub, 'x')}:"]
            else:
                lines += [f"            if not {self._expr(sub, 'x')}:"]
            lines += ["                return False"]
        return ["    if type(v) is dict or isinstance(v, Mapping):", *lines] if lines else []
