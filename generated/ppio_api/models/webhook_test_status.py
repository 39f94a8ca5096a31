from enum import StrEnum


class WebhookTestStatus(StrEnum):
    TASK_STATUS_FAILED = "TASK_STATUS_FAILED"
    TASK_STATUS_SUCCEED = "TASK_STATUS_SUCCEED"

    def __str__(self) -> str:
        return str(self.value)
