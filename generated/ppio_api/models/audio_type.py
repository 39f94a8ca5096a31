from enum import StrEnum


class AudioType(StrEnum):
    WAV = "wav"

    def __str__(self) -> str:
        return str(self.value)
