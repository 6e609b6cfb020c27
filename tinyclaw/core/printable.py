"""Text from outside made safe for a terminal.

Chat text, CLI output and file names reach the operator's terminal (``tinyclaw send``,
the tmux windows, the logs shown there). ESC ] 0 ; … BEL retitles the window, ESC [ 2 J
clears it, C1 CSI (0x9b) does the same on some terminals, and a lone CR overwrites a
line. So every C0 and C1 control character except newline and tab, and DEL, is shown
as visible text (``\x1b``) instead.
"""

from __future__ import annotations

import re

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` safe to write to a terminal: control characters become ``\\xNN`` text."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
