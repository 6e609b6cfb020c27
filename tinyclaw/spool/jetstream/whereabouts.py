"""Where one message is on JetStream: the answer to ``locate(actor, message_id)``.

The file spool answers from its folders (the inbox, ``processing/``, ``failed/``);
here the same question is asked of the streams, so that a team conversation's sweep
on any machine sees the same thing:

* **waiting / running**: the message is on the actor's inbox subject (walked from
  its head; inboxes are short, and the walk starts where the last one found the
  head). Its record in the claims bucket says whether a live run holds it: a claim
  whose lease ran out is waiting again, as ``pending`` would hand it out;
* **failed**: the failed stream holds it under its id (``<p>.failed.<id>``), its
  reason in the ``Tinyclaw-Reason`` header. A message failed twice keeps its first
  record under that subject (the second gets a unique suffix), as on files;
* **gone**: neither (completed, or never queued).
"""

from __future__ import annotations

import json
import time

from tinyclaw.spool.backend import Location, check_actor
from tinyclaw.spool.jetstream.kv import JetStreamKeyValue
from tinyclaw.spool.jetstream.streams import ClaimState, Streams, message_key


class Whereabouts(Streams):
    """The ``locate`` query of the JetStream spool."""

    claims: JetStreamKeyValue
    _floors: dict[str, int]

    def locate(self, actor: str, message_id: str) -> Location:
        subject = self.layout.inbox_subject(check_actor(actor))
        seq = self._floors.get(subject, 1)
        while (found := self._get(self.layout.queue, seq, subject, after=True)) is not None:
            seq = int(found.seq) + 1
            if message_key(found.data or b"", found.headers, "") != message_id:
                continue
            return Location("running" if self._live_claim(int(found.seq)) else "waiting")
        failed = self._get(self.layout.failed, subject=self.layout.failed_subject(message_id))
        if failed is None:
            return Location("gone")
        try:
            reason = json.loads((failed.headers or {}).get("Tinyclaw-Reason", '""'))
        except ValueError:
            reason = ""
        return Location("failed", str(reason) or "it was moved to the failed stream")

    def _live_claim(self, seq: int) -> bool:
        """Whether a live run holds queued message ``seq`` (its lease not run out)."""
        found = self.claims.entry(self.layout.claim_key(seq))
        if found is None:
            return False
        try:
            state = ClaimState.parse(found[0])
        except (ValueError, TypeError):
            return False
        return state.held and state.until > time.time()
