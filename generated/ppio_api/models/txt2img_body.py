from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.txt2img_extra import Txt2ImgExtra
    from ..models.txt2img_request import Txt2ImgRequest


T = TypeVar("T", bound="Txt2ImgBody")


@_attrs_define
class Txt2ImgBody:
    """
    Attributes:
        request (Txt2ImgRequest): What to draw. Cross-field rule: `enable_transparent_background` needs
            `extra.response_image_type` `png` (and an SDXL checkpoint).
        extra (Txt2ImgExtra | Unset): Options about the output rather than the image itself.
    """

    request: Txt2ImgRequest
    extra: Txt2ImgExtra | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        request = self.request.to_dict()

        extra: dict[str, Any] | Unset = UNSET
        if not isinstance(self.extra, Unset):
            extra = self.extra.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "request": request,
            }
        )
        if extra is not UNSET:
            field_dict["extra"] = extra

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.txt2img_extra import Txt2ImgExtra
        from ..models.txt2img_request import Txt2ImgRequest

        d = dict(src_dict)
        request = Txt2ImgRequest.from_dict(d.pop("request"))

        _extra = d.pop("extra", UNSET)
        extra: Txt2ImgExtra | Unset
        if isinstance(_extra, Unset):
            extra = UNSET
        else:
            extra = Txt2ImgExtra.from_dict(_extra)

        txt2img_body = cls(
            request=request,
            extra=extra,
        )

        return txt2img_body
