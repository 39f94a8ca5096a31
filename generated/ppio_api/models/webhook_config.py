from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.webhook_test_mode import WebhookTestMode


T = TypeVar("T", bound="WebhookConfig")


@_attrs_define
class WebhookConfig:
    """
    Attributes:
        url (str): Where the `ASYNC_TASK_RESULT` event is POSTed (an absolute URL).
        test_mode (None | Unset | WebhookTestMode):
    """

    url: str
    test_mode: None | Unset | WebhookTestMode = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.webhook_test_mode import WebhookTestMode

        url = self.url

        test_mode: dict[str, Any] | None | Unset
        if isinstance(self.test_mode, Unset):
            test_mode = UNSET
        elif isinstance(self.test_mode, WebhookTestMode):
            test_mode = self.test_mode.to_dict()
        else:
            test_mode = self.test_mode

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

        def _parse_test_mode(data: object) -> None | Unset | WebhookTestMode:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                test_mode_type_0 = WebhookTestMode.from_dict(data)

                return test_mode_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | WebhookTestMode, data)

        test_mode = _parse_test_mode(d.pop("test_mode", UNSET))

        webhook_config = cls(
            url=url,
            test_mode=test_mode,
        )

        return webhook_config
