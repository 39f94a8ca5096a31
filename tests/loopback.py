"""The TLS context the tests' own httpx clients share.

They speak plain HTTP to servers on loopback, yet httpx builds a TLS context for each client it makes,
loading the CA bundle: about 50 ms of CPU each, and the suite makes some 280 (15 CPU-s). They take the
SDK's one shared context instead, as the SDK's own clients do (`_transport.shared_ssl_context`).
"""

from __future__ import annotations

from ppio_txt2img._transport import shared_ssl_context

TLS = shared_ssl_context()
