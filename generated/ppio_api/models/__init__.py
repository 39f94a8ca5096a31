"""Contains all the data models used in inputs/outputs"""

from .audio_metadata import AudioMetadata
from .audio_result import AudioResult
from .audio_type import AudioType
from .aws_s3_storage import AwsS3Storage
from .create_task_response import CreateTaskResponse
from .custom_storage import CustomStorage
from .debug_info import DebugInfo
from .embedding import Embedding
from .enterprise_plan import EnterprisePlan
from .error_body import ErrorBody
from .error_body_metadata import ErrorBodyMetadata
from .error_reason import ErrorReason
from .hires_fix import HiresFix
from .image_result import ImageResult
from .lora import Lora
from .model import Model
from .model_list_response import ModelListResponse
from .model_source import ModelSource
from .model_status import ModelStatus
from .model_type import ModelType
from .model_type_info import ModelTypeInfo
from .model_visibility import ModelVisibility
from .nsfw_detection_level import NsfwDetectionLevel
from .nsfw_detection_result import NsfwDetectionResult
from .pagination import Pagination
from .refiner import Refiner
from .response_image_type import ResponseImageType
from .sampler_name import SamplerName
from .task import Task
from .task_result_extra import TaskResultExtra
from .task_result_response import TaskResultResponse
from .task_status import TaskStatus
from .task_type import TaskType
from .txt2img_body import Txt2ImgBody
from .txt2img_extra import Txt2ImgExtra
from .txt2img_request import Txt2ImgRequest
from .upscaler import Upscaler
from .video_result import VideoResult
from .video_type import VideoType
from .webhook_config import WebhookConfig
from .webhook_event import WebhookEvent
from .webhook_event_type import WebhookEventType
from .webhook_test_mode import WebhookTestMode
from .webhook_test_status import WebhookTestStatus

__all__ = (
    "AudioMetadata",
    "AudioResult",
    "AudioType",
    "AwsS3Storage",
    "CreateTaskResponse",
    "CustomStorage",
    "DebugInfo",
    "Embedding",
    "EnterprisePlan",
    "ErrorBody",
    "ErrorBodyMetadata",
    "ErrorReason",
    "HiresFix",
    "ImageResult",
    "Lora",
    "Model",
    "ModelListResponse",
    "ModelSource",
    "ModelStatus",
    "ModelType",
    "ModelTypeInfo",
    "ModelVisibility",
    "NsfwDetectionLevel",
    "NsfwDetectionResult",
    "Pagination",
    "Refiner",
    "ResponseImageType",
    "SamplerName",
    "Task",
    "TaskResultExtra",
    "TaskResultResponse",
    "TaskStatus",
    "TaskType",
    "Txt2ImgBody",
    "Txt2ImgExtra",
    "Txt2ImgRequest",
    "Upscaler",
    "VideoResult",
    "VideoType",
    "WebhookConfig",
    "WebhookEvent",
    "WebhookEventType",
    "WebhookTestMode",
    "WebhookTestStatus",
)
