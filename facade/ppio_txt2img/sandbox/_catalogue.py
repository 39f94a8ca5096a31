"""The built-in model catalogue behind `GET /v3/model`: filters and opaque cursors."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_PAGE_SIZE = 10

_DISPLAY_NAMES = {
    "checkpoint": "Checkpoint",
    "lora": "LoRA",
    "locon": "LoCon",
    "vae": "VAE",
    "textualinversion": "Textual Inversion",
    "upscaler": "Upscaler",
    "controlnet": "ControlNet",
}


@dataclass(frozen=True)
class CatalogueModel:
    """One model of the catalogue; `as_json()` is what the API returns for it."""

    id: int
    name: str
    sd_name: str
    type: str
    base_model: str
    base_model_type: str
    tags: tuple[str, ...]
    is_sdxl: bool = False
    is_inpainting: bool = False
    source: str = "civitai"
    visibility: str = "public"
    categories: tuple[str, ...] = ()

    @property
    def sd_name_in_api(self) -> str:
        """LoRAs and embeddings are named without their file extension in requests."""
        if self.type in ("lora", "locon", "textualinversion"):
            return self.sd_name.rsplit(".", 1)[0]
        return self.sd_name

    def as_json(self) -> dict[str, Any]:
        digest = f"{self.id * 2654435761 % 2**40:010X}"
        return {
            "id": self.id,
            "name": self.name,
            "hash_sha256": digest,
            "sd_name": self.sd_name,
            "sd_name_in_api": self.sd_name_in_api,
            "type": {"name": self.type, "display_name": _DISPLAY_NAMES.get(self.type, self.type)},
            "categories": list(self.categories),
            "status": 1,
            "tags": list(self.tags),
            "cover_url": f"https://covers.sandbox.invalid/models/{self.id}.jpeg",
            "source": self.source,
            "base_model": self.base_model,
            "base_model_type": self.base_model_type,
            "download_url_ttl": 2592000,
            "is_sdxl": self.is_sdxl,
            "is_inpainting": self.is_inpainting,
        }


CATALOGUE: tuple[CatalogueModel, ...] = (
    CatalogueModel(
        1001, "SDXL 1.0 base", "sd_xl_base_1.0.safetensors", "checkpoint", "SDXL 1.0", "Standard",
        ("base model", "sdxl", "general"), is_sdxl=True,
    ),
    CatalogueModel(
        1002, "SDXL 1.0 refiner", "sd_xl_refiner_1.0.safetensors", "checkpoint", "SDXL 1.0", "Standard",
        ("refiner", "sdxl"), is_sdxl=True,
    ),
    CatalogueModel(
        133005, "Juggernaut XL v9", "juggernautXL_v9Rdphoto2Lightning_285361.safetensors", "checkpoint",
        "SDXL 1.0", "Standard", ("photorealistic", "sdxl", "lightning"), is_sdxl=True,
    ),
    CatalogueModel(
        1003, "Stable Diffusion v1.5", "v1-5-pruned-emaonly.safetensors", "checkpoint", "SD 1.5",
        "Standard", ("base model", "general"),
    ),
    CatalogueModel(
        4201, "Realistic Vision V5.1 (VAE)", "realisticVisionV51_v51VAE_94301.safetensors", "checkpoint",
        "SD 1.5", "Standard", ("photorealistic", "portraits"),
    ),
    CatalogueModel(
        114600, "V4.0-inpainting (VAE)", "realisticVisionV40_v40VAE-inpainting_81543.safetensors",
        "checkpoint", "SD 1.5", "Inpainting", ("photorealistic", "anatomical"), is_inpainting=True,
    ),
    CatalogueModel(
        4384, "DreamShaper 8", "dreamshaper_8_93211.safetensors", "checkpoint", "SD 1.5", "Standard",
        ("anime", "fantasy", "illustration"),
    ),
    CatalogueModel(
        58390, "Detail Tweaker LoRA", "add_detail_44319.safetensors", "lora", "SD 1.5", "Standard",
        ("detail", "tool"),
    ),
    CatalogueModel(
        124347, "XL More Art", "xl_more_art-full_v1_152309.safetensors", "lora", "SDXL 1.0", "Standard",
        ("style", "art", "sdxl"), is_sdxl=True,
    ),
    CatalogueModel(
        44960, "Pixel Art LoCon", "pixelart_locon_v1_49622.safetensors", "locon", "SD 1.5", "Standard",
        ("pixel art", "style"),
    ),
    CatalogueModel(
        23906, "vae-ft-mse-840000-ema-pruned", "vae-ft-mse-840000-ema-pruned.safetensors", "vae",
        "SD 1.5", "Standard", ("vae",),
    ),
    CatalogueModel(
        138605, "SDXL VAE", "sdxl_vae.safetensors", "vae", "SDXL 1.0", "Standard", ("vae", "sdxl"),
        is_sdxl=True,
    ),
    CatalogueModel(
        7808, "EasyNegative", "easynegative.safetensors", "textualinversion", "SD 1.5", "Standard",
        ("negative", "embedding"),
    ),
    CatalogueModel(
        16993, "badhandv4", "badhandv4_16755.pt", "textualinversion", "SD 1.5", "Standard",
        ("negative", "hands", "embedding"),
    ),
    CatalogueModel(
        9001, "RealESRGAN x4plus anime 6B", "RealESRGAN_x4plus_anime_6B.pth", "upscaler", "Other",
        "Standard", ("upscaler", "anime"),
    ),
    CatalogueModel(
        880123, "My character LoRA", "my_character_lora_880123.safetensors", "lora", "SD 1.5", "Standard",
        ("character",), source="training", visibility="private",
    ),
    CatalogueModel(
        880456, "My uploaded checkpoint", "my_uploaded_checkpoint_880456.safetensors", "checkpoint",
        "SDXL 1.0", "Standard", ("uploaded",), is_sdxl=True, source="uploading", visibility="private",
    ),
)  # fmt: skip


class CursorError(ValueError):
    """A `pagination.cursor` that this server did not hand out."""


def encode_cursor(offset: int, last_id: int) -> str:
    """An opaque cursor, shaped like the real one: `c_` + base64 of `[<offset>, "<last id>"]`."""
    raw = json.dumps([offset, str(last_id)], separators=(",", ":")).encode()
    return "c_" + base64.b64encode(raw).decode("ascii")


def decode_cursor(cursor: str) -> int:
    """The offset a cursor stands for. "" and the docs' "c_0" mean the first page."""
    if cursor in ("", "c_0"):
        return 0
    if not cursor.startswith("c_"):
        raise CursorError("is not a cursor returned by this server")
    try:
        data = json.loads(base64.b64decode(cursor[2:], validate=True))
    except (binascii.Error, ValueError) as exc:
        raise CursorError("is not a cursor returned by this server") from exc
    if (
        not isinstance(data, list)
        or len(data) != 2
        or type(data[0]) is not int
        or data[0] < 0
        or not isinstance(data[1], str)
    ):
        raise CursorError("is not a cursor returned by this server")
    return data[0]


