from enum import IntEnum


class ModelStatus(IntEnum):
    MODEL_UNAVAILABLE = 0
    MODEL_AVAILABLE = 1

    def __str__(self) -> str:
        return str(self.value)
