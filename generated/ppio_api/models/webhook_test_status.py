from enum import StrEnum


class WebhookTestStatus(StrEnum):
    TEST_FAILED = "TASK_STATUS_FAILED"
    TEST_SUCCEED = "TASK_STATUS_SUCCEED"

    def __str__(self) -> str:
        return str(self.value)
