from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.nsfw_detection_result import NsfwDetectionResult


T = TypeVar("T", bound="ImageResult")


@_attrs_define
class ImageResult:
    """
    Attributes:
        image_url (str):
        image_url_ttl (int | str | Unset): An integer, which some responses send as a numeric string (`3600` or
            `"3600"`).
        image_type (str | Unset): An image format, one of `ResponseImageType` or another.
        nsfw_detection_result (None | NsfwDetectionResult | Unset):
    """

    image_url: str
    image_url_ttl: int | str | Unset = UNSET
    image_type: str | Unset = UNSET
    nsfw_detection_result: None | NsfwDetectionResult | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.nsfw_detection_result import NsfwDetectionResult

        image_url = self.image_url

        image_url_ttl: int | str | Unset
        if isinstance(self.image_url_ttl, Unset):
            image_url_ttl = UNSET
        else:
            image_url_ttl = self.image_url_ttl

        image_type = self.image_type

        nsfw_detection_result: dict[str, Any] | None | Unset
        if isinstance(self.nsfw_detection_result, Unset):
            nsfw_detection_result = UNSET
        elif isinstance(self.nsfw_detection_result, NsfwDetectionResult):
            nsfw_detection_result = self.nsfw_detection_result.to_dict()
        else:
            nsfw_detection_result = self.nsfw_detection_result

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "image_url": image_url,
            }
        )
        if image_url_ttl is not UNSET:
            field_dict["image_url_ttl"] = image_url_ttl
        if image_type is not UNSET:
            field_dict["image_type"] = image_type
        if nsfw_detection_result is not UNSET:
            field_dict["nsfw_detection_result"] = nsfw_detection_result

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.nsfw_detection_result import NsfwDetectionResult

        d = dict(src_dict)
        image_url = d.pop("image_url")

        def _parse_image_url_ttl(data: object) -> int | str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | str | Unset, data)

        image_url_ttl = _parse_image_url_ttl(d.pop("image_url_ttl", UNSET))

        image_type = d.pop("image_type", UNSET)

        def _parse_nsfw_detection_result(
            data: object,
        ) -> None | NsfwDetectionResult | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                nsfw_detection_result_type_0 = NsfwDetectionResult.from_dict(data)

                return nsfw_detection_result_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | NsfwDetectionResult | Unset, data)

        nsfw_detection_result = _parse_nsfw_detection_result(
            d.pop("nsfw_detection_result", UNSET)
        )

        image_result = cls(
            image_url=image_url,
            image_url_ttl=image_url_ttl,
            image_type=image_type,
            nsfw_detection_result=nsfw_detection_result,
        )

        image_result.additional_properties = d
        return image_result

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
