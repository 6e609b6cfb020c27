"""The small pure pieces of the WhatsApp listener: Retry-After, error classes, batch
splitting. (The HTTP behaviour is covered end to end in test_whatsapp.py.)"""

from __future__ import annotations

import json
from email.utils import formatdate

import httpx
import pytest
from pywa.errors import WhatsAppError

from tinyclaw.channels.whatsapp_graph import delivery_error, retry_after, split_updates
from tinyclaw.core.errors import ChannelAuthError, PermanentDeliveryError, TransientDeliveryError


def response(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("POST", "http://x/"))


def graph_error(status: int, code: int, **headers: str) -> WhatsAppError:
    error = {"code": code, "message": f"error {code}"}
    return WhatsAppError.from_dict(error, response=response(status, **headers))


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after(response(429, **{"Retry-After": "7"})) == 7.0
    assert retry_after(response(429, **{"Retry-After": "0.5"})) == 0.5
    date = formatdate(1_000_030, usegmt=True)
    assert retry_after(response(429, **{"Retry-After": date}), now=1_000_000) == 30.0
    assert retry_after(response(429, **{"Retry-After": "soon"})) is None
    assert retry_after(response(429)) is None


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (429, 130429, TransientDeliveryError),
        (400, 131056, TransientDeliveryError),  # throttling, whatever the status
        (500, 1, TransientDeliveryError),
        (503, 2, TransientDeliveryError),
        (400, 100, PermanentDeliveryError),
        (403, 200, PermanentDeliveryError),
        (400, 131047, PermanentDeliveryError),
        (401, 190, ChannelAuthError),
        (400, 190, ChannelAuthError),
    ],
)
def test_graph_errors_become_tinyclaw_errors(status: int, code: int, kind: type) -> None:
    assert isinstance(delivery_error(graph_error(status, code), "sending"), kind)


def test_a_rate_limit_keeps_its_retry_after_and_network_trouble_is_transient() -> None:
    limited = delivery_error(graph_error(429, 130429, **{"Retry-After": "3"}), "sending")
    assert isinstance(limited, TransientDeliveryError) and limited.retry_after == 3.0
    dropped = delivery_error(httpx.ConnectError("connection refused"), "sending")
    assert isinstance(dropped, TransientDeliveryError)


def test_a_single_message_body_passes_through_untouched() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[{"id":"a"}]}}]}]}'
    assert split_updates(body) == [body]
    assert split_updates(b"not json") == [b"not json"]


def test_a_batch_becomes_one_body_per_message_with_its_sender() -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "waba",
                "changes": [
                    {"field": "messages", "value": {"statuses": [{"id": "s"}]}},
                    {
                        "field": "messages",
                        "value": {
                            "metadata": {"phone_number_id": "p"},
                            "contacts": [{"wa_id": "1", "user_id": "US.1"}, {"wa_id": "2"}],
                            "messages": [{"id": "a", "from": "1"}, {"id": "b", "from": "2"}],
                        },
                    },
                ],
            }
        ],
    }
    bodies = [json.loads(b) for b in split_updates(json.dumps(payload).encode())]
    values = [b["entry"][0]["changes"][0]["value"] for b in bodies]
    assert [(v["messages"][0]["id"], v["contacts"][0]["wa_id"]) for v in values] == [
        ("a", "1"),
        ("b", "2"),
    ]
    assert all(v["metadata"] == {"phone_number_id": "p"} for v in values)
