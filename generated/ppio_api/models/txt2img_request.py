from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.sampler_name import SamplerName
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.embedding import Embedding
    from ..models.hires_fix import HiresFix
    from ..models.lora import Lora
    from ..models.refiner import Refiner


T = TypeVar("T", bound="Txt2ImgRequest")


@_attrs_define
class Txt2ImgRequest:
    """What to draw. Cross-field rule: `enable_transparent_background` needs
    `extra.response_image_type` `png` (and an SDXL checkpoint).

        Attributes:
            model_name (str): The checkpoint's `sd_name` (`GET /v3/model?filter.types=checkpoint`).
            prompt (str): What the image should show.
            width (int): Image width in pixels.
            height (int): Image height in pixels.
            image_num (int): How many images to generate.
            steps (int): Denoising iterations.
            guidance_scale (float): How closely the image follows the prompt.
            sampler_name (SamplerName): The sampler used to denoise.
            negative_prompt (str | Unset): What the image should not show.
            sd_vae (str | Unset): A VAE's `sd_name` (`GET /v3/model?filter.types=vae`).
            seed (int | Unset): The noise seed; -1 draws a random one. Default: -1.
            loras (list[Lora] | Unset): At most 5 LoRAs.
            embeddings (list[Embedding] | Unset): At most 5 textual-inversion embeddings.
            hires_fix (HiresFix | Unset):
            refiner (Refiner | Unset):
            clip_skip (int | Unset): CLIP layers to skip.
            enable_transparent_background (bool | Unset): A transparent background; needs `png` output and an SDXL
                checkpoint. Default: False.
            restore_faces (bool | Unset): Run face restoration. Default: False.
    """

    model_name: str
    prompt: str
    width: int
    height: int
    image_num: int
    steps: int
    guidance_scale: float
    sampler_name: SamplerName
    negative_prompt: str | Unset = UNSET
    sd_vae: str | Unset = UNSET
    seed: int | Unset = -1
    loras: list[Lora] | Unset = UNSET
    embeddings: list[Embedding] | Unset = UNSET
    hires_fix: HiresFix | Unset = UNSET
    refiner: Refiner | Unset = UNSET
    clip_skip: int | Unset = UNSET
    enable_transparent_background: bool | Unset = False
    restore_faces: bool | Unset = False

    def to_dict(self) -> dict[str, Any]:
        model_name = self.model_name

        prompt = self.prompt

        width = self.width

        height = self.height

        image_num = self.image_num

        steps = self.steps

        guidance_scale = self.guidance_scale

        sampler_name = self.sampler_name.value

        negative_prompt = self.negative_prompt

        sd_vae = self.sd_vae

        seed = self.seed

        loras: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.loras, Unset):
            loras = []
            for loras_item_data in self.loras:
                loras_item = loras_item_data.to_dict()
                loras.append(loras_item)

        embeddings: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.embeddings, Unset):
            embeddings = []
            for embeddings_item_data in self.embeddings:
                embeddings_item = embeddings_item_data.to_dict()
                embeddings.append(embeddings_item)

        hires_fix: dict[str, Any] | Unset = UNSET
        if not isinstance(self.hires_fix, Unset):
            hires_fix = self.hires_fix.to_dict()

        refiner: dict[str, Any] | Unset = UNSET
        if not isinstance(self.refiner, Unset):
            refiner = self.refiner.to_dict()

        clip_skip = self.clip_skip

        enable_transparent_background = self.enable_transparent_background

        restore_faces = self.restore_faces

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "model_name": model_name,
                "prompt": prompt,
                "width": width,
                "height": height,
                "image_num": image_num,
                "steps": steps,
                "guidance_scale": guidance_scale,
                "sampler_name": sampler_name,
            }
        )
        if negative_prompt is not UNSET:
            field_dict["negative_prompt"] = negative_prompt
        if sd_vae is not UNSET:
            field_dict["sd_vae"] = sd_vae
        if seed is not UNSET:
            field_dict["seed"] = seed
        if loras is not UNSET:
            field_dict["loras"] = loras
        if embeddings is not UNSET:
            field_dict["embeddings"] = embeddings
        if hires_fix is not UNSET:
            field_dict["hires_fix"] = hires_fix
        if refiner is not UNSET:
            field_dict["refiner"] = refiner
        if clip_skip is not UNSET:
            field_dict["clip_skip"] = clip_skip
        if enable_transparent_background is not UNSET:
            field_dict["enable_transparent_background"] = enable_transparent_background
        if restore_faces is not UNSET:
            field_dict["restore_faces"] = restore_faces

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.embedding import Embedding
        from ..models.hires_fix import HiresFix
        from ..models.lora import Lora
        from ..models.refiner import Refiner

        d = dict(src_dict)
        model_name = d.pop("model_name")

        prompt = d.pop("prompt")

        width = d.pop("width")

        height = d.pop("height")

        image_num = d.pop("image_num")

        steps = d.pop("steps")

        guidance_scale = d.pop("guidance_scale")

        sampler_name = SamplerName(d.pop("sampler_name"))

        negative_prompt = d.pop("negative_prompt", UNSET)

        sd_vae = d.pop("sd_vae", UNSET)

        seed = d.pop("seed", UNSET)

        _loras = d.pop("loras", UNSET)
        loras: list[Lora] | Unset = UNSET
        if _loras is not UNSET:
            loras = []
            for loras_item_data in _loras:
                loras_item = Lora.from_dict(loras_item_data)

                loras.append(loras_item)

        _embeddings = d.pop("embeddings", UNSET)
        embeddings: list[Embedding] | Unset = UNSET
        if _embeddings is not UNSET:
            embeddings = []
            for embeddings_item_data in _embeddings:
                embeddings_item = Embedding.from_dict(embeddings_item_data)

                embeddings.append(embeddings_item)

        _hires_fix = d.pop("hires_fix", UNSET)
        hires_fix: HiresFix | Unset
        if isinstance(_hires_fix, Unset):
            hires_fix = UNSET
        else:
            hires_fix = HiresFix.from_dict(_hires_fix)

        _refiner = d.pop("refiner", UNSET)
        refiner: Refiner | Unset
        if isinstance(_refiner, Unset):
            refiner = UNSET
        else:
            refiner = Refiner.from_dict(_refiner)

        clip_skip = d.pop("clip_skip", UNSET)

        enable_transparent_background = d.pop("enable_transparent_background", UNSET)

        restore_faces = d.pop("restore_faces", UNSET)

        txt2img_request = cls(
            model_name=model_name,
            prompt=prompt,
            width=width,
            height=height,
            image_num=image_num,
            steps=steps,
            guidance_scale=guidance_scale,
            sampler_name=sampler_name,
            negative_prompt=negative_prompt,
            sd_vae=sd_vae,
            seed=seed,
            loras=loras,
            embeddings=embeddings,
            hires_fix=hires_fix,
            refiner=refiner,
            clip_skip=clip_skip,
            enable_transparent_background=enable_transparent_background,
            restore_faces=restore_faces,
        )

        return txt2img_request
