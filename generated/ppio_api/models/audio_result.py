from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.audio_metadata import AudioMetadata


T = TypeVar("T", bound="AudioResult")


@_attrs_define
class AudioResult:
    """
    Attributes:
        audio_url (str):
        audio_url_ttl (int | str | Unset): An integer, which some responses send as a numeric string (`3600` or
            `"3600"`).
        audio_type (str | Unset): An audio format, one of `AudioType` or another.
        audio_metadata (AudioMetadata | Unset):
    """

    audio_url: str
    audio_url_ttl: int | str | Unset = UNSET
    audio_type: str | Unset = UNSET
    audio_metadata: AudioMetadata | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        audio_url = self.audio_url

        audio_url_ttl: int | str | Unset
        if isinstance(self.audio_url_ttl, Unset):
            audio_url_ttl = UNSET
        else:
            audio_url_ttl = self.audio_url_ttl

        audio_type = self.audio_type

        audio_metadata: dict[str, Any] | Unset = UNSET
        if not isinstance(self.audio_metadata, Unset):
            audio_metadata = self.audio_metadata.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "audio_url": audio_url,
            }
        )
        if audio_url_ttl is not UNSET:
            field_dict["audio_url_ttl"] = audio_url_ttl
        if audio_type is not UNSET:
            field_dict["audio_type"] = audio_type
        if audio_metadata is not UNSET:
            field_dict["audio_metadata"] = audio_metadata

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.audio_metadata import AudioMetadata

        d = dict(src_dict)
        audio_url = d.pop("audio_url")

        def _parse_audio_url_ttl(data: object) -> int | str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | str | Unset, data)

        audio_url_ttl = _parse_audio_url_ttl(d.pop("audio_url_ttl", UNSET))

        audio_type = d.pop("audio_type", UNSET)

        _audio_metadata = d.pop("audio_metadata", UNSET)
        audio_metadata: AudioMetadata | Unset
        if isinstance(_audio_metadata, Unset):
            audio_metadata = UNSET
        else:
            audio_metadata = AudioMetadata.from_dict(_audio_metadata)

        audio_result = cls(
            audio_url=audio_url,
            audio_url_ttl=audio_url_ttl,
            audio_type=audio_type,
            audio_metadata=audio_metadata,
        )

        audio_result.additional_properties = d
        return audio_result

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
