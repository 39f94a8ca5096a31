"""The object storage the image URLs point at: signed, expiring URLs and a cache of encoded files.

URLs look like `<base>/storage/<task_id>/<index>.<ext>?expires=<unix>&sig=<hmac>`, the way S3
presigned URLs carry their expiry and signature in the query. Storage is not part of the API spec:
it ignores any `Authorization` header (the sandbox counts requests that send one, since a client must
never leak its API key to the storage host) and answers errors as S3 does, in XML.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from xml.sax.saxutils import escape

from ._images import ImageSpec, encode

#: The path prefix of the storage host inside the sandbox.
STORAGE_PREFIX = "/storage"
_CACHE_ENTRIES = 128
_ENCODERS = 4


class UrlSigner:
    """Signs and checks image URLs with an HMAC key private to one sandbox."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _signature(self, object_path: str, expires: int) -> str:
        message = f"{object_path}\n{expires}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def url(self, base_url: str, object_path: str, expires: int) -> str:
        """An absolute signed URL for `object_path` (like `<task_id>/0.png`), valid until `expires`."""
        signature = self._signature(object_path, expires)
        return f"{base_url.rstrip('/')}{STORAGE_PREFIX}/{object_path}?expires={expires}&sig={signature}"

    def check(self, object_path: str, expires: str | None, signature: str | None, now: float) -> str | None:
        """None when the URL is valid now; otherwise the S3-style error code and message."""
        if expires is None or signature is None or not expires.isdigit():
            return "AccessDenied: Query-string authentication requires the expires and sig parameters"
        expected = self._signature(object_path, int(expires))
        if not hmac.compare_digest(expected, signature):
            return "SignatureDoesNotMatch: The request signature we calculated does not match"
        if now > int(expires):
            return "AccessDenied: Request has expired"
        return None


def s3_error(code: str, message: str, resource: str) -> bytes:
    """An S3-style XML error document."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>SANDBOX</RequestId></Error>"
    ).encode()


class ImageCache:
    """Encoded images, drawn on first download and kept (least recently used first out).

    Drawing runs in a small thread pool owned by the cache (joined by `close()`), off the event loop.
    """

    def __init__(self, encoder: Callable[[ImageSpec], bytes] = encode, entries: int = _CACHE_ENTRIES) -> None:
        self._encoder = encoder
        self._entries = entries
        self._files: OrderedDict[ImageSpec, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    async def fetch(self, spec: ImageSpec) -> bytes:
        """The file for `spec`, drawn in a worker thread if it is not cached yet."""
        with self._lock:
            if spec in self._files:
                self._files.move_to_end(spec)
                return self._files[spec]
            if self._pool is None:
                self._pool = ThreadPoolExecutor(_ENCODERS, thread_name_prefix="ppio-sandbox-images")
            pool = self._pool
        return await asyncio.get_running_loop().run_in_executor(pool, self.get, spec)

    def close(self) -> None:
        """Join the drawing threads (a later `fetch` starts new ones)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def get(self, spec: ImageSpec) -> bytes:
        """The file for `spec` (blocking: call it from a worker thread)."""
        with self._lock:
            if spec in self._files:
                self._files.move_to_end(spec)
                return self._files[spec]
        data = self._encoder(spec)
        with self._lock:
            self._files[spec] = data
            while len(self._files) > self._entries:
                self._files.popitem(last=False)
        return data
