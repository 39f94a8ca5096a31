"""Validation happens before any request, against the limits of the spec the client was generated from.

The bounds are read from the shipped spec (`ppio_api/openapi.json`), never restated here: each case is
derived from a schema property, so a changed limit in `openapi/ppio.yaml` moves these tests with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml

import ppio_txt2img as ppio
from ppio_txt2img._spec import component, load_spec, resolve
from ppio_txt2img._validation import validate_txt2img_body
from tests.facade.facade_helpers import AsyncClientFactory, ClientFactory, ScriptedAPI

ROOT = Path(__file__).resolve().parents[2]
SPEC = load_spec()


# A valid value of each nested object; one field at a time is then pushed to (and past) its bounds.
VALID_NESTED: dict[str, dict[str, Any]] = {
    "Lora": {"model_name": "add_detail.safetensors", "strength": 0.5},
    "Embedding": {"model_name": "easynegative.pt"},
    "HiresFix": {"target_width": 2048, "target_height": 2048, "strength": 0.5, "upscaler": "Latent"},
    "Refiner": {"switch_at": 0.5},
}

# Txt2ImgExtra fields that `txt2img()` takes as keyword options (the rest are not exposed).
EXTRA_OPTIONS = ("response_image_type", "enable_nsfw_detection", "nsfw_detection_level")


def call_for(schema_name: str, prop: str, value: Any) -> tuple[str, tuple[str, dict[str, Any]], list[str]]:
    """How to put `value` into `schema_name.prop` through `txt2img()`.

    Returns (field path in the body, (prompt, keyword options), path into the POSTed JSON).
    """
    if schema_name == "Txt2ImgRequest":
        if prop == "prompt":
            return "request.prompt", (value, {}), ["request", "prompt"]
        return f"request.{prop}", ("a cat", {prop: value}), ["request", prop]
    if schema_name == "Txt2ImgExtra":
        return f"extra.{prop}", ("a cat", {prop: value}), ["extra", prop]
    item = {**VALID_NESTED[schema_name], prop: value}
    if schema_name in ("Lora", "Embedding"):
        key = "loras" if schema_name == "Lora" else "embeddings"
        # The bad item is the third, so the path shows the index.
        items = [VALID_NESTED[schema_name], VALID_NESTED[schema_name], item]
        return f"request.{key}[2].{prop}", ("a cat", {key: items}), ["request", key, "2", prop]
    key = {"HiresFix": "hires_fix", "Refiner": "refiner"}[schema_name]
    return f"request.{key}.{prop}", ("a cat", {key: item}), ["request", key, prop]


def fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def non_null(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema of an optional request field without its `null` branch (`anyOf: [X, {type: null}]`:
    null means "not given"), resolved."""
    schema = resolve(SPEC, schema)
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1 and len(schema["anyOf"]) == 2:
        return resolve(SPEC, branches[0])
    return schema


def properties(schema_name: str) -> list[tuple[str, Mapping[str, Any]]]:
    props = component(SPEC, schema_name)["properties"]
    return [(name, non_null(sub)) for name, sub in props.items()]


def exposed(schema_name: str, prop: str) -> bool:
    return schema_name != "Txt2ImgExtra" or prop in EXTRA_OPTIONS


SCHEMAS = ("Txt2ImgRequest", "Lora", "Embedding", "HiresFix", "Refiner", "Txt2ImgExtra")


