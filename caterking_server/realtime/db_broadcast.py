"""Broadcast from the database (docs/kitchen-server.md, "Broadcast from the database").

Rows inserted into `realtime.messages` (by `realtime.send`, e.g. migration 0007's
triggers) arrive on the replication stream through the publication
`supabase_realtime_messages_publication`. Each `broadcast` row is relayed, as hosted
Realtime relays it, to the channels joined to its topic with the same privacy: event
"broadcast", payload `{"event", "meta": {"id"}, "payload", "type": "broadcast"}` (v1, and
v2 as a kind-4 binary frame). Who may receive was decided at join (the policies on
realtime.messages): nothing is checked per subscriber here, and each row's frame is
encoded once per serializer and the same bytes go to every socket (Hub.broadcast).

The stored payload (jsonb text from the stream) is spliced into the frame as it is: it
is never parsed. Rows over the broadcast payload limit are not relayed (logged), as
hosted drops payloads over the tenant's limit.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

import psycopg

from caterking_server.realtime.broadcast import Hub
from caterking_server.realtime.pgoutput import Change, Relation
from caterking_server.realtime.serializers import ENCODING_JSON, Message

log = logging.getLogger(__name__)

MESSAGES_PUBLICATION = "supabase_realtime_messages_publication"
FIELDS = ("id", "topic", "event", "payload", "private", "extension")


def is_messages(rel: Relation) -> bool:
    """realtime.messages, or one of its partitions (a hosted-style partitioned table)."""
    return rel.schema == "realtime" and (rel.name == "messages" or rel.name.startswith("messages_"))


class DatabaseBroadcasts:
    def __init__(self, hub: Hub, *, max_payload_bytes: int) -> None:
        self.hub = hub
        self.max_payload_bytes = max_payload_bytes
        self.relayed = 0  # rows relayed
        self.skipped = 0  # rows not relayed (not a broadcast, malformed, too large)
        self._columns: dict[int, dict[str, int] | None] = {}

    def _positions(self, rel: Relation) -> dict[str, int] | None:
        """Where each field is in the relation's tuples (cached per relation shape)."""
        names = [c.name for c in rel.columns]
        pos = {f: names.index(f) for f in FIELDS if f in names}
        return pos if len(pos) == len(FIELDS) else None

    def split(self, changes: list[Change]) -> list[Change]:
        """Relay the batch's broadcast rows now; return the other changes, in order."""
        rest: list[Change] = []
        for ch in changes:
            if is_messages(ch.relation):
                if ch.type == "INSERT":
                    self.relay(ch)
            else:
                rest.append(ch)
        return rest

    def relay(self, ch: Change) -> int:
        """Relay one inserted row; the number of channels it went to."""
        pos = self._positions(ch.relation)
        row = ch.new
        if pos is None or row is None:
            self.skipped += 1
            return 0
        values = [row[pos[f]] for f in FIELDS]
        if not all(isinstance(v, str) for v in values):
            self.skipped += 1  # NULL (or unchanged TOAST): nothing to relay
            return 0
        id_, topic, event, payload, private, extension = (str(v) for v in values)
        if extension != "broadcast":
            self.skipped += 1
            return 0
        body = payload.encode()
        if len(body) > self.max_payload_bytes:
            log.warning(
                "broadcast from the database on %s not relayed: payload %d bytes (at most %d)",
                topic[:100],
                len(body),
                self.max_payload_bytes,
            )
            self.skipped += 1
            return 0
        meta = {"id": id_}
        msg = Message(
            f"realtime:{topic}",
            "broadcast",
            {"event": event, "meta": meta},  # v2 binary frame header
            payload_json=(
                f'{{"event":{json.dumps(event)},"meta":{json.dumps(meta)},'
                f'"payload":{payload},"type":"broadcast"}}'
            ),
            binary=body,
            encoding=ENCODING_JSON,
        )
        self.relayed += 1
        return self.hub.broadcast((private == "t", msg.topic), msg, None)


async def ensure_publication(conn: Any) -> bool:
    """Make sure realtime.messages is published for the stream, as hosted Realtime does
    when it starts (the base creates it too). False when there is no realtime.messages."""
    cur = await conn.execute("select to_regclass('realtime.messages') is not null")
    row = await cur.fetchone()
    if not (row and row[0]):
        return False
    cur = await conn.execute(
        "select 1 from pg_publication where pubname = %s", (MESSAGES_PUBLICATION,)
    )
    if await cur.fetchone() is None:
        with contextlib.suppress(psycopg.errors.DuplicateObject):  # a concurrent start
            await conn.execute(
                f"create publication {MESSAGES_PUBLICATION} for table realtime.messages"
            )
    return True


PRUNE_BATCH = 10_000


async def prune_messages(conn: Any, retention_s: float) -> int:
    """Delete rows older than `retention_s`, in batches (short transactions, so inserts
    are never held up for long); how many rows went."""
    total: int = 0
    while True:
        cur = await conn.execute(
            "delete from realtime.messages where id in ("
            " select id from realtime.messages"
            " where inserted_at < (now() - make_interval(secs => %s))::timestamp"
            " limit %s)",
            (retention_s, PRUNE_BATCH),
        )
        removed = int(cur.rowcount)
        total += removed
        if removed < PRUNE_BATCH:
            return total
