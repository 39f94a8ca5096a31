"""What a caller passes in: the typed option objects and the keyword options of each call.

`RequestOptions` (every request option, typed and documented) is generated from the spec into
`_options.py`; the sets each call accepts are composed here from it. `loras`, `embeddings`,
`hires_fix` and `refiner` accept the small objects below or plain dicts; either way they are checked
against the spec before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import TYPE_CHECKING, Any, TypedDict

from ._options import RequestOptions, Upscaler

if TYPE_CHECKING:
    from ._results import Task

__all__ = [
    "CallOptions",
    "Embedding",
    "GenerateOptions",
    "HiresFix",
    "Lora",
    "ProgressCallback",
    "Refiner",
    "RequestOptions",
    "SubmitOptions",
    "WaitOptions",
    "to_plain",
]

ProgressCallback = Callable[["Task"], object]


@dataclass(frozen=True)
class Lora:
    """A LoRA to apply: its `sd_name_in_api` and a strength (the spec gives the range)."""

    model_name: str
    strength: float


@dataclass(frozen=True)
class Embedding:
    """A textual-inversion embedding, by its `sd_name_in_api`."""

    model_name: str


@dataclass(frozen=True)
class HiresFix:
    """Generate small, then upscale to `target_width` x `target_height`."""

    target_width: int
    target_height: int
    strength: float
    upscaler: Upscaler | None = None


@dataclass(frozen=True)
class Refiner:
    """Hand over to the SDXL refiner at `switch_at` (0 disables it, 1 uses it fully)."""

    switch_at: float


#: Option values nested deeper than this are refused (the spec's deepest option is 3 levels).
_MAX_DEPTH = 8


def to_plain(value: object, path: str = "", depth: int = 0) -> Any:
    """Option objects and mappings as plain JSON-ready dicts and lists; None-valued keys dropped."""
    if depth > _MAX_DEPTH:
        from ._errors import ValidationError

        shown = f"<{type(value).__name__} nested more than {_MAX_DEPTH} levels deep>"  # safe to repr
        raise ValidationError(path, shown, "an option as the spec describes it", "is nested too deeply")
    if isinstance(value, Lora | Embedding | HiresFix | Refiner):  # fields as given (no deep copy)
        fields = {f.name: getattr(value, f.name) for f in dataclass_fields(value)}
        return {k: to_plain(v, f"{path}.{k}", depth + 1) for k, v in fields.items() if v is not None}
    if isinstance(value, Mapping):
        return {k: to_plain(v, f"{path}.{k}", depth + 1) for k, v in value.items() if v is not None}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [to_plain(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    return value


class CallOptions(TypedDict, total=False):
    """What every call takes: its deadline, and what to add to its API requests.

    `extra_headers` and `extra_query` are added to every API request of the call (never to image
    hosts) as they are, without checks against the spec: the escape hatch for what the API adds before
    this SDK knows it. `extra_headers` override the client's `default_headers`.
    """

    timeout: float
    """Seconds for the whole call (submit, polls, retries, downloads); default: the client's timeout."""
    extra_headers: Mapping[str, str]
    """Headers added to every API request of the call (never to image hosts)."""
    extra_query: Mapping[str, str | int | float | bool]
    """Query parameters added to every API request of the call."""


class WaitOptions(CallOptions, total=False):
    """What `wait` takes: `CallOptions`, and whom to tell about progress."""

    on_progress: ProgressCallback
    """Called with the `Task` after each poll."""


class GenerateOptions(RequestOptions, WaitOptions, total=False):
    """Everything `txt2img` accepts after the prompt.

    `extra_body` is merged into the request body after it was validated (nested objects merged key by
    key), and is not checked locally: e.g. `extra_body={"extra": {"custom_storage": {...}}}` for a
    documented field the SDK has no option for, or a field the API adds tomorrow.
    """

    extra_body: Mapping[str, Any]
    """Merged into the request body after validation, unchecked (see above)."""


class SubmitOptions(RequestOptions, CallOptions, total=False):
    """Everything `submit` accepts after the prompt: the request, `CallOptions` and `extra_body`."""

    extra_body: Mapping[str, Any]
    """Merged into the request body after validation, unchecked (see `GenerateOptions`)."""
