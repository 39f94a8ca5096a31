"""A client library for accessing PPIO / Novita v3 async text-to-image API"""

from .client import AuthenticatedClient, Client

__all__ = (
    "AuthenticatedClient",
    "Client",
)
