from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="Embedding")


@_attrs_define
class Embedding:
    """
    Attributes:
        model_name (str): The embedding's `sd_name_in_api`.
    """

    model_name: str

    def to_dict(self) -> dict[str, Any]:
        model_name = self.model_name

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "model_name": model_name,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        model_name = d.pop("model_name")

        embedding = cls(
            model_name=model_name,
        )

        return embedding
