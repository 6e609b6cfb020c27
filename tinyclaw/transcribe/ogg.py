"""The duration of an Ogg Opus file, from its pages alone (no decoding).

A platform that does not tell a voice note's length (WhatsApp) still gets the
duration cap: Opus counts its granule position in 48 kHz samples, so the last page's
granule minus the pre-skip of the ``OpusHead`` header is the length. Reads the first
page and the last 64 KiB, whatever the file's size.
"""

from __future__ import annotations

import struct
from pathlib import Path

_CAPTURE = b"OggS"
_TAIL = 64 * 1024
_OPUS_RATE = 48_000


def opus_seconds(path: Path) -> float | None:
    """Seconds of audio in an Ogg Opus file; None when it is not one (or is damaged)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - _TAIL))
            tail = handle.read()
    except OSError:
        return None
    if not head.startswith(_CAPTURE):
        return None
    marker = head.find(b"OpusHead")
    if marker < 0 or len(head) < marker + 12:
        return None
    (pre_skip,) = struct.unpack_from("<H", head, marker + 10)
    last = tail.rfind(_CAPTURE)
    if last < 0 or len(tail) < last + 14:
        return None
    (granule,) = struct.unpack_from("<q", tail, last + 6)
    if granule < 0:
        return None
    return max(0.0, float(granule - pre_skip) / _OPUS_RATE)
