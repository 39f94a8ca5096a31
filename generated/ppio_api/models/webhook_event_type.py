from enum import StrEnum


class WebhookEventType(StrEnum):
    ASYNC_TASK_RESULT = "ASYNC_TASK_RESULT"

    def __str__(self) -> str:
        return str(self.value)
