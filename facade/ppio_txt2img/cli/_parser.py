"""The `ppio` argument parser. Limits shown in `--help` are read from the spec, never restated here.

Each request flag's `dest` is its `RequestOptions` key, so the options dict is read straight off the
parsed namespace, and a `ValidationError.field` (`request.loras[0].strength`) maps back to its flag.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ppio_txt2img import __version__
from ppio_txt2img import _constants as C
from ppio_txt2img._inputs import Embedding, HiresFix, Lora, Refiner, RequestOptions
from ppio_txt2img._request_body import REQUEST_DEFAULTS
from ppio_txt2img._spec import component, load_spec, resolve
from ppio_txt2img._validation import describe

__all__ = ["build_parser", "flag_for_field", "parse_hires_fix", "parse_lora", "request_options"]


# ------------------------------------------------------------------------------------ argument types
def parse_lora(text: str) -> Lora:
    """`NAME:STRENGTH` (the name may itself contain colons)."""
    name, sep, strength = text.rpartition(":")
    try:
        if not sep or not name:
            raise ValueError
        return Lora(model_name=name, strength=float(strength))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected NAME:STRENGTH, e.g. add_detail:0.7; got {text!r}"
        ) from None


def parse_hires_fix(text: str) -> HiresFix:
    """`WxH:STRENGTH[:UPSCALER]`, e.g. `2048x2048:0.5` or `2048x2048:0.5:Latent`."""
    parts = text.split(":", 2)
    try:
        width, x, height = parts[0].lower().partition("x")
        if len(parts) < 2 or not x:
            raise ValueError
        upscaler = parts[2] if len(parts) == 3 else None
        return HiresFix(int(width), int(height), float(parts[1]), upscaler)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WxH:STRENGTH[:UPSCALER], e.g. 2048x2048:0.5:Latent; got {text!r}"
        ) from None


def parse_refiner(text: str) -> Refiner:
    """`SWITCH_AT`, a number."""
    try:
        return Refiner(switch_at=float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, e.g. 0.8; got {text!r}") from None


# ----------------------------------------------------------------------------------- request options
@dataclass(frozen=True)
class _Flag:
    flags: tuple[str, ...]
    option: str  # the RequestOptions key, also the argparse dest
    text: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: (schema, property, label) whose spec limits the help shows; default: the option's own field.
    limits: tuple[tuple[str, str, str], ...] | None = None


def _int(metavar: str) -> dict[str, Any]:
    return {"type": int, "metavar": metavar}


def _of(kind: Callable[[str], Any], metavar: str, *, repeat: bool = False) -> dict[str, Any]:
    return {"type": kind, "metavar": metavar, **({"action": "append"} if repeat else {})}


_SWITCH: dict[str, Any] = {"action": "store_true"}
_REQ, _EXTRA = "Txt2ImgRequest", "Txt2ImgExtra"

_REQUEST_FLAGS = (
    _Flag(("--model",), "model_name", "checkpoint sd_name (see `ppio models`)", {"metavar": "NAME"}, ()),
    _Flag(
        ("--negative-prompt",), "negative_prompt", "what the image should not show", {"metavar": "TEXT"}, ()
    ),
    _Flag(("--width",), "width", "image width in pixels", _int("PX")),
    _Flag(("--height",), "height", "image height in pixels", _int("PX")),
    _Flag(("-n", "--image-num"), "image_num", "how many images", _int("N")),
    _Flag(("--steps",), "steps", "denoising steps", _int("N")),
    _Flag(("--guidance-scale",), "guidance_scale", "prompt adherence", _of(float, "X")),
    _Flag(("--sampler",), "sampler_name", "sampler", {"metavar": "NAME"}),
    _Flag(("--seed",), "seed", "noise seed, -1 for random", _int("N")),
    _Flag(
        ("--lora",),
        "loras",
        "a LoRA by sd_name_in_api, and its strength (repeatable)",
        _of(parse_lora, "NAME:STRENGTH", repeat=True),
        ((_REQ, "loras", ""), ("Lora", "strength", "strength")),
    ),
    _Flag(
        ("--embedding",),
        "embeddings",
        "a textual-inversion embedding (repeatable)",
        _of(Embedding, "NAME", repeat=True),
    ),
    _Flag(
        ("--hires-fix",),
        "hires_fix",
        "generate small, upscale to WxH, e.g. 2048x2048:0.5:Latent",
        _of(parse_hires_fix, "WxH:STRENGTH[:UPSCALER]"),
        (
            ("HiresFix", "target_width", "W, H"),
            ("HiresFix", "strength", "STRENGTH"),
            ("HiresFix", "upscaler", "UPSCALER"),
        ),
    ),
    _Flag(
        ("--refiner",),
        "refiner",
        "SDXL refiner switch point",
        _of(parse_refiner, "SWITCH_AT"),
        (("Refiner", "switch_at", ""),),
    ),
    _Flag(("--clip-skip",), "clip_skip", "CLIP layers to skip", _int("N")),
    _Flag(("--sd-vae",), "sd_vae", "VAE sd_name (see `ppio models --type vae`)", {"metavar": "NAME"}, ()),
    _Flag(
        ("--transparent",), "enable_transparent_background", "transparent background (png, SDXL)", _SWITCH, ()
    ),
    _Flag(("--restore-faces",), "restore_faces", "run face restoration", _SWITCH, ()),
    _Flag(
        ("--image-type",),
        "response_image_type",
        "file format",
        {"metavar": "FORMAT"},
        ((_EXTRA, "response_image_type", ""),),
    ),
    _Flag(("--nsfw-detection",), "enable_nsfw_detection", "run NSFW detection on the images", _SWITCH, ()),
    _Flag(
        ("--nsfw-level",),
        "nsfw_detection_level",
        "NSFW detection strictness",
        _int("N"),
        ((_EXTRA, "nsfw_detection_level", ""),),
    ),
    _Flag(
        ("--webhook-url",), "webhook_url", "URL the API notifies when the task ends", {"metavar": "URL"}, ()
    ),
)

#: Flags behind `ValidationError.field` paths that are not request options.
_OTHER_FLAGS = {
    "webhook": "--webhook-url",
    "timeout": "--timeout",
    "max_retries": "--max-retries",
    "base_url": "--base-url",
    "filter.types": "--type",
    "filter.visibility": "--visibility",
    "filter.source": "--source",
    "filter.query": "--query",
    "filter.is_sdxl": "--sdxl",
    "pagination.limit": "--limit",
}
_FLAG_OF_OPTION = {f.option: f.flags[-1] for f in _REQUEST_FLAGS}


def _limits(schema: Mapping[str, Any]) -> str:
    """The spec's limits in words (`an integer from 128 to 2048`), only when there are some."""
    if any(k in schema for k in ("enum", "minimum", "maximum")):
        return describe(schema)
    if "maxItems" in schema:
        return f"at most {schema['maxItems']}"
    return ""


