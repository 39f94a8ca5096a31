from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.upscaler import Upscaler
from ..types import UNSET, Unset

T = TypeVar("T", bound="HiresFix")


@_attrs_define
class HiresFix:
    """
    Attributes:
        target_width (int):
        target_height (int):
        strength (float):
        upscaler (Upscaler | Unset): The upscaler used by hires fix.
    """

    target_width: int
    target_height: int
    strength: float
    upscaler: Upscaler | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        target_width = self.target_width

        target_height = self.target_height

        strength = self.strength

        upscaler: str | Unset = UNSET
        if not isinstance(self.upscaler, Unset):
            upscaler = self.upscaler.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "target_width": target_width,
                "target_height": target_height,
                "strength": strength,
            }
        )
        if upscaler is not UNSET:
            field_dict["upscaler"] = upscaler

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        target_width = d.pop("target_width")

        target_height = d.pop("target_height")

        strength = d.pop("strength")

        _upscaler = d.pop("upscaler", UNSET)
        upscaler: Upscaler | Unset
        if isinstance(_upscaler, Unset):
            upscaler = UNSET
        else:
            upscaler = Upscaler(_upscaler)

        hires_fix = cls(
            target_width=target_width,
            target_height=target_height,
            strength=strength,
            upscaler=upscaler,
        )

        return hires_fix
