from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="Lora")


@_attrs_define
class Lora:
    """
    Attributes:
        model_name (str): The LoRA's `sd_name_in_api`.
        strength (float):
    """

    model_name: str
    strength: float

    def to_dict(self) -> dict[str, Any]:
        model_name = self.model_name

        strength = self.strength

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "model_name": model_name,
                "strength": strength,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        model_name = d.pop("model_name")

        strength = d.pop("strength")

        lora = cls(
            model_name=model_name,
            strength=strength,
        )

        return lora