def _flag_help(flag: _Flag) -> str:
    limits = flag.limits if flag.limits is not None else ((_REQ, flag.option, ""),)
    parts = [flag.text]
    try:
        spec = load_spec()
        for schema_name, prop, label in limits:
            text = _limits(resolve(spec, component(spec, schema_name)["properties"][prop]))
            if text:
                parts.append(f"{label} {text}" if label else text)
    except (KeyError, TypeError, ValueError, ImportError, OSError):
        pass  # help without limits beats no help; the request is still validated before sending
    if flag.option in REQUEST_DEFAULTS:
        parts.append(f"default: {REQUEST_DEFAULTS[flag.option]}")
    return "; ".join(parts).replace("%", "%%")


def request_options(args: argparse.Namespace) -> RequestOptions:
    """The request options given on the command line."""
    given = {name: getattr(args, name, None) for name in RequestOptions.__annotations__}
    return {k: v for k, v in given.items() if v is not None}  # type: ignore[return-value]


def flag_for_field(field: str) -> str | None:
    """The flag behind a `ValidationError.field` path: `request.loras[0].strength` -> `--lora`."""
    path = field.removeprefix("request.").removeprefix("extra.")
    if path in _OTHER_FLAGS:
        return _OTHER_FLAGS[path]
    head = re.split(r"[.\[]", path, maxsplit=1)[0]
    return _FLAG_OF_OPTION.get(head) or _OTHER_FLAGS.get(head)


