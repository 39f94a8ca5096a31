from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="Task")


@_attrs_define
class Task:
    """
    Attributes:
        task_id (str):
        status (str): A task status, one of `TaskStatus` or a value added later (kept as is; not terminal).
        task_type (str | Unset): A task type, one of `TaskType` or another.
        reason (str | Unset): Why the task failed; empty otherwise.
        eta (float | Unset): Estimated seconds until the task finishes; 0 when unknown. No bounds are documented, so
            none are written here (a client must not refuse a task whose `eta` is -1).
        progress_percent (float | Unset): Percent done, normally 0 to 100 (not bounded here, as the docs set no bounds).
    """

    task_id: str
    status: str
    task_type: str | Unset = UNSET
    reason: str | Unset = UNSET
    eta: float | Unset = UNSET
    progress_percent: float | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        task_id = self.task_id

        status = self.status

        task_type = self.task_type

        reason = self.reason

        eta = self.eta

        progress_percent = self.progress_percent

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "task_id": task_id,
                "status": status,
            }
        )
        if task_type is not UNSET:
            field_dict["task_type"] = task_type
        if reason is not UNSET:
            field_dict["reason"] = reason
        if eta is not UNSET:
            field_dict["eta"] = eta
        if progress_percent is not UNSET:
            field_dict["progress_percent"] = progress_percent

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        task_id = d.pop("task_id")

        status = d.pop("status")

        task_type = d.pop("task_type", UNSET)

        reason = d.pop("reason", UNSET)

        eta = d.pop("eta", UNSET)

        progress_percent = d.pop("progress_percent", UNSET)

        task = cls(
            task_id=task_id,
            status=status,
            task_type=task_type,
            reason=reason,
            eta=eta,
            progress_percent=progress_percent,
        )

        task.additional_properties = d
        return task

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
