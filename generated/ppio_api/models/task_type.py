from enum import StrEnum


class TaskType(StrEnum):
    IMG_TO_IMG = "IMG_TO_IMG"
    QWEN_IMAGE_TEXT_TO_IMAGE = "QWEN_IMAGE_TEXT_TO_IMAGE"
    TXT_TO_IMG = "TXT_TO_IMG"
    UPSCALE = "UPSCALE"

    def __str__(self) -> str:
        return str(self.value)
