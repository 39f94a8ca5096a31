"""The one module that knows the generated client `ppio_api`.

Everything the facade needs from it goes through here: the request builders of each operation, the
response models, the reading of responses into the facade's own types (`Task`, `Model`, ...), the
`Unset` marker, and the spec copy it ships. Nothing else in the facade imports `ppio_api`.

Responses are checked against the spec's schema (liberally: numbers may come as numeric strings, new
keys and enum values are kept) before they are read, because the generated `from_dict` checks no types:
`eta: "soon"` or `image_url: 123` must be a clear `ResponseMismatch`, not a `TypeError` three calls
later. A task result, read on every poll and webhook, is then read from the checked JSON itself; the
other responses through the generated models. `ppio_api` is imported on first use, so
`import ppio_txt2img` stays light.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from ._errors import ValidationError
from ._fast_check import Check, compile_check
from ._results import ImageRef, Model, NsfwResult, Task, TaskStatus

__all__ = [
    "ApiRequest",
    "ErrorInfo",
    "ResponseMismatch",
    "create_task_request",
    "error_info",
    "models_request",
    "parse_created_task_id",
    "parse_models_page",
    "parse_task",
    "spec_text",
    "task_from_payload",
    "task_result_request",
]

#: Nesting deeper than this in a response is refused before `json.loads` recurses into it.
_MAX_JSON_DEPTH = 64


class ResponseMismatch(Exception):
    """A response body that is not JSON of the shape the spec describes."""


@dataclass(frozen=True)
class ApiRequest:
    """One API request, as the generated builder makes it: method, path on the base URL, query, body."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None


@dataclass(frozen=True)
class ErrorInfo:
    """What an error body says (every field None when the body is not the documented JSON)."""

    reason: str | None = None
    message: str | None = None
    metadata: Mapping[str, str] | None = None


def spec_text() -> str:
    """The spec the installed `ppio_api` was generated from, as JSON text."""
    return resources.files("ppio_api").joinpath("openapi.json").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------ requests
def _request(kwargs: Mapping[str, Any]) -> ApiRequest:
    method, path = kwargs["method"].upper(), kwargs["url"]
    return ApiRequest(method=method, path=path, params=kwargs.get("params"), json=kwargs.get("json"))


def create_task_request(body: Mapping[str, Any]) -> ApiRequest:
    """`POST /v3/async/txt2img` with a validated body."""
    from ppio_api.api.txt2img import create_txt2img_task
    from ppio_api.models import Txt2ImgBody

    return _request(create_txt2img_task.build_request(body=Txt2ImgBody.from_dict(body)))


def task_result_request(task_id: str) -> ApiRequest:
    """`GET /v3/async/task-result?task_id=...`."""
    from ppio_api.api.tasks import get_task_result

    return _request(get_task_result.build_request(task_id=task_id))


def models_request(query: Mapping[str, Any], cursor: str | None) -> ApiRequest:
    """`GET /v3/model` for a validated query (dotted parameter names) and a page cursor."""
    from ppio_api.api.models import list_models
    from ppio_api.models import ModelSource, ModelType, ModelVisibility

    enums: dict[str, Any] = {
        "filter.visibility": ModelVisibility,
        "filter.source": ModelSource,
        "filter.types": ModelType,
    }
    kwargs = {
        name.replace(".", "_"): enums[name](value) if name in enums else value
        for name, value in query.items()
        if value is not None
    }
    if cursor:
        kwargs["pagination_cursor"] = cursor
    return _request(list_models.build_request(**kwargs))


# ----------------------------------------------------------------------------------------- responses
def _nested_too_deep(content: bytes) -> bool:
    """Cheap guard before `json.loads`, which recurses once per level. A body is no deeper than the
    brackets it has (a task result has a dozen), so only a body with enough of them is walked."""
    if content.count(b"[") + content.count(b"{") <= _MAX_JSON_DEPTH:
        return False
    depth = 0
    for byte in content:
        if byte in b"[{":
            depth += 1
            if depth > _MAX_JSON_DEPTH:
                return True
        elif byte in b"]}":
            depth -= 1
    return False


