"""The SDK's operations, composed from the flows of `_tasks.py` and `_downloads.py`: submit -> wait ->
download and decode every image, and the model list; driven by the sync or async client (`_io.py`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._call import Deadline, Settings, Tracker
from ._constants import POLL_FIRST_AFTER_SUBMIT
from ._downloads import download_flow
from ._http import api_call, value_or_none
from ._inputs import ProgressCallback
from ._io import Flow, Gather
from ._results import GeneratedImage, Generation, Model
from ._tasks import submit_flow, wait_flow

if TYPE_CHECKING:  # the generated layer is imported on first use: `import ppio_txt2img` stays light
    from ppio_api.models import Model as _ApiModel


def generation_flow(
    settings: Settings,
    deadline: Deadline,
    tracker: Tracker,
    task_id: str,
    on_progress: ProgressCallback | None = None,
    first_poll_after: float = 0.0,
) -> Flow[Generation]:
    """Wait for the task, then download and decode all its images concurrently, in the API's order."""
    task = yield from wait_flow(settings, deadline, tracker, task_id, on_progress, first_poll_after)
    downloads = [download_flow(settings, deadline, task_id, i, ref) for i, ref in enumerate(task.images)]
    images: list[GeneratedImage] = yield Gather(downloads)
    return Generation(task_id=task_id, seed=task.seed, images=tuple(images), task=task)


def txt2img_flow(
    settings: Settings,
    deadline: Deadline,
    tracker: Tracker,
    body: Mapping[str, Any],
    on_progress: ProgressCallback | None = None,
) -> Flow[Generation]:
    task_id = yield from submit_flow(settings, deadline, tracker, body)
    return (
        yield from generation_flow(settings, deadline, tracker, task_id, on_progress, POLL_FIRST_AFTER_SUBMIT)
    )


def _model(raw: _ApiModel) -> Model:
    data = raw.to_dict()
    kind = data.get("type") or {}
    tags = data.get("tags") or []
    return Model(
        id=data.get("id"),
        name=data.get("name"),
        sd_name=data.get("sd_name") or data.get("model_name"),
        sd_name_in_api=data.get("sd_name_in_api"),
        type=kind.get("name") if isinstance(kind, dict) else None,
        is_sdxl=data.get("is_sdxl"),
        base_model=data.get("base_model"),
        status=data.get("status"),
        tags=tuple(tags) if isinstance(tags, list) else (),
        raw=data,
    )


def models_page_flow(
    settings: Settings, deadline: Deadline, query: Mapping[str, Any], cursor: str | None
) -> Flow[tuple[list[Model], str | None]]:
    """One page of `GET /v3/model` (query already validated): the models and the next cursor, if any."""
    from ppio_api.api.models import list_models
    from ppio_api.models import ModelListResponse, ModelSource, ModelType, ModelVisibility

    converters: dict[str, Callable[[Any], Any]] = {
        "filter.visibility": ModelVisibility,
        "filter.source": ModelSource,
        "filter.types": ModelType,
    }
    kwargs = {
        name.replace(".", "_"): converters.get(name, lambda v: v)(value)
        for name, value in query.items()
        if value is not None
    }
    if cursor:
        kwargs["pagination_cursor"] = cursor
    page: ModelListResponse = yield from api_call(
        settings, deadline, list_models.build_request(**kwargs), list_models.parse_response, idempotent=True
    )
    pagination = value_or_none(page.pagination)
    next_cursor = None if pagination is None else value_or_none(pagination.next_cursor)
    return [_model(m) for m in page.models], (next_cursor or None)
