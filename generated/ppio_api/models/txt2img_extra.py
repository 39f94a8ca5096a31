from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.nsfw_detection_level import NsfwDetectionLevel
from ..models.response_image_type import ResponseImageType
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.custom_storage import CustomStorage
    from ..models.enterprise_plan import EnterprisePlan
    from ..models.webhook_config import WebhookConfig


T = TypeVar("T", bound="Txt2ImgExtra")


@_attrs_define
class Txt2ImgExtra:
    """Options about the output rather than the image itself.

    Attributes:
        response_image_type (ResponseImageType | Unset): The file format of the generated images.
        webhook (WebhookConfig | Unset):
        enable_nsfw_detection (bool | Unset): Run NSFW detection on the images. Default: False.
        nsfw_detection_level (NsfwDetectionLevel | Unset): NSFW detection strictness; 0 is the most lenient.
        custom_storage (CustomStorage | Unset):
        enterprise_plan (EnterprisePlan | Unset):
    """

    response_image_type: ResponseImageType | Unset = UNSET
    webhook: WebhookConfig | Unset = UNSET
    enable_nsfw_detection: bool | Unset = False
    nsfw_detection_level: NsfwDetectionLevel | Unset = UNSET
    custom_storage: CustomStorage | Unset = UNSET
    enterprise_plan: EnterprisePlan | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        response_image_type: str | Unset = UNSET
        if not isinstance(self.response_image_type, Unset):
            response_image_type = self.response_image_type.value

        webhook: dict[str, Any] | Unset = UNSET
        if not isinstance(self.webhook, Unset):
            webhook = self.webhook.to_dict()

        enable_nsfw_detection = self.enable_nsfw_detection

        nsfw_detection_level: int | Unset = UNSET
        if not isinstance(self.nsfw_detection_level, Unset):
            nsfw_detection_level = self.nsfw_detection_level.value

        custom_storage: dict[str, Any] | Unset = UNSET
        if not isinstance(self.custom_storage, Unset):
            custom_storage = self.custom_storage.to_dict()

        enterprise_plan: dict[str, Any] | Unset = UNSET
        if not isinstance(self.enterprise_plan, Unset):
            enterprise_plan = self.enterprise_plan.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if response_image_type is not UNSET:
            field_dict["response_image_type"] = response_image_type
        if webhook is not UNSET:
            field_dict["webhook"] = webhook
        if enable_nsfw_detection is not UNSET:
            field_dict["enable_nsfw_detection"] = enable_nsfw_detection
        if nsfw_detection_level is not UNSET:
            field_dict["nsfw_detection_level"] = nsfw_detection_level
        if custom_storage is not UNSET:
            field_dict["custom_storage"] = custom_storage
        if enterprise_plan is not UNSET:
            field_dict["enterprise_plan"] = enterprise_plan

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.custom_storage import CustomStorage
        from ..models.enterprise_plan import EnterprisePlan
        from ..models.webhook_config import WebhookConfig

        d = dict(src_dict)
        _response_image_type = d.pop("response_image_type", UNSET)
        response_image_type: ResponseImageType | Unset
        if isinstance(_response_image_type, Unset):
            response_image_type = UNSET
        else:
            response_image_type = ResponseImageType(_response_image_type)

        _webhook = d.pop("webhook", UNSET)
        webhook: WebhookConfig | Unset
        if isinstance(_webhook, Unset):
            webhook = UNSET
        else:
            webhook = WebhookConfig.from_dict(_webhook)

        enable_nsfw_detection = d.pop("enable_nsfw_detection", UNSET)

        _nsfw_detection_level = d.pop("nsfw_detection_level", UNSET)
        nsfw_detection_level: NsfwDetectionLevel | Unset
        if isinstance(_nsfw_detection_level, Unset):
            nsfw_detection_level = UNSET
        else:
            nsfw_detection_level = NsfwDetectionLevel(_nsfw_detection_level)

        _custom_storage = d.pop("custom_storage", UNSET)
        custom_storage: CustomStorage | Unset
        if isinstance(_custom_storage, Unset):
            custom_storage = UNSET
        else:
            custom_storage = CustomStorage.from_dict(_custom_storage)

        _enterprise_plan = d.pop("enterprise_plan", UNSET)
        enterprise_plan: EnterprisePlan | Unset
        if isinstance(_enterprise_plan, Unset):
            enterprise_plan = UNSET
        else:
            enterprise_plan = EnterprisePlan.from_dict(_enterprise_plan)

        txt2img_extra = cls(
            response_image_type=response_image_type,
            webhook=webhook,
            enable_nsfw_detection=enable_nsfw_detection,
            nsfw_detection_level=nsfw_detection_level,
            custom_storage=custom_storage,
            enterprise_plan=enterprise_plan,
        )

        return txt2img_extra