def _json(content: bytes) -> Any:
    if _nested_too_deep(content):
        raise ResponseMismatch(f"JSON nested deeper than {_MAX_JSON_DEPTH} levels")
    try:
        return json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise ResponseMismatch(f"not JSON: {exc}") from None


@cache
def _response_check(schema_name: str) -> Check:
    from ._spec import component, load_spec

    spec = load_spec()
    return compile_check(component(spec, schema_name), spec, response=True)


def prepare() -> None:
    """Import the generated client's builders and models, and compile the checks of the answers a call
    reads, now rather than in the first call (an `AsyncClient` being made: its first call would do this
    inside the event loop, stalling every other task there for some 40 ms)."""
    from ppio_api.api.tasks import get_task_result  # noqa: F401
    from ppio_api.api.txt2img import create_txt2img_task  # noqa: F401
    from ppio_api.models import Txt2ImgBody  # noqa: F401

    for schema_name in ("CreateTaskResponse", "TaskResultResponse"):
        _response_check(schema_name)


def _checked(data: Any, schema_name: str, path: str = "") -> Any:
    """`data` checked against a response schema of the spec (liberally): by the compiled check, and by
    the interpreter, which names the problem, when that says no."""
    if _response_check(schema_name)(data):
        return data
    from ._spec import component, load_spec
    from ._validation import validate

    spec = load_spec()
    try:
        validate(data, component(spec, schema_name), path, spec, response=True)
    except ValidationError as exc:
        raise ResponseMismatch(str(exc)) from None
    return data  # not reached: the two agree (tests/unit/test_fast_check.py)


@cache
def _unset_type() -> type:
    from ppio_api.types import Unset

    return Unset


def _unset(value: object) -> Any:
    """None for the generated layer's UNSET marker, else the value."""
    return None if isinstance(value, _unset_type()) else value


def _number(value: object) -> float | None:
    """A number, or a numeric string read as one (already checked by the schema); None if absent."""
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]  # int, float or a numeric string
    except OverflowError:  # an integer past any float (10**400): as unusable as an infinite one
        return None
    return number if math.isfinite(number) else None


