from enum import IntEnum


class NsfwDetectionLevel(IntEnum):
    NSFW_LEVEL_0 = 0
    NSFW_LEVEL_1 = 1
    NSFW_LEVEL_2 = 2

    def __str__(self) -> str:
        return str(self.value)
