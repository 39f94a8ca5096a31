from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.model_type_info import ModelTypeInfo


T = TypeVar("T", bound="Model")


@_attrs_define
class Model:
    """
    Attributes:
        id (int | Unset):
        name (str | Unset):
        hash_sha256 (str | Unset):
        sd_name (str | Unset): The name to pass as `model_name` (Novita).
        sd_name_in_api (str | Unset): The name to pass for LoRAs and embeddings (Novita).
        model_name (str | Unset): The name to pass as `model_name` (PPIO).
        type_ (ModelTypeInfo | Unset):
        categories (Any | Unset): A list on Novita; PPIO documents it without a type, so any JSON value is kept.
        status (int | Unset): A model status, one of `ModelStatus` (0 unavailable, 1 available) or another.
        tags (Any | Unset): A list of strings on Novita; PPIO documents it without a type, so any JSON value is kept.
        cover_url (str | Unset):
        download_url (str | Unset):
        download_url_ttl (int | str | Unset): An integer, which some responses send as a numeric string (`3600` or
            `"3600"`).
        source (str | Unset):
        base_model (str | Unset):
        base_model_type (str | Unset):
        is_sdxl (bool | Unset):
        is_inpainting (bool | Unset):
    """

    id: int | Unset = UNSET
    name: str | Unset = UNSET
    hash_sha256: str | Unset = UNSET
    sd_name: str | Unset = UNSET
    sd_name_in_api: str | Unset = UNSET
    model_name: str | Unset = UNSET
    type_: ModelTypeInfo | Unset = UNSET
    categories: Any | Unset = UNSET
    status: int | Unset = UNSET
    tags: Any | Unset = UNSET
    cover_url: str | Unset = UNSET
    download_url: str | Unset = UNSET
    download_url_ttl: int | str | Unset = UNSET
    source: str | Unset = UNSET
    base_model: str | Unset = UNSET
    base_model_type: str | Unset = UNSET
    is_sdxl: bool | Unset = UNSET
    is_inpainting: bool | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        name = self.name

        hash_sha256 = self.hash_sha256

        sd_name = self.sd_name

        sd_name_in_api = self.sd_name_in_api

        model_name = self.model_name

        type_: dict[str, Any] | Unset = UNSET
        if not isinstance(self.type_, Unset):
            type_ = self.type_.to_dict()

        categories = self.categories

        status = self.status

        tags = self.tags

        cover_url = self.cover_url

        download_url = self.download_url

        download_url_ttl: int | str | Unset
        if isinstance(self.download_url_ttl, Unset):
            download_url_ttl = UNSET
        else:
            download_url_ttl = self.download_url_ttl

        source = self.source

        base_model = self.base_model

        base_model_type = self.base_model_type

        is_sdxl = self.is_sdxl

        is_inpainting = self.is_inpainting

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if id is not UNSET:
            field_dict["id"] = id
        if name is not UNSET:
            field_dict["name"] = name
        if hash_sha256 is not UNSET:
            field_dict["hash_sha256"] = hash_sha256
        if sd_name is not UNSET:
            field_dict["sd_name"] = sd_name
        if sd_name_in_api is not UNSET:
            field_dict["sd_name_in_api"] = sd_name_in_api
        if model_name is not UNSET:
            field_dict["model_name"] = model_name
        if type_ is not UNSET:
            field_dict["type"] = type_
        if categories is not UNSET:
            field_dict["categories"] = categories
        if status is not UNSET:
            field_dict["status"] = status
        if tags is not UNSET:
            field_dict["tags"] = tags
        if cover_url is not UNSET:
            field_dict["cover_url"] = cover_url
        if download_url is not UNSET:
            field_dict["download_url"] = download_url
        if download_url_ttl is not UNSET:
            field_dict["download_url_ttl"] = download_url_ttl
        if source is not UNSET:
            field_dict["source"] = source
        if base_model is not UNSET:
            field_dict["base_model"] = base_model
        if base_model_type is not UNSET:
            field_dict["base_model_type"] = base_model_type
        if is_sdxl is not UNSET:
            field_dict["is_sdxl"] = is_sdxl
        if is_inpainting is not UNSET:
            field_dict["is_inpainting"] = is_inpainting

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.model_type_info import ModelTypeInfo

        d = dict(src_dict)
        id = d.pop("id", UNSET)

        name = d.pop("name", UNSET)

        hash_sha256 = d.pop("hash_sha256", UNSET)

        sd_name = d.pop("sd_name", UNSET)

        sd_name_in_api = d.pop("sd_name_in_api", UNSET)

        model_name = d.pop("model_name", UNSET)

        _type_ = d.pop("type", UNSET)
        type_: ModelTypeInfo | Unset
        if isinstance(_type_, Unset):
            type_ = UNSET
        else:
            type_ = ModelTypeInfo.from_dict(_type_)

        categories = d.pop("categories", UNSET)

        status = d.pop("status", UNSET)

        tags = d.pop("tags", UNSET)

        cover_url = d.pop("cover_url", UNSET)

        download_url = d.pop("download_url", UNSET)

        def _parse_download_url_ttl(data: object) -> int | str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | str | Unset, data)

        download_url_ttl = _parse_download_url_ttl(d.pop("download_url_ttl", UNSET))

        source = d.pop("source", UNSET)

        base_model = d.pop("base_model", UNSET)

        base_model_type = d.pop("base_model_type", UNSET)

        is_sdxl = d.pop("is_sdxl", UNSET)

        is_inpainting = d.pop("is_inpainting", UNSET)

        model = cls(
            id=id,
            name=name,
            hash_sha256=hash_sha256,
            sd_name=sd_name,
            sd_name_in_api=sd_name_in_api,
            model_name=model_name,
            type_=type_,
            categories=categories,
            status=status,
            tags=tags,
            cover_url=cover_url,
            download_url=download_url,
            download_url_ttl=download_url_ttl,
            source=source,
            base_model=base_model,
            base_model_type=base_model_type,
            is_sdxl=is_sdxl,
            is_inpainting=is_inpainting,
        )

        model.additional_properties = d
        return model

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
