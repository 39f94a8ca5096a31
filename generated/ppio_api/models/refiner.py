from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="Refiner")


@_attrs_define
class Refiner:
    """
    Attributes:
        switch_at (float): 0 disables the refiner, 1 uses it fully.
    """

    switch_at: float

    def to_dict(self) -> dict[str, Any]:
        switch_at = self.switch_at

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "switch_at": switch_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        switch_at = d.pop("switch_at")

        refiner = cls(
            switch_at=switch_at,
        )

        return refiner
