"""Small real image files for tests: a PNG built here, a JPEG made once by ffmpeg.

Both CLIs may decode what they are given (to check it or scale it), so these are
valid images, not just the right magic bytes.
"""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(width: int = 1, height: int = 1, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid ``width`` × ``height`` PNG of one colour (8-bit RGB, no filter)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(row * height))
        + _chunk(b"IEND", b"")
    )


def png_noise(side: int, seed: int = 7) -> bytes:
    """A ``side`` × ``side`` PNG of pseudo-random pixels: nearly 3 bytes a pixel."""
    state = seed
    rows = bytearray()
    for _ in range(side):
        rows.append(0)
        for _ in range(side * 3 // 8):
            state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
            rows += state.to_bytes(8, "little")
        rows += bytes(side * 3 % 8)
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 1))
        + _chunk(b"IEND", b"")
    )


# An 8×8 red baseline JPEG (ffmpeg -f lavfi -i color=c=red:s=8x8 -frames:v 1 -q:v 31).
JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010200000100010000fffe00104c61766335392e33372e31303000ffdb"
    "004300083e3e493e49555555555555645d6468686864646464686868707070838383707070686870"
    "707c7c83838f938f8787838793939b9b9bbabab2b2d9d9e0ffffffffc4004c000101000000000000"
    "00000000000000000006010101000000000000000000000000000006071001000000000000000000"
    "00000000000000110100000000000000000000000000000000ffc000110800080008030122000211"
    "00031100ffda000c03010002110311003f008b00517f7fffd9"
)

# The classic 1×1 transparent GIF, and an 8×8 red lossless WebP (ffmpeg, libwebp).
GIF = bytes.fromhex(
    "47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b"
)
WEBP = bytes.fromhex("524946461c000000574542505650384c0f0000002f07c001000710f58ffe0722a2ff0100")
