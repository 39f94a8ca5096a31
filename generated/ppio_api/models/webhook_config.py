from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.webhook_test_mode import WebhookTestMode


T = TypeVar("T", bound="WebhookConfig")


@_attrs_define
class WebhookConfig:
    """
    Attributes:
        url (str): Where the `ASYNC_TASK_RESULT` event is POSTed.
        test_mode (WebhookTestMode | Unset):
    """

    url: str
    test_mode: WebhookTestMode | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        url = self.url

        test_mode: dict[str, Any] | Unset = UNSET
        if not isinstance(self.test_mode, Unset):
            test_mode = self.test_mode.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "url": url,
            }
        )
        if test_mode is not UNSET:
            field_dict["test_mode"] = test_mode

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.webhook_test_mode import WebhookTestMode

        d = dict(src_dict)
        url = d.pop("url")

        _test_mode = d.pop("test_mode", UNSET)
        test_mode: WebhookTestMode | Unset
        if isinstance(_test_mode, Unset):
            test_mode = UNSET
        else:
            test_mode = WebhookTestMode.from_dict(_test_mode)

        webhook_config = cls(
            url=url,
            test_mode=test_mode,
        )

        return webhook_config
