"""The sandbox against the spec: schemathesis generates valid and invalid requests for every operation
and runs all of its checks on the answers (response schema, status codes, content types, headers,
negative data rejected, positive data accepted, no server errors, auth enforced, ...).

The spec is the one in the generated package (`ppio_api/openapi.json`, a copy of openapi/ppio.yaml).
"""

from __future__ import annotations

import importlib.resources
import json
import time
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error

from ppio_txt2img.sandbox import Sandbox
from tests.loopback import TLS

# Its plugin (what turns `schema.parametrize()` into test items) is loaded here, not for every pytest
# process: importing it costs 0.7 CPU-s, and only this module needs it.
pytest_plugins = ["schemathesis.pytest.plugin"]

API_KEY = "contract-test-key"

SPEC = json.loads((importlib.resources.files("ppio_api") / "openapi.json").read_text(encoding="utf-8"))

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20240517,
        "headers": {"Authorization": f"Bearer {API_KEY}"},
        "generation": {"max-examples": 20, "deterministic": True, "mode": "all", "database": "none"},
        "suppress-health-check": ["too_slow", "filter_too_much"],
    }
)

schema = schemathesis.openapi.from_dict(SPEC, config=CONFIG)

KNOWN_TASK_IDS: list[str] = []


def map_case(context: schemathesis.HookContext, case: schemathesis.Case[Any]) -> schemathesis.Case[Any]:
    """Keep positive cases within the rules the schema cannot express.

    Each is a deliberate refusal with a 400, so a positive case that breaks it is not "valid data":
    - `enable_transparent_background` needs `extra.response_image_type` png (the spec says so in words);
    - the sandbox only delivers webhooks to loopback URLs (it must never call out to the network);
    - `pagination.cursor` must be a cursor the server handed out ("c_0", the docs' example, is one).

    And, so that task results are checked too and not only 404s, most positive `task_id`s are swapped
    for ids of real tasks (queued or processing, succeeded, failed) made by the `base_url` fixture.
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    if isinstance(case.query, dict) and "pagination.cursor" in case.query:
        case.query["pagination.cursor"] = "c_0"
    if isinstance(case.query, dict) and isinstance(case.query.get("task_id"), str) and KNOWN_TASK_IDS:
        pick = zlib.crc32(case.query["task_id"].encode("utf-8", "surrogatepass")) % (len(KNOWN_TASK_IDS) + 1)
        if pick < len(KNOWN_TASK_IDS):
            case.query["task_id"] = KNOWN_TASK_IDS[pick]
    if not isinstance(case.body, dict):
        return case
    extra = case.body.get("extra")
    request = case.body.get("request")
    if isinstance(extra, dict):
        webhook = extra.get("webhook")
        if isinstance(webhook, dict) and "url" in webhook:
            webhook["url"] = "http://127.0.0.1:9/webhook"
        if isinstance(request, dict) and request.get("enable_transparent_background"):
            extra["response_image_type"] = "png"
    return case


schema.hook(map_case)


def _make_tasks(url: str) -> list[str]:
    """A task that succeeds, one that fails and one that is still running when the checks run."""
    request = {
        "model_name": "sd_xl_base_1.0.safetensors",
        "prompt": "a lighthouse at dusk",
        "width": 128,
        "height": 128,
        "image_num": 2,
        "steps": 1,
        "guidance_scale": 7,
        "sampler_name": "Euler a",
    }
    bodies = [
        {"extra": {"enable_nsfw_detection": True}, "request": request},
        {"request": {**request, "prompt": "FAIL on purpose"}},
        {"request": {**request, "width": 2048, "height": 2048, "image_num": 8, "steps": 100}},
    ]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, verify=TLS) as client:
        ids = [client.post("/v3/async/txt2img", json=body).json()["task_id"] for body in bodies]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            statuses = [
                client.get("/v3/async/task-result", params={"task_id": i}).json()["task"]["status"]
                for i in ids
            ]
            if statuses[:2] == ["TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED"]:
                return ids
            time.sleep(0.02)
    raise AssertionError("the sandbox's tasks did not finish")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    sandbox = Sandbox(
        accepted_api_keys=frozenset({API_KEY}),
        seed=7,
        queue_delay=0.0,
        webhook_retries=0,
        webhook_timeout=0.5,
    )
    with sandbox.serve() as url:
        KNOWN_TASK_IDS[:] = _make_tasks(url)
        yield url
        KNOWN_TASK_IDS.clear()


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    """One session for every case, as a client keeps its connections: without it schemathesis makes a
    session, a connection and a scan of the environment for proxies per case (about 2,000 here)."""
    with requests.Session() as session:
        session.trust_env = False  # loopback: no proxy, no .netrc
        yield session


@schema.parametrize()
def test_sandbox_conforms_to_the_spec(
    case: schemathesis.Case[Any], base_url: str, session: requests.Session
) -> None:
    case.call_and_validate(base_url=base_url, session=session)


# The same again with the sandbox injecting the documented errors (429 and 503 with Retry-After, 500
# with the per-endpoint reason, 502 and 504 as a gateway's HTML page) into about 40% of the answers, so
# that those responses, their bodies and their headers are checked against the spec too.
FAULTS = {429: 0.1, 500: 0.08, 502: 0.06, 503: 0.08, 504: 0.06}
faulty_schema = schemathesis.openapi.from_dict(
    SPEC,
    config=schemathesis.Config.from_dict(
        {
            "seed": 20240518,
            "headers": {"Authorization": f"Bearer {API_KEY}"},
            "generation": {"max-examples": 10, "deterministic": True, "mode": "all", "database": "none"},
            "suppress-health-check": ["too_slow", "filter_too_much"],
        }
    ),
)
faulty_schema.hook(map_case)


@pytest.fixture(scope="module")
def faulty_base_url() -> Iterator[str]:
    faults = dict.fromkeys(("txt2img", "task_result", "model"), FAULTS)
    sandbox = Sandbox(accepted_api_keys=frozenset({API_KEY}), seed=8, error_rates=faults, webhook_retries=0)
    with sandbox.serve() as url:
        yield url


@faulty_schema.parametrize()
def test_injected_errors_conform_to_the_spec(
    case: schemathesis.Case[Any], faulty_base_url: str, session: requests.Session
) -> None:
    # Excluded: `not_a_server_error`, because here the 5xx answers are injected on purpose;
    # every other check still runs on them (schema, status code, content type, headers).
    case.call_and_validate(base_url=faulty_base_url, session=session, excluded_checks=[not_a_server_error])
