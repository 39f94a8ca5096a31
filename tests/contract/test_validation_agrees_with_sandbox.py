"""Differential validation: for many generated requests, valid and invalid, the facade's validation
(`_validation.py`, its own interpreter of the spec) and the sandbox's validator (jsonschema on the same
spec, plus the documented cross-field rule) agree on accept or reject.

Two differences are kept out of the generated data: JSON Schema counts 3.0 as an integer, the facade
does not (it refuses to send a float where the API wants an integer); and the sandbox delivers webhooks
to loopback URLs only, a rule of its own, so no webhook is generated.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ppio_txt2img._errors import ValidationError
from ppio_txt2img._spec import component, load_spec, resolve
from ppio_txt2img._validation import validate_txt2img_body
from ppio_txt2img.sandbox import Sandbox
from tests.loopback import TLS

SPEC = load_spec()
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
WRONG_TYPES = st.one_of(TEXT, st.booleans(), st.none(), st.lists(st.integers(), max_size=2))


def valid_values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values `schema` allows, boundaries included."""
    schema = dict(resolve(SPEC, schema))
    kind = schema.get("type")
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if kind == "integer":
        lo, hi = schema.get("minimum", -(2**31)), schema.get("maximum", 2**31)
        return st.one_of(st.sampled_from([lo, hi]), st.integers(lo, hi))
    if kind == "number":
        lo, hi = schema.get("minimum", -1e6), schema.get("maximum", 1e6)
        return st.one_of(st.sampled_from([lo, hi]), st.floats(lo, hi, allow_nan=False, allow_infinity=False))
    if kind == "string":
        lmin, lmax = schema.get("minLength", 0), schema.get("maxLength", 40)
        return st.one_of(st.just("a" * lmax), st.integers(max(lmin, 1), min(lmax, 30)).map(lambda n: "b" * n))
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(valid_values(schema["items"]), max_size=schema.get("maxItems", 3))
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties", {})
        required = {k: valid_values(v) for k, v in properties.items() if k in schema.get("required", [])}
        optional = {k: valid_values(v) for k, v in properties.items() if k not in required}
        return st.fixed_dictionaries(required, optional=optional)
    return st.none()


def invalid_values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values just outside what `schema` allows, or of the wrong type."""
    schema = dict(resolve(SPEC, schema))
    kind = schema.get("type")
    if "enum" in schema:
        return st.one_of(TEXT.filter(lambda v: v not in schema["enum"]), st.integers(-1, 3), st.booleans())
    if kind == "integer":
        lo, hi = schema.get("minimum", -(2**31)), schema.get("maximum", 2**31)
        return st.one_of(st.sampled_from([lo - 1, hi + 1, lo - 7, hi + 7]), WRONG_TYPES, st.just(lo + 0.5))
    if kind == "number":
        lo, hi = schema.get("minimum", -1e6), schema.get("maximum", 1e6)
        return st.one_of(st.sampled_from([lo - 0.01, hi + 0.01, lo - 1, hi + 1]), WRONG_TYPES)
    if kind == "string":
        lmin, lmax = schema.get("minLength", 0), schema.get("maxLength")
        too = [*(["a" * (lmax + 1)] if lmax is not None else []), *([""] if lmin > 0 else [])]
        return (
            st.one_of(st.sampled_from(too), st.sampled_from(too), st.integers(), st.booleans())
            if too
            else st.integers()
        )
    if kind == "boolean":
        return st.sampled_from([0, 1, "true", None])
    if kind == "array":
        longest = schema.get("maxItems", 3)
        return st.one_of(
            st.lists(valid_values(schema["items"]), min_size=longest + 1, max_size=longest + 2),
            st.lists(invalid_values(schema["items"]), min_size=1, max_size=2),
            TEXT,
        )
    if kind == "object":
        return broken_objects(schema)
    return WRONG_TYPES


def broken_objects(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A valid object with one thing wrong: a required key missing, an unknown key, or one bad value."""
    properties: dict[str, Any] = schema.get("properties", {})
    required = list(schema.get("required", []))

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        obj = dict(draw(valid_values(schema)))
        how = draw(st.sampled_from(["missing", "unknown", "bad"] if required else ["unknown", "bad"]))
        if how == "missing":
            obj.pop(draw(st.sampled_from(required)))
        elif how == "unknown":
            obj["not_a_field"] = 1
        else:
            name = draw(st.sampled_from(list(properties)))
            obj[name] = draw(invalid_values(properties[name]))
        return obj

    return build()