def _integer(value: object) -> int | None:
    """An integer sent as a number or a numeric string (`3600` or `"3600"`); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _expires_at(ttl: object, received_at: datetime) -> datetime | None:
    """When a URL with `image_url_ttl` seconds to live expires; None when unknown, 0 or out of range
    (PPIO sends "0" for URLs that do not expire)."""
    seconds = _integer(ttl)
    if seconds is None or seconds <= 0:
        return None
    try:
        return received_at + timedelta(seconds=seconds)
    except OverflowError:  # a TTL past the year 9999: as good as no expiry
        return None


def parse_created_task_id(content: bytes) -> str:
    """The `task_id` of a `POST /v3/async/txt2img` answer."""
    from ppio_api.models import CreateTaskResponse

    data = _checked(_json(content), "CreateTaskResponse")
    task_id: str = CreateTaskResponse.from_dict(data).task_id
    return task_id


def enveloped_task_id(content: bytes) -> str | None:
    """The task id a create answer names in the API's V2 envelope (`{"code": 0, "msg": "", "data":
    {"task_id": ...}}`, which V3 dropped but an old example of its docs still shows); None for any other
    answer, or an id no task-result request could name."""
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or type(data.get("code")) is not int or data["code"] != 0:
        return None
    inner = data.get("data")
    task_id = inner.get("task_id") if isinstance(inner, dict) else None
    return task_id if _response_check("CreateTaskResponse")({"task_id": task_id}) else None


def _task(result: Mapping[str, Any], received_at: datetime) -> Task:
    """The facade's `Task` from a task result the schema check has passed: read from the JSON itself.
    The generated `TaskResultResponse.from_dict` reads the same keys and checks nothing more, so going
    through it cost 10 µs a poll for nothing (a test holds the two readings equal)."""
    images = []
    for image in result.get("images") or ():
        nsfw_raw = image.get("nsfw_detection_result")
        nsfw = (
            None
            if nsfw_raw is None
            else NsfwResult(valid=nsfw_raw.get("valid"), confidence=_number(nsfw_raw.get("confidence")))
        )
        image_type = image.get("image_type")
        images.append(
            ImageRef(
                url=image["image_url"],
                image_type=None if image_type is None else str(image_type),
                expires_at=_expires_at(image.get("image_url_ttl"), received_at),
                nsfw=nsfw,
            )
        )
    task = result["task"]
    extra = result.get("extra")
    task_type = task.get("task_type")
    status = str(task["status"])
    return Task(
        id=task["task_id"],
        status=status,
        # The API sends 0 once a task has succeeded (its docs' own example): 100 is what that stands for.
        progress=100.0 if status == TaskStatus.SUCCEED else _number(task.get("progress_percent")),
        eta=_number(task.get("eta")),
        reason=task.get("reason") or None,
        task_type=None if task_type is None else str(task_type),
        seed=None if extra is None else _integer(extra.get("seed")),
        images=tuple(images),
        raw=result,
    )


def task_from_payload(data: Any, received_at: datetime, path: str = "") -> Task:
    """The facade's `Task` from a task result already decoded from JSON (a webhook's `payload`)."""
    return _task(_checked(data, "TaskResultResponse", path), received_at)


def parse_task(content: bytes, received_at: datetime, asked: str | None = None) -> Task:
    """The facade's `Task` from a `GET /v3/async/task-result` answer; about task `asked`, if given: an
    answer about another task is no answer (a connection shared by mistake, with a process forked from
    this one, say, or a cache keyed without the query, would hand this wait another task's images)."""
    task = task_from_payload(_json(content), received_at)
    if asked is not None and task.id != asked:
        raise ResponseMismatch(f"the answer is about task {task.id!r}, not the task asked about ({asked!r})")
    return task


def _model(data: Mapping[str, Any]) -> Model:
    kind = data.get("type") or {}
    tags = data.get("tags") or []
    return Model(
        id=_integer(data.get("id")),
        name=data.get("name"),
        sd_name=data.get("sd_name") or data.get("model_name"),
        sd_name_in_api=data.get("sd_name_in_api"),
        type=kind.get("name") if isinstance(kind, Mapping) else None,
        is_sdxl=data.get("is_sdxl"),
        base_model=data.get("base_model"),
        status=_integer(data.get("status")),
        tags=tuple(tags) if isinstance(tags, list) else (),
        raw=dict(data),
    )


def _nulls_dropped(value: Any) -> Any:
    """`value` without its objects' null-valued keys: how the schema check reads an optional key sent as
    null (as absent), for the generated models, which would take null for an object and fail on it."""
    if isinstance(value, dict):
        return {k: _nulls_dropped(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_nulls_dropped(v) for v in value]
    return value


def parse_models_page(content: bytes) -> tuple[list[Model], str | None]:
    """One page of `GET /v3/model`: the models and the next cursor (None on the last page)."""
    from ppio_api.models import ModelListResponse

    page = ModelListResponse.from_dict(_nulls_dropped(_checked(_json(content), "ModelListResponse")))
    pagination = _unset(page.pagination)
    cursor = None if pagination is None else _unset(pagination.next_cursor)
    return [_model(m.to_dict()) for m in page.models], (cursor or None)


def error_info(content: bytes) -> ErrorInfo:
    """What an error body says; read leniently (an HTML 502 page gives an empty `ErrorInfo`)."""
    from ppio_api.models import ErrorBody

    try:
        parsed = ErrorBody.from_dict(_json(content))
    except Exception:  # not the documented error body: nothing to read from it
        return ErrorInfo()
    reason, message, metadata = _unset(parsed.reason), _unset(parsed.message), _unset(parsed.metadata)
    return ErrorInfo(
        reason=None if reason is None else str(reason),
        message=None if message is None else str(message),
        metadata=None
        if metadata is None
        else {str(k): str(v) for k, v in metadata.additional_properties.items()},
    )
