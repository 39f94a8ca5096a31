from enum import StrEnum


class Upscaler(StrEnum):
    LATENT = "Latent"
    REALESRGAN_X4PLUS_ANIME_6B = "RealESRGAN_x4plus_anime_6B"
    REALESRNET_X4PLUS = "RealESRNet_x4plus"

    def __str__(self) -> str:
        return str(self.value)
