"""The machine's own time zone, for whatever is shown or scheduled in local time."""

from __future__ import annotations

import os
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def local_zone() -> tzinfo:
    """The machine's zone *with* its daylight-saving rules.

    ``datetime.now().astimezone().tzinfo`` is only today's fixed offset, which would put
    a local-time cron job an hour off for half the year. So: ``$TZ`` when it names an
    IANA zone, else ``/etc/localtime``, else UTC.
    """
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    try:
        with open("/etc/localtime", "rb") as handle:
            return ZoneInfo.from_file(handle, key="localtime")
    except (OSError, ValueError):
        return UTC
