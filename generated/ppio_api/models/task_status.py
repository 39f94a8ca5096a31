from enum import StrEnum


class TaskStatus(StrEnum):
    TASK_STATUS_FAILED = "TASK_STATUS_FAILED"
    TASK_STATUS_PROCESSING = "TASK_STATUS_PROCESSING"
    TASK_STATUS_QUEUED = "TASK_STATUS_QUEUED"
    TASK_STATUS_SUCCEED = "TASK_STATUS_SUCCEED"

    def __str__(self) -> str:
        return str(self.value)
