"""The generated layer (`ppio_api`) parses every payload the API documents, and what it may add later.

Payloads are the ones in the reference (shared/api/REFERENCE.md): §1 task results, §3 error bodies,
§4 the model list, §5 the webhook event. Only `ppio_api` is imported here.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

import ppio_api
from ppio_api import errors
from ppio_api.api.models import list_models
from ppio_api.api.tasks import get_task_result
from ppio_api.api.txt2img import create_txt2img_task
from ppio_api.models import (
    CreateTaskResponse,
    DebugInfo,
    ErrorBody,
    ErrorBodyMetadata,
    ErrorReason,
    ModelListResponse,
    ModelStatus,
    ModelType,
    ModelTypeInfo,
    NsfwDetectionResult,
    Pagination,
    ResponseImageType,
    TaskResultExtra,
    TaskResultResponse,
    TaskStatus,
    TaskType,
    Txt2ImgBody,
    WebhookEvent,
    WebhookEventType,
)
from ppio_api.types import UNSET

TASK_ID = "f10333f2-2dd7-4f56-a177-e3c02a774d9a"

# §1 example 1: the txt2img page's own result (string TTL and seed, null NSFW, full debug_info).
REQUEST_INFO = json.dumps(
    {
        "model": "sd_xl_base_1.0.safetensors",
        "prompts": ["a cute dog"],
        "seeds": [392212448],
        "height": 384,
        "width": 512,
        "guidance_scale": 7.5,
        "num_images_per_prompt": 2,
        "num_inference_steps": 20,
        "sampler_name": "Euler a",
        "clip_skip": 1,
    },
    separators=(",", ":"),
)
TXT2IMG_DOC_RESULT: dict[str, Any] = {
    "extra": {
        "seed": "392212448",
        "enable_nsfw_detection": False,
        "debug_info": {
            "request_info": REQUEST_INFO,
            "submit_time_ms": "1715052533293",
            "execute_time_ms": "1715052533362",
            "complete_time_ms": "1715052537148",
        },
    },
    "task": {
        "task_id": TASK_ID,
        "task_type": "TXT_TO_IMG",
        "status": "TASK_STATUS_SUCCEED",
        "reason": "",
        "eta": 0,
        "progress_percent": 0,
    },
    "images": [
        {
            "image_url": f"https://faas-output-image.s3.ap-southeast-1.amazonaws.com/prod/{TASK_ID}/0a1b.jpeg"
            "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600",
            "image_url_ttl": "3600",
            "image_type": "jpeg",
            "nsfw_detection_result": None,
        }
    ],
    "videos": [],
    "audios": [],
}

# §1 example 2: the task-result page (integer TTL, `{}` NSFW result, empty debug_info strings).
TASK_RESULT_PAGE_RESULT: dict[str, Any] = {
    "extra": {
        "seed": "158881667",
        "enable_nsfw_detection": False,
        "debug_info": {
            "request_info": "",
            "submit_time_ms": "",
            "execute_time_ms": "",
            "complete_time_ms": "",
        },
    },
    "task": {
        "task_id": TASK_ID,
        "task_type": "TXT_TO_IMG",
        "status": "TASK_STATUS_SUCCEED",
        "reason": "",
        "eta": 0,
        "progress_percent": 0,
    },
    "images": [
        {
            "image_url": "https://faas-output-image.s3.ap-southeast-1.amazonaws.com/prod/x/0.png",
            "image_url_ttl": 3600,
            "image_type": "png",
            "nsfw_detection_result": {},
        }
    ],
    "videos": [],
    "audios": [],
}

# §4: the model list example, plus a model whose type is outside the filter enum.
MODEL_LIST: dict[str, Any] = {
    "models": [
        {
            "id": 114600,
            "name": "V4.0-inpainting (VAE)",
            "hash_sha256": "1A805277C8",
            "sd_name": "realisticVisionV40_v40VAE-inpainting_81543.safetensors",
            "type": {"name": "checkpoint", "display_name": "Checkpoint"},
            "categories": [],
            "status": 1,
            "tags": ["photorealistic", "anatomical"],
            "cover_url": "https://example.com/cover.jpeg",
            "base_model": "SD 1.5",
            "base_model_type": "Inpainting",
            "download_url_ttl": 2592000,
            "sd_name_in_api": "realisticVisionV40_v40VAE-inpainting_81543.safetensors",
            "is_sdxl": False,
        },
        {"id": 7, "name": "Some LyCORIS", "type": {"name": "locon", "display_name": "LoCon"}, "status": 1},
    ],
    "pagination": {"next_cursor": "c_WzgwNDY2NiwiNTUxOTkiXQ=="},
}

# §3: every documented reason with its status, and the JS SDK's extra one.
DOCUMENTED_ERRORS: list[tuple[int, str]] = [
    *[
        (400, reason)
        for reason in (
            "INVALID_REQUEST_BODY",
            "IMAGE_FILE_EXCEEDS_MAX_SIZE",
            "INVALID_IMAGE_FORMAT",
            "IMAGE_EXCEEDS_MAX_RESOLUTION",
            "INVALID_IMAGE_SIZE",
            "IMAGE_NO_FACE_DETECTED",
            "INVALID_CUSTOM_OUTPUT_PATH",
            "ILLEGAL_PROMPT",
            "ILLEGAL_IMAGE_CONTENT",
            "INVALID_AUDIO_FILE",
            "BILLING_BALANCE_NOT_ENOUGH",
            "MISSING_API_KEY",
        )
    ],
    *[
        (403, reason)
        for reason in (
            "BILLING_AUTH_FAILED",
            "INVALID_API_KEY",
            "FEATURE_NOT_ALLOWED",
            "API_NOT_ALLOWED",
            "NEED_REAL_NAME_VERIFY",
        )
    ],
    (404, "API_NOT_FOUND"),
    (404, "TASK_NOT_FOUND"),
    (429, "RATE_LIMIT_EXCEEDED"),
    *[
        (500, reason)
        for reason in ("BILLING_FAILED", "CREATE_TASK_FAILED", "GET_RESULT_FAILED", "TASK_FAILED")
    ],
    (403, "ANONYMOUS_ACCESS_QUOTA_EXCEEDS"),
]


def client() -> ppio_api.Client:
    return ppio_api.Client(base_url="http://x", raise_on_unexpected_status=True)


def parse_task_result(payload: dict[str, Any], status_code: int = 200) -> Any:
    response = httpx.Response(status_code, json=payload)
    return get_task_result.parse_response(client=client(), response=response).parsed


def task_result(payload: dict[str, Any]) -> TaskResultResponse:
    parsed = parse_task_result(payload)
    assert isinstance(parsed, TaskResultResponse)
    return parsed


# --------------------------------------------------------------------------- §1 task results


def test_txt2img_doc_result_parses_string_ttl_null_nsfw_and_full_debug_info() -> None:
    result = task_result(TXT2IMG_DOC_RESULT)

    assert result.task.task_id == TASK_ID
    assert result.task.status == TaskStatus.TASK_STATUS_SUCCEED
    assert type(result.task.status) is str  # an open value: a plain string, documented or not
    assert result.task.task_type == TaskType.TXT_TO_IMG
    assert result.task.reason == ""
    assert result.task.eta == 0
    assert isinstance(result.extra, TaskResultExtra)
    assert result.extra.seed == "392212448"
    assert result.extra.enable_nsfw_detection is False
    assert isinstance(result.extra.debug_info, DebugInfo)
    assert isinstance(result.extra.debug_info.request_info, str)
    assert json.loads(result.extra.debug_info.request_info)["num_images_per_prompt"] == 2
    assert result.extra.debug_info.submit_time_ms == "1715052533293"
    assert result.extra.debug_info.complete_time_ms == "1715052537148"
    assert isinstance(result.images, list)
    [image] = result.images
    assert image.image_url.startswith("https://faas-output-image.s3.")
    assert image.image_url_ttl == "3600"
    assert image.image_type == ResponseImageType.JPEG
    assert image.nsfw_detection_result is None
    assert result.videos == []
    assert result.audios == []


def test_task_result_page_example_parses_integer_ttl_empty_nsfw_object_and_empty_debug_strings() -> None:
    result = task_result(TASK_RESULT_PAGE_RESULT)

    assert isinstance(result.images, list)
    [image] = result.images
    assert image.image_url_ttl == 3600
    assert isinstance(image.nsfw_detection_result, NsfwDetectionResult)
    assert image.nsfw_detection_result.valid is UNSET
    assert image.nsfw_detection_result.confidence is UNSET
    assert isinstance(result.extra, TaskResultExtra)
    assert result.extra.seed == "158881667"
    assert isinstance(result.extra.debug_info, DebugInfo)
    assert result.extra.debug_info.to_dict() == dict.fromkeys(
        ("request_info", "submit_time_ms", "execute_time_ms", "complete_time_ms"), ""
    )


def test_result_without_debug_info_and_audios_leaves_them_unset() -> None:
    payload = copy.deepcopy(TXT2IMG_DOC_RESULT)
    payload["extra"] = {"seed": "392212448", "enable_nsfw_detection": False}
    del payload["audios"]

    result = task_result(payload)

    assert isinstance(result.extra, TaskResultExtra)
    assert result.extra.debug_info is UNSET
    assert result.audios is UNSET
    assert result.videos == []


def test_extra_with_only_seed_parses() -> None:
    payload = copy.deepcopy(TXT2IMG_DOC_RESULT)
    payload["extra"] = {"seed": "42"}

    result = task_result(payload)

    assert isinstance(result.extra, TaskResultExtra)
    assert result.extra.seed == "42"
    assert result.extra.enable_nsfw_detection is UNSET
    assert result.extra.debug_info is UNSET


def test_ppio_qwen_result_keeps_has_nsfw_contents_and_ttl_zero() -> None:
    payload = {
        "extra": {"has_nsfw_contents": []},
        "task": {
            "task_id": "q-1",
            "task_type": "QWEN_IMAGE_TEXT_TO_IMAGE",
            "status": "TASK_STATUS_SUCCEED",
            "reason": "",
            "eta": 0,
            "progress_percent": 0,
        },
        "images": [
            {
                "image_url": "https://d111111abcdef8.cloudfront.net/q-1/0.jpeg",
                "image_url_ttl": "0",
                "image_type": "jpeg",
                "nsfw_detection_result": None,
            }
        ],
        "videos": [],
        "audios": [],
    }

    result = task_result(payload)

    assert result.task.task_type == TaskType.QWEN_IMAGE_TEXT_TO_IMAGE
    assert isinstance(result.extra, TaskResultExtra)
    assert result.extra.seed is UNSET
    assert result.extra.additional_properties == {"has_nsfw_contents": []}
    assert isinstance(result.images, list)
    assert result.images[0].image_url_ttl == "0"


@pytest.mark.parametrize("status", [member.value for member in TaskStatus])
def test_documented_statuses_parse_as_strings_equal_to_the_enum(status: str) -> None:
    payload = {"task": {"task_id": "t", "status": status, "eta": 3, "progress_percent": 40}, "images": []}

    result = task_result(payload)

    assert result.task.status == TaskStatus(status)
    assert type(result.task.status) is str
    assert result.task.eta == 3
    assert result.task.progress_percent == 40
    assert result.images == []


def test_unknown_task_status_is_kept_as_a_plain_string() -> None:
    payload = {"task": {"task_id": "t", "status": "TASK_STATUS_WARMING_UP"}}

    result = task_result(payload)

    assert result.task.status == "TASK_STATUS_WARMING_UP"
    assert not isinstance(result.task.status, TaskStatus)
    assert result.to_dict() == payload


def test_unknown_task_type_and_image_type_are_kept_as_strings() -> None:
    payload = {
        "task": {"task_id": "t", "status": "TASK_STATUS_SUCCEED", "task_type": "TXT_TO_VIDEO"},
        "images": [{"image_url": "https://x/0.avif", "image_type": "avif"}],
    }

    result = task_result(payload)

    assert result.task.task_type == "TXT_TO_VIDEO"
    assert isinstance(result.images, list)
    assert result.images[0].image_type == "avif"


def test_unknown_keys_are_kept_in_additional_properties_at_every_level() -> None:
    payload = copy.deepcopy(TXT2IMG_DOC_RESULT)
    payload["request_id"] = "r-1"
    payload["task"]["queue_position"] = 3
    payload["extra"]["region"] = "ap-southeast-1"
    payload["extra"]["debug_info"]["worker"] = "w-7"
    payload["images"][0]["width"] = 512

    result = task_result(payload)

    assert result.additional_properties == {"request_id": "r-1"}
    assert result.task.additional_properties == {"queue_position": 3}
    assert isinstance(result.extra, TaskResultExtra)
    assert result.extra.additional_properties == {"region": "ap-southeast-1"}
    assert isinstance(result.extra.debug_info, DebugInfo)
    assert result.extra.debug_info["worker"] == "w-7"
    assert isinstance(result.images, list)
    assert result.images[0].additional_properties == {"width": 512}
    assert result.to_dict() == payload


def test_every_documented_result_survives_a_to_dict_round_trip() -> None:
    for payload in (TXT2IMG_DOC_RESULT, TASK_RESULT_PAGE_RESULT):
        assert TaskResultResponse.from_dict(payload).to_dict() == payload


# ------------------------------------------------------------------------------ §5 webhook


def test_webhook_event_from_docs_parses_and_keeps_the_echoed_webhook_config() -> None:
    event = {
        "event_type": "ASYNC_TASK_RESULT",
        "payload": {
            "task": {
                "eta": 0,
                "progress_percent": 0,
                "reason": "",
                "status": "TASK_STATUS_SUCCEED",
                "task_id": "f6aec953-2e81-4e8b-938e-2ceab54d6df9",
                "task_type": "TXT_TO_IMG",
            },
            "extra": {
                "enable_nsfw_detection": False,
                "webhook": {"url": "https://your-webhook-endpoint-url"},
            },
            "images": [
                {
                    "image_type": "jpeg",
                    "image_url": "https://faas-output-image.s3.ap-southeast-1.amazonaws.com/test_data/image_01.jpeg",
                    "image_url_ttl": "3600",
                    "nsfw_detection_result": None,
                }
            ],
            "videos": [],
            "audios": [],
        },
    }

    parsed = WebhookEvent.from_dict(event)

    assert parsed.event_type == WebhookEventType.ASYNC_TASK_RESULT
    assert parsed.payload.task.task_id == "f6aec953-2e81-4e8b-938e-2ceab54d6df9"
    assert parsed.payload.task.status == TaskStatus.TASK_STATUS_SUCCEED
    assert isinstance(parsed.payload.extra, TaskResultExtra)
    assert parsed.payload.extra.additional_properties == {
        "webhook": {"url": "https://your-webhook-endpoint-url"}
    }
    assert isinstance(parsed.payload.images, list)
    assert parsed.payload.images[0].image_url_ttl == "3600"
    assert parsed.to_dict() == event


def test_unknown_webhook_event_type_is_kept_as_a_string() -> None:
    parsed = WebhookEvent.from_dict(
        {"event_type": "ASYNC_TASK_PROGRESS", "payload": {"task": {"task_id": "t", "status": "X"}}}
    )

    assert parsed.event_type == "ASYNC_TASK_PROGRESS"
    assert not isinstance(parsed.event_type, WebhookEventType)


# --------------------------------------------------------------------------- §4 model list


def test_model_list_example_parses_and_keeps_a_type_outside_the_enum() -> None:
    response = httpx.Response(200, json=MODEL_LIST)
    parsed = list_models.parse_response(client=client(), response=response).parsed

    assert isinstance(parsed, ModelListResponse)
    first, locon = parsed.models
    assert first.id == 114600
    assert first.sd_name_in_api == "realisticVisionV40_v40VAE-inpainting_81543.safetensors"
    assert first.status == ModelStatus.MODEL_AVAILABLE
    assert first.download_url_ttl == 2592000
    assert first.is_sdxl is False
    assert first.tags == ["photorealistic", "anatomical"]
    assert isinstance(first.type_, ModelTypeInfo)
    assert first.type_.name == ModelType.CHECKPOINT
    assert isinstance(locon.type_, ModelTypeInfo)
    assert locon.type_.name == "locon"
    assert not isinstance(locon.type_.name, ModelType)
    assert isinstance(parsed.pagination, Pagination)
    assert parsed.pagination.next_cursor == "c_WzgwNDY2NiwiNTUxOTkiXQ=="
    assert parsed.to_dict() == MODEL_LIST


def test_ppio_model_with_model_name_and_unknown_status_parses() -> None:
    parsed = ModelListResponse.from_dict(
        {"models": [{"model_name": "qwen-image", "status": 2, "categories": [{}], "tags": [{"k": "v"}]}]}
    )

    [model] = parsed.models
    assert model.model_name == "qwen-image"
    assert model.sd_name is UNSET
    assert model.status == 2
    assert not isinstance(model.status, ModelStatus)
    assert parsed.pagination is UNSET


# ------------------------------------------------------------------------------ §3 errors


@pytest.mark.parametrize(("status_code", "reason"), DOCUMENTED_ERRORS)
def test_error_body_with_each_documented_reason_parses_as_a_string_equal_to_the_enum(
    status_code: int, reason: str
) -> None:
    body = {"code": status_code, "reason": reason, "message": "something went wrong ", "metadata": {}}

    parsed = parse_task_result(body, status_code=status_code)

    assert isinstance(parsed, ErrorBody)
    assert parsed.code == status_code
    assert parsed.reason == ErrorReason(reason)
    assert parsed.message == "something went wrong "


def test_error_body_with_an_unknown_reason_keeps_it_as_a_string_with_its_metadata() -> None:
    body = {"code": 418, "reason": "SOMETHING_NEW", "message": "", "metadata": {"task_id": "t-1"}}

    parsed = ErrorBody.from_dict(body)

    assert parsed.reason == "SOMETHING_NEW"
    assert not isinstance(parsed.reason, ErrorReason)
    assert isinstance(parsed.metadata, ErrorBodyMetadata)
    assert parsed.metadata.additional_properties == {"task_id": "t-1"}
    assert parsed.to_dict() == body


@pytest.mark.parametrize("status_code", [401, 503])
def test_error_statuses_outside_the_reason_table_still_parse_as_error_body(status_code: int) -> None:
    parsed = parse_task_result({"code": status_code, "message": "nope"}, status_code=status_code)

    assert isinstance(parsed, ErrorBody)
    assert parsed.reason is UNSET


def test_an_undocumented_status_raises_unexpected_status_with_the_body() -> None:
    response = httpx.Response(418, text="<html>a teapot</html>")

    with pytest.raises(errors.UnexpectedStatus) as caught:
        get_task_result.parse_response(client=client(), response=response)

    assert caught.value.status_code == 418
    assert b"a teapot" in caught.value.content


@pytest.mark.parametrize("status_code", [502, 504])
def test_a_gateways_html_page_on_502_and_504_parses_as_its_text(status_code: int) -> None:
    response = httpx.Response(status_code, text="<html>bad gateway</html>")

    parsed = get_task_result.parse_response(client=client(), response=response).parsed

    assert parsed == "<html>bad gateway</html>"


def test_create_task_response_parses_the_task_id() -> None:
    response = httpx.Response(200, json={"task_id": TASK_ID})
    parsed = create_txt2img_task.parse_response(client=client(), response=response).parsed

    assert isinstance(parsed, CreateTaskResponse)
    assert parsed.task_id == TASK_ID


# ------------------------------------------------------------------------------ §2 request


FULL_REQUEST: dict[str, Any] = {
    "extra": {
        "response_image_type": "png",
        "webhook": {
            "url": "https://example.com/hook",
            "test_mode": {"enabled": True, "return_task_status": "TASK_STATUS_FAILED"},
        },
        "enable_nsfw_detection": True,
        "nsfw_detection_level": 2,
        "custom_storage": {
            "aws_s3": {"region": "us-east-1", "bucket": "b", "path": "/out", "save_to_path_directly": True}
        },
        "enterprise_plan": {"enabled": False},
    },
    "request": {
        "model_name": "sd_xl_base_1.0.safetensors",
        "prompt": "a cute dog",
        "negative_prompt": "",
        "width": 1024,
        "height": 768,
        "image_num": 2,
        "steps": 30,
        "guidance_scale": 7.5,
        "sampler_name": "DPM++ 2M Karras",
        "sd_vae": "sdxl_vae.safetensors",
        "seed": 4294967295,
        "loras": [{"model_name": "add_detail_44319", "strength": 0.7}],
        "embeddings": [{"model_name": "bad_prompt_v2"}],
        "hires_fix": {"target_width": 2048, "target_height": 1536, "strength": 0.5, "upscaler": "Latent"},
        "refiner": {"switch_at": 0.8},
        "clip_skip": 2,
        "enable_transparent_background": True,
        "restore_faces": True,
    },
}


REQUIRED_REQUEST_KEYS = (
    "model_name",
    "prompt",
    "width",
    "height",
    "image_num",
    "steps",
    "guidance_scale",
    "sampler_name",
)


def test_full_txt2img_body_round_trips_through_to_dict_and_from_dict() -> None:
    body = Txt2ImgBody.from_dict(FULL_REQUEST)

    assert body.to_dict() == FULL_REQUEST
    assert Txt2ImgBody.from_dict(body.to_dict()) == body


def test_minimal_txt2img_body_round_trips_without_gaining_defaults() -> None:
    minimal = {"request": {key: FULL_REQUEST["request"][key] for key in REQUIRED_REQUEST_KEYS}}

    assert Txt2ImgBody.from_dict(minimal).to_dict() == minimal
