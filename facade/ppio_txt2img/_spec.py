"""The OpenAPI spec, as shipped inside the generated package (`ppio_api/openapi.json`).

`make generate` writes that JSON copy of `openapi/ppio.yaml` next to the generated code, so the limits,
enums and required fields the facade enforces are always those of the spec it was generated from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any, cast

Spec = Mapping[str, Any]
Schema = Mapping[str, Any]


@cache
def load_spec() -> Spec:
    """The spec the installed `ppio_api` was generated from (read once, on first use)."""
    from ._adapter import spec_text

    spec = cast(Spec, json.loads(spec_text()))
    _SHIPPED["spec"] = spec
    return spec


#: The spec `load_spec` read, once it has.
_SHIPPED: dict[str, Spec] = {}
#: Resolved plain `{"$ref": ...}` schemas of the shipped spec (read-only, so shared), by reference: checking
#: a response follows some thirty of them.
_RESOLVED: dict[str, Schema] = {}


def resolve(spec: Spec, schema: Schema) -> Schema:
    """Follow `$ref`s (local ones only); sibling keywords of a `$ref` override the target's."""
    if "$ref" not in schema:
        return schema
    shipped = len(schema) == 1 and spec is _SHIPPED.get("spec")
    if shipped and (known := _RESOLVED.get(schema["$ref"])) is not None:
        return known
    resolved = _resolve(spec, schema)
    if shipped:
        _RESOLVED[schema["$ref"]] = resolved
    return resolved


def _resolve(spec: Spec, schema: Schema) -> Schema:
    seen: set[str] = set()
    while "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/") or ref in seen:
            raise ValueError(f"unsupported or circular $ref {ref!r} in the spec")
        seen.add(ref)
        target: Any = spec
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **siblings}
    return schema


def component(spec: Spec, name: str) -> Schema:
    """A named schema of `components.schemas`, resolved."""
    return resolve(spec, {"$ref": f"#/components/schemas/{name}"})


def query_parameters(spec: Spec, path: str, method: str = "get") -> dict[str, Schema]:
    """The query parameters of an operation: name -> resolved schema."""
    operation = spec["paths"][path][method]
    return {
        p["name"]: resolve(spec, p.get("schema", {}))
        for p in (resolve(spec, raw) for raw in operation.get("parameters", []))
        if p.get("in") == "query"
    }


@cache
def largest_image_pixels() -> int:
    """The most pixels an image of this API can have: the largest `hires_fix` target the spec allows
    (or the largest width x height, if that is larger). Anything bigger is refused before decoding."""
    spec = load_spec()
    hires = component(spec, "HiresFix")["properties"]
    request = component(spec, "Txt2ImgRequest")["properties"]
    return max(
        int(hires["target_width"]["maximum"]) * int(hires["target_height"]["maximum"]),
        int(request["width"]["maximum"]) * int(request["height"]["maximum"]),
    )
