"""Real clients send `null` for optional request fields, and the API accepts it (REFERENCE.md §8).

The official Python SDK, `novita-client` 0.7.1, builds `POST /v3/async/txt2img` from two dataclasses
(`proto.py`) and serializes every field, unset ones as `null`:

- `Txt2ImgV3Request`: model_name, prompt, height=512, width=512, image_num=1, sd_vae=None, steps=20,
  guidance_scale=7.5, sampler_name="Euler a", seed=None, negative_prompt=None, loras=None,
  embeddings=None, refiner=None, hires_fix=None, clip_skip=None;
- `CommonV3Extra`: response_image_type="jpeg", enable_nsfw_detection=False, nsfw_detection_level=0,
  custom_storage={}, enterprise_plan={}.

The spec accepts `null` for every optional field (meaning "not given"), so the sandbox, built from it,
creates the task; the SDK's own validator and the generated client accept the same body.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ppio_api.models import Txt2ImgBody
from ppio_txt2img._validation import validate_txt2img_body
from ppio_txt2img.sandbox import Sandbox
from tests.loopback import TLS

API_KEY = "null-fields-test-key"

#: What `NovitaClient.txt2img_v3(model_name=..., prompt=..., image_num=1)` sends.
NOVITA_CLIENT_BODY: dict[str, Any] = {
    "request": {
        "model_name": "sd_xl_base_1.0.safetensors",
        "prompt": "a lighthouse at dusk",
        "height": 512,
        "width": 512,
        "image_num": 1,
        "sd_vae": None,
        "steps": 20,
        "guidance_scale": 7.5,
        "sampler_name": "Euler a",
        "seed": None,
        "negative_prompt": None,
        "loras": None,
        "embeddings": None,
        "refiner": None,
        "hires_fix": None,
        "clip_skip": None,
    },
    "extra": {
        "response_image_type": "jpeg",
        "enable_nsfw_detection": False,
        "nsfw_detection_level": 0,
        "custom_storage": {},
        "enterprise_plan": {},
    },
}

#: Every optional field of the spec's request, at every level, as null.
ALL_NULLS: dict[str, Any] = {
    "extra": {
        "response_image_type": None,
        "webhook": None,
        "enable_nsfw_detection": None,
        "nsfw_detection_level": None,
        "custom_storage": {"aws_s3": None},
        "enterprise_plan": {"enabled": None},
    },
    "request": {
        **{k: v for k, v in NOVITA_CLIENT_BODY["request"].items() if v is not None},
        "enable_transparent_background": None,
        "restore_faces": None,
        "sd_vae": None,
        "seed": None,
        "negative_prompt": None,
        "loras": None,
        "embeddings": None,
        "refiner": None,
        "hires_fix": None,
        "clip_skip": None,
    },
}

#: `""` where the docs send it: an empty negative prompt (the PPIO page allows length 0) and no VAE.
EMPTY_STRINGS: dict[str, Any] = {
    "request": {**ALL_NULLS["request"], "negative_prompt": "", "sd_vae": ""},
    "extra": {"response_image_type": "png"},
}

BODIES = [
    pytest.param(NOVITA_CLIENT_BODY, id="novita-client-0.7.1"),
    pytest.param(ALL_NULLS, id="every-optional-field-null"),
    pytest.param({**NOVITA_CLIENT_BODY, "extra": None}, id="extra-null"),
    pytest.param(EMPTY_STRINGS, id="empty-negative-prompt-and-vae"),
]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with Sandbox(accepted_api_keys=frozenset({API_KEY}), speed=50, queue_delay=0.0, seed=3).serve() as url:
        yield url


def wait_for_result(client: httpx.Client, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        result: dict[str, Any] = client.get("/v3/async/task-result", params={"task_id": task_id}).json()
        if result["task"]["status"] in ("TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED"):
            return result
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not finish")


@pytest.mark.parametrize("body", BODIES)
def test_the_sandbox_creates_a_task_from_a_body_with_null_optional_fields(
    base_url: str, body: dict[str, Any]
) -> None:
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}, verify=TLS
    ) as client:
        created = client.post("/v3/async/txt2img", json=body)
        assert created.status_code == 200, created.text
        result = wait_for_result(client, created.json()["task_id"])

    assert result["task"]["status"] == "TASK_STATUS_SUCCEED"
    [image] = result["images"]
    extra = body.get("extra") or {}
    assert image["image_type"] == (extra.get("response_image_type") or "png")  # null: the default
    assert int(result["extra"]["seed"]) >= 0  # seed null: drawn at random, as -1 would be


def test_a_required_field_may_not_be_null(base_url: str) -> None:
    body = copy.deepcopy(NOVITA_CLIENT_BODY)
    body["request"]["width"] = None
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}, verify=TLS
    ) as client:
        refused = client.post("/v3/async/txt2img", json=body)

    assert refused.status_code == 400
    assert refused.json()["reason"] == "INVALID_REQUEST_BODY"
    assert "request.width" in refused.json()["message"]


@pytest.mark.parametrize("body", BODIES)
def test_the_sdk_validator_and_the_generated_client_accept_and_keep_the_nulls(body: dict[str, Any]) -> None:
    validate_txt2img_body(body)  # does not raise

    assert Txt2ImgBody.from_dict(copy.deepcopy(body)).to_dict() == body