def bound_cases() -> tuple[list[Any], list[Any]]:
    """(accepted, rejected) cases: each numeric and length bound of every request property, both sides."""
    accepted, rejected = [], []
    for schema_name in SCHEMAS:
        for prop, schema in properties(schema_name):
            if not exposed(schema_name, prop):
                continue
            kind = schema.get("type")
            lo, hi = schema.get("minimum"), schema.get("maximum")
            step = 1 if kind == "integer" else 0.01
            if kind in ("integer", "number") and "enum" not in schema:
                assert lo is not None, f"{schema_name}.{prop} has no minimum"
                if hi is None:  # `seed`: the docs set no upper bound, only its int64 format does
                    assert schema.get("format") == "int64", f"{schema_name}.{prop} has no maximum"
                    for value in (lo, 3_000_000_000, 2**63 - 1):
                        accepted.append(
                            pytest.param(schema_name, prop, value, id=f"{schema_name}.{prop}={value}")
                        )
                    rejected.append(
                        pytest.param(
                            schema_name,
                            prop,
                            lo - step,
                            f">= {fmt(lo)}",
                            id=f"{schema_name}.{prop}={lo - step}",
                        )
                    )
                    continue
                for value in (lo, hi):
                    accepted.append(
                        pytest.param(schema_name, prop, value, id=f"{schema_name}.{prop}={value}")
                    )
                for value in (lo - step, hi + step):
                    value = round(value, 2)
                    rejected.append(
                        pytest.param(
                            schema_name,
                            prop,
                            value,
                            f"from {fmt(lo)} to {fmt(hi)}",
                            id=f"{schema_name}.{prop}={value}",
                        )
                    )
            if kind == "string" and "enum" not in schema:
                lmin, lmax = schema.get("minLength", 0), schema.get("maxLength")
                lengths_ok = [lmin] + ([lmax] if lmax is not None else [])
                lengths_bad = ([lmin - 1] if lmin > 0 else []) + ([lmax + 1] if lmax is not None else [])
                for n in lengths_ok:
                    accepted.append(
                        pytest.param(schema_name, prop, "x" * n, id=f"{schema_name}.{prop}=len{n}")
                    )
                for n in lengths_bad:
                    allowed = f"of {lmin} to {lmax} characters" if lmax is not None else f"at least {lmin}"
                    rejected.append(
                        pytest.param(
                            schema_name,
                            prop,
                            "x" * n,
                            allowed,
                            id=f"{schema_name}.{prop}=len{n}",
                        )
                    )
    return accepted, rejected


def enum_cases() -> tuple[list[Any], list[Any]]:
    """(accepted, rejected): every enum value of every request property, and one value outside each enum."""
    accepted, rejected = [], []
    for schema_name in SCHEMAS:
        for prop, schema in properties(schema_name):
            if "enum" not in schema or not exposed(schema_name, prop):
                continue
            for value in schema["enum"]:
                accepted.append(pytest.param(schema_name, prop, value, id=f"{schema_name}.{prop}={value}"))
            bad = "not-a-value" if schema.get("type") == "string" else max(schema["enum"]) + 1
            allowed = "one of " + ", ".join(repr(v) for v in schema["enum"])
            rejected.append(
                pytest.param(
                    schema_name,
                    prop,
                    bad,
                    allowed,
                    id=f"{schema_name}.{prop}={bad}",
                )
            )
    return accepted, rejected


BOUND_OK, BOUND_BAD = bound_cases()
ENUM_OK, ENUM_BAD = enum_cases()


def dig(body: Any, path: list[str]) -> Any:
    for part in path:
        body = body[int(part)] if isinstance(body, list) else body[part]
    return body


def test_the_cases_cover_every_bounded_field_of_the_spec() -> None:
    """Guard against an empty parametrization: the bounded fields the docs list are all there."""
    ids = {p.id.split("=")[0] for p in BOUND_BAD}
    assert {
        "Txt2ImgRequest.width",
        "Txt2ImgRequest.height",
        "Txt2ImgRequest.image_num",
        "Txt2ImgRequest.steps",
        "Txt2ImgRequest.guidance_scale",
        "Txt2ImgRequest.seed",
        "Txt2ImgRequest.clip_skip",
        "Txt2ImgRequest.prompt",
        "Txt2ImgRequest.negative_prompt",
        "Txt2ImgRequest.model_name",
        "Lora.strength",
        "Lora.model_name",
        "Embedding.model_name",
        "HiresFix.target_width",
        "HiresFix.target_height",
        "HiresFix.strength",
        "Refiner.switch_at",
    } <= ids
    enum_ids = {p.id.split("=")[0] for p in ENUM_BAD}
    assert {
        "Txt2ImgRequest.sampler_name",
        "HiresFix.upscaler",
        "Txt2ImgExtra.response_image_type",
        "Txt2ImgExtra.nsfw_detection_level",
    } <= enum_ids


@pytest.mark.parametrize(("schema_name", "prop", "value"), BOUND_OK + ENUM_OK)
def test_a_value_at_the_bound_or_in_the_enum_is_sent_as_given(
    api: ScriptedAPI, make_client: ClientFactory, schema_name: str, prop: str, value: Any
) -> None:
    _, (prompt, options), json_path = call_for(schema_name, prop, value)

    task = make_client().submit(prompt, **options)

    assert task.id == api.submit_script[0]["task_id"]
    assert len(api.requests) == 1
    assert dig(api.posts[0].json(), json_path) == value


