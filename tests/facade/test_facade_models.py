"""`client.models()`: follows `next_cursor` over every page, maps filters to the API's query names, and
validates the filters against the spec before any request."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

import ppio_txt2img as ppio
from ppio_txt2img import _constants as constants
from ppio_txt2img._constants import DEFAULT_MODELS_PAGE_SIZE
from ppio_txt2img._spec import load_spec, query_parameters
from tests.facade.facade_helpers import AsyncClientFactory, ClientFactory, ScriptedAPI


def model(i: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": i,
        "name": f"Model {i}",
        "sd_name": f"model_{i}.safetensors",
        "sd_name_in_api": f"model_{i}.safetensors",
        "type": {"name": "checkpoint", "display_name": "Checkpoint"},
        "status": 1,
        "tags": ["a", "b"],
        "is_sdxl": i % 2 == 0,
        "base_model": "SDXL 1.0",
        **fields,
    }


def three_pages(api: ScriptedAPI) -> None:
    api.model_pages = {
        None: {"models": [model(1), model(2)], "pagination": {"next_cursor": "c_1"}},
        "c_1": {"models": [model(3), model(4)], "pagination": {"next_cursor": "c_2"}},
        "c_2": {"models": [model(5)], "pagination": {"next_cursor": ""}},
    }


def test_models_follows_next_cursor_over_every_page_and_yields_each_model_once(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    three_pages(api)

    models = list(make_client().models())

    assert [m.id for m in models] == [1, 2, 3, 4, 5]
    assert [m.sd_name for m in models] == [f"model_{i}.safetensors" for i in range(1, 6)]
    assert [r.path for r in api.requests] == ["/v3/model"] * 3
    assert [r.url.split("pagination.cursor=")[1] if "cursor" in r.url else None for r in api.requests] == [
        None,
        "c_1",
        "c_2",
    ]
    first = models[0]
    assert (first.name, first.type, first.is_sdxl, first.status, first.tags) == (
        "Model 1",
        "checkpoint",
        False,
        1,
        ("a", "b"),
    )
    assert all(r.headers["authorization"].startswith("Bearer ") for r in api.requests)


def test_models_is_lazy_and_stops_when_the_caller_does(api: ScriptedAPI, make_client: ClientFactory) -> None:
    three_pages(api)

    models = make_client().models()
    assert api.requests == []
    assert next(models).id == 1
    assert len(api.requests) == 1


def test_a_cursor_given_again_ends_the_listing_with_a_warning(
    api: ScriptedAPI, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    api.model_pages = {
        None: {"models": [model(1)], "pagination": {"next_cursor": "c_1"}},
        "c_1": {"models": [model(2)], "pagination": {"next_cursor": "c_1"}},  # a server paging in a loop
    }

    with caplog.at_level("WARNING", logger="ppio_txt2img"):
        assert [m.id for m in make_client().models()] == [1, 2]

    assert len(api.requests) == 2
    assert [r.getMessage() for r in caplog.records] == [
        "the model list gave a page's cursor again: stopped there (models may repeat)"
    ]


def test_pages_without_end_stop_at_the_cap_with_a_warning(
    api: ScriptedAPI,
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(constants, "MAX_MODEL_PAGES", 5)
    api.model_pages = {None: {"models": [model(0)], "pagination": {"next_cursor": "c_1"}}} | {
        f"c_{i}": {"models": [model(i)], "pagination": {"next_cursor": f"c_{i + 1}"}} for i in range(1, 9)
    }

    with caplog.at_level("WARNING", logger="ppio_txt2img"):
        assert [m.id for m in make_client().models()] == [0, 1, 2, 3, 4]

    assert len(api.requests) == 5
    assert "still announced another page after 5 pages" in caplog.text


def test_a_missing_pagination_block_ends_the_listing(api: ScriptedAPI, make_client: ClientFactory) -> None:
    api.model_pages = {None: {"models": [model(1)]}}

    assert [m.id for m in make_client().models()] == [1]
    assert len(api.requests) == 1


def test_a_cursor_seen_twice_ends_the_listing(api: ScriptedAPI, make_client: ClientFactory) -> None:
    api.model_pages = {
        None: {"models": [model(1)], "pagination": {"next_cursor": "c_1"}},
        "c_1": {"models": [model(2)], "pagination": {"next_cursor": "c_1"}},  # a server stuck in a loop
    }

    assert [m.id for m in make_client().models()] == [1, 2]
    assert len(api.requests) == 2


def test_filters_map_to_the_apis_query_parameters(api: ScriptedAPI, make_client: ClientFactory) -> None:
    list(
        make_client().models(
            types="lora",
            visibility="public",
            source="civitai",
            is_sdxl=True,
            query="anime girl",
            is_inpainting=False,
            page_size=10,
        )
    )

    params = dict(httpx.URL(api.requests[0].url).params)
    assert params == {
        "filter.types": "lora",
        "filter.visibility": "public",
        "filter.source": "civitai",
        "filter.is_sdxl": "true",
        "filter.query": "anime girl",
        "filter.is_inpainting": "false",
        "pagination.limit": "10",
    }


def test_without_filters_no_filter_is_sent_but_the_page_size(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    list(make_client().models())

    params = dict(httpx.URL(api.requests[0].url).params)
    assert int(params.pop("pagination.limit")) == DEFAULT_MODELS_PAGE_SIZE
    # The generated layer sends the spec's default for filter.is_inpainting (false); nothing else.
    assert params == {"filter.is_inpainting": "false"}


LIMIT = query_parameters(load_spec(), "/v3/model")["pagination.limit"]


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        pytest.param({"types": "nope"}, "filter.types", id="types"),
        pytest.param({"visibility": "secret"}, "filter.visibility", id="visibility"),
        pytest.param({"source": "ftp"}, "filter.source", id="source"),
        pytest.param({"is_sdxl": "yes"}, "filter.is_sdxl", id="is_sdxl"),
        pytest.param({"page_size": LIMIT["minimum"] - 1}, "pagination.limit", id="page_size-low"),
        pytest.param({"page_size": LIMIT["maximum"] + 1}, "pagination.limit", id="page_size-high"),
        pytest.param({"kind": "lora"}, "kind", id="unknown-filter"),
    ],
)
def test_a_bad_filter_is_refused_before_any_request(
    api: ScriptedAPI, make_client: ClientFactory, filters: dict[str, Any], field: str
) -> None:
    with pytest.raises(ppio.ValidationError) as info:
        make_client().models(**filters)  # raised by the call itself, before iterating

    assert info.value.field == field
    assert api.requests == []


def test_ppio_entries_with_model_name_instead_of_sd_name_still_give_sd_name(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    entry = {
        "id": 7,
        "name": "PPIO model",
        "model_name": "ppio_model.safetensors",
        "categories": {},
        "tags": {},
    }
    api.model_pages = {None: {"models": [entry], "pagination": {}}}

    (found,) = make_client().models()

    assert found.sd_name == "ppio_model.safetensors"
    assert found.sd_name_in_api is None
    assert found.tags == ()


def test_a_model_type_outside_the_filter_enum_is_kept(api: ScriptedAPI, make_client: ClientFactory) -> None:
    api.model_pages = {None: {"models": [model(1, type={"name": "locon", "display_name": "LoCon"})]}}

    (found,) = make_client().models()

    assert found.type == "locon"


def test_async_models_follows_every_page(
    api: ScriptedAPI, make_async_client: AsyncClientFactory, anyio_backend: str
) -> None:
    three_pages(api)

    async def main() -> list[int | None]:
        async with make_async_client() as client:
            with pytest.raises(ppio.ValidationError):
                # A str, refused at run time: not in the spec's enum.
                client.models(types="nope")  # type: ignore[arg-type]
            return [m.id async for m in client.models(types="checkpoint")]

    assert anyio.run(main, backend=anyio_backend) == [1, 2, 3, 4, 5]
    assert len(api.requests) == 3
