"""The async client's own requests under asyncio, sent straight on aiohttp's connection pool.

Part of the I/O layer: `_io.run_async` sends each `Send` of the SDK's own async client here (a caller's
`http_client=`, and trio, go through httpx). httpcore's pool costs milliseconds of CPU per request with
many tasks in flight and aiohttp's does not; reaching aiohttp through httpx's request and response
objects and an adapter (`httpx-aiohttp`) cost 0.4 ms of CPU per request more than aiohttp itself, more
than aiohttp's own work (BENCHMARKS.md, "many tasks at once"). So the request goes out here, doing what
httpx did around it:

- the JSON body is the bytes httpx would send (compact, UTF-8), with the same headers;
- no cookies are kept and no redirect is followed (the flows follow those of GETs); the shared TLS
  context verifies as httpx's does; the proxies of the environment (`HTTP_PROXY`, `HTTPS_PROXY`,
  `ALL_PROXY`, `NO_PROXY`) are read when the session is made and chosen per URL exactly as httpx
  chooses them (its own parsing and precedence), so both transports go the same way;
- gzip and deflate are decoded by `BodyReader` (`_decoding.py`), as on httpx, within the size cap;
- `Send.timeout` bounds the whole exchange, body included, and `Send.connect_timeout` the connecting;
- aiohttp's errors become the httpx errors the flows classify (`httpx_error`): "never connected" only
  when no byte of the request can have left, so a POST is never resent after it may have arrived.

aiohttp is imported when the first such client is made, so `import ppio_txt2img` stays light.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import weakref
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import httpx

from . import _constants as C
from ._errors import ValidationError
from ._http import REDIRECT_STATUSES
from ._io import (
    BodyReader,
    Reply,
    Send,
    closed_while_connecting,
    deadline_error,
    not_sent_in_time,
    parsed_url,
)
from ._retry import RequestNotWritten
from ._slots import AsyncioSlots
from ._transport import exception_chain, proxy_table, shared_ssl_context, without_credentials
from ._urls import is_normal
from ._wakeups import Closing

if TYPE_CHECKING:
    import aiohttp
    import yarl

__all__ = ["AiohttpSession", "httpx_error"]


#: The largest answer head httpx's HTTP/1.1 parser (h11) reads: bytes.
_MAX_HEAD = 16 * 1024


def _check_location(status: int, headers: httpx.Headers) -> None:
    """A redirect whose `Location` httpx cannot parse is the error httpx gives for it (even when it
    follows no redirect: it builds the next request anyway), so both transports answer alike."""
    location = headers.get("location") if status in REDIRECT_STATUSES else None
    if location is not None:
        try:
            httpx.URL(location)
        except httpx.InvalidURL as exc:
            raise httpx.RemoteProtocolError(f"Invalid URL in location header: {exc}.") from None


def _drop(headers: dict[str, str], names: tuple[str, ...]) -> None:
    """Remove the headers `names` from `headers`, in any letter case."""
    lower = {name.lower() for name in names}
    for key in [key for key in headers if key.lower() in lower]:
        del headers[key]


def _json_body(value: Any) -> bytes:
    """A JSON body as httpx encodes one."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


@lru_cache(maxsize=1024)
def _url(url: str) -> yarl.URL:
    """The URL as httpx would send it (parsed and normalised by httpx, once, unless it is already in
    httpx's normal form), for aiohttp as it is."""
    import yarl

    return yarl.URL(url if is_normal(url) else str(parsed_url(url)), encoded=True)


Proxies = tuple[tuple[Any, "str | None"], ...]


def environment_proxies() -> Proxies:
    """The environment's proxies as httpx reads them (see `_transport.proxy_table`), most specific
    pattern first: the table `proxy_for` looks URLs up in. A proxy aiohttp cannot speak (SOCKS: it would
    get plain HTTP, the API key in the clear) is a `ValidationError`, never a silent mistake."""
    table = proxy_table()
    for _, proxy in table:
        if proxy is not None and httpx.URL(proxy).scheme not in ("http", "https"):
            raise ValidationError(
                "proxy",
                without_credentials(proxy),
                "an http:// or https:// proxy (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY): the async client's "
                "aiohttp transport speaks no other; for SOCKS, pass http_client=httpx.AsyncClient() with "
                "httpx[socks] installed",
            )
    return tuple(table)


