from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="DebugInfo")


@_attrs_define
class DebugInfo:
    """
    Attributes:
        request_info (str | Unset): The backend request, JSON-encoded.
        submit_time_ms (str | Unset):
        execute_time_ms (str | Unset):
        complete_time_ms (str | Unset):
    """

    request_info: str | Unset = UNSET
    submit_time_ms: str | Unset = UNSET
    execute_time_ms: str | Unset = UNSET
    complete_time_ms: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        request_info = self.request_info

        submit_time_ms = self.submit_time_ms

        execute_time_ms = self.execute_time_ms

        complete_time_ms = self.complete_time_ms

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if request_info is not UNSET:
            field_dict["request_info"] = request_info
        if submit_time_ms is not UNSET:
            field_dict["submit_time_ms"] = submit_time_ms
        if execute_time_ms is not UNSET:
            field_dict["execute_time_ms"] = execute_time_ms
        if complete_time_ms is not UNSET:
            field_dict["complete_time_ms"] = complete_time_ms

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        request_info = d.pop("request_info", UNSET)

        submit_time_ms = d.pop("submit_time_ms", UNSET)

        execute_time_ms = d.pop("execute_time_ms", UNSET)

        complete_time_ms = d.pop("complete_time_ms", UNSET)

        debug_info = cls(
            request_info=request_info,
            submit_time_ms=submit_time_ms,
            execute_time_ms=execute_time_ms,
            complete_time_ms=complete_time_ms,
        )

        debug_info.additional_properties = d
        return debug_info

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
