"""The HTTP edges of the WhatsApp listener that pywa does not cover by itself.

* :class:`GraphRewriteTransport`: pywa has no base-URL option (it pins
  ``https://graph.facebook.com``) but takes any ``httpx`` client, so this transport
  sends what pywa addresses to the Graph host to ``api_base`` instead: a self-hosted
  proxy in production, the loopback fake in tests. Other hosts (a media URL Meta hands
  out) pass through unchanged.
* :func:`delivery_error`: turns what pywa and httpx raise into tinyclaw's exception
  tree, because the shared outbox retries ``TransientDeliveryError`` and fails
  ``PermanentDeliveryError`` and knows nothing of Graph error codes.
* :func:`split_updates`: the Cloud API may batch several messages into one webhook
  POST, while pywa builds an update from ``entry[0].changes[0].messages[0]`` only;
  splitting first means no message of a batch is silently dropped.

Only ``httpx`` and ``pywa.errors`` are imported here (both already loaded in the one
process that serves WhatsApp).
"""

from __future__ import annotations

import json
import logging
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pywa.errors import ThrottlingError, WhatsAppError

from tinyclaw.core.errors import (
    ChannelAuthError,
    ConfigError,
    PermanentDeliveryError,
    TransientDeliveryError,
)

GRAPH_HOST = "graph.facebook.com"
log = logging.getLogger("tinyclaw.channels.whatsapp")

# Graph error codes worth retrying: unknown/temporary errors and throttling.
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 341, 80007, 130429, 131000, 131016, 131048, 131056})
# The token itself is wrong or expired: no retry can help.
AUTH_CODES = frozenset({0, 190})
# Permanent errors whose Graph message does not tell a user what to do.
HINTS = {
    131047: "the user's last message is more than 24 hours old; WhatsApp only allows "
    "template messages until they write again",
    131026: "the recipient cannot receive this message (not on WhatsApp, or an old app)",
    131030: "the recipient is not in the test number's allowed list",
}


class GraphRewriteTransport(httpx.AsyncBaseTransport):
    """Send requests for ``graph.facebook.com`` to ``api_base`` (scheme, host, port and
    a path prefix), leave every other host alone."""

    def __init__(self, api_base: str, inner: httpx.AsyncBaseTransport | None = None) -> None:
        base = httpx.URL(api_base)
        if base.scheme not in ("http", "https") or not base.host:
            raise ConfigError(f"channels.whatsapp.api_base: {api_base!r} is not an http(s) URL")
        if base.scheme == "http" and base.host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("api_base %s is plain http: the access token travels unencrypted", api_base)
        self._base = base
        self._prefix = base.raw_path.split(b"?", 1)[0].rstrip(b"/")
        self._inner = inner or httpx.AsyncHTTPTransport()

    def rewrite(self, request: httpx.Request) -> None:
        if request.url.host != GRAPH_HOST:
            return
        request.url = request.url.copy_with(
            scheme=self._base.scheme,
            host=self._base.host,
            port=self._base.port,
            raw_path=self._prefix + request.url.raw_path,
        )
        request.headers["Host"] = self._base.netloc.decode("ascii")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.rewrite(request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def retry_after(response: httpx.Response | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number or an HTTP date), if any."""
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def delivery_error(
    exc: Exception, what: str, *, token_env: str = "WHATSAPP_TOKEN"
) -> TransientDeliveryError | PermanentDeliveryError | ChannelAuthError:
    """The tinyclaw error for a failed Graph call (``what`` says which call)."""
    if isinstance(exc, WhatsAppError):
        status = exc.status_code
        detail = f"{what}: HTTP {status}, Graph error {exc.code}: {exc.message}"
        if exc.code in HINTS:
            detail += f" ({HINTS[exc.code]})"
        wait = retry_after(exc.raw_response)
        if status == 401 or exc.code in AUTH_CODES:
            return ChannelAuthError(
                f"whatsapp: the Graph API refused the access token in {token_env} ({exc.message})"
            )
        if (
            status == 429
            or isinstance(exc, ThrottlingError)
            or exc.code in TRANSIENT_CODES
            or (status is not None and status >= 500)
            or exc.is_transient
        ):
            return TransientDeliveryError(detail, retry_after=wait)
        return PermanentDeliveryError(detail)
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        detail = f"{what}: HTTP {status}"
        if status == 401:
            return ChannelAuthError(
                f"whatsapp: {detail}: the access token in {token_env} was refused"
            )
        if status == 429 or status >= 500:
            return TransientDeliveryError(detail, retry_after=retry_after(exc.response))
        return PermanentDeliveryError(detail)
    if isinstance(exc, httpx.TransportError):
        return TransientDeliveryError(f"{what}: {type(exc).__name__}: {exc}")
    raise TypeError(f"not a Graph API error: {exc!r}") from exc


def split_updates(body: bytes) -> list[bytes]:
    """One webhook body per message, so pywa sees every message of a batch.

    A body with at most one message (the usual case) is returned unchanged, signature
    and all; a batch becomes one body per message with the change's metadata and the
    sender's contact. Anything that is not a JSON object is returned as is for pywa
    to reject.
    """
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return [body]
    if not isinstance(payload, dict):
        return [body]
    singles: list[dict[str, Any]] = []
    for entry in _dicts(payload.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            for message in _dicts(value.get("messages")):
                contacts = _dicts(value.get("contacts"))
                contact = next(
                    (
                        c
                        for c in contacts
                        if c.get("wa_id") == message.get("from")
                        or c.get("user_id") == message.get("from_user_id")
                    ),
                    contacts[0] if contacts else None,
                )
                single_value = {**value, "messages": [message]}
                single_value["contacts"] = [contact] if contact is not None else []
                singles.append(
                    {
                        **payload,
                        "entry": [{**entry, "changes": [{**change, "value": single_value}]}],
                    }
                )
    entries = _dicts(payload.get("entry"))
    one_change = len(entries) == 1 and len(_dicts(entries[0].get("changes"))) == 1
    if not singles or (len(singles) == 1 and one_change):
        return [body]
    return [json.dumps(single, separators=(",", ":")).encode() for single in singles]


def _dicts(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