def select(models: Sequence[CatalogueModel], filters: Mapping[str, Any]) -> list[CatalogueModel]:
    """The models matching the `filter.*` query parameters (already parsed and validated)."""
    chosen = list(models)
    if "filter.visibility" in filters:
        chosen = [m for m in chosen if m.visibility == filters["filter.visibility"]]
    if "filter.source" in filters:
        chosen = [m for m in chosen if m.source == filters["filter.source"]]
    if "filter.types" in filters:
        chosen = [m for m in chosen if m.type == filters["filter.types"]]
    if "filter.is_sdxl" in filters:
        chosen = [m for m in chosen if m.is_sdxl == filters["filter.is_sdxl"]]
    if filters.get("filter.is_inpainting"):
        chosen = [m for m in chosen if m.is_inpainting]
    query = str(filters.get("filter.query", "")).strip().lower()
    if query:
        chosen = [
            m
            for m in chosen
            if query in m.sd_name.lower() or query in m.name.lower() or any(query in t for t in m.tags)
        ]
    return chosen


def page(models: Sequence[CatalogueModel], *, offset: int, limit: int) -> tuple[list[CatalogueModel], str]:
    """One page from `offset`, and the cursor of the next page ("" on the last page)."""
    items = list(models[offset : offset + limit])
    end = offset + len(items)
    next_cursor = encode_cursor(end, items[-1].id) if items and end < len(models) else ""
    return items, next_cursor


def endless_page(
    models: Sequence[CatalogueModel], *, offset: int, limit: int
) -> tuple[list[CatalogueModel], str]:
    """Like `page`, but a server bug: the pages go round the models forever, each with a new cursor."""
    items = [models[(offset + i) % len(models)] for i in range(limit)] if models else []
    return items, encode_cursor(offset + limit, items[-1].id if items else 0)