def proxy_for(url: httpx.URL, proxies: Proxies) -> str | None:
    """The proxy to send `url` through (None: directly), as httpx's `_transport_for_url` decides."""
    for pattern, proxy in proxies:
        if pattern.matches(url):
            return proxy
    return None


def httpx_error(exc: aiohttp.ClientError) -> httpx.TransportError:
    """The httpx error an aiohttp error stands for, as far as retrying is concerned (see `_retry.py`):
    `ConnectError` / `ConnectTimeout` only while connecting, before any byte of the request was sent;
    `ProxyError` when a proxy refused to open the tunnel, as httpx raises it."""
    import aiohttp

    message = _plain(exc) or type(exc).__name__
    kind: type[httpx.TransportError]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # connecting, or waiting for a free connection
        kind = httpx.ConnectTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):  # refused, no such host, TLS handshake failed
        kind = httpx.ConnectError
    elif isinstance(exc, aiohttp.ServerTimeoutError):
        kind = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        kind = httpx.UnsupportedProtocol
    elif isinstance(exc, aiohttp.ClientHttpProxyError):  # the proxy refused the tunnel (CONNECT): not sent
        kind = httpx.ProxyError
    elif isinstance(exc, aiohttp.ClientResponseError):  # a malformed status line or headers
        kind = httpx.RemoteProtocolError
    elif isinstance(exc, aiohttp.ClientConnectionError) and any(m in message for m in _BODY_NOT_WRITTEN):
        kind = RequestNotWritten
    elif isinstance(exc, aiohttp.ClientConnectionError) and message.startswith(_CONNECTOR_CLOSED):
        kind = httpx.ConnectError  # the session was closed while connecting: nothing was sent
    else:  # dropped or reset once connected, a truncated or undecodable body: perhaps sent
        kind = httpx.ReadError
    return kind(message)


#: How aiohttp words a failure to write a request's body (`ClientRequest.write_bytes`): the connection
#: was closing, or broke before the body was out, so the server never had the whole request.
_BODY_NOT_WRITTEN = ("Can not write request body", "Failed to send bytes into the underlying connection")
#: How aiohttp's connector refuses a connection it was making when the session was closed under it.
_CONNECTOR_CLOSED = "Connector is closed"


def _plain(exc: BaseException) -> str:
    """What an aiohttp error says, in words an httpx error would use: a response error's own message,
    without the status aiohttp puts before it (400 for any malformed answer, whatever the server said)
    and the URL after it; any URL in it without its query (a signed image URL's signature) and
    credentials."""
    import aiohttp

    text = exc.message if isinstance(exc, aiohttp.ClientResponseError) else _text(exc)
    return _URL_QUERY.sub(r"\1", without_credentials(str(text)))


#: A URL's query in an error's text (up to a quote, a space or the end).
_URL_QUERY = re.compile(r"(https?://[^\s'\"?#]*)[?#][^\s'\"]*")


def _text(exc: BaseException) -> str:
    """`str(exc)`, or "" for an aiohttp error that fails describing itself (some do so from the
    request they were given)."""
    try:
        return str(exc)
    except Exception:
        return ""


def _unsafe_to_chain(exc: BaseException) -> bool:
    """Whether an aiohttp error may not be kept in the chain of the SDK's: its text, or that of an error
    in its own chain, shows a proxy's credentials, or one of them holds the request (`request_info`,
    whose headers carry the API key, is in its repr)."""
    for link in exception_chain(exc):
        text = _text(link)
        if without_credentials(text) != text or getattr(link, "request_info", None) is not None:
            return True
    return False


