"""Internal to ppio-txt2img: the low-level client generated from openapi/ppio.yaml.

Not a public API and no stability promise: any release may change or remove it. Import `ppio_txt2img`
instead (`ppio_txt2img.Task`, not `ppio_api.models.Task`); only the SDK's adapter module uses this package.
"""

from .client import AuthenticatedClient, Client

__all__ = (
    "AuthenticatedClient",
    "Client",
)
