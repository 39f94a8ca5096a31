"""`GET /v3/model`: the built-in catalogue, its filters and its opaque cursors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ppio_txt2img.sandbox import Sandbox
from tests.loopback import TLS
from tests.sandbox.sandbox_helpers import AUTH, assert_conforms


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with Sandbox().serve() as url, httpx.Client(base_url=url, headers=AUTH, verify=TLS) as client:
        yield client


def _page(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/v3/model", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert_conforms("ModelListResponse", body)
    return body


def _all(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        page = _page(client, **params, **({"pagination.cursor": cursor} if cursor else {}))
        models += page["models"]
        cursor = page["pagination"]["next_cursor"]
        if not cursor:
            return models
    raise AssertionError("pagination did not end")


def test_pagination_covers_the_catalogue_exactly_once(client: httpx.Client) -> None:
    everything = _page(client, **{"pagination.limit": 100})
    assert everything["pagination"]["next_cursor"] == ""
    paged = _all(client, **{"pagination.limit": 4})
    assert [m["id"] for m in paged] == [m["id"] for m in everything["models"]]
    assert len({m["id"] for m in paged}) == len(paged) >= 15


def test_default_page_has_ten_models_and_an_opaque_cursor(client: httpx.Client) -> None:
    first = _page(client)
    assert len(first["models"]) == 10
    assert first["pagination"]["next_cursor"].startswith("c_")
    assert _page(client, **{"pagination.cursor": "c_0"}) == first  # the docs' first-page cursor


def test_catalogue_has_the_documented_kinds_of_model(client: httpx.Client) -> None:
    models = {m["sd_name"]: m for m in _all(client, **{"pagination.limit": 100})}
    sdxl = models["sd_xl_base_1.0.safetensors"]
    assert sdxl["is_sdxl"] is True
    assert sdxl["type"] == {"name": "checkpoint", "display_name": "Checkpoint"}
    assert sdxl["status"] == 1
    assert sdxl["download_url_ttl"] == 2592000
    kinds = {m["type"]["name"] for m in models.values()}
    assert kinds >= {"checkpoint", "lora", "vae", "textualinversion", "upscaler", "locon"}
    lora = next(m for m in models.values() if m["type"]["name"] == "lora")
    assert not lora["sd_name_in_api"].endswith(".safetensors")


def _searchable(model: dict[str, Any]) -> str:
    return " ".join([model["sd_name"], model["name"], *model["tags"]]).lower()


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"filter.types": "lora"}, lambda m: m["type"]["name"] == "lora"),
        ({"filter.types": "textualinversion"}, lambda m: m["type"]["name"] == "textualinversion"),
        ({"filter.is_sdxl": "true"}, lambda m: m["is_sdxl"]),
        ({"filter.is_sdxl": "false"}, lambda m: not m["is_sdxl"]),
        ({"filter.is_inpainting": "true"}, lambda m: m["is_inpainting"]),
        ({"filter.source": "training"}, lambda m: m["source"] == "training"),
        ({"filter.visibility": "private"}, lambda m: m["source"] in ("training", "uploading")),
        ({"filter.query": "REALISTIC"}, lambda m: "realistic" in _searchable(m)),
        ({"filter.query": "anime"}, lambda m: "anime" in _searchable(m)),
    ],
)
def test_filters_select_matching_models(client: httpx.Client, params: dict[str, str], check: Any) -> None:
    models = _all(client, **params, **{"pagination.limit": 3})
    assert models
    assert all(check(m) for m in models)
    assert len(models) < len(_all(client, **{"pagination.limit": 100}))


@pytest.mark.parametrize(
    "params",
    [
        {"pagination.limit": "0"},
        {"pagination.limit": "101"},
        {"pagination.limit": "ten"},
        {"pagination.limit": "1.5"},
        {"filter.is_sdxl": "yes"},
        {"filter.types": "motion"},
        {"filter.visibility": "secret"},
        {"pagination.cursor": "c_garbage"},
        {"pagination.cursor": "12"},
    ],
)
def test_invalid_query_values_are_400_naming_the_parameter(
    client: httpx.Client, params: dict[str, str]
) -> None:
    response = client.get("/v3/model", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["reason"] == "INVALID_REQUEST_BODY"
    assert body["message"].startswith(next(iter(params)) + ":")
