"""The compiled check (`_fast_check.py`) answers exactly as `validate` does: on the payload corpus, and on
values made from it with one part swapped for something odd, for responses and for request bodies."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ppio_txt2img._errors import ValidationError
from ppio_txt2img._fast_check import Check, compile_check
from ppio_txt2img._spec import component, load_spec
from ppio_txt2img._validation import schema_pattern, validate
from tests.unit.json_places import paths, swapped

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
SCHEMAS = {
    "task_result": "TaskResultResponse",
    "create": "CreateTaskResponse",
    "models": "ModelListResponse",
    "error": "ErrorBody",
}
BODY: dict[str, Any] = {
    "extra": {"response_image_type": "png"},
    "request": {
        "model_name": "sd_xl_base_1.0.safetensors",
        "prompt": "a red fox",
        "width": 1024,
        "height": 1024,
        "image_num": 1,
        "steps": 20,
        "guidance_scale": 7.5,
        "sampler_name": "Euler a",
        "seed": -1,
    },
}
LORA = {"model_name": "a_lora", "strength": 0.5}
FULL_BODY: dict[str, Any] = {
    **BODY,
    "request": {
        **BODY["request"],
        "loras": [LORA] * 5,
        "embeddings": [{"model_name": "an_embedding"}],
        "hires_fix": {"target_width": 2048, "target_height": 2048, "strength": 0.5},
        "refiner": {"switch_at": 0.8},
    },
}


def interpreted(value: Any, schema_name: str, *, response: bool) -> bool:
    spec = load_spec()
    try:
        validate(value, component(spec, schema_name), "", spec, response=response)
    except ValidationError:
        return False
    return True


@cache
def compiled_check(schema_name: str, response: bool) -> Check:
    """Compiled once per schema, as the client does (compiling is most of the cost of a check)."""
    spec = load_spec()
    return compile_check(component(spec, schema_name), spec, response=response)


def compiled(value: Any, schema_name: str, *, response: bool) -> bool:
    return compiled_check(schema_name, response)(value)


def corpus() -> list[Any]:
    return [
        pytest.param(path, SCHEMAS[path.parent.name], id=f"{path.parent.name}/{path.stem}")
        for path in sorted(CORPUS.glob("*/*.json"))
        if path.parent.name in SCHEMAS
    ]


@pytest.mark.parametrize(("path", "schema_name"), corpus())
def test_the_compiled_check_agrees_on_the_corpus(path: Path, schema_name: str) -> None:
    data = json.loads(path.read_text())
    assert compiled(data, schema_name, response=True) == interpreted(data, schema_name, response=True)


ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "12", " 3.5 ", "-0", "1e3", "abc", "\ud800", "TASK_STATUS_SUCCEED", "x" * 3000]),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["task_id", "status", "a"]), st.integers(), max_size=2),
)


SAMPLES = [
    (json.loads(path.read_text()), SCHEMAS[path.parent.name], True)
    for path in sorted(CORPUS.glob("*/*.json"))
    if path.parent.name in SCHEMAS
] + [(body, "Txt2ImgBody", response) for body in (BODY, FULL_BODY) for response in (False, True)]


@settings(max_examples=200, deadline=None)
@given(sample=st.sampled_from(SAMPLES), data=st.data(), odd=ODD, delete=st.booleans())
def test_the_compiled_check_agrees_on_odd_values(sample: Any, data: Any, odd: Any, delete: bool) -> None:
    value, schema_name, response = sample
    where = data.draw(st.sampled_from(paths(value)))
    changed = swapped(value, where, odd, delete)
    assert compiled(changed, schema_name, response=response) == interpreted(
        changed, schema_name, response=response
    )


FIXED_ODD = [
    *(None, True, 0, -1, 1.5, 3000, float("inf"), "", "12", "\ud800", "abc", "x" * 3000),
    *([], {}, [1], {"a": 1}, [LORA] * 6, LORA),
]


@pytest.mark.parametrize(("value", "schema_name", "response"), SAMPLES)
def test_the_compiled_check_agrees_everywhere_with_each_odd_value(
    value: Any, schema_name: str, response: bool
) -> None:
    for where in paths(value):
        for odd in FIXED_ODD:
            for delete in (False, True):
                changed = swapped(value, where, odd, delete)
                verdict = interpreted(changed, schema_name, response=response)
                assert compiled(changed, schema_name, response=response) == verdict, (where, odd, delete)


#: A spec of its own with every keyword `validate` enforces, some the shipped spec never uses (patterns,
#: exclusive bounds, int32, enums of mixed types, closed objects), and a schema that refers to itself.
KEYWORD_SPEC: dict[str, Any] = {
    "components": {
        "schemas": {
            "Node": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
                    "size": {"type": "integer", "format": "int32", "exclusiveMinimum": -3, "maximum": 9},
                    "ratio": {"type": "number", "minimum": 0.5, "exclusiveMaximum": 2},
                    "count": {"type": "integer", "format": "int32"},
                    "kind": {"enum": ["a", 1, True, None, 2.5]},
                    "label": {"type": "string", "enum": ["x", "y"]},
                    "link": {"type": "string", "format": "uri", "maxLength": 30},
                    "flag": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
                    "either": {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 1}]},
                    "anything": {},
                    "children": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 3,
                        "items": {"$ref": "#/components/schemas/Node"},
                    },
                    "next": {"anyOf": [{"$ref": "#/components/schemas/Node"}, {"type": "null"}]},
                },
            }
        }
    }
}
KEYWORD_VALUE: dict[str, Any] = {
    "name": "abc",
    "size": 4,
    "ratio": 1.5,
    "count": 7,
    "kind": "a",
    "label": "x",
    "link": "https://a.test/h",
    "flag": None,
    "either": "z",
    "anything": [1],
    "children": [{"name": "de", "next": {"name": "fg"}}],
    "next": None,
}
KEYWORD_ODD = [
    *(
        -3,
        -2,
        9,
        10,
        2**31,
        -(2**31) - 1,
        2**31 - 1,
        0.5,
        0.49,
        2,
        1.99,
        float("nan"),
        float("-inf"),
        True,
        False,
        1,
        2.5,
        "1",
    ),
    *("", "a", "ab", "abcdef", "AB", "x", "y", "zz", "\udc80x", [], [{"name": "ok"}] * 4, {"name": "q"}),
    *("ab:c", "a b:c", "/rel", "http://x y", "mailto:x", "https://" + "a" * 30, "h:\udc80"),
]


@pytest.mark.parametrize("response", [False, True])
def test_the_compiled_check_agrees_on_every_keyword(response: bool) -> None:
    root = {"$ref": "#/components/schemas/Node"}
    check = compile_check(root, KEYWORD_SPEC, response=response)

    def interpreted_here(value: Any) -> bool:
        try:
            validate(value, root, "", KEYWORD_SPEC, response=response)
        except ValidationError:
            return False
        return True

    verdicts = set()
    for where in paths(KEYWORD_VALUE):
        for odd in KEYWORD_ODD:
            for delete in (False, True):
                changed = swapped(KEYWORD_VALUE, where, odd, delete)
                verdict = interpreted_here(changed)
                verdicts.add(verdict)
                assert check(changed) == verdict, (where, odd, delete)
    assert verdicts == {True, False}  # the values tried are both kinds


REF = "#/components/schemas/"
NULL = {"type": "null"}
SELF_REFERRING = [
    {"type": "object", "properties": {"child": {"$ref": REF + "Node"}}},
    {"type": "object", "properties": {"child": {"$ref": REF + "Node", "description": "a sibling keyword"}}},
    {"type": "array", "maxItems": 2, "items": {"$ref": REF + "Node"}},
    {"type": "object", "properties": {"next": {"anyOf": [{"$ref": REF + "Node", "title": "t"}, NULL]}}},
]


@pytest.mark.parametrize("node", SELF_REFERRING)
def test_a_schema_referring_to_itself_compiles_to_a_function_calling_itself(node: dict[str, Any]) -> None:
    """Following a `$ref` makes a new dict (always, with sibling keywords): the compiler knows a schema by
    the spec's own dict, so it writes one function, not one per level forever."""
    spec = {"components": {"schemas": {"Node": node}}}
    root = {"$ref": REF + "Node"}
    check = compile_check(root, spec)
    values = [{}, {"child": {"child": {}}}, {"child": {"child": 3}}, [[], [[]]], [[1]], [[], [], []]]
    values += [{"next": {"next": None}}, {"next": {"next": 5}}, 3, None]
    for value in values:
        try:
            validate(value, root, "", spec)
        except ValidationError:
            assert not check(value), value
        else:
            assert check(value), value