# -------------------------------------------------------------------------------------------- parser
def _model_filter_help(name: str, text: str) -> str:
    try:
        spec = load_spec()
        params = spec["paths"]["/v3/model"]["get"]["parameters"]
        schema = next(resolve(spec, p["schema"]) for p in params if p.get("name") == name)
        return f"{text}: {describe(schema)}".replace("%", "%%")
    except (KeyError, StopIteration, TypeError, ValueError, ImportError, OSError):
        return text


def _add_connection_options(parser: argparse.ArgumentParser, *, sandbox: bool) -> None:
    g = parser.add_argument_group("connection")
    g.add_argument(
        "--base-url", metavar="URL", help=f"API address (default: ${C.ENV_BASE_URL} or {C.DEFAULT_BASE_URL})"
    )
    g.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"API key (default: ${C.ENV_API_KEY}; prefer the variable: others can see arguments)",
    )
    g.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help=f"seconds for the whole call (default: {C.DEFAULT_TIMEOUT:g})",
    )
    g.add_argument(
        "--max-retries",
        type=int,
        metavar="N",
        help=f"retries per request on 429, 5xx and connection errors (default: {C.DEFAULT_MAX_RETRIES})",
    )
    if sandbox:
        g.add_argument(
            "--sandbox", action="store_true", help="use an offline emulator started in this process (no key)"
        )
        g.add_argument(
            "--sandbox-speed", type=float, metavar="X", help="emulator speed, 10 = ten times faster"
        )
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def _add_wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", default=".", metavar="DIR", help="save images here (created; default: .)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--sheet",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="also save a contact sheet of all the images (.png, .jpg or .webp; "
        "default: DIR/<task_id>-sheet.png)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The `ppio` parser; `command` in the parsed namespace names the command."""
    parser = argparse.ArgumentParser(
        prog="ppio",
        description="Generate images with the PPIO / Novita v3 text-to-image API.",
        epilog="Exit status: 0 done, 1 API/network/task error, 2 bad input, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser(
        "txt2img",
        help="generate images from a prompt and save them",
        description="Submit a text-to-image task, wait for it showing progress, save the images as "
        "DIR/<task_id>-<index>.<ext> and print their paths and sizes.",
    )
    p.add_argument("prompt", help="what the image should show")
    _add_wait_options(p)
    group = p.add_argument_group("request options (checked against the API spec before anything is sent)")
    for flag in _REQUEST_FLAGS:
        group.add_argument(*flag.flags, dest=flag.option, default=None, help=_flag_help(flag), **flag.kwargs)
    _add_connection_options(p, sandbox=True)

    p = commands.add_parser("wait", help="wait for an existing task and save its images")
    p.add_argument("task_id", metavar="TASK_ID")
    _add_wait_options(p)
    _add_connection_options(p, sandbox=False)

    p = commands.add_parser("task", help="look at a task once: status, progress, eta, reason")
    p.add_argument("task_id", metavar="TASK_ID")
    _add_connection_options(p, sandbox=False)

    p = commands.add_parser("models", help="list models (checkpoints, LoRAs, VAEs, ...)")
    p.add_argument(
        "--type", dest="types", metavar="TYPE", help=_model_filter_help("filter.types", "model type")
    )
    p.add_argument(
        "--sdxl", action=argparse.BooleanOptionalAction, default=None, help="only SDXL (or non-SDXL)"
    )
    p.add_argument("--query", metavar="Q", help="search names and tags")
    p.add_argument("--visibility", metavar="V", help=_model_filter_help("filter.visibility", "visibility"))
    p.add_argument(
        "--source", metavar="S", help=_model_filter_help("filter.source", "where models come from")
    )
    p.add_argument("--inpainting", action="store_true", default=None, help="only inpainting models")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="list at most N models (default: 50)")
    _add_connection_options(p, sandbox=True)

    p = commands.add_parser(
        "gallery",
        help="(re)write OUT/index.html, the gallery of a batch",
        description="Read OUT/manifest.jsonl, draw the thumbnails that are missing or stale and write "
        "OUT/index.html (self-contained, opens from file://); print its path.",
    )
    p.add_argument("out", metavar="OUT", help="the batch's output directory")

    # Parsed by the sandbox's own `add_arguments` (imported only when used: it needs the extra).
    commands.add_parser(
        "sandbox", help="run the offline API emulator (see: ppio sandbox --help)", add_help=False
    )
    return parser
