"""The `ppio sandbox` command: run the emulator in the foreground until Ctrl-C.

    ppio sandbox --host 127.0.0.1 --port 8000 [--speed 10] [--eta-mode noisy] [--api-key KEY ...]

Wiring into another CLI: `add_arguments(parser)` adds the options to an `argparse` (sub)parser and
`run_from_args(args)` runs the server with them. `main(argv)` does both, standalone
(`python -m ppio_txt2img.sandbox`).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence

from ._config import ETA_MODES, SandboxConfig
from ._sandbox import Sandbox

_DEFAULTS = SandboxConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox options to `parser`."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8000, help="port to listen on, 0 for any (default: %(default)s)"
    )
    parser.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        metavar="KEY",
        help="accept only this API key (repeatable; default: any non-empty key)",
    )
    parser.add_argument(
        "--speed", type=float, default=_DEFAULTS.speed, help="task speed multiplier (default: %(default)s)"
    )
    parser.add_argument(
        "--eta-mode",
        choices=ETA_MODES,
        default=_DEFAULTS.eta_mode,
        help="task eta reporting (default: %(default)s)",
    )
    parser.add_argument(
        "--queue-delay",
        type=float,
        default=_DEFAULTS.queue_delay,
        help="seconds every task stays queued (default: %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=_DEFAULTS.concurrency,
        help="tasks processed at once (default: %(default)s)",
    )
    parser.add_argument(
        "--fail-rate",
        type=float,
        default=_DEFAULTS.fail_rate,
        help="fraction of tasks that fail (default: %(default)s)",
    )
    parser.add_argument(
        "--image-url-ttl",
        type=int,
        default=_DEFAULTS.image_url_ttl,
        help="seconds image URLs stay valid (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for reproducible runs (default: random)")
    parser.add_argument(
        "--ipm", type=int, default=None, help="rate limit in images per minute, 429 past it (default: none)"
    )
    parser.add_argument(
        "--minute", type=float, default=_DEFAULTS.minute, help="seconds per rate-limit minute (default: 60)"
    )


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """The `SandboxConfig` the parsed options describe."""
    return SandboxConfig(
        accepted_api_keys=frozenset(args.api_keys) if args.api_keys else None,
        speed=args.speed,
        eta_mode=args.eta_mode,
        queue_delay=args.queue_delay,
        concurrency=args.concurrency,
        fail_rate=args.fail_rate,
        image_url_ttl=args.image_url_ttl,
        seed=args.seed,
        ipm=args.ipm,
        minute=args.minute,
    )


def run_from_args(args: argparse.Namespace) -> int:
    """Serve with the parsed options until interrupted (Ctrl-C); the exit status.

    Raises ValueError when the options make no valid `SandboxConfig`.
    """
    sandbox = Sandbox(config_from_args(args))
    with contextlib.suppress(KeyboardInterrupt):
        sandbox.serve_forever(args.host, args.port)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`ppio sandbox` as a standalone program."""
    parser = argparse.ArgumentParser(
        prog="ppio sandbox", description="Run an offline emulator of the PPIO / Novita v3 text-to-image API."
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    return run_from_args(args)
