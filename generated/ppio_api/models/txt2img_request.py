from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

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
            sampler_name (SamplerName): The sampler used to denoise. A closed list on purpose: these are the documented
                names, the
                server refuses others with a 400 (nothing is billed), and a client that checks first turns a
                typo such as `Euler A` or `DPM++ 2M karras` into a clear local error. New samplers need a spec
                update (or an SDK's escape hatch for raw request fields).
            negative_prompt (None | str | Unset): What the image should not show; `""` for nothing (the PPIO docs allow
                length 0).
            sd_vae (None | str | Unset): A VAE's `sd_name` (`GET /v3/model?filter.types=vae`); `""` for the checkpoint's
                own.
            seed (int | None | Unset): The noise seed; -1 draws a random one. The docs set no upper bound. Default: -1.
            loras (list[Lora] | None | Unset): At most 5 LoRAs.
            embeddings (list[Embedding] | None | Unset): At most 5 textual-inversion embeddings.
            hires_fix (HiresFix | None | Unset): Generate at `width` x `height`, then upscale to the target size.
            refiner (None | Refiner | Unset): Hand over to the SDXL refiner part of the way through.
            clip_skip (int | None | Unset): CLIP layers to skip.
            enable_transparent_background (bool | None | Unset): A transparent background; needs `png` output and an SDXL
                checkpoint. Default: False.
            restore_faces (bool | None | Unset): Run face restoration. Default: False.
    """

    model_name: str
    prompt: str
    width: int
    height: int
    image_num: int
    steps: int
    guidance_scale: float
    sampler_name: SamplerName
    negative_prompt: None | str | Unset = UNSET
    sd_vae: None | str | Unset = UNSET
    seed: int | None | Unset = -1
    loras: list[Lora] | None | Unset = UNSET
    embeddings: list[Embedding] | None | Unset = UNSET
    hires_fix: HiresFix | None | Unset = UNSET
    refiner: None | Refiner | Unset = UNSET
    clip_skip: int | None | Unset = UNSET
    enable_transparent_background: bool | None | Unset = False
    restore_faces: bool | None | Unset = False

    def to_dict(self) -> dict[str, Any]:
        from ..models.hires_fix import HiresFix
        from ..models.refiner import Refiner

        model_name = self.model_name

        prompt = self.prompt

        width = self.width

        height = self.height

        image_num = self.image_num

        steps = self.steps

        guidance_scale = self.guidance_scale

        sampler_name = self.sampler_name.value

        negative_prompt: None | str | Unset
        if isinstance(self.negative_prompt, Unset):
            negative_prompt = UNSET
        else:
            negative_prompt = self.negative_prompt

        sd_vae: None | str | Unset
        if isinstance(self.sd_vae, Unset):
            sd_vae = UNSET
        else:
            sd_vae = self.sd_vae

        seed: int | None | Unset
        if isinstance(self.seed, Unset):
            seed = UNSET
        else:
            seed = self.seed

        loras: list[dict[str, Any]] | None | Unset
        if isinstance(self.loras, Unset):
            loras = UNSET
        elif isinstance(self.loras, list):
            loras = []
            for loras_type_0_item_data in self.loras:
                loras_type_0_item = loras_type_0_item_data.to_dict()
                loras.append(loras_type_0_item)

        else:
            loras = self.loras

        embeddings: list[dict[str, Any]] | None | Unset
        if isinstance(self.embeddings, Unset):
            embeddings = UNSET
        elif isinstance(self.embeddings, list):
            embeddings = []
            for embeddings_type_0_item_data in self.embeddings:
                embeddings_type_0_item = embeddings_type_0_item_data.to_dict()
                embeddings.append(embeddings_type_0_item)

        else:
            embeddings = self.embeddings

        hires_fix: dict[str, Any] | None | Unset
        if isinstance(self.hires_fix, Unset):
            hires_fix = UNSET
        elif isinstance(self.hires_fix, HiresFix):
            hires_fix = self.hires_fix.to_dict()
        else:
            hires_fix = self.hires_fix

        refiner: dict[str, Any] | None | Unset
        if isinstance(self.refiner, Unset):
            refiner = UNSET
        elif isinstance(self.refiner, Refiner):
            refiner = self.refiner.to_dict()
        else:
            refiner = self.refiner

        clip_skip: int | None | Unset
        if isinstance(self.clip_skip, Unset):
            clip_skip = UNSET
        else:
            clip_skip = self.clip_skip

        enable_transparent_background: bool | None | Unset
        if isinstance(self.enable_transparent_background, Unset):
            enable_transparent_background = UNSET
        else:
            enable_transparent_background = self.enable_transparent_background

        restore_faces: bool | None | Unset
        if isinstance(self.restore_faces, Unset):
            restore_faces = UNSET
        else:
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

        def _parse_negative_prompt(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        negative_prompt = _parse_negative_prompt(d.pop("negative_prompt", UNSET))

        def _parse_sd_vae(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        sd_vae = _parse_sd_vae(d.pop("sd_vae", UNSET))

        def _parse_seed(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        seed = _parse_seed(d.pop("seed", UNSET))

        def _parse_loras(data: object) -> list[Lora] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                loras_type_0 = []
                _loras_type_0 = data
                for loras_type_0_item_data in _loras_type_0:
                    loras_type_0_item = Lora.from_dict(loras_type_0_item_data)

                    loras_type_0.append(loras_type_0_item)

                return loras_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Lora] | None | Unset, data)

        loras = _parse_loras(d.pop("loras", UNSET))

        def _parse_embeddings(data: object) -> list[Embedding] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                embeddings_type_0 = []
                _embeddings_type_0 = data
                for embeddings_type_0_item_data in _embeddings_type_0:
                    embeddings_type_0_item = Embedding.from_dict(
                        embeddings_type_0_item_data
                    )

                    embeddings_type_0.append(embeddings_type_0_item)

                return embeddings_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Embedding] | None | Unset, data)

        embeddings = _parse_embeddings(d.pop("embeddings", UNSET))

        def _parse_hires_fix(data: object) -> HiresFix | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                hires_fix_type_0 = HiresFix.from_dict(data)

                return hires_fix_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(HiresFix | None | Unset, data)

        hires_fix = _parse_hires_fix(d.pop("hires_fix", UNSET))

        def _parse_refiner(data: object) -> None | Refiner | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                refiner_type_0 = Refiner.from_dict(data)

                return refiner_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Refiner | Unset, data)

        refiner = _parse_refiner(d.pop("refiner", UNSET))

        def _parse_clip_skip(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        clip_skip = _parse_clip_skip(d.pop("clip_skip", UNSET))

        def _parse_enable_transparent_background(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        enable_transparent_background = _parse_enable_transparent_background(
            d.pop("enable_transparent_background", UNSET)
        )

        def _parse_restore_faces(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        restore_faces = _parse_restore_faces(d.pop("restore_faces", UNSET))

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
