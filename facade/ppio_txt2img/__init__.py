"""ppio-txt2img: the Python SDK for the PPIO / Novita v3 async text-to-image API.

    import ppio_txt2img as ppio

    client = ppio.Client()                       # api_key from PPIO_API_KEY
    gen = client.txt2img("a red fox in snow")    # validated, submitted, waited for, downloaded
    gen.images[0].save("fox.png")

Everything public is listed in `__all__`; modules whose names start with `_` are private.
"""

from ._client import AsyncClient, Client
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    ClientClosedError,
    ImageError,
    NotFoundError,
    PPIOError,
    RateLimitError,
    ServerError,
    TaskFailedError,
    ValidationError,
    WaitTimeoutError,
)
from ._inputs import (
    CallOptions,
    Embedding,
    GenerateOptions,
    HiresFix,
    Lora,
    ProgressCallback,
    Refiner,
    RequestOptions,
    SubmitOptions,
    WaitOptions,
)
from ._options import ModelFilters
from ._results import GeneratedImage, Generation, Model, NsfwResult, SubmittedTask, Task, TaskStatus
from ._version import __version__
from ._webhooks import WEBHOOK_EVENT_TYPE, parse_webhook

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "AsyncClient",
    "AuthenticationError",
    "CallOptions",
    "Client",
    "ClientClosedError",
    "Embedding",
    "GenerateOptions",
    "GeneratedImage",
    "Generation",
    "HiresFix",
    "ImageError",
    "Lora",
    "Model",
    "ModelFilters",
    "NotFoundError",
    "NsfwResult",
    "PPIOError",
    "ProgressCallback",
    "RateLimitError",
    "Refiner",
    "RequestOptions",
    "ServerError",
    "SubmitOptions",
    "SubmittedTask",
    "Task",
    "TaskFailedError",
    "TaskStatus",
    "ValidationError",
    "WEBHOOK_EVENT_TYPE",
    "WaitOptions",
    "WaitTimeoutError",
    "__version__",
    "parse_webhook",
]