class _Key(str):
    def __repr__(self) -> str:  # what a key would say if it tried to write code into the check
        raise AssertionError("a property name is written into the source by repr()")


def test_property_names_other_than_plain_strings_are_passed_in_not_written_into_the_source() -> None:
    key = _Key("a")
    schema = {"type": "object", "required": [key], "properties": {key: {"type": "integer"}}}
    check = compile_check(schema, {})
    assert check({"a": 1})
    assert not check({"a": "x"})
    assert not check({})


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("^[!-~]+$", "abc", True),
        ("^[!-~]+$", "abc\n", False),  # Python's own `$` matches before the final line feed
        ("^a$|^b$", "b\n", False),
        ("^[$]+$", "$$", True),  # in a class, `$` is itself
        (r"^\$$", "$", True),  # escaped, too
        (r"^[\]$]+$", "]$", True),  # a class holding an escaped `]` ends at the next one
        ("^(?:x|$)", "", True),
        ("^[]$]+$", "]$", True),  # as `re` reads it: a `]` first in a class is itself
        ("^[^]$]+$", "ab", True),
        ("^[^]$]+$", "a$", False),
        ("^[a-]+$", "a-\n", False),
    ],
)
def test_a_pattern_is_read_as_json_schema_reads_it(pattern: str, value: str, matches: bool) -> None:
    assert (schema_pattern(pattern).search(value) is not None) is matches
    schema = {"type": "string", "pattern": pattern}
    assert compile_check(schema, {}, response=False)(value) is matches
