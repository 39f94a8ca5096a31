from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="AwsS3Storage")


@_attrs_define
class AwsS3Storage:
    """
    Attributes:
        region (str):
        bucket (str):
        path (str):
        save_to_path_directly (bool | None | Unset):  Default: False.
    """

    region: str
    bucket: str
    path: str
    save_to_path_directly: bool | None | Unset = False

    def to_dict(self) -> dict[str, Any]:
        region = self.region

        bucket = self.bucket

        path = self.path

        save_to_path_directly: bool | None | Unset
        if isinstance(self.save_to_path_directly, Unset):
            save_to_path_directly = UNSET
        else:
            save_to_path_directly = self.save_to_path_directly

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "region": region,
                "bucket": bucket,
                "path": path,
            }
        )
        if save_to_path_directly is not UNSET:
            field_dict["save_to_path_directly"] = save_to_path_directly

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        region = d.pop("region")

        bucket = d.pop("bucket")

        path = d.pop("path")

        def _parse_save_to_path_directly(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        save_to_path_directly = _parse_save_to_path_directly(
            d.pop("save_to_path_directly", UNSET)
        )

        aws_s3_storage = cls(
            region=region,
            bucket=bucket,
            path=path,
            save_to_path_directly=save_to_path_directly,
        )

        return aws_s3_storage
