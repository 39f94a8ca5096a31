from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.debug_info import DebugInfo


T = TypeVar("T", bound="TaskResultExtra")


@_attrs_define
class TaskResultExtra:
    """
    Attributes:
        seed (int | str | Unset): An integer, which some responses send as a numeric string (`3600` or `"3600"`).
        enable_nsfw_detection (bool | Unset):
        debug_info (DebugInfo | Unset):
    """

    seed: int | str | Unset = UNSET
    enable_nsfw_detection: bool | Unset = UNSET
    debug_info: DebugInfo | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        seed: int | str | Unset
        if isinstance(self.seed, Unset):
            seed = UNSET
        else:
            seed = self.seed

        enable_nsfw_detection = self.enable_nsfw_detection

        debug_info: dict[str, Any] | Unset = UNSET
        if not isinstance(self.debug_info, Unset):
            debug_info = self.debug_info.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if seed is not UNSET:
            field_dict["seed"] = seed
        if enable_nsfw_detection is not UNSET:
            field_dict["enable_nsfw_detection"] = enable_nsfw_detection
        if debug_info is not UNSET:
            field_dict["debug_info"] = debug_info

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.debug_info import DebugInfo

        d = dict(src_dict)

        def _parse_seed(data: object) -> int | str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | str | Unset, data)

        seed = _parse_seed(d.pop("seed", UNSET))

        enable_nsfw_detection = d.pop("enable_nsfw_detection", UNSET)

        _debug_info = d.pop("debug_info", UNSET)
        debug_info: DebugInfo | Unset
        if isinstance(_debug_info, Unset):
            debug_info = UNSET
        else:
            debug_info = DebugInfo.from_dict(_debug_info)

        task_result_extra = cls(
            seed=seed,
            enable_nsfw_detection=enable_nsfw_detection,
            debug_info=debug_info,
        )

        task_result_extra.additional_properties = d
        return task_result_extra

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