@lru_cache(maxsize=1)
def _connector_class() -> Callable[..., aiohttp.TCPConnector]:
    """aiohttp's connector, noting each task whose request got a connection (and the connection's
    protocol) in the dict it is given: a request without one has sent nothing (closed under a connect,
    aiohttp would let it run on to its own timeout; a request timed out before it had a connection was
    never sent). Its pool keeps idle connections `GET_KEEPALIVE_EXPIRY`; a POST takes none idle for
    longer than `KEEPALIVE_EXPIRY` (`stale`): such a one is closed, and the next taken, or a new one
    made."""
    import aiohttp

    class Connector(aiohttp.TCPConnector):
        def __init__(self, connected: dict[asyncio.Task[Any], Any], used: LastUse, **options: Any) -> None:
            super().__init__(**options)
            self.connected = connected
            self.used = used

        async def connect(
            self,
            req: aiohttp.ClientRequest,
            traces: list[Any],
            timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp's signature)
        ) -> aiohttp.connector.Connection:
            connection = await super().connect(req, traces, timeout)
            while req.method == "POST" and stale(self.used, connection.protocol, time.monotonic()):
                connection.close()
                connection = await super().connect(req, traces, timeout)
            task = asyncio.current_task()
            if task is not None:
                self.connected[task] = connection.protocol
            return connection

    return Connector


#: When each pooled connection (by its protocol) last finished an exchange.
LastUse = weakref.WeakKeyDictionary[Any, float]


def stale(used: LastUse, protocol: object, now: float) -> bool:
    """Whether a connection is too long idle for a POST: its last exchange ended more than
    `KEEPALIVE_EXPIRY` seconds ago (one that never had one is new)."""
    last = used.get(protocol) if protocol is not None else None
    return last is not None and now - last > C.KEEPALIVE_EXPIRY


