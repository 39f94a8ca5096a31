from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

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
        upscaler (None | Unset | Upscaler):
    """

    target_width: int
    target_height: int
    strength: float
    upscaler: None | Unset | Upscaler = UNSET

    def to_dict(self) -> dict[str, Any]:
        target_width = self.target_width

        target_height = self.target_height

        strength = self.strength

        upscaler: None | str | Unset
        if isinstance(self.upscaler, Unset):
            upscaler = UNSET
        elif isinstance(self.upscaler, Upscaler):
            upscaler = self.upscaler.value
        else:
            upscaler = self.upscaler

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

        def _parse_upscaler(data: object) -> None | Unset | Upscaler:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                upscaler_type_0 = Upscaler(data)

                return upscaler_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | Upscaler, data)

        upscaler = _parse_upscaler(d.pop("upscaler", UNSET))

        hires_fix = cls(
            target_width=target_width,
            target_height=target_height,
            strength=strength,
            upscaler=upscaler,
        )

        return hires_fix
