"""`build_request` of each generated endpoint gives the method, path, query and body the API expects.

`build_request` (added by openapi/templates/endpoint_module.py.jinja) returns the keyword arguments of
`httpx.Client.request`; building a real `httpx.Request` from them shows what goes on the wire.
"""

from __future__ import annotations

from typing import Any

import httpx

from ppio_api.api.models import list_models
from ppio_api.api.tasks import get_task_result
from ppio_api.api.txt2img import create_txt2img_task
from ppio_api.models import ModelSource, ModelType, ModelVisibility, SamplerName, Txt2ImgBody, Txt2ImgRequest
from tests.loopback import TLS

BASE_URL = "https://api.ppinfra.com"


def wire(kwargs: dict[str, Any]) -> httpx.Request:
    with httpx.Client(base_url=BASE_URL, verify=TLS) as http:
        return http.build_request(**kwargs)


def test_create_txt2img_task_posts_the_body_as_json() -> None:
    body = Txt2ImgBody(
        request=Txt2ImgRequest(
            model_name="sd_xl_base_1.0.safetensors",
            prompt="a cute dog",
            width=1024,
            height=1024,
            image_num=1,
            steps=20,
            guidance_scale=7.5,
            sampler_name=SamplerName.DPM_2M_KARRAS,
        )
    )

    kwargs = create_txt2img_task.build_request(body=body)

    assert kwargs["method"] == "post"
    assert kwargs["url"] == "/v3/async/txt2img"
    assert kwargs["json"] == body.to_dict()
    assert kwargs["json"]["request"]["sampler_name"] == "DPM++ 2M Karras"
    assert kwargs["headers"] == {"Content-Type": "application/json"}
    assert "params" not in kwargs
    request = wire(kwargs)
    assert request.method == "POST"
    assert str(request.url) == f"{BASE_URL}/v3/async/txt2img"
    assert request.headers["content-type"] == "application/json"


def test_get_task_result_sends_task_id_as_query() -> None:
    kwargs = get_task_result.build_request(task_id="f10333f2-2dd7-4f56-a177-e3c02a774d9a")

    assert kwargs == {
        "method": "get",
        "url": "/v3/async/task-result",
        "params": {"task_id": "f10333f2-2dd7-4f56-a177-e3c02a774d9a"},
    }
    request = wire(kwargs)
    assert request.method == "GET"
    assert request.url.path == "/v3/async/task-result"
    assert request.url.params["task_id"] == "f10333f2-2dd7-4f56-a177-e3c02a774d9a"
    assert not request.content


def test_list_models_maps_every_filter_to_its_dotted_query_name() -> None:
    kwargs = list_models.build_request(
        filter_visibility=ModelVisibility.PUBLIC,
        filter_source=ModelSource.CIVITAI,
        filter_types=ModelType.LORA,
        filter_is_sdxl=True,
        filter_query="anime",
        filter_is_inpainting=True,
        pagination_limit=50,
        pagination_cursor="c_0",
    )

    assert kwargs["method"] == "get"
    assert kwargs["url"] == "/v3/model"
    assert kwargs["params"] == {
        "filter.visibility": "public",
        "filter.source": "civitai",
        "filter.types": "lora",
        "filter.is_sdxl": True,
        "filter.query": "anime",
        "filter.is_inpainting": True,
        "pagination.limit": 50,
        "pagination.cursor": "c_0",
    }
    query = wire(kwargs).url.params
    assert query["filter.types"] == "lora"
    assert query["filter.is_sdxl"] == "true"
    assert query["pagination.limit"] == "50"
    assert query["pagination.cursor"] == "c_0"


def test_list_models_omits_unset_filters_and_sends_is_inpainting_false_by_default() -> None:
    kwargs = list_models.build_request()

    assert kwargs == {"method": "get", "url": "/v3/model", "params": {"filter.is_inpainting": False}}
    assert wire(kwargs).url.query == b"filter.is_inpainting=false"
