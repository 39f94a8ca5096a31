from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.aws_s3_storage import AwsS3Storage


T = TypeVar("T", bound="CustomStorage")


@_attrs_define
class CustomStorage:
    """
    Attributes:
        aws_s3 (AwsS3Storage | None | Unset):
    """

    aws_s3: AwsS3Storage | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.aws_s3_storage import AwsS3Storage

        aws_s3: dict[str, Any] | None | Unset
        if isinstance(self.aws_s3, Unset):
            aws_s3 = UNSET
        elif isinstance(self.aws_s3, AwsS3Storage):
            aws_s3 = self.aws_s3.to_dict()
        else:
            aws_s3 = self.aws_s3

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if aws_s3 is not UNSET:
            field_dict["aws_s3"] = aws_s3

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.aws_s3_storage import AwsS3Storage

        d = dict(src_dict)

        def _parse_aws_s3(data: object) -> AwsS3Storage | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                aws_s3_type_0 = AwsS3Storage.from_dict(data)

                return aws_s3_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AwsS3Storage | None | Unset, data)

        aws_s3 = _parse_aws_s3(d.pop("aws_s3", UNSET))

        custom_storage = cls(
            aws_s3=aws_s3,
        )

        return custom_storage
