from enum import StrEnum


class ModelSource(StrEnum):
    CIVITAI = "civitai"
    TRAINING = "training"
    UPLOADING = "uploading"

    def __str__(self) -> str:
        return str(self.value)
