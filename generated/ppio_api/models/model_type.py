from enum import StrEnum


class ModelType(StrEnum):
    CHECKPOINT = "checkpoint"
    CONTROLNET = "controlnet"
    LORA = "lora"
    TEXTUALINVERSION = "textualinversion"
    UPSCALER = "upscaler"
    VAE = "vae"

    def __str__(self) -> str:
        return str(self.value)
