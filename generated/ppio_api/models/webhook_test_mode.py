from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.webhook_test_status import WebhookTestStatus

T = TypeVar("T", bound="WebhookTestMode")


@_attrs_define
class WebhookTestMode:
    """
    Attributes:
        enabled (bool): Send a mock event instead of running the task. Default: False.
        return_task_status (WebhookTestStatus): The status a test-mode webhook event reports.
    """

    return_task_status: WebhookTestStatus
    enabled: bool = False

    def to_dict(self) -> dict[str, Any]:
        enabled = self.enabled

        return_task_status = self.return_task_status.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "enabled": enabled,
                "return_task_status": return_task_status,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        enabled = d.pop("enabled")

        return_task_status = WebhookTestStatus(d.pop("return_task_status"))

        webhook_test_mode = cls(
            enabled=enabled,
            return_task_status=return_task_status,
        )

        return webhook_test_mode
