"""Every default of the SDK, in one place.

Limits of the API (field ranges, enum values, required fields) are *not* here: they are read from the
OpenAPI spec (see `_spec.py`). These are the client's own choices.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from ._version import __version__

#: Where requests go when neither `base_url=` nor `PPIO_BASE_URL` says otherwise.
DEFAULT_BASE_URL: Final = "https://api.ppinfra.com"
#: Environment variables read by `Client()` / `AsyncClient()`.
ENV_API_KEY: Final = "PPIO_API_KEY"
ENV_BASE_URL: Final = "PPIO_BASE_URL"

#: One deadline for a whole call (submit, polls, retries, downloads), in seconds.
DEFAULT_TIMEOUT: Final = 300.0
#: A batch's wait for a line that fails this many times in a row (each bounded by the client's timeout)
#: gives the line up as failed for this run; the task id is kept and the next run waits again.
BATCH_WAIT_ATTEMPTS: Final = 3
#: The longest a single HTTP request may take (further capped by what is left of the deadline), from when
#: it goes out: a wait for a free connection of the client's own comes out of the call's deadline.
DEFAULT_REQUEST_TIMEOUT: Final = 60.0
#: How long connecting may take.
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
#: Connections the client's own httpx client keeps open (many tasks waited for at once poll together).
DEFAULT_MAX_CONNECTIONS: Final = 100
#: Requests the async client's own httpx client (under trio) has in flight at once (`_slots.py`).
#: httpcore's pool does work for every connection each time it hands one out, so fewer are faster:
#: 1,000 calls of 2 s on loopback took 10.2, 11.2, 14.5 and 17.5 s with 10, 20, 30 and 100 (and 53 s
#: before there was any limit). 20 still keeps a round trip of 0.1 s at 200 requests a second.
HTTPX_ASYNC_IN_FLIGHT: Final = 20
#: Seconds an idle connection is kept for reuse in httpx's pool (the sync client, and the async one under
#: trio), and the longest one may have been idle to be taken for a POST (the request that creates a
#: task) in aiohttp's: below the 5 s after which uvicorn and Node's servers close one (httpx's own
#: default is 5 s too). Reused right as the server closes it, a connection is reset under the request,
#: and a POST cannot be resent (it may have reached the server).
KEEPALIVE_EXPIRY: Final = 4.0
#: Seconds the async client's pool keeps an idle connection, for GETs (polls, images): a GET on one the
#: server closed just then is sent again (aiohttp does it at once; the flows retry GETs on connection
#: errors), and one the server closed before is dropped when it is next taken. So a wait that slept
#: through its task (until its webhook, or a learnt duration of 5 s or more) polls on the connection it
#: has: over TLS, a new one would cost two more round trips and a handshake's CPU before the poll.
#: (httpx's pool has one expiry for every request: `KEEPALIVE_EXPIRY`.)
GET_KEEPALIVE_EXPIRY: Final = 60.0
#: A request that would have less time than this (seconds) to be answered is not sent: the POST that
#: creates a task, when the call's deadline is that close, nor any request that waited that long for a
#: connection of the async client (`_slots.py`). It could hardly be answered in time, and a POST timing
#: out in flight leaves its outcome unknown (a task may have been created and billed).
MIN_TIME_TO_SEND: Final = 0.05
#: Retries per request on connection errors, 429 and 5xx (GETs; the POST only when safe).
DEFAULT_MAX_RETRIES: Final = 2

# Retry backoff: base * 2**attempt, capped, with jitter; a server's Retry-After wins, up to a cap.
RETRY_BASE_DELAY: Final = 0.5
RETRY_MAX_DELAY: Final = 8.0
RETRY_AFTER_CAP: Final = 60.0

# Polling bounds (seconds). The schedule in `_polling.py` stays between them.
POLL_FLOOR: Final = 0.1
POLL_CAP: Final = 5.0
#: The first poll of a task just submitted (it can only be queued before then).
POLL_FIRST_AFTER_SUBMIT: Final = 0.5
#: Fraction of random jitter applied to each poll delay (+/-).
POLL_JITTER: Final = 0.1
#: How a poll delay is chosen when the server gives no eta and no progress and no task of the same shape
#: finished before: every POLL_BLIND_FIRST seconds (a fixed 0.5 s poller's pace, so never slower to
#: notice) for POLL_BLIND_STEADY seconds, then growing by POLL_BLIND_GROWTH per poll up to the cap.
POLL_BLIND_FIRST: Final = 0.5
POLL_BLIND_STEADY: Final = 30.0
POLL_BLIND_GROWTH: Final = 1.25
POLL_BLIND_CAP: Final = 3.0

#: Largest API response body accepted (a task result or a page of models is a few KiB), in bytes.
MAX_API_BODY_BYTES: Final = 8 * 1024 * 1024
#: Redirects a GET may follow (the POST that creates a task follows none).
MAX_REDIRECTS: Final = 5
#: Task results in a row that do not parse before a wait gives up on the server.
MAX_BAD_RESULTS_IN_A_ROW: Final = 3
#: Attempts at one image download (5xx, 429, dropped connections, truncated or undecodable bytes),
#: within the call's deadline.
DOWNLOAD_MAX_ATTEMPTS: Final = 6
#: Pages `client.models()` follows at most (a server that always sends a next cursor is not followed
#: forever).
MAX_MODEL_PAGES: Final = 1000

#: With webhooks as the wait mode: the wait still polls this often, in case a webhook never comes.
WEBHOOK_FALLBACK_POLL: Final = 15.0

#: Largest image accepted from an image host, in bytes.
MAX_IMAGE_BYTES: Final = 64 * 1024 * 1024
#: Images asked no larger than this many pixels (tolerance included) are decoded on the event loop: a
#: 128x128 PNG decodes in a fraction of a millisecond, less than a worker thread's hop costs.
INLINE_DECODE_PIXELS: Final = 320 * 320
#: Image downloads of one task run at most this many at once.
MAX_CONCURRENT_DOWNLOADS: Final = 8

# What `client.txt2img("a cat")` asks for when the caller says nothing else.
DEFAULT_MODEL: Final = "sd_xl_base_1.0.safetensors"
DEFAULT_WIDTH: Final = 1024
DEFAULT_HEIGHT: Final = 1024
DEFAULT_IMAGE_NUM: Final = 1
DEFAULT_STEPS: Final = 20
DEFAULT_GUIDANCE_SCALE: Final = 7.5
DEFAULT_SAMPLER: Final = "Euler a"
DEFAULT_SEED: Final = -1
#: The same, by request option: what the SDK sends for an option the caller leaves out. `make generate`
#: writes these into the option docs, the CLI's help and the README.
REQUEST_DEFAULTS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "model_name": DEFAULT_MODEL,
        "width": DEFAULT_WIDTH,
        "height": DEFAULT_HEIGHT,
        "image_num": DEFAULT_IMAGE_NUM,
        "steps": DEFAULT_STEPS,
        "guidance_scale": DEFAULT_GUIDANCE_SCALE,
        "sampler_name": DEFAULT_SAMPLER,
        "seed": DEFAULT_SEED,
    }
)
#: Models listed per page by `client.models()`.
DEFAULT_MODELS_PAGE_SIZE: Final = 50

# Pictures for people (`_pictures.py`, `gallery.py`): longest side, in pixels, of what is drawn.
#: `GeneratedImage` in a notebook (`_repr_png_`).
PREVIEW_MAX_SIDE: Final = 512
#: Each image of a `Generation` in a notebook, each cell of a contact sheet, each gallery thumbnail.
THUMBNAIL_MAX_SIDE: Final = 256

#: Sent by the httpx client the SDK makes itself (a caller's own `http_client` keeps its headers).
USER_AGENT: Final = f"ppio-txt2img-python/{__version__}"