@pytest.mark.parametrize(("schema_name", "prop", "value", "allowed"), BOUND_BAD + ENUM_BAD)
def test_a_value_past_the_bound_or_outside_the_enum_is_refused_before_any_request(
    api: ScriptedAPI, make_client: ClientFactory, schema_name: str, prop: str, value: Any, allowed: str
) -> None:
    field, (prompt, options), _ = call_for(schema_name, prop, value)

    with pytest.raises(ppio.ValidationError) as info:
        make_client().txt2img(prompt, **options)

    error = info.value
    assert error.field == field
    assert error.value == value
    message = str(error)
    assert message.startswith(f"{field}: ")
    assert allowed in message
    shown = repr(value)
    assert (shown if len(shown) <= 80 else shown[:77]) in message
    assert api.requests == []


def test_a_validation_error_is_a_value_error_and_a_ppio_error(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    with pytest.raises(ValueError, match=r"request\.width") as info:
        make_client().txt2img("a cat", width=10_000)
    assert isinstance(info.value, ppio.PPIOError)
    assert api.requests == []


WRONG_TYPES = [
    pytest.param({"width": True}, "request.width", "is not an integer", id="bool-for-int"),
    pytest.param({"steps": 20.0}, "request.steps", "is not an integer", id="float-for-int"),
    pytest.param({"image_num": "2"}, "request.image_num", "is not an integer", id="str-for-int"),
    pytest.param({"guidance_scale": "7.5"}, "request.guidance_scale", "is not a number", id="str-for-number"),
    pytest.param(
        {"guidance_scale": False}, "request.guidance_scale", "is not a number", id="bool-for-number"
    ),
    pytest.param({"guidance_scale": float("nan")}, "request.guidance_scale", "is not a number", id="nan"),
    pytest.param({"model_name": 42}, "request.model_name", "is not a string", id="int-for-str"),
    pytest.param(
        {"restore_faces": "yes"},
        "request.restore_faces",
        "is not a boolean",
        id="str-for-bool",
    ),
    pytest.param(
        {"loras": [{"model_name": "a", "strength": "0.5"}]},
        "request.loras[0].strength",
        "is not a number",
        id="nested-str-for-number",
    ),
    pytest.param(
        {"loras": {"model_name": "a"}},
        "request.loras",
        "is not a list",
        id="dict-for-list",
    ),
    pytest.param(
        {"hires_fix": [1, 2]},
        "request.hires_fix",
        "is not an object",
        id="list-for-object",
    ),
    pytest.param(
        {"nsfw_detection_level": True},
        "extra.nsfw_detection_level",
        "is not an integer",
        id="bool-for-int-enum",
    ),
]


@pytest.mark.parametrize(("options", "field", "problem"), WRONG_TYPES)
def test_a_value_of_the_wrong_type_is_refused_before_any_request(
    api: ScriptedAPI, make_client: ClientFactory, options: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(ppio.ValidationError) as info:
        make_client().txt2img("a cat", **options)

    assert info.value.field == field
    assert problem in str(info.value)
    assert api.requests == []


@pytest.mark.parametrize(
    ("options", "field", "problem"),
    [
        pytest.param({"widht": 512}, "widht", "is not a known option", id="unknown-option"),
        pytest.param({"custom_storage": {}}, "custom_storage", "is not a known option", id="unexposed-extra"),
        pytest.param(
            {"loras": [{"model_name": "a", "strength": 0.5, "weight": 1}]},
            "request.loras[0].weight",
            "is not a known field",
            id="unknown-lora-key",
        ),
        pytest.param(
            {"hires_fix": {"target_width": 1024, "target_height": 1024}},
            "request.hires_fix.strength",
            "is required",
            id="missing-required-nested",
        ),
        pytest.param(
            {"refiner": {}},
            "request.refiner.switch_at",
            "is required",
            id="empty-refiner",
        ),
        pytest.param(  # the misspelt key is named, not the one it was meant to be
            {"hires_fix": {"target_width": 1024, "target_height": 1024, "strenght": 0.5}},
            "request.hires_fix.strenght",
            "is not a known field",
            id="misspelt-required-nested",
        ),
        pytest.param(
            {"seed": 2**63},
            "request.seed",
            "is past the int64 range, -9223372036854775808 to 9223372036854775807",
            id="seed-past-int64",
        ),
    ],
)
def test_unknown_names_and_missing_nested_fields_are_refused_before_any_request(
    api: ScriptedAPI, make_client: ClientFactory, options: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(ppio.ValidationError) as info:
        make_client().txt2img("a cat", **options)

    assert info.value.field == field
    assert problem in str(info.value)
    assert api.requests == []


@pytest.mark.parametrize(("key", "schema_name"), [("loras", "Lora"), ("embeddings", "Embedding")])
def test_lists_of_loras_and_embeddings_are_capped_at_the_spec_max_items(
    api: ScriptedAPI, make_client: ClientFactory, key: str, schema_name: str
) -> None:
    limit = non_null(component(SPEC, "Txt2ImgRequest")["properties"][key])["maxItems"]
    client = make_client()

    too_many: dict[str, Any] = {key: [VALID_NESTED[schema_name]] * (limit + 1)}
    with pytest.raises(ppio.ValidationError) as info:
        client.txt2img("a cat", **too_many)
    assert info.value.field == f"request.{key}"
    assert f"{limit + 1} items" in str(info.value)
    assert f"at most {limit} items" in str(info.value)
    assert api.requests == []

    at_the_limit: dict[str, Any] = {key: [VALID_NESTED[schema_name]] * limit}
    client.submit("a cat", **at_the_limit)
    assert len(api.posts[0].json()["request"][key]) == limit


def test_transparent_background_needs_png_output(api: ScriptedAPI, make_client: ClientFactory) -> None:
    client = make_client()
    for image_type in ("jpeg", "webp"):
        with pytest.raises(ppio.ValidationError) as info:
            client.txt2img("a cat", enable_transparent_background=True, response_image_type=image_type)
        assert info.value.field == "extra.response_image_type"
        assert "'png'" in str(info.value)
    assert api.requests == []

    client.submit("a cat", enable_transparent_background=True, response_image_type="png")
    client.submit("a cat", enable_transparent_background=True)  # png is the default
    client.submit("a cat", enable_transparent_background=False, response_image_type="jpeg")
    assert len(api.posts) == 3


def test_typed_option_objects_and_plain_dicts_send_the_same_body(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    client = make_client()
    client.submit(
        "a cat",
        loras=[ppio.Lora("add_detail.safetensors", 0.7), ppio.Lora("more_art.safetensors", 1)],
        embeddings=[ppio.Embedding("easynegative.pt")],
        hires_fix=ppio.HiresFix(target_width=2048, target_height=1536, strength=0.4),
        refiner=ppio.Refiner(switch_at=0.8),
    )
    client.submit(
        "a cat",
        loras=[
            {"model_name": "add_detail.safetensors", "strength": 0.7},
            {"model_name": "more_art.safetensors", "strength": 1},
        ],
        embeddings=[{"model_name": "easynegative.pt"}],
        hires_fix={"target_width": 2048, "target_height": 1536, "strength": 0.4},
        refiner={"switch_at": 0.8},
    )

    typed, plain = (r.json() for r in api.posts)
    assert typed == plain
    assert typed["request"]["loras"][1] == {"model_name": "more_art.safetensors", "strength": 1}
    assert typed["request"]["hires_fix"] == {"target_width": 2048, "target_height": 1536, "strength": 0.4}
    assert typed["request"]["refiner"] == {"switch_at": 0.8}


def test_typed_option_objects_are_validated_like_dicts(api: ScriptedAPI, make_client: ClientFactory) -> None:
    with pytest.raises(ppio.ValidationError) as info:
        make_client().txt2img("a cat", loras=[ppio.Lora("a", 0.5), ppio.Lora("b", 0.5), ppio.Lora("c", 1.5)])
    assert info.value.field == "request.loras[2].strength"
    assert "1.5" in str(info.value)
    assert "from 0 to 1" in str(info.value)
    assert api.requests == []


def test_async_client_validates_before_any_request(
    api: ScriptedAPI, make_async_client: AsyncClientFactory, anyio_backend: str
) -> None:
    async def main() -> None:
        async with make_async_client() as client:
            with pytest.raises(ppio.ValidationError, match=r"request\.hires_fix\.target_width"):
                await client.txt2img("a cat", hires_fix=ppio.HiresFix(99, 1024, 0.5))
            with pytest.raises(ppio.ValidationError, match="widht"):
                await client.submit("a cat", widht=512)  # type: ignore[call-arg]

    anyio.run(main, backend=anyio_backend)
    assert api.requests == []


def test_a_limit_changed_in_the_spec_is_enforced_after_regenerating(tmp_path: Path) -> None:
    """Raise width's maximum in a copy of the spec, regenerate, and validate against the new spec."""
    document = yaml.safe_load((ROOT / "openapi" / "ppio.yaml").read_text(encoding="utf-8"))
    width = document["components"]["schemas"]["Txt2ImgRequest"]["properties"]["width"]
    assert width["maximum"] == 2048
    width["maximum"] = 4096
    spec_path = tmp_path / "ppio.yaml"
    spec_path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "generate.py"),
            "--spec",
            str(spec_path),
            "--out",
            str(tmp_path / "ppio_api"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    regenerated = json.loads((tmp_path / "ppio_api" / "openapi.json").read_text(encoding="utf-8"))
    assert regenerated["components"]["schemas"]["Txt2ImgRequest"]["properties"]["width"]["maximum"] == 4096

    body = {
        "request": {
            "model_name": "sd_xl_base_1.0.safetensors",
            "prompt": "a cat",
            "width": 3000,
            "height": 1024,
            "image_num": 1,
            "steps": 20,
            "guidance_scale": 7.5,
            "sampler_name": "Euler a",
        }
    }
    validate_txt2img_body(body, spec=regenerated)  # accepted by the regenerated spec
    with pytest.raises(ppio.ValidationError, match=r"request\.width: 3000 is out of range; allowed: .*2048"):
        validate_txt2img_body(body)  # refused by the installed one
    body["request"]["width"] = 4097
    with pytest.raises(ppio.ValidationError, match="4096"):
        validate_txt2img_body(body, spec=regenerated)


def test_wait_accepts_only_wait_options(api: ScriptedAPI, make_client: ClientFactory) -> None:
    with pytest.raises(ppio.ValidationError, match="is not a wait option"):
        make_client().wait("some-task", width=512)  # type: ignore[call-arg]
    assert api.requests == []


@pytest.mark.parametrize("task_id", ["abc\n", "abc\r\n", "\nabc", "a\nb", "abc\x00"])
@pytest.mark.parametrize("method", ["get_task", "wait"])
def test_a_task_id_with_a_line_feed_anywhere_is_refused_before_any_request(
    api: ScriptedAPI, make_client: ClientFactory, task_id: str, method: str
) -> None:
    # The spec's pattern is ^[!-~]+$; Python's `$` also matched before a final line feed, so "abc\n"
    # went out (JavaScript's and Go's clients refuse it, as JSON Schema reads the pattern).
    with pytest.raises(ppio.ValidationError) as info:
        getattr(make_client(), method)(task_id)

    assert info.value.field == "task_id"
    assert "does not match" in str(info.value)
    assert api.requests == []


@pytest.mark.parametrize(
    "url", ["not a url", "/hook", "example.com/hook", "https://exa mple.com/", "http://x/\n"]
)
def test_a_webhook_url_that_is_not_an_absolute_uri_is_refused_before_any_request(
    api: ScriptedAPI, make_client: ClientFactory, url: str
) -> None:
    # The spec's `format: uri` (an absolute URI, as its description says): a relative or spaced URL
    # would reach the API only to come back as its 400.
    with pytest.raises(ppio.ValidationError) as info:
        make_client().submit("a fox", webhook_url=url)

    assert info.value.field == "extra.webhook.url"
    assert info.value.value == url
    assert "an absolute URI" in str(info.value)
    assert api.requests == []


@pytest.mark.parametrize(
    "url", ["https://example.com/ppio-hook?k=v", "http://127.0.0.1:8080/", "http://[::1]:9/h"]
)
def test_an_absolute_webhook_url_is_sent_as_given(
    api: ScriptedAPI, make_client: ClientFactory, url: str
) -> None:
    make_client().submit("a fox", webhook_url=url)

    assert api.posts[0].json()["extra"]["webhook"]["url"] == url
