from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.model_type import ModelType
from ..types import UNSET, Unset

T = TypeVar("T", bound="ModelTypeInfo")


@_attrs_define
class ModelTypeInfo:
    """
    Attributes:
        name (ModelType | str | Unset):
        display_name (str | Unset):
    """

    name: ModelType | str | Unset = UNSET
    display_name: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name: str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        elif isinstance(self.name, ModelType):
            name = self.name.value
        else:
            name = self.name

        display_name = self.display_name

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if name is not UNSET:
            field_dict["name"] = name
        if display_name is not UNSET:
            field_dict["display_name"] = display_name

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)

        def _parse_name(data: object) -> ModelType | str | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                componentsschemas_open_model_type_type_0 = ModelType(data)

                return componentsschemas_open_model_type_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ModelType | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        display_name = d.pop("display_name", UNSET)

        model_type_info = cls(
            name=name,
            display_name=display_name,
        )

        model_type_info.additional_properties = d
        return model_type_info

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
