"""The facade's option types and tables are generated from the spec, and only from it.

`facade/ppio_txt2img/_options.py` is written by `make generate` (scripts/gen_options.py): these tests
read the spec (`openapi/ppio.yaml`) and check that the generated `RequestOptions`, `ModelFilters`, enum
`Literal`s, docstrings, body paths, CLI flags and README table say what it says; that a field added to a
copy of the spec shows up after regenerating; and that a spec whose request schemas use a keyword the
validator does not implement cannot be generated at all.
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib.util
import itertools
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, get_args, get_type_hints

import pytest
import yaml

import ppio_txt2img as ppio
from ppio_txt2img import _inputs, _options
from ppio_txt2img._request_body import build_txt2img_body
from ppio_txt2img._validation import IMPLEMENTED_KEYWORDS, request_schemas, unsupported_keywords
from ppio_txt2img.cli._parser import _VALUE_PARSERS, build_parser, flag_for_field, parse_object

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "openapi" / "ppio.yaml"
sys.path.insert(0, str(ROOT / "scripts"))
import gen_options  # noqa: E402  (scripts/ is not a package)
from generate import load_spec  # noqa: E402

SPEC: dict[str, Any] = load_spec(SPEC_PATH)  # with libyaml: every worker collecting this pays it
SCHEMAS = SPEC["components"]["schemas"]
REQUEST = SCHEMAS["Txt2ImgRequest"]["properties"]
EXTRA = SCHEMAS["Txt2ImgExtra"]["properties"]
# The facade's choice of the extra fields it exposes, and their option names (webhook -> webhook_url).
EXPOSED_EXTRA = {"response_image_type", "enable_nsfw_detection", "nsfw_detection_level", "webhook_url"}


def hints(typed_dict: type) -> dict[str, Any]:
    """Resolved annotations (the option classes are imported by `_options.py` for type checkers only)."""
    return get_type_hints(typed_dict, localns=vars(_inputs) | vars(_options))


def attribute_docs(path: Path, class_name: str) -> dict[str, str]:
    """The attribute docstrings of a class, as IDEs read them: the string after each annotation."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name).body
    docs = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
        ):
            docs[node.target.id] = " ".join(str(after.value.value).split())
    return docs


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("regenerated_options", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_generate(spec: Mapping[str, Any], tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    spec_path = tmp_path / "ppio.yaml"
    spec_path.write_text(yaml.safe_dump(dict(spec), sort_keys=False), encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate.py"), "--spec", str(spec_path), *extra],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


# ------------------------------------------------------------------------------ RequestOptions
def test_request_options_are_the_spec_request_fields_but_prompt_plus_the_exposed_extras() -> None:
    expected = (set(REQUEST) - {"prompt"}) | EXPOSED_EXTRA
    assert set(_options.RequestOptions.__annotations__) == expected
    assert ppio.RequestOptions is _options.RequestOptions
    assert list(_options.RequestOptions.__annotations__)[: len(REQUEST) - 1] == [
        k for k in REQUEST if k != "prompt"
    ]
    assert _options.RequestOptions.__required_keys__ == frozenset()  # the SDK fills in required fields


@pytest.mark.parametrize(
    ("option", "alias", "schema"),
    [
        ("sampler_name", "SamplerName", "SamplerName"),
        ("response_image_type", "ResponseImageType", "ResponseImageType"),
        ("nsfw_detection_level", "NsfwDetectionLevel", "NsfwDetectionLevel"),
    ],
)
def test_an_enum_option_is_a_literal_of_exactly_the_spec_enum(option: str, alias: str, schema: str) -> None:
    literal = getattr(_options, alias)
    assert get_args(literal) == tuple(SCHEMAS[schema]["enum"])
    assert hints(_options.RequestOptions)[option] == literal


def test_scalar_and_object_options_have_the_spec_types_and_accept_the_option_classes() -> None:
    types = hints(_options.RequestOptions)
    assert types["width"] is int
    assert types["guidance_scale"] is float
    assert types["restore_faces"] is bool
    assert types["webhook_url"] is str
    assert set(get_args(types["hires_fix"])) >= {ppio.HiresFix}
    assert ppio.Lora in get_args(get_args(types["loras"])[0])
    # The hand-written dataclass takes the generated Literal too.
    assert get_type_hints(ppio.HiresFix, localns=vars(_options))["upscaler"] == _options.Upscaler | None
    assert get_args(_options.Upscaler) == tuple(SCHEMAS["Upscaler"]["enum"])


def test_every_option_has_a_docstring_with_the_spec_description_range_and_default() -> None:
    docs = attribute_docs(ROOT / "facade" / "ppio_txt2img" / "_options.py", "RequestOptions")
    assert set(docs) == set(_options.RequestOptions.__annotations__)
    assert docs["width"] == (
        f"{REQUEST['width']['description']} Allowed: an integer from {REQUEST['width']['minimum']} to "
        f"{REQUEST['width']['maximum']}. SDK default: 1024."
    )
    sampler = " ".join(SCHEMAS["SamplerName"]["description"].split())  # from the $ref target, one line
    assert docs["sampler_name"].startswith(sampler)
    assert all(f"'{name}'" in docs["sampler_name"] for name in SCHEMAS["SamplerName"]["enum"])
    assert docs["response_image_type"].endswith("API default: 'png'.")
    assert EXTRA["response_image_type"]["default"] == "png"
    assert "target_width an integer from 128 to 4096" in docs["hires_fix"]
    assert docs["webhook_url"].startswith(SCHEMAS["WebhookConfig"]["properties"]["url"]["description"])


def test_option_paths_put_extras_under_extra_and_the_rest_under_request() -> None:
    body = build_txt2img_body(
        "a cat", {"steps": 9, "response_image_type": "webp", "webhook_url": "https://h/x", "seed": 3}
    )
    assert (body["request"]["steps"], body["request"]["seed"]) == (9, 3)
    assert body["extra"] == {"response_image_type": "webp", "webhook": {"url": "https://h/x"}}
    for name, path in _options.OPTION_PATHS.items():
        assert path == ("request", name) if name in REQUEST else path[0] == "extra"
    assert "extra" not in build_txt2img_body("a cat", {"steps": 9})


# -------------------------------------------------------------------------------- ModelFilters
def test_model_filters_are_the_model_list_query_parameters_with_their_enums() -> None:
    params = {p["name"]: p for p in SPEC["paths"]["/v3/model"]["get"]["parameters"]}
    assert set(_options.MODEL_FILTER_PARAMS.values()) == set(params) - {"pagination.cursor"}
    assert set(_options.ModelFilters.__annotations__) == set(_options.MODEL_FILTER_PARAMS)
    assert ppio.ModelFilters is _options.ModelFilters
    types = hints(_options.ModelFilters)
    for name, param in _options.MODEL_FILTER_PARAMS.items():
        ref = params[param]["schema"].get("$ref")
        if ref:
            assert get_args(types[name]) == tuple(SCHEMAS[ref.rsplit("/", 1)[-1]]["enum"]), name
    assert (types["page_size"], types["is_sdxl"]) == (int, bool)


# ------------------------------------------------------------------------------ type checking
def test_mypy_accepts_submit_with_a_timeout_and_refuses_values_outside_the_spec_enums(tmp_path: Path) -> None:
    code = tmp_path / "usage.py"
    code.write_text(
        "import ppio_txt2img as ppio\n"
        "\n"
        "def use(client: ppio.Client) -> None:\n"
        '    client.submit("a cat", timeout=5, width=512, sampler_name="DDIM")\n'
        '    client.submit("a cat", hires_fix=ppio.HiresFix(2048, 2048, 0.5, "Latent"))\n'
        '    client.models(types="lora", visibility="public", page_size=10)\n'
        '    client.submit("a cat", sampler_name="Euler b")  # line 7: not in the enum\n'
        '    client.models(types="lorra")  # line 8: not in the enum\n'
        '    client.submit("a cat", on_progress=print)  # line 9: submit does not wait\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(code)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,  # the project's config and cache
        timeout=300,
    )
    lines = {int(line.split(":")[1]) for line in done.stdout.splitlines() if ": error:" in line}
    assert lines == {7, 8, 9}, done.stdout + done.stderr


# --------------------------------------------------------------------------------- the CLI
def test_the_cli_builds_one_flag_per_option_from_the_generated_table_with_a_parser_for_each() -> None:
    assert [f.dest for f in _options.REQUEST_FLAGS] == list(_options.RequestOptions.__annotations__)
    assert {f.type for f in _options.REQUEST_FLAGS} <= set(_VALUE_PARSERS) | {"switch"}
    txt2img = build_parser()._subparsers._group_actions[0].choices["txt2img"]  # type: ignore[union-attr,index]
    shown = txt2img.format_help()
    for flag in _options.REQUEST_FLAGS:
        assert flag.flags[-1] in shown
    width = next(f for f in _options.REQUEST_FLAGS if f.dest == "width")
    assert width.help == "Image width in pixels; an integer from 128 to 2048; default: 1024"


@pytest.mark.parametrize(
    ("field", "flag"),
    [
        ("request.loras[0].strength", "--lora"),
        ("request.width", "--width"),
        ("extra.webhook.url", "--webhook-url"),
        ("extra.nsfw_detection_level", "--nsfw-level"),
        ("image_num", "--image-num"),
        ("timeout", "--timeout"),
        ("pagination.limit", "--limit"),
    ],
)
def test_a_validation_error_field_maps_back_to_its_flag(field: str, flag: str) -> None:
    assert flag_for_field(field) == flag


def test_an_object_option_without_a_syntax_of_its_own_is_read_as_a_json_object() -> None:
    assert parse_object('{"level": 2}') == {"level": 2}
    for bad in ("[1]", "level=2"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected a JSON object"):
            parse_object(bad)


# ---------------------------------------------------------------------------------- the README
def test_the_readme_option_table_is_the_one_the_spec_generates() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    begin, end = readme.index(gen_options.README_BEGIN), readme.index(gen_options.README_END)
    table = readme[begin + len(gen_options.README_BEGIN) : end].strip("\n") + "\n"
    assert table == gen_options.readme_table(SPEC, gen_options.load_facade())
    for option in _options.RequestOptions.__annotations__:
        assert f"| `{option}` |" in table


# ------------------------------------------------------------------- keywords the validator knows
def test_every_request_schema_of_the_spec_uses_only_keywords_the_validator_implements() -> None:
    where = [w for w, _ in request_schemas(SPEC)]
    assert any(w.endswith("/requestBody/content/application~1json/schema") for w in where)
    assert len(where) == 1 + sum(
        len(op.get("parameters", [])) for item in SPEC["paths"].values() for op in item.values()
    )
    assert unsupported_keywords(SPEC) == []
    assert {"minimum", "maximum", "enum", "pattern", "anyOf", "$ref"} <= IMPLEMENTED_KEYWORDS


def test_unsupported_keywords_are_found_wherever_a_request_schema_uses_them() -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["schemas"]["Txt2ImgRequest"]["properties"]["width"]["multipleOf"] = 8
    spec["components"]["schemas"]["Txt2ImgRequest"]["properties"]["steps"]["allOf"] = [{"maximum": 5}]
    spec["components"]["schemas"]["HiresFix"]["properties"]["strength"]["exclusiveMaximum"] = 1  # implemented
    spec["components"]["schemas"]["Lora"]["additionalProperties"] = {"type": "string"}
    spec["paths"]["/v3/model"]["get"]["parameters"][6]["schema"]["multipleOf"] = 10
    spec["components"]["schemas"]["TaskResultResponse"]["not"] = {}  # a response: not checked here
    spec["components"]["schemas"]["WebhookConfig"]["properties"]["url"]["format"] = "uri-reference"

    assert sorted(unsupported_keywords(spec)) == [
        ("#/components/schemas/Lora", "additionalProperties (as a schema)"),
        ("#/components/schemas/Txt2ImgRequest/properties/steps", "allOf"),
        ("#/components/schemas/Txt2ImgRequest/properties/width", "multipleOf"),
        ("#/components/schemas/WebhookConfig/properties/url", "format 'uri-reference'"),  # not read
        ("#/paths/~1v3~1model/get/parameters/6/schema", "multipleOf"),
    ]


def test_generation_fails_naming_the_schema_and_keyword_the_validator_does_not_implement(
    tmp_path: Path,
) -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["schemas"]["Txt2ImgRequest"]["properties"]["width"]["multipleOf"] = 8

    done = run_generate(spec, tmp_path, "--out", str(tmp_path / "ppio_api"))

    assert done.returncode != 0
    assert "#/components/schemas/Txt2ImgRequest/properties/width: multipleOf" in done.stderr
    assert "does not implement" in done.stderr
    assert not (tmp_path / "ppio_api").exists()  # refused before anything was generated


# ------------------------------------------------------------------------- a spec that changes
def test_a_field_and_an_enum_value_added_to_the_spec_appear_after_regenerating(tmp_path: Path) -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["schemas"]["Txt2ImgRequest"]["properties"]["tiling"] = {
        "type": "boolean",
        "default": False,
        "description": "Make the image tile seamlessly.",
    }
    spec["components"]["schemas"]["Txt2ImgRequest"]["properties"]["face_detail"] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"level": {"type": "integer", "minimum": 0, "maximum": 3}},
    }
    spec["components"]["schemas"]["SamplerName"]["enum"].append("LCM")
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{gen_options.README_BEGIN}\n{gen_options.README_END}\n", encoding="utf-8")

    done = run_generate(
        spec, tmp_path, "--out", str(tmp_path / "ppio_api"), "--options", str(tmp_path / "_options.py"),
        "--readme", str(readme),
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    regenerated = load_module(tmp_path / "_options.py")
    assert "tiling" in regenerated.RequestOptions.__annotations__
    assert regenerated.OPTION_PATHS["tiling"] == ("request", "tiling")
    assert get_args(regenerated.SamplerName)[-1] == "LCM"
    flag = next(f for f in regenerated.REQUEST_FLAGS if f.dest == "tiling")
    assert (flag.flags, flag.type) == (("--tiling",), "switch")
    assert flag.help == "Make the image tile seamlessly"
    detail = next(f for f in regenerated.REQUEST_FLAGS if f.dest == "face_detail")
    assert (detail.flags, detail.type, detail.metavar) == (("--face-detail",), "object", "JSON")
    resolved = get_type_hints(regenerated.RequestOptions, localns=vars(_inputs) | vars(regenerated))
    assert resolved["face_detail"] == Mapping[str, Any]
    docs = attribute_docs(tmp_path / "_options.py", "RequestOptions")
    assert docs["tiling"] == "Make the image tile seamlessly. Allowed: a boolean. API default: False."
    assert "| `tiling` | Make the image tile seamlessly. | a boolean | `False` (API) |" in readme.read_text()
