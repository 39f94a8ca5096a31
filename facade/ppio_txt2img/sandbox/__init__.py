"""An offline emulator of the PPIO / Novita v3 async text-to-image API, built from the same OpenAPI spec.

    from ppio_txt2img.sandbox import Sandbox, serve

    with serve(speed=10) as base_url:           # a real server on 127.0.0.1, a free port
        ...

    sandbox = Sandbox(error_rates={"txt2img": {429: 0.2}}, seed=1)
    with sandbox.serve() as base_url:
        ...
    sandbox.stats["txt2img"].count(429)

It validates requests against the spec's schemas, runs tasks through QUEUED -> PROCESSING -> SUCCEED or
FAILED on a timeline computed from `SandboxConfig`, serves real PNG/JPEG/WebP images from signed,
expiring URLs, delivers webhooks to loopback URLs, and injects faults (error statuses, dropped
connections, latency, truncated downloads, unknown statuses) from a seeded random generator. It can also
misbehave as real gateways and servers do: compressed, dripped or padded bodies, redirects (to a second
listener on 127.0.0.2, or in a loop), odd field types, short image lists, images of the wrong size and
endless model pages (see `SandboxConfig`).

Needs the `sandbox` extra (`pip install 'ppio-txt2img[sandbox]'`: starlette, uvicorn, jsonschema).

Command line: `ppio sandbox --port 8000` (or `python -m ppio_txt2img.sandbox`), a flag for every knob;
`add_arguments`, `config_from_args` and `run_from_args` let another argparse CLI mount it as a subcommand.
"""

from ._cli import add_arguments, config_from_args, main, run_from_args
from ._config import SandboxConfig
from ._sandbox import Sandbox, serve
from ._stats import EndpointStats
from ._tasks import TaskInfo
from ._webhooks import WebhookDelivery

__all__ = [
    "EndpointStats",
    "Sandbox",
    "SandboxConfig",
    "TaskInfo",
    "WebhookDelivery",
    "add_arguments",
    "config_from_args",
    "main",
    "run_from_args",
    "serve",
]
