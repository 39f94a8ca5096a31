"""What a caller passes in: the typed option objects and the keyword options of `txt2img`.

`loras`, `embeddings`, `hires_fix` and `refiner` accept these small objects or plain dicts; either way
they are checked against the spec before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, TypedDict

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
ImageType = Literal["png", "webp", "jpeg"]


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
    upscaler: str | None = None


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

        raise ValidationError(path, value, "an option as the spec describes it", "is nested too deeply")
    if isinstance(value, Lora | Embedding | HiresFix | Refiner):
        return {k: v for k, v in asdict(value).items() if v is not None}
    if isinstance(value, Mapping):
        return {k: to_plain(v, f"{path}.{k}", depth + 1) for k, v in value.items() if v is not None}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [to_plain(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    return value


class RequestOptions(TypedDict, total=False):
    """The options of a text-to-image request; each maps to the spec field of the same name.

    Ranges and allowed values are the spec's (`openapi/ppio.yaml`); see the README for the defaults.
    """

    model_name: str
    negative_prompt: str
    width: int
    height: int
    image_num: int
    steps: int
    guidance_scale: float
    sampler_name: str
    seed: int
    loras: Sequence[Lora | Mapping[str, Any]]
    embeddings: Sequence[Embedding | Mapping[str, Any]]
    hires_fix: HiresFix | Mapping[str, Any]
    refiner: Refiner | Mapping[str, Any]
    clip_skip: int
    sd_vae: str
    enable_transparent_background: bool
    restore_faces: bool
    # `extra`: about the output rather than the image.
    response_image_type: ImageType
    enable_nsfw_detection: bool
    nsfw_detection_level: int
    webhook_url: str


class CallOptions(TypedDict, total=False):
    """What every call takes: its deadline, and what to add to its API requests.

    `extra_headers` and `extra_query` are added to every API request of the call (never to image
    hosts) as they are, without checks against the spec: the escape hatch for what the API adds before
    this SDK knows it. `extra_headers` override the client's `default_headers`.
    """

    timeout: float
    extra_headers: Mapping[str, str]
    extra_query: Mapping[str, str | int | float | bool]


class WaitOptions(CallOptions, total=False):
    """What `wait` takes: `CallOptions`, and whom to tell about progress."""

    on_progress: ProgressCallback


class GenerateOptions(RequestOptions, WaitOptions, total=False):
    """Everything `txt2img` accepts after the prompt.

    `extra_body` is merged into the request body after it was validated (nested objects merged key by
    key), and is not checked locally: e.g. `extra_body={"extra": {"custom_storage": {...}}}` for a
    documented field the SDK has no option for, or a field the API adds tomorrow.
    """

    extra_body: Mapping[str, Any]


class SubmitOptions(RequestOptions, CallOptions, total=False):
    """Everything `submit` accepts after the prompt: the request, `CallOptions` and `extra_body`."""

    extra_body: Mapping[str, Any]
