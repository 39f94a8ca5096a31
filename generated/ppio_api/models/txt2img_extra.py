from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

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
        response_image_type (None | ResponseImageType | Unset):  Default: ResponseImageType.PNG.
        webhook (None | Unset | WebhookConfig):
        enable_nsfw_detection (bool | None | Unset): Run NSFW detection on the images. Default: False.
        nsfw_detection_level (None | NsfwDetectionLevel | Unset):  Default: NsfwDetectionLevel.NSFW_LEVEL_0.
        custom_storage (CustomStorage | None | Unset):
        enterprise_plan (EnterprisePlan | None | Unset):
    """

    response_image_type: None | ResponseImageType | Unset = ResponseImageType.PNG
    webhook: None | Unset | WebhookConfig = UNSET
    enable_nsfw_detection: bool | None | Unset = False
    nsfw_detection_level: None | NsfwDetectionLevel | Unset = (
        NsfwDetectionLevel.NSFW_LEVEL_0
    )
    custom_storage: CustomStorage | None | Unset = UNSET
    enterprise_plan: EnterprisePlan | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.custom_storage import CustomStorage
        from ..models.enterprise_plan import EnterprisePlan
        from ..models.webhook_config import WebhookConfig

        response_image_type: None | str | Unset
        if isinstance(self.response_image_type, Unset):
            response_image_type = UNSET
        elif isinstance(self.response_image_type, ResponseImageType):
            response_image_type = self.response_image_type.value
        else:
            response_image_type = self.response_image_type

        webhook: dict[str, Any] | None | Unset
        if isinstance(self.webhook, Unset):
            webhook = UNSET
        elif isinstance(self.webhook, WebhookConfig):
            webhook = self.webhook.to_dict()
        else:
            webhook = self.webhook

        enable_nsfw_detection: bool | None | Unset
        if isinstance(self.enable_nsfw_detection, Unset):
            enable_nsfw_detection = UNSET
        else:
            enable_nsfw_detection = self.enable_nsfw_detection

        nsfw_detection_level: int | None | Unset
        if isinstance(self.nsfw_detection_level, Unset):
            nsfw_detection_level = UNSET
        elif isinstance(self.nsfw_detection_level, NsfwDetectionLevel):
            nsfw_detection_level = self.nsfw_detection_level.value
        else:
            nsfw_detection_level = self.nsfw_detection_level

        custom_storage: dict[str, Any] | None | Unset
        if isinstance(self.custom_storage, Unset):
            custom_storage = UNSET
        elif isinstance(self.custom_storage, CustomStorage):
            custom_storage = self.custom_storage.to_dict()
        else:
            custom_storage = self.custom_storage

        enterprise_plan: dict[str, Any] | None | Unset
        if isinstance(self.enterprise_plan, Unset):
            enterprise_plan = UNSET
        elif isinstance(self.enterprise_plan, EnterprisePlan):
            enterprise_plan = self.enterprise_plan.to_dict()
        else:
            enterprise_plan = self.enterprise_plan

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

        def _parse_response_image_type(
            data: object,
        ) -> None | ResponseImageType | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                response_image_type_type_0 = ResponseImageType(data)

                return response_image_type_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ResponseImageType | Unset, data)

        response_image_type = _parse_response_image_type(
            d.pop("response_image_type", UNSET)
        )

        def _parse_webhook(data: object) -> None | Unset | WebhookConfig:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                webhook_type_0 = WebhookConfig.from_dict(data)

                return webhook_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | WebhookConfig, data)

        webhook = _parse_webhook(d.pop("webhook", UNSET))

        def _parse_enable_nsfw_detection(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        enable_nsfw_detection = _parse_enable_nsfw_detection(
            d.pop("enable_nsfw_detection", UNSET)
        )

        def _parse_nsfw_detection_level(
            data: object,
        ) -> None | NsfwDetectionLevel | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, int):
                    raise TypeError()
                nsfw_detection_level_type_0 = NsfwDetectionLevel(data)

                return nsfw_detection_level_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | NsfwDetectionLevel | Unset, data)

        nsfw_detection_level = _parse_nsfw_detection_level(
            d.pop("nsfw_detection_level", UNSET)
        )

        def _parse_custom_storage(data: object) -> CustomStorage | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                custom_storage_type_0 = CustomStorage.from_dict(data)

                return custom_storage_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CustomStorage | None | Unset, data)

        custom_storage = _parse_custom_storage(d.pop("custom_storage", UNSET))

        def _parse_enterprise_plan(data: object) -> EnterprisePlan | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                enterprise_plan_type_0 = EnterprisePlan.from_dict(data)

                return enterprise_plan_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(EnterprisePlan | None | Unset, data)

        enterprise_plan = _parse_enterprise_plan(d.pop("enterprise_plan", UNSET))

        txt2img_extra = cls(
            response_image_type=response_image_type,
            webhook=webhook,
            enable_nsfw_detection=enable_nsfw_detection,
            nsfw_detection_level=nsfw_detection_level,
            custom_storage=custom_storage,
            enterprise_plan=enterprise_plan,
        )

        return txt2img_extra
