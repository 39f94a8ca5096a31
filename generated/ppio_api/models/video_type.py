from enum import StrEnum


class VideoType(StrEnum):
    GIF = "gif"
    MP4 = "mp4"

    def __str__(self) -> str:
        return str(self.value)
