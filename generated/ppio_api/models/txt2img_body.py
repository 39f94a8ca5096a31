from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

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
        extra (None | Txt2ImgExtra | Unset):
    """

    request: Txt2ImgRequest
    extra: None | Txt2ImgExtra | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.txt2img_extra import Txt2ImgExtra

        request = self.request.to_dict()

        extra: dict[str, Any] | None | Unset
        if isinstance(self.extra, Unset):
            extra = UNSET
        elif isinstance(self.extra, Txt2ImgExtra):
            extra = self.extra.to_dict()
        else:
            extra = self.extra

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

        def _parse_extra(data: object) -> None | Txt2ImgExtra | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                extra_type_0 = Txt2ImgExtra.from_dict(data)

                return extra_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Txt2ImgExtra | Unset, data)

        extra = _parse_extra(d.pop("extra", UNSET))

        txt2img_body = cls(
            request=request,
            extra=extra,
        )

        return txt2img_body
