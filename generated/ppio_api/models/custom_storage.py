from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.aws_s3_storage import AwsS3Storage


T = TypeVar("T", bound="CustomStorage")


@_attrs_define
class CustomStorage:
    """
    Attributes:
        aws_s3 (AwsS3Storage | Unset):
    """

    aws_s3: AwsS3Storage | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        aws_s3: dict[str, Any] | Unset = UNSET
        if not isinstance(self.aws_s3, Unset):
            aws_s3 = self.aws_s3.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if aws_s3 is not UNSET:
            field_dict["aws_s3"] = aws_s3

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.aws_s3_storage import AwsS3Storage

        d = dict(src_dict)
        _aws_s3 = d.pop("aws_s3", UNSET)
        aws_s3: AwsS3Storage | Unset
        if isinstance(_aws_s3, Unset):
            aws_s3 = UNSET
        else:
            aws_s3 = AwsS3Storage.from_dict(_aws_s3)

        custom_storage = cls(
            aws_s3=aws_s3,
        )

        return custom_storage