def values_for(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Mostly valid values, sometimes one just outside."""
    return st.one_of(valid_values(schema), valid_values(schema), invalid_values(schema))


def objects_for(schema: dict[str, Any], base: dict[str, Any]) -> st.SearchStrategy[Any]:
    """`base` with up to two properties replaced, sometimes a required one dropped or an unknown key added."""
    properties: dict[str, Any] = schema.get("properties", {})
    required = list(schema.get("required", []))

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        obj: dict[str, Any] = dict(base)
        for name in draw(st.lists(st.sampled_from(list(properties)), min_size=1, max_size=2, unique=True)):
            obj[name] = draw(values_for(properties[name]))
        # (Not 0: hypothesis draws the smallest value far more often than the others.)
        if required and draw(st.integers(0, 19)) == 13:
            obj.pop(draw(st.sampled_from(required)), None)
        if draw(st.integers(0, 19)) == 13:
            obj["not_a_field"] = 1
        return obj

    return build()


VALID_REQUEST = {
    "model_name": "sd_xl_base_1.0.safetensors",
    "prompt": "a fox",
    "width": 512,
    "height": 512,
    "image_num": 1,
    "steps": 20,
    "guidance_scale": 7.5,
    "sampler_name": "Euler a",
}


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    request = draw(objects_for(dict(component(SPEC, "Txt2ImgRequest")), base=VALID_REQUEST))
    body: dict[str, Any] = {"request": request}
    if draw(st.booleans()):
        body["extra"] = draw(values_for(dict(component(SPEC, "Txt2ImgExtra"))))
        if isinstance(body["extra"], dict):
            # The sandbox only delivers webhooks to loopback URLs (its own rule, not the API's).
            body["extra"].pop("webhook", None)
    if draw(st.integers(0, 4)) == 3:  # the cross-field rule, often
        request["enable_transparent_background"] = True
        extra = body.setdefault("extra", {})
        if isinstance(extra, dict):
            extra["response_image_type"] = draw(st.sampled_from(["png", "jpeg", "webp"]))
    return body


def facade_accepts(body: dict[str, Any]) -> bool:
    try:
        validate_txt2img_body(body)
    except ValidationError:
        return False
    return True


@pytest.fixture(scope="module")
def sandbox_client() -> Iterator[httpx.Client]:
    sandbox = Sandbox(speed=1000, queue_delay=0, seed=3, concurrency=64)
    with (
        sandbox.serve() as base_url,
        httpx.Client(base_url=base_url, headers={"Authorization": "Bearer k"}, verify=TLS) as client,
    ):
        yield client


@settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies())
def test_facade_and_sandbox_agree_on_accept_or_reject(
    sandbox_client: httpx.Client, body: dict[str, Any]
) -> None:
    response = sandbox_client.post("/v3/async/txt2img", json=body)
    assert response.status_code in (200, 400), response.text
    sandbox_accepts = response.status_code == 200
    assert facade_accepts(body) == sandbox_accepts, (response.text, body)


def test_the_generated_requests_cover_both_outcomes(sandbox_client: httpx.Client) -> None:
    """The differential test is only meaningful if it sees accepted and rejected requests alike."""
    outcomes: set[bool] = set()

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(body=bodies())
    def collect(body: dict[str, Any]) -> None:
        outcomes.add(facade_accepts(body))

    collect()
    assert outcomes == {True, False}