class AiohttpSession:
    """The async client's own HTTP client under asyncio: one aiohttp session (make it in a task)."""

    def __init__(self, closing: Closing) -> None:
        import aiohttp

        self._closing = closing  # its `AsyncClient`'s: closed from another loop, this one is closed too

        self._proxies = environment_proxies()  # first: refusing them leaves no session unclosed
        # The tasks whose request has its connection, and that connection's protocol.
        self._connected: dict[asyncio.Task[Any], Any] = {}
        self._used: LastUse = weakref.WeakKeyDictionary()  # when each connection last finished one
        connector = _connector_class()(
            self._connected,
            self._used,
            limit=C.DEFAULT_MAX_CONNECTIONS,
            ssl=shared_ssl_context(),
            keepalive_timeout=C.GET_KEEPALIVE_EXPIRY,  # for GETs; a POST takes none past KEEPALIVE_EXPIRY
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": C.USER_AGENT},
            trust_env=False,  # it would also read ~/.netrc into Authorization headers: proxies below
            auto_decompress=False,  # `BodyReader` decodes, as on every transport (`_decoding.py`)
            # Answer heads httpx (h11) reads, read here too: lines up to its 16 KiB (aiohttp's own 8190
            # bytes refused big security headers httpx read, and made a created task's answer "outcome
            # unknown") in up to 256 of them (aiohttp's 128 did too). aiohttp has no limit on a head's
            # total (h11's 16 KiB): these two bound it to 4 MiB, below a body's 8 MiB cap.
            max_line_size=_MAX_HEAD,
            max_field_size=_MAX_HEAD,
            max_headers=256,
        )
        self._slots = AsyncioSlots(C.DEFAULT_MAX_CONNECTIONS)  # the connector's limit: none wait there
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._proxy_auth: dict[str, tuple[str, str | None]] = {}
        self._limits: dict[asyncio.Task[Any], asyncio.Timeout] = {}  # each request's, by its task
        self._cut_short: set[asyncio.Task[Any]] = set()  # connecting when `aclose` ended them

    @property
    def is_closed(self) -> bool:
        return self._closing.closed or self._session.closed

    async def aclose(self) -> None:
        """Close the session; a request that has no connection yet (connecting) ends at once, as never
        sent. Its time is up now (`_send` tells that from its deadline by `_cut_short`), marked before the
        session closes, as the close may end the connect first (a host name being looked up: aiohttp
        cancels the lookup)."""
        now = asyncio.get_running_loop().time()
        for task, limit in list(self._limits.items()):
            if task not in self._connected and not limit.expired():
                self._cut_short.add(task)
                limit.reschedule(now)
        await self._session.close()

    def abandon(self) -> None:
        """Let go of the session once its event loop has ended without closing it (`loop.close()` with no
        `shutdown_asyncgens()`; see `_loop_clients.py`): `close()` can no longer run there. Marked
        closed, it makes no "Unclosed client session" complaint when collected (its sockets still warn,
        as every socket that loop left open does)."""
        connector = self._session.connector
        self._session.detach()
        if connector is not None:
            connector._close()  # the synchronous part of close(); with the loop closed, all there is

    def _timeout(self, connect: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(connect)
        if timeout is None:
            import aiohttp

            timeout = self._timeouts[connect] = aiohttp.ClientTimeout(total=None, sock_connect=connect)
            if len(self._timeouts) > 64:  # deadlines near their end: a few distinct values each
                self._timeouts.clear()
        return timeout

    def _proxy(self, url: str) -> tuple[str | None, str | None]:
        """The proxy for `url` (None: directly), without its credentials, and the `Proxy-Authorization`
        httpx sends for them (UTF-8: aiohttp reads them from the URL as latin-1, so a non-ASCII password
        would differ)."""
        proxy = proxy_for(parsed_url(url), self._proxies) if self._proxies else None
        if proxy is None:
            return None, None
        known = self._proxy_auth.get(proxy)
        if known is None:
            parts = httpx.URL(proxy)
            if parts.username or parts.password:
                bare = str(parts.copy_with(username=None, password=None))
                secret = base64.b64encode(f"{parts.username}:{parts.password}".encode()).decode("ascii")
                known = self._proxy_auth[proxy] = (bare, f"Basic {secret}")
            else:
                known = self._proxy_auth[proxy] = (proxy, None)
        return known

    async def send(self, action: Send) -> Reply:
        """One exchange: the reply, read in full within `action.max_bytes`, or an httpx error."""
        return await self._slots.send(action, self._send)

    async def _send(self, action: Send) -> Reply:
        import aiohttp

        headers = dict(action.headers)
        data = None
        if action.json is not None:
            data = _json_body(action.json)
            headers["Content-Type"] = "application/json"
        if action.drop_headers:
            _drop(headers, action.drop_headers)
        proxy, proxy_authorization = self._proxy(action.url)
        proxy_headers = None
        if proxy_authorization is not None:
            if action.url[:6].lower() == "https:":  # for the tunnel's CONNECT, not the server in it
                proxy_headers = {"Proxy-Authorization": proxy_authorization}
            else:  # a plain-HTTP request goes to the proxy itself
                headers["Proxy-Authorization"] = proxy_authorization
        hidden: httpx.TransportError | None = None
        task = asyncio.current_task()
        assert task is not None  # an event loop runs every request in a task
        try:
            async with asyncio.timeout(action.timeout) as self._limits[task]:
                async with self._session.request(
                    action.method,
                    _url(action.url),
                    headers=headers,
                    data=data,
                    allow_redirects=False,
                    timeout=self._timeout(min(action.timeout, action.connect_timeout)),
                    proxy=proxy,
                    proxy_headers=proxy_headers,
                ) as response:
                    reply_headers = httpx.Headers(response.raw_headers)
                    _check_location(response.status, reply_headers)
                    body = BodyReader(action, response.status, reply_headers)
                    async for chunk in response.content.iter_any():
                        body.add(chunk)
                protocol = self._connected.get(task)
                if protocol is not None:  # back in the pool (aiohttp let go of it once the body was in)
                    self._used[protocol] = time.monotonic()
        except aiohttp.ClientError as exc:
            error = httpx_error(exc)
            if not _unsafe_to_chain(exc):
                raise error from exc
            hidden = error  # raised below, outside this handler: not even its __context__ is aiohttp's
        except TimeoutError:
            if task in self._cut_short:
                raise closed_while_connecting() from None
            if task not in self._connected:  # the time ran out before there was a connection to send on
                raise not_sent_in_time(action) from None
            raise deadline_error(action) from None
        except asyncio.CancelledError:
            if task in self._cut_short and not task.cancelling():  # aiohttp's own, closing: not a cancel
                raise closed_while_connecting() from None
            raise
        finally:
            self._limits.pop(task, None)
            self._cut_short.discard(task)
            self._connected.pop(task, None)
        if hidden is not None:
            raise hidden
        return body.reply()
