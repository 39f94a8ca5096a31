from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.audio_result import AudioResult
    from ..models.image_result import ImageResult
    from ..models.task import Task
    from ..models.task_result_extra import TaskResultExtra
    from ..models.video_result import VideoResult


T = TypeVar("T", bound="TaskResultResponse")


@_attrs_define
class TaskResultResponse:
    """
    Attributes:
        task (Task):
        extra (TaskResultExtra | Unset):
        images (list[ImageResult] | Unset): The images, in request order; empty until the task succeeds.
        videos (list[VideoResult] | Unset):
        audios (list[AudioResult] | Unset):
    """

    task: Task
    extra: TaskResultExtra | Unset = UNSET
    images: list[ImageResult] | Unset = UNSET
    videos: list[VideoResult] | Unset = UNSET
    audios: list[AudioResult] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        task = self.task.to_dict()

        extra: dict[str, Any] | Unset = UNSET
        if not isinstance(self.extra, Unset):
            extra = self.extra.to_dict()

        images: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.images, Unset):
            images = []
            for images_item_data in self.images:
                images_item = images_item_data.to_dict()
                images.append(images_item)

        videos: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.videos, Unset):
            videos = []
            for videos_item_data in self.videos:
                videos_item = videos_item_data.to_dict()
                videos.append(videos_item)

        audios: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.audios, Unset):
            audios = []
            for audios_item_data in self.audios:
                audios_item = audios_item_data.to_dict()
                audios.append(audios_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "task": task,
            }
        )
        if extra is not UNSET:
            field_dict["extra"] = extra
        if images is not UNSET:
            field_dict["images"] = images
        if videos is not UNSET:
            field_dict["videos"] = videos
        if audios is not UNSET:
            field_dict["audios"] = audios

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.audio_result import AudioResult
        from ..models.image_result import ImageResult
        from ..models.task import Task
        from ..models.task_result_extra import TaskResultExtra
        from ..models.video_result import VideoResult

        d = dict(src_dict)
        task = Task.from_dict(d.pop("task"))

        _extra = d.pop("extra", UNSET)
        extra: TaskResultExtra | Unset
        if isinstance(_extra, Unset):
            extra = UNSET
        else:
            extra = TaskResultExtra.from_dict(_extra)

        _images = d.pop("images", UNSET)
        images: list[ImageResult] | Unset = UNSET
        if _images is not UNSET:
            images = []
            for images_item_data in _images:
                images_item = ImageResult.from_dict(images_item_data)

                images.append(images_item)

        _videos = d.pop("videos", UNSET)
        videos: list[VideoResult] | Unset = UNSET
        if _videos is not UNSET:
            videos = []
            for videos_item_data in _videos:
                videos_item = VideoResult.from_dict(videos_item_data)

                videos.append(videos_item)

        _audios = d.pop("audios", UNSET)
        audios: list[AudioResult] | Unset = UNSET
        if _audios is not UNSET:
            audios = []
            for audios_item_data in _audios:
                audios_item = AudioResult.from_dict(audios_item_data)

                audios.append(audios_item)

        task_result_response = cls(
            task=task,
            extra=extra,
            images=images,
            videos=videos,
            audios=audios,
        )

        task_result_response.additional_properties = d
        return task_result_response

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
