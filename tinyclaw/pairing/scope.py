"""Which messages pairing speaks for: the chat platforms whose senders are people, the
owner's chat commands, and the platforms where a direct chat's id is the person's own.

Constants only, so that asking "is this a message pairing must check?" loads nothing
else of pairing: a worker whose first message comes from the terminal answers it
without building the pairing store.
"""

from __future__ import annotations

# Channels whose senders are people on a chat platform, checked by pairing.
PLATFORM_CHANNELS = frozenset({"telegram", "discord", "whatsapp"})

# The chat commands only an owner may use.
OWNER_COMMANDS = frozenset({"/approve", "/deny", "/pending"})

# Platforms whose direct-message chat id is the sender's user id.
DM_IS_USER = frozenset({"telegram", "whatsapp"})
